"""A secured REST API: HTTPS listeners (key and trust stores made at test time), client
certificates, basic authentication with Kafka Connect's JAAS ``PropertyFileLoginModule`` file,
a distributed cluster whose workers forward writes to each other over HTTPS with the caller's
credentials, and the settings that must stop a worker rather than leave the API open."""

from __future__ import annotations

import base64
import os
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
from helpers import Rest, WorkerProcess, free_port, unique, wait_until

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from certs import CertificateAuthority  # noqa: E402

STORE_PASSWORD = "rest-store-pw"
ADMIN, ADMIN_PASSWORD = "admin", "admin-rest-secret"
READER, READER_PASSWORD = "reader", "reader: with colon"
SECRETS = [STORE_PASSWORD, ADMIN_PASSWORD, READER_PASSWORD]
BASIC_AUTH = "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"
UNAUTHORIZED = {"error_code": 401, "message": "User cannot access the resource."}


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> SimpleNamespace:
    """A CA with a worker certificate (for localhost and 127.0.0.1) and a client one, and a
    second CA that nobody trusts."""
    root = tmp_path_factory.mktemp("rest-pki")
    ca = CertificateAuthority(root / "ca")
    stranger_ca = CertificateAuthority(root / "stranger", name="Someone else's CA")
    return SimpleNamespace(
        ca=ca,
        worker=ca.issue("worker"),
        client=ca.issue("rest-client"),
        stranger=stranger_ca.issue("stranger"),
        stranger_ca=stranger_ca,
    )


@pytest.fixture(scope="module")
def jaas(tmp_path_factory) -> Path:
    """A JAAS login file with Kafka Connect's ``KafkaConnect`` section and its credentials file."""
    root = tmp_path_factory.mktemp("rest-jaas")
    credentials = root / "credentials.properties"
    credentials.write_text(
        f"# user: password, as PropertyFileLoginModule reads them\n{ADMIN}: {ADMIN_PASSWORD}\n"
        f"{READER}={READER_PASSWORD}\n"
    )
    jaas_file = root / "connect_jaas.conf"
    jaas_file.write_text(
        "KafkaConnect {\n"
        "  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n"
        f'    file="{credentials}";\n'
        "};\n"
    )
    return jaas_file


@pytest.fixture
def workers():
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()


def https_settings(pki, store_type: str = "PKCS12", prefix: str = "listeners.https.") -> dict:
    """An HTTPS listener's key and trust stores under ``prefix``."""
    return {
        f"{prefix}ssl.keystore.type": store_type,
        f"{prefix}ssl.keystore.location": pki.worker.keystore(store_type, STORE_PASSWORD),
        f"{prefix}ssl.keystore.password": STORE_PASSWORD,
        f"{prefix}ssl.truststore.type": store_type,
        f"{prefix}ssl.truststore.location": pki.ca.truststore(store_type, STORE_PASSWORD),
        f"{prefix}ssl.truststore.password": STORE_PASSWORD,
    }


def start(tmp_path, broker, workers, extra: dict, **kw) -> WorkerProcess:
    w = WorkerProcess.standalone(tmp_path, broker.bootstrap, extra=extra, name=unique("w"), **kw)
    workers.append(w)
    return w


def basic(user: str, password: str) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def task_starts(workers: list[WorkerProcess], connector: str) -> dict[int, int]:
    """How many times each task of ``connector`` started, from the workers' logs."""
    pattern = re.compile(rf"task\{{connector={re.escape(connector)} task=(\d+)\}}: \S+: task starting")
    starts: dict[int, int] = {}
    for w in workers:
        for m in pattern.finditer(w.log_text()):
            starts[int(m.group(1))] = starts.get(int(m.group(1)), 0) + 1
    return starts


def assert_no_secrets(*logs: str):
    for log in logs:
        for secret in SECRETS:
            assert secret not in log, f"a secret reached the log:\n{log}"
        assert base64.b64encode(f"{ADMIN}:{ADMIN_PASSWORD}".encode()).decode() not in log


# ---- HTTPS ----


@pytest.mark.parametrize("store_type", ["PKCS12", "JKS"])
def test_https_listener_serves_the_api(pki, broker, tmp_path, workers, store_type):
    w = start(
        tmp_path,
        broker,
        workers,
        https_settings(pki, store_type),
        scheme="https",
        rest_options={"verify": str(pki.ca.cert)},
    )
    root = w.rest.get("/")
    assert root.status_code == 200 and "version" in root.json()
    source = tmp_path / "in.txt"
    source.write_text("a\nb\n")
    w.create("src", {"connector.class": "FileStreamSource", "file": source, "topic": unique("t")})
    status = w.rest.wait_running("src")
    # worker_id is the advertised https listener's host:port.
    assert status["connector"]["worker_id"] == f"127.0.0.1:{w.port}"
    # Plain HTTP to the HTTPS port, or a client that trusts another CA, gets nowhere.
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{w.port}/", timeout=10)
    with pytest.raises(requests.exceptions.SSLError):
        w.rest.using(verify=str(pki.stranger_ca.cert)).get("/")
    assert_no_secrets(w.log_text())


def test_https_falls_back_to_the_top_level_ssl_settings(pki, broker, tmp_path, workers):
    """Without any ``listeners.https.`` key, Kafka Connect's SSLUtils reads the top-level
    ``ssl.*`` keys (those the Kafka clients use too)."""
    w = start(
        tmp_path,
        broker,
        workers,
        https_settings(pki, "PKCS12", prefix=""),
        scheme="https",
        rest_options={"verify": str(pki.ca.cert)},
    )
    assert w.rest.get("/connectors").json() == []


def test_mixed_listeners_serve_both_and_advertise_https_when_asked(pki, broker, tmp_path, workers):
    http_port, https_port = free_port(), free_port()
    w = start(
        tmp_path,
        broker,
        workers,
        {
            **https_settings(pki),
            "listeners": f"http://127.0.0.1:{http_port},https://127.0.0.1:{https_port}",
            "rest.advertised.listener": "https",
        },
        port=http_port,
    )
    secure = Rest(f"https://127.0.0.1:{https_port}", verify=str(pki.ca.cert))
    assert w.rest.get("/connectors").status_code == 200
    assert secure.get("/connectors").status_code == 200
    source = tmp_path / "in.txt"
    source.write_text("a\n")
    w.create("src", {"connector.class": "FileStreamSource", "file": source, "topic": unique("t")})
    # The advertised listener is the https one: its port is in worker_id.
    status = secure.wait_running("src")
    assert status["connector"]["worker_id"] == f"127.0.0.1:{https_port}"


def test_required_client_certificates(pki, broker, tmp_path, workers):
    w = start(
        tmp_path,
        broker,
        workers,
        {**https_settings(pki), "listeners.https.ssl.client.auth": "required"},
        scheme="https",
        rest_options={"verify": str(pki.ca.cert), "cert": (str(pki.client.cert), str(pki.client.key))},
    )
    assert w.rest.get("/connectors").status_code == 200
    for refused in (
        w.rest.using(cert=None),
        w.rest.using(cert=(str(pki.stranger.cert), str(pki.stranger.key))),
    ):
        with pytest.raises(requests.exceptions.ConnectionError):
            refused.get("/connectors")


def test_requested_client_certificates_are_optional(pki, broker, tmp_path, workers):
    w = start(
        tmp_path,
        broker,
        workers,
        {**https_settings(pki), "listeners.https.ssl.client.auth": "requested"},
        scheme="https",
        rest_options={"verify": str(pki.ca.cert)},
    )
    assert w.rest.get("/connectors").status_code == 200
    with_cert = w.rest.using(cert=(str(pki.client.cert), str(pki.client.key)))
    assert with_cert.get("/connectors").status_code == 200


# ---- basic authentication ----


@pytest.mark.parametrize("named_in", ["KAFKA_OPTS", "worker config"])
def test_basic_auth(broker, tmp_path, workers, jaas, named_in):
    extra = {"rest.extension.classes": BASIC_AUTH}
    env = dict(os.environ)
    env["RUST_LOG"] = "debug"
    if named_in == "KAFKA_OPTS":
        env["KAFKA_OPTS"] = f"-Xmx256m -Djava.security.auth.login.config={jaas}"
    else:
        extra["java.security.auth.login.config"] = jaas
    # /health is open, so the helper's readiness check needs no credentials.
    w = start(tmp_path, broker, workers, extra, env=env, rest_options={"auth": (ADMIN, ADMIN_PASSWORD)})
    anonymous = w.rest.using(auth=None)
    assert anonymous.get("/health").status_code == 200

    for client in (anonymous, w.rest.using(auth=(ADMIN, "wrong")), w.rest.using(auth=("nobody", "x"))):
        for method, path in [
            ("GET", "/connectors"),
            ("GET", "/"),
            ("POST", "/connectors"),
            ("GET", "/metrics"),
        ]:
            r = client.request(method, path, {"name": "x", "config": {}} if method == "POST" else None)
            assert r.status_code == 401, (method, path, r.text)
            assert r.headers["WWW-Authenticate"].startswith("Basic realm="), r.headers
            assert r.json() == UNAUTHORIZED
    for headers in [
        {"Authorization": "Bearer abc"},
        {"Authorization": "Basic not-base64!"},
        basic("", ADMIN_PASSWORD),
    ]:
        assert anonymous.get("/connectors", headers=headers).status_code == 401

    assert w.rest.get("/connectors").json() == []
    # Everything after the first colon is the password; `=` separates it in the file too.
    assert w.rest.using(auth=(READER, READER_PASSWORD)).get("/connectors").status_code == 200
    source = tmp_path / "in.txt"
    source.write_text("a\n")
    w.create("src", {"connector.class": "FileStreamSource", "file": source, "topic": unique("t")})
    w.rest.wait_running("src")
    assert "REST basic authentication is on" in w.log_text()
    assert_no_secrets(w.log_text())


# ---- a distributed cluster on HTTPS with client certificates and basic auth ----


def test_distributed_cluster_forwards_over_https_with_credentials(pki, broker, tmp_path, jaas):
    group = unique("secure-rest")
    topic = broker.create_topic(unique("t"), partitions=2)
    extra = {
        **https_settings(pki),
        "listeners.https.ssl.client.auth": "required",
        "rest.extension.classes": BASIC_AUTH,
        "java.security.auth.login.config": jaas,
    }
    rest_options = {
        "verify": str(pki.ca.cert),
        "cert": (str(pki.client.cert), str(pki.client.key)),
        "auth": (ADMIN, ADMIN_PASSWORD),
    }
    started: list[WorkerProcess] = []
    try:
        for name in ("x", "y"):
            started.append(
                WorkerProcess.distributed(
                    tmp_path,
                    broker.bootstrap,
                    group,
                    name,
                    extra=extra,
                    scheme="https",
                    rest_options=rest_options,
                )
            )
        x, y = started
        wait_until(
            lambda: "Joined group" in x.log_text() and "Joined group" in y.log_text(), 60, what="both joined"
        )
        config = {
            "connector.class": "FileStreamSink",
            "file": str(tmp_path / "out.txt"),
            "topics": topic,
            "tasks.max": "2",
        }
        # A write to the follower is forwarded to the leader (over HTTPS, with the caller's
        # credentials) and succeeds; which worker leads is found by trying both.
        forwarded = "forwarding the request to the leader"
        follower = None
        for i in range(6):
            w = started[i % 2]
            before = w.log_text().count(forwarded)
            r = w.rest.post("/connectors", {"name": f"c{i}", "config": config})
            assert r.status_code == 201, r.text
            assert r.json()["name"] == f"c{i}"
            if w.log_text().count(forwarded) > before:
                follower = w
                break
        assert follower is not None, "no write was forwarded"
        assert "leader=https://127.0.0.1:" in follower.log_text()
        name = f"c{i}"
        # Without credentials the follower answers 401 itself: nothing is forwarded.
        assert follower.rest.using(auth=None).delete(f"/connectors/{name}").status_code == 401

        def spread():
            status = x.rest.get(f"/connectors/{name}/status").json()
            tasks = status.get("tasks", [])
            running = [t for t in tasks if t["state"] == "RUNNING"]
            return status if len(running) == 2 and len({t["worker_id"] for t in running}) == 2 else None

        status = wait_until(spread, 90, what="two tasks RUNNING, one on each worker")
        assert {t["worker_id"] for t in status["tasks"]} == {f"127.0.0.1:{x.port}", f"127.0.0.1:{y.port}"}
        # A task restart reaches the worker that runs it, whichever worker is asked (the leader
        # sends it on to the follower): requests between workers carry the caller's
        # credentials and a client certificate.
        starts = task_starts(started, name)
        for w in (x, y):
            for task in (0, 1):
                r = w.rest.post(f"/connectors/{name}/tasks/{task}/restart")
                assert r.status_code == 204, (w.log, task, r.text)
        wait_until(
            lambda: task_starts(started, name) == {t: n + 2 for t, n in starts.items()},
            60,
            what=f"each task restarted twice (before: {starts})",
        )
        # Writes through the follower keep working: pause, then delete.
        assert follower.rest.put(f"/connectors/{name}/pause").status_code == 202
        assert follower.rest.delete(f"/connectors/{name}").status_code == 204
        wait_until(lambda: name not in x.rest.get("/connectors").json(), 30, what="deleted everywhere")
        assert_no_secrets(x.log_text(), y.log_text())
    finally:
        for w in started:
            w.kill()


# ---- settings that cannot be honoured stop the worker, naming the setting ----


@pytest.mark.parametrize(
    "case",
    [
        "wrong keystore password",
        "missing keystore",
        "https without a keystore",
        "missing JAAS file",
        "JAAS file not named",
        "no KafkaConnect section",
        "unknown REST extension",
        "advertised listener without a listener",
    ],
)
def test_unusable_rest_security_settings_stop_the_worker(pki, broker, tmp_path, jaas, case):
    env = dict(os.environ)
    scheme = "http"
    settings: dict = {}
    if case == "wrong keystore password":
        scheme = "https"
        settings = {**https_settings(pki), "listeners.https.ssl.keystore.password": "not-the-password"}
        expected = ["listeners.https.ssl.keystore.password", "incorrect"]
    elif case == "missing keystore":
        scheme = "https"
        settings = {**https_settings(pki), "listeners.https.ssl.keystore.location": tmp_path / "nope.p12"}
        expected = ["listeners.https.ssl.keystore.location", "nope.p12"]
    elif case == "https without a keystore":
        scheme = "https"
        expected = ["ssl.keystore.location", "keystore"]
    elif case == "missing JAAS file":
        settings = {"rest.extension.classes": BASIC_AUTH}
        env["KAFKA_OPTS"] = f"-Djava.security.auth.login.config={tmp_path / 'missing_jaas.conf'}"
        expected = ["java.security.auth.login.config", "missing_jaas.conf", "KAFKA_OPTS"]
    elif case == "JAAS file not named":
        settings = {"rest.extension.classes": BASIC_AUTH}
        env.pop("KAFKA_OPTS", None)
        expected = ["rest.extension.classes", "java.security.auth.login.config"]
    elif case == "no KafkaConnect section":
        other = tmp_path / "other_jaas.conf"
        other.write_text(jaas.read_text().replace("KafkaConnect", "KafkaServer"))
        settings = {"rest.extension.classes": BASIC_AUTH, "java.security.auth.login.config": other}
        expected = ["java.security.auth.login.config", "KafkaConnect"]
    elif case == "unknown REST extension":
        settings = {"rest.extension.classes": "com.example.SsoRestExtension"}
        expected = ["rest.extension.classes", "com.example.SsoRestExtension"]
    else:
        settings = {"rest.advertised.listener": "https"}
        expected = ["rest.advertised.listener"]
    w = WorkerProcess.standalone(
        tmp_path, broker.bootstrap, extra=settings, name=unique("refused"), wait=False, env=env, scheme=scheme
    )
    code = w.wait_exit(60)
    log = w.log_text()
    assert code != 0, log
    for words in expected:
        assert words in log, f"{words!r} not in:\n{log}"
    assert "REST API listening" not in log, log
    assert_no_secrets(log)
