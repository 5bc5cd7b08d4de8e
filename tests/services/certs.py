"""Certificates made at test time: a CA, then server and client certificates it signs, written
as PEM files and as the Java key and trust stores (PKCS12 and JKS, through the JDK's keytool)
that Kafka and Kafka Connect configs point at."""

from __future__ import annotations

import datetime
import ipaddress
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Conveyor tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _keytool() -> str:
    java = shutil.which("java")
    candidates = [shutil.which("keytool"), str(Path(java).resolve().parent / "keytool") if java else None]
    for c in candidates:
        if c and Path(c).exists():
            return c
    raise RuntimeError("keytool (part of the JDK) was not found: the Java store formats need it")


@dataclass
class Issued:
    """A key and its certificate, with the files written for them."""

    name: str
    directory: Path
    key_pem: bytes
    cert_pem: bytes
    ca_pem: bytes

    @property
    def key(self) -> Path:
        return self.directory / f"{self.name}.key.pem"

    @property
    def cert(self) -> Path:
        return self.directory / f"{self.name}.cert.pem"

    def encrypted_key(self, password: str) -> Path:
        """The key as encrypted PKCS#8 PEM (what ``ssl.key.password`` unlocks)."""
        key = serialization.load_pem_private_key(self.key_pem, None)
        path = self.directory / f"{self.name}.key.encrypted.pem"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(password.encode()),
            )
        )
        return path

    def keystore(self, store_type: str, password: str, key_password: str | None = None) -> Path:
        """A Java keystore (``PKCS12`` or ``JKS``) holding the key and its chain."""
        p12 = self.directory / f"{self.name}.keystore.p12"
        p12.write_bytes(
            pkcs12.serialize_key_and_certificates(
                self.name.encode(),
                serialization.load_pem_private_key(self.key_pem, None),
                x509.load_pem_x509_certificate(self.cert_pem),
                [x509.load_pem_x509_certificate(self.ca_pem)],
                serialization.BestAvailableEncryption(password.encode()),
            )
        )
        if store_type.upper() == "PKCS12" and key_password in (None, password):
            return p12
        out = self.directory / f"{self.name}.keystore.{store_type.lower()}"
        out.unlink(missing_ok=True)
        subprocess.run(
            [
                _keytool(),
                "-importkeystore",
                "-noprompt",
                "-srckeystore",
                str(p12),
                "-srcstoretype",
                "PKCS12",
                "-srcstorepass",
                password,
                "-destkeystore",
                str(out),
                "-deststoretype",
                store_type.upper(),
                "-deststorepass",
                password,
                "-destkeypass",
                key_password or password,
            ],
            check=True,
            capture_output=True,
        )
        return out


class CertificateAuthority:
    """A self-signed CA in ``directory``; ``issue`` makes certificates it signs."""

    def __init__(self, directory: Path, name: str = "Conveyor test CA"):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(_name(name))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.pem = self._cert.public_bytes(serialization.Encoding.PEM)
        self.cert = self.directory / "ca.cert.pem"
        self.cert.write_bytes(self.pem)

    def truststore(self, store_type: str, password: str) -> Path:
        """A Java truststore (``PKCS12`` or ``JKS``) holding this CA as a trusted entry."""
        out = self.directory / f"truststore.{store_type.lower()}"
        out.unlink(missing_ok=True)
        subprocess.run(
            [
                _keytool(),
                "-importcert",
                "-noprompt",
                "-alias",
                "ca",
                "-file",
                str(self.cert),
                "-keystore",
                str(out),
                "-storetype",
                store_type.upper(),
                "-storepass",
                password,
            ],
            check=True,
            capture_output=True,
        )
        return out

    def issue(
        self,
        name: str,
        common_name: str | None = None,
        hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
    ) -> Issued:
        """A certificate for ``hosts`` (DNS names or IP addresses), usable by servers and clients."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        alt_names: list[x509.GeneralName] = []
        for host in hosts:
            try:
                alt_names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                alt_names.append(x509.DNSName(host))
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name or name))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                critical=False,
            )
        )
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        issued = Issued(
            name=name,
            directory=self.directory,
            key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            cert_pem=cert.public_bytes(serialization.Encoding.PEM),
            ca_pem=self.pem,
        )
        issued.key.write_bytes(issued.key_pem)
        issued.key.chmod(0o600)
        issued.cert.write_bytes(issued.cert_pem)
        return issued
