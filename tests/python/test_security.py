"""Conveyor against a secured Apache Kafka: TLS with client certificates, SASL_SSL with
SCRAM-SHA-512, PLAIN and OAUTHBEARER (OIDC), SASL_PLAINTEXT with PLAIN; key and trust stores in
PKCS12, JKS and PEM form, made at test time; the worker configs as Kafka Connect users write
them; and the bad cases (wrong password, missing store, refused certificate, refused login),
which must fail with the setting's name and never hang."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from helpers import Broker, WorkerProcess, read_lines, unique, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from certs import CertificateAuthority  # noqa: E402
from oidc import OidcIssuer  # noqa: E402

from kafka import ApacheKafka, Listener  # noqa: E402

STORE_PASSWORD = "store-pw"
KEY_PASSWORD = "key-pw"
SCRAM_USER, SCRAM_PASSWORD = "alice", "alice-scram-secret"
PLAIN_USER, PLAIN_PASSWORD = "cloudkey", "cloud-plain-secret"
OIDC_CLIENT, OIDC_SECRET = "conveyor-app", "oidc-client-secret"
SECRETS = [SCRAM_PASSWORD, PLAIN_PASSWORD, OIDC_SECRET, STORE_PASSWORD, KEY_PASSWORD]


class SecureKafka:
    """A broker with one listener per security set-up, its CA and the client-side files."""

    def __init__(self, root: Path):
        self.root = root
        self.ca = CertificateAuthority(root / "ca")
        broker = self.ca.issue("broker")
        wrong_host = self.ca.issue("elsewhere", hosts=("kafka.elsewhere.example",))
        self.client = self.ca.issue("conveyor-client")
        self.oidc = OidcIssuer({OIDC_CLIENT: OIDC_SECRET})
        server_tls = {
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": broker.keystore("PKCS12", STORE_PASSWORD),
            "ssl.keystore.password": STORE_PASSWORD,
            "ssl.truststore.type": "PKCS12",
            "ssl.truststore.location": self.ca.truststore("PKCS12", STORE_PASSWORD),
            "ssl.truststore.password": STORE_PASSWORD,
        }
        plain_users = f'user_{PLAIN_USER}="{PLAIN_PASSWORD}"'
        self.kafka = ApacheKafka(
            root / "kafka",
            listeners=[
                Listener("MTLS", "SSL", {**server_tls, "ssl.client.auth": "required"}),
                Listener(
                    "SASLSSL",
                    "SASL_SSL",
                    {
                        **server_tls,
                        "sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512,OAUTHBEARER",
                        "plain.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule "
                        f"required {plain_users};",
                        "scram-sha-512.sasl.jaas.config": "org.apache.kafka.common.security.scram."
                        "ScramLoginModule required;",
                        "scram-sha-256.sasl.jaas.config": "org.apache.kafka.common.security.scram."
                        "ScramLoginModule required;",
                        "oauthbearer.sasl.jaas.config": "org.apache.kafka.common.security.oauthbearer."
                        "OAuthBearerLoginModule required;",
                        "oauthbearer.sasl.server.callback.handler.class": "org.apache.kafka.common.security."
                        "oauthbearer.OAuthBearerValidatorCallbackHandler",
                    },
                ),
                Listener(
                    "SASLPLAIN",
                    "SASL_PLAINTEXT",
                    {
                        "sasl.enabled.mechanisms": "PLAIN",
                        "plain.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule "
                        f"required {plain_users};",
                    },
                ),
                Listener(
                    "WRONGHOST",
                    "SSL",
                    {
                        "ssl.keystore.type": "PKCS12",
                        "ssl.keystore.location": wrong_host.keystore("PKCS12", STORE_PASSWORD),
                        "ssl.keystore.password": STORE_PASSWORD,
                    },
                ),
            ],
            extra={
                "sasl.oauthbearer.jwks.endpoint.url": self.oidc.jwks_url,
                "sasl.oauthbearer.expected.audience": self.oidc.audience,
                "sasl.oauthbearer.expected.issuer": self.oidc.issuer,
            },
            jvm_opts=[f"-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls={self.oidc.jwks_url}"],
        )
        self.admin = Broker(self.kafka.admin_bootstrap, self.kafka)
        from confluent_kafka.admin import (
            ScramCredentialInfo,
            ScramMechanism,
            UserScramCredentialUpsertion,
        )

        admin = self.admin.admin()  # keep a reference: the futures die with the client
        # One credential per request: Kafka refuses two for the same user in one.
        for mechanism in (ScramMechanism.SCRAM_SHA_256, ScramMechanism.SCRAM_SHA_512):
            futures = admin.alter_user_scram_credentials(
                [
                    UserScramCredentialUpsertion(
                        SCRAM_USER, ScramCredentialInfo(mechanism, 4096), SCRAM_PASSWORD.encode()
                    )
                ]
            )
            for f in futures.values():
                f.result(30)

    def address(self, listener: str) -> str:
        return self.kafka.listener(listener).address

    def stop(self):
        self.kafka.stop()
        self.oidc.stop()


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    from conftest import _brokers

    kafka = SecureKafka(tmp_path_factory.mktemp("secure-kafka"))
    _brokers.append(kafka.kafka)
    yield kafka
    _brokers.remove(kafka.kafka)
    kafka.stop()


def jaas(module: str, **options) -> str:
    opts = " ".join(f'{k}="{v}"' for k, v in options.items())
    return f"org.apache.kafka.common.security.{module} required {opts};"


def scram_settings(secure: SecureKafka, truststore: str = "JKS", mechanism: str = "SCRAM-SHA-512") -> dict:
    """Amazon MSK's documented SASL/SCRAM client config: a JKS truststore without a password."""
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.jaas.config": jaas("scram.ScramLoginModule", username=SCRAM_USER, password=SCRAM_PASSWORD),
        "ssl.truststore.location": secure.ca.truststore(truststore, STORE_PASSWORD),
    }


def mtls_settings(secure: SecureKafka, store_type: str) -> dict:
    """Mutual TLS in each store form. JKS is Amazon MSK's documented client config, unchanged:
    Java's default store types, and a truststore without a password."""
    if store_type == "PEM":
        return {
            "security.protocol": "SSL",
            "ssl.keystore.type": "PEM",
            "ssl.keystore.certificate.chain": secure.client.cert_pem.decode(),
            "ssl.keystore.key": secure.client.encrypted_key(KEY_PASSWORD).read_text(),
            "ssl.key.password": KEY_PASSWORD,
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": secure.ca.cert,
        }
    if store_type == "JKS":
        return {
            "security.protocol": "SSL",
            "ssl.truststore.location": secure.ca.truststore("JKS", STORE_PASSWORD),
            "ssl.keystore.location": secure.client.keystore("JKS", STORE_PASSWORD, KEY_PASSWORD),
            "ssl.keystore.password": STORE_PASSWORD,
            "ssl.key.password": KEY_PASSWORD,
        }
    return {
        "security.protocol": "SSL",
        "ssl.keystore.type": "PKCS12",
        "ssl.keystore.location": secure.client.keystore("PKCS12", STORE_PASSWORD),
        "ssl.keystore.password": STORE_PASSWORD,
        "ssl.key.password": STORE_PASSWORD,
        "ssl.truststore.type": "PKCS12",
        "ssl.truststore.location": secure.ca.truststore("PKCS12", STORE_PASSWORD),
        "ssl.truststore.password": STORE_PASSWORD,
    }


def properties(settings: dict) -> dict:
    """Values as a properties file holds them (multi-line PEM escaped)."""
    return {k: str(v).replace("\n", "\\n") for k, v in settings.items()}


def file_pipeline(worker: WorkerProcess, tmp_path: Path, lines: int = 300, name: str = "p") -> None:
    """FileStreamSource -> a new topic -> FileStreamSink through ``worker``; waits for every line."""
    topic = unique(f"{name}-lines")
    source, sink = tmp_path / f"{name}-in.txt", tmp_path / f"{name}-out.txt"
    source.write_text("".join(f"{name}-{i}\n" for i in range(lines)))
    worker.create(f"{name}-source", {"connector.class": "FileStreamSource", "file": source, "topic": topic})
    worker.create(f"{name}-sink", {"connector.class": "FileStreamSink", "file": sink, "topics": topic})
    want = [f"{name}-{i}" for i in range(lines)]
    wait_until(lambda: read_lines(sink) == want, 90, what=f"{lines} lines through {topic}")


def start(tmp_path: Path, bootstrap: str, settings: dict, name: str = "worker", **kw) -> WorkerProcess:
    return WorkerProcess.standalone(tmp_path, bootstrap, extra=properties(settings), name=name, **kw)


@pytest.fixture
def workers():
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()


@pytest.mark.parametrize("store_type", ["PKCS12", "JKS", "PEM"])
def test_mutual_tls_with_each_store_form(secure, tmp_path, workers, store_type):
    worker = start(tmp_path, secure.address("MTLS"), mtls_settings(secure, store_type))
    workers.append(worker)
    file_pipeline(worker, tmp_path)


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_sasl_ssl_scram_as_msk_documents_it(secure, tmp_path, workers, mechanism):
    worker = start(tmp_path, secure.address("SASLSSL"), scram_settings(secure, mechanism=mechanism))
    workers.append(worker)
    file_pipeline(worker, tmp_path)


def test_sasl_ssl_plain_as_confluent_cloud_documents_it(secure, tmp_path, workers):
    """Confluent Cloud's worker config names no truststore: the system's CAs verify the broker.
    Here the machine trusts the test CA through SSL_CERT_FILE, as it would a public CA."""
    settings = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": jaas("plain.PlainLoginModule", username=PLAIN_USER, password=PLAIN_PASSWORD),
        "ssl.endpoint.identification.algorithm": "https",
        "client.dns.lookup": "use_all_dns_ips",
        "session.timeout.ms": "45000",
        "acks": "all",
        "producer.security.protocol": "SASL_SSL",
        "producer.sasl.mechanism": "PLAIN",
        "producer.sasl.jaas.config": jaas(
            "plain.PlainLoginModule", username=PLAIN_USER, password=PLAIN_PASSWORD
        ),
        "consumer.security.protocol": "SASL_SSL",
        "consumer.sasl.mechanism": "PLAIN",
        "consumer.sasl.jaas.config": jaas(
            "plain.PlainLoginModule", username=PLAIN_USER, password=PLAIN_PASSWORD
        ),
    }
    env = {**os.environ, "SSL_CERT_FILE": str(secure.ca.cert)}
    env.pop("SSL_CERT_DIR", None)
    worker = start(tmp_path, secure.address("SASLSSL"), settings, env=env)
    workers.append(worker)
    file_pipeline(worker, tmp_path)


def test_sasl_plaintext_plain(secure, tmp_path, workers):
    settings = {
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "PLAIN",
        "sasl.jaas.config": jaas("plain.PlainLoginModule", username=PLAIN_USER, password=PLAIN_PASSWORD),
    }
    worker = start(tmp_path, secure.address("SASLPLAIN"), settings)
    workers.append(worker)
    file_pipeline(worker, tmp_path)


def test_sasl_ssl_oauthbearer_with_oidc_client_credentials(secure, tmp_path, workers):
    settings = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "OAUTHBEARER",
        "sasl.login.callback.handler.class": "org.apache.kafka.common.security.oauthbearer."
        "OAuthBearerLoginCallbackHandler",
        "sasl.oauthbearer.token.endpoint.url": secure.oidc.token_url,
        "sasl.jaas.config": jaas(
            "oauthbearer.OAuthBearerLoginModule",
            clientId=OIDC_CLIENT,
            clientSecret=OIDC_SECRET,
            scope="kafka",
        ),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": secure.ca.cert,
    }
    before = secure.oidc.token_requests
    worker = start(tmp_path, secure.address("SASLSSL"), settings)
    workers.append(worker)
    file_pipeline(worker, tmp_path)
    assert secure.oidc.token_requests > before


def test_distributed_cluster_on_sasl_ssl(secure, tmp_path, workers):
    group = unique("secure-cluster")
    settings = properties(scram_settings(secure, truststore="PKCS12"))
    settings["ssl.truststore.password"] = STORE_PASSWORD
    a, b = (
        WorkerProcess.distributed(tmp_path, secure.address("SASLSSL"), group, name, extra=settings)
        for name in ("a", "b")
    )
    workers.extend([a, b])
    wait_until(
        lambda: "Joined group" in a.log_text() and "Joined group" in b.log_text(), 60, what="both joined"
    )
    topic = unique("dist")
    source, sink = tmp_path / "in.txt", tmp_path / "out.txt"
    source.write_text("".join(f"d-{i}\n" for i in range(200)))
    a.create("src", {"connector.class": "FileStreamSource", "file": source, "topic": topic})
    b.create("sink", {"connector.class": "FileStreamSink", "file": sink, "topics": topic, "tasks.max": 2})
    want = [f"d-{i}" for i in range(200)]
    wait_until(lambda: read_lines(sink) == want, 90, what="200 lines through the secured cluster")
    status = a.rest.get("/connectors?expand=status").json()
    workers_used = {t["worker_id"] for c in status.values() for t in c["status"]["tasks"]}
    assert len(workers_used) == 2, status


# ---- bad input: a clear error naming the setting, never a hang ----


def refused(tmp_path: Path, bootstrap: str, settings: dict, mode: str = "standalone") -> str:
    """Starts a worker that must refuse to start; returns its log."""
    if mode == "standalone":
        w = start(tmp_path, bootstrap, settings, wait=False)
    else:
        w = WorkerProcess.distributed(
            tmp_path, bootstrap, unique("refused"), "refused", extra=properties(settings), wait=False
        )
    try:
        code = w.proc.wait(60)
    finally:
        w.kill()
    assert code != 0, w.log_text()
    return w.log_text()


@pytest.mark.parametrize(
    "change, setting, words",
    [
        ({"ssl.keystore.password": "not-it"}, "ssl.keystore.password", "incorrect"),
        (
            {"ssl.truststore.location": "/nonexistent/truststore.p12"},
            "ssl.truststore.location",
            "cannot read",
        ),
        ({"ssl.truststore.type": "BKS"}, "ssl.truststore.type", "not supported"),
        ({"ssl.cipher.suites": "TLS_AES_128_GCM_SHA256"}, "ssl.cipher.suites", "not supported"),
    ],
)
def test_unusable_tls_settings_stop_the_worker_naming_the_setting(secure, tmp_path, change, setting, words):
    settings = {**mtls_settings(secure, "PKCS12"), **change}
    log = refused(tmp_path, secure.address("MTLS"), settings)
    assert setting in log and words in log, log


def test_gssapi_is_refused_with_a_clear_message(secure, tmp_path):
    settings = {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "GSSAPI",
        "sasl.kerberos.service.name": "kafka",
        "sasl.jaas.config": "com.sun.security.auth.module.Krb5LoginModule required useKeyTab=true "
        'keyTab="/k";',
    }
    log = refused(tmp_path, secure.address("SASLSSL"), settings)
    assert "GSSAPI" in log or "Kerberos" in log, log
    assert "not supported" in log, log


def test_refused_certificate_and_login_fail_one_connector_only(secure, tmp_path, workers):
    """A connector whose overrides point at another CA, the wrong host name or a wrong
    password fails with the reason; the worker and its other connector keep running."""
    worker = start(tmp_path, secure.address("SASLSSL"), scram_settings(secure))
    workers.append(worker)
    good_topic = unique("good")
    good_in, good_out = tmp_path / "good-in.txt", tmp_path / "good-out.txt"
    good_in.write_text("".join(f"g-{i}\n" for i in range(50)))
    worker.create("good-src", {"connector.class": "FileStreamSource", "file": good_in, "topic": good_topic})
    worker.create("good-sink", {"connector.class": "FileStreamSink", "file": good_out, "topics": good_topic})

    other_ca = CertificateAuthority(tmp_path / "other-ca", name="Some other CA")
    bad = {
        "wrong-password": {
            "producer.override.sasl.jaas.config": jaas(
                "scram.ScramLoginModule", username=SCRAM_USER, password="not-the-password"
            )
        },
        "untrusted-ca": {
            "producer.override.ssl.truststore.location": other_ca.truststore("PKCS12", "other-pw"),
            "producer.override.ssl.truststore.password": "other-pw",
        },
    }
    for name, overrides in bad.items():
        source = tmp_path / f"{name}.txt"
        source.write_text("x\n")
        worker.create(
            name, {"connector.class": "FileStreamSource", "file": source, "topic": unique(name), **overrides}
        )
    failed = {name: worker.rest.wait_state(name, "FAILED", timeout=90) for name in bad}
    traces = {name: s["tasks"][0]["trace"] for name, s in failed.items()}
    assert "Authentication failed" in traces["wrong-password"], traces["wrong-password"]
    assert "certificate verify failed" in traces["untrusted-ca"], traces["untrusted-ca"]
    for trace in traces.values():
        assert "ssl.*/sasl.*" in trace
        assert "not-the-password" not in trace

    wait_until(lambda: read_lines(good_out) == [f"g-{i}" for i in range(50)], 60, what="the good pipeline")
    assert worker.rest.status("good-src")["tasks"][0]["state"] == "RUNNING"
    assert worker.rest.get("/health").status_code == 200

    config = worker.rest.get("/connectors/wrong-password/config").json()
    assert config["producer.override.sasl.jaas.config"] == "[hidden]"
    assert (
        worker.rest.get("/connectors/untrusted-ca/config").json()["producer.override.ssl.truststore.password"]
        == "[hidden]"
    )


def test_host_name_checks_follow_endpoint_identification(secure, tmp_path, workers):
    """The WRONGHOST listener's certificate names another host: the worker refuses to start,
    unless ssl.endpoint.identification.algorithm is empty, as in Kafka."""
    settings = {
        "security.protocol": "SSL",
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": secure.ca.cert,
    }
    log = refused(tmp_path, secure.address("WRONGHOST"), settings)
    assert "TLS handshake" in log and "mismatch" in log, log

    unchecked = start(
        tmp_path,
        secure.address("WRONGHOST"),
        {**settings, "ssl.endpoint.identification.algorithm": ""},
        name="nocheck",
    )
    workers.append(unchecked)
    file_pipeline(unchecked, tmp_path, lines=20, name="nocheck")


def test_distributed_worker_with_a_refused_login_exits_with_the_brokers_message(secure, tmp_path):
    settings = {**scram_settings(secure)}
    settings["sasl.jaas.config"] = jaas("scram.ScramLoginModule", username=SCRAM_USER, password="bad-pw-1234")
    log = refused(tmp_path, secure.address("SASLSSL"), settings, mode="distributed")
    assert "Authentication failed" in log, log
    assert "bad-pw-1234" not in log


def test_secrets_never_reach_rest_or_the_log(secure, tmp_path, workers):
    settings = scram_settings(secure, truststore="PKCS12")
    settings["ssl.truststore.password"] = STORE_PASSWORD
    env = {**os.environ, "RUST_LOG": "debug", "CONVEYOR_LOG_LEVEL": "DEBUG"}
    worker = start(tmp_path, secure.address("SASLSSL"), settings, env=env)
    workers.append(worker)
    overrides = {
        "consumer.override.sasl.jaas.config": settings["sasl.jaas.config"],
        "consumer.override.ssl.truststore.password": STORE_PASSWORD,
    }
    topic = unique("quiet")
    worker.create(
        "quiet",
        {"connector.class": "FileStreamSink", "file": tmp_path / "q.txt", "topics": topic, **overrides},
    )
    worker.rest.wait_running("quiet")
    shown = worker.rest.get("/connectors/quiet").json()["config"]
    assert shown["consumer.override.sasl.jaas.config"] == "[hidden]"
    assert shown["consumer.override.ssl.truststore.password"] == "[hidden]"
    tasks = worker.rest.get("/connectors/quiet/tasks").json()
    assert SCRAM_PASSWORD not in json.dumps(tasks)
    log = worker.log_text()
    assert "DEBUG" in log
    for secret in SECRETS:
        assert secret not in log, f"{secret!r} appears in the debug log"
