"""A test-owned PostgreSQL: a cluster made with Debian's ``initdb`` in a directory of its own,
on a free port, with ``wal_level=logical`` (for change data capture) and TLS on (with a
certificate from ``certs.py``), stopped and deleted when the tests end.

    python tests/services/postgres.py start DIR   # prints the port; scripts/test.sh does this
    python tests/services/postgres.py stop DIR

initdb refuses to run as root, so as root the cluster belongs to the ``postgres`` OS user (which
Debian's packages create). Connections from 127.0.0.1 are trusted, except the user ``certuser``,
which must present a client certificate signed by the cluster's CA over TLS.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from kafka import free_port  # noqa: E402

CERT_USER = "certuser"


def bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries (Debian keeps them out of PATH)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise RuntimeError(
        "PostgreSQL's server binaries (initdb) were not found: install Debian's `postgresql` package "
        "(scripts/test.sh does)"
    )


def _as_owner(cmd: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *cmd]
    return cmd


class TestPostgres:
    """A running cluster in ``directory``: ``port``, ``ca`` (the TLS CA's PEM file), ``dsn()``."""

    def __init__(self, directory: Path, port: int):
        self.directory = Path(directory)
        self.port = port

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def certs(self) -> Path:
        return self.directory / "certs"

    @property
    def ca(self) -> Path:
        return self.certs / "ca.cert.pem"

    def dsn(self, dbname: str = "test", user: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={user} dbname={dbname}"

    @classmethod
    def start(cls, directory: Path, wal_level: str = "logical") -> TestPostgres:
        """Makes and starts a cluster in ``directory``; ``wal_level`` other than ``logical``
        is for tests of what change data capture does without it."""
        from certs import CertificateAuthority

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        pg = cls(directory, free_port())
        shutil.rmtree(pg.data, ignore_errors=True)
        ca = CertificateAuthority(pg.certs)
        server = ca.issue("server", "localhost")
        ca.issue(CERT_USER, CERT_USER)
        if os.geteuid() == 0:
            # The postgres user must be able to reach the directory: let it through our own
            # private parents (a mkdtemp directory is 0700), with the search bit only.
            for parent in directory.resolve().parents:
                st = parent.stat()
                private = st.st_uid == 0 and not st.st_mode & 0o001
                if private and str(parent).startswith(tempfile.gettempdir()):
                    parent.chmod(st.st_mode | 0o001)
            shutil.chown(directory, "postgres", "postgres")
            for path in [pg.certs, *pg.certs.iterdir()]:
                shutil.chown(path, "postgres", "postgres")
        binaries = bin_dir()
        initdb = subprocess.run(
            _as_owner(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(pg.data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed in {pg.data}:\n{initdb.stdout}{initdb.stderr}")
        settings = {
            "listen_addresses": "'127.0.0.1'",
            "port": str(pg.port),
            "unix_socket_directories": f"'{directory}'",
            "wal_level": wal_level,
            "max_wal_senders": "20",
            "max_replication_slots": "20",
            "max_connections": "200",
            # Test data need not survive a crash of the machine.
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "ssl": "on",
            "ssl_cert_file": f"'{server.cert}'",
            "ssl_key_file": f"'{server.key}'",
            "ssl_ca_file": f"'{ca.cert}'",
        }
        with open(pg.data / "postgresql.conf", "a") as conf:
            conf.writelines(f"{k} = {v}\n" for k, v in settings.items())
        (pg.data / "pg_hba.conf").write_text(
            f"hostssl all {CERT_USER} 127.0.0.1/32 cert\n"
            "local all all trust\n"
            "host all all 127.0.0.1/32 trust\n"
            "host replication all 127.0.0.1/32 trust\n"
        )
        result = subprocess.run(
            _as_owner(
                [
                    str(binaries / "pg_ctl"),
                    "-D",
                    str(pg.data),
                    "-l",
                    str(directory / "postgres.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            log = (
                (directory / "postgres.log").read_text(errors="replace")
                if (directory / "postgres.log").exists()
                else ""
            )
            raise RuntimeError(f"PostgreSQL did not start: {result.stdout}{result.stderr}\n{log}")
        pg._wait_ready(binaries)
        subprocess.run(
            [
                str(binaries / "psql"),
                "-X",
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(pg.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                "CREATE DATABASE test",
                "-c",
                f"CREATE ROLE {CERT_USER} LOGIN SUPERUSER",
            ],
            check=True,
            capture_output=True,
        )
        (directory / "port").write_text(str(pg.port))
        return pg

    def _wait_ready(self, binaries: Path, timeout: float = 30) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            ready = subprocess.run(
                [str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)], capture_output=True
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError(f"PostgreSQL on port {self.port} is not accepting connections")

    @classmethod
    def stop_directory(cls, directory: Path) -> None:
        directory = Path(directory)
        data = directory / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(
                _as_owner([str(bin_dir() / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
                capture_output=True,
            )
        shutil.rmtree(directory, ignore_errors=True)

    def stop(self) -> None:
        self.stop_directory(self.directory)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("start", "stop"):
        print(f"usage: {argv[0]} start|stop DIR", file=sys.stderr)
        return 2
    if argv[1] == "start":
        print(TestPostgres.start(Path(argv[2])).port)
    else:
        TestPostgres.stop_directory(Path(argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
