"""Hostile and careless REST clients on loopback (issue 17): names with control characters,
bodies that are not JSON, secrets sent elsewhere, idle connections, bad logger names. Each is
refused as Kafka Connect refuses it, and none takes the worker down."""

from __future__ import annotations

import json
import os
import socket
import time
from urllib.parse import quote

import pytest
import requests
from helpers import unique, wait_until

CONTROL_TEXT = "String may not contain control sequences but had the following ASCII chars: "


def _source(tmp_path, topic, **extra):
    f = tmp_path / "in.txt"
    f.write_text("a\n")
    return {"connector.class": "FileStreamSource", "file": str(f), "topic": topic, **extra}


def _path(name: str) -> str:
    return "/connectors/" + quote(name, safe="")


# ---------------------------------------------------------------- connector names


@pytest.mark.parametrize(
    ("name", "codes"),
    [("a\nb", "10"), ("a\x07b", "7"), ("a\x7fb", "127"), ("a\x00b", "0"), ("x\x00\x1b\x85y", "0, 27, 133")],
)
def test_control_characters_in_a_name_are_refused_as_connect_does(
    tmp_path, broker, start_worker, name, codes
):
    topic = broker.create_topic(unique("names"))
    w = start_worker()
    r = w.rest.post("/connectors", {"name": name, "config": _source(tmp_path, topic)})
    assert r.status_code == 400, r.text
    assert r.json()["message"] == (
        "Connector configuration is invalid and contains the following 1 error(s):\n"
        f"Invalid value {name} for configuration name: {CONTROL_TEXT}{codes}\n"
        "You can also find the above list of errors at the endpoint "
        "`/connector-plugins/{connectorType}/config/validate`"
    )
    r = w.rest.put(_path(name) + "/config", _source(tmp_path, topic))
    assert r.status_code == 400 and CONTROL_TEXT + codes in r.json()["message"], r.text
    assert w.rest.get("/connectors").json() == []
    assert w.rest.get("/health").status_code == 200
    assert w.proc.poll() is None


def test_names_are_trimmed_as_java_trims_them(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("names"))
    w = start_worker()
    # Java's String.trim() removes every leading and trailing character up to U+0020.
    r = w.rest.post("/connectors", {"name": "\x07 ab\x1f ", "config": _source(tmp_path, topic)})
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "ab"
    assert w.rest.get("/connectors").json() == ["ab"]


def _stored(directory, name, config, target="STARTED"):
    """Writes a connector file as --config-dir keeps them: one JSON file per connector, named
    after it (unsafe characters replaced) and its FNV-1a hash."""
    digest = 0xCBF29CE484222325
    for byte in name.encode():
        digest = ((digest ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    safe = "".join(c if (c.isascii() and c.isalnum()) or c in "-_." else "_" for c in name)
    (directory / f"{safe}-{digest:016x}.json").write_text(
        json.dumps({"name": name, "config": {**config, "name": name}, "target_state": target})
    )


def test_a_stored_connector_that_cannot_start_fails_alone(tmp_path, broker, start_worker):
    """A config dir written by an older worker (or by hand) with a name that is now refused:
    the worker starts, that connector is FAILED with the reason, the others run."""
    topic = broker.create_topic(unique("stored"))
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    _stored(config_dir, "bad\x00name", _source(tmp_path, topic))
    _stored(config_dir, "bad\nline", _source(tmp_path, topic))
    _stored(config_dir, "good", _source(tmp_path, topic))
    _stored(config_dir, "gone-plugin", {"connector.class": "com.example.Removed", "topic": topic})
    (config_dir / "torn-0000000000000000.json").write_text('{"name": "torn", "conf')
    w = start_worker(config_dir=config_dir)
    assert w.rest.get("/health").status_code == 200
    w.rest.wait_running("good")
    names = w.rest.get("/connectors").json()
    assert sorted(names) == sorted(["bad\x00name", "bad\nline", "good", "gone-plugin"]), names
    for name, codes in [("bad\x00name", "0"), ("bad\nline", "10")]:
        status = w.rest.get(_path(name) + "/status").json()
        assert status["connector"]["state"] == "FAILED", status
        assert CONTROL_TEXT + codes in status["connector"]["trace"], status
        assert status["tasks"] == []
    status = w.rest.get("/connectors/gone-plugin/status").json()
    assert status["connector"]["state"] == "FAILED"
    assert "com.example.Removed" in status["connector"]["trace"]
    assert "torn-0000000000000000.json" in w.log_text()
    # The broken ones can be deleted through the API, for good.
    assert w.rest.delete(_path("bad\x00name")).status_code == 204
    w = w.restart()
    assert "bad\x00name" not in w.rest.get("/connectors").json()
    w.rest.wait_running("good")


# ---------------------------------------------------------------- media types

UNSUPPORTED = {"error_code": 415, "message": "HTTP 415 Unsupported Media Type"}


def test_bodies_that_are_not_json_get_415_as_in_connect(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("media"))
    w = start_worker()
    base = w.rest.base
    body = json.dumps({"name": "x", "config": _source(tmp_path, topic)})
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=b",
    ]:
        r = requests.post(base + "/connectors", data=body, headers={"Content-Type": content_type}, timeout=30)
        assert (r.status_code, r.json()) == (415, UNSUPPORTED), (content_type, r.text)
    # A body without any Content-Type is not JSON either (Jersey reads it as octet-stream).
    r = requests.post(base + "/connectors", data=body.encode(), timeout=30)
    assert "Content-Type" not in r.request.headers
    assert (r.status_code, r.json()) == (415, UNSUPPORTED), r.text
    assert w.rest.get("/connectors").json() == []

    config = json.dumps(_source(tmp_path, topic))
    plain = {"Content-Type": "text/plain"}
    for method, path in [
        ("PUT", "/connectors/x/config"),
        ("PATCH", "/connectors/x/config"),
        ("PUT", "/connector-plugins/FileStreamSource/config/validate"),
        ("PUT", "/admin/loggers/conveyor"),
        ("GET", "/connectors"),
    ]:
        r = requests.request(method, base + path, data=config, headers=plain, timeout=30)
        assert (r.status_code, r.json()) == (415, UNSUPPORTED), (method, path, r.text)

    # JSON with parameters, any case, is JSON.
    r = requests.post(
        base + "/connectors", data=body, headers={"Content-Type": "Application/JSON; charset=UTF-8"}
    )
    assert r.status_code == 201, r.text
    # Requests without a body need no Content-Type.
    assert requests.post(base + "/connectors/x/restart", timeout=30).status_code == 204
    assert requests.put(base + "/connectors/x/pause", timeout=30).status_code == 202
    assert requests.get(base + "/", headers=plain, timeout=30).status_code == 200


# ---------------------------------------------------------------- secrets


def _with_secret(tmp_path, topic, bootstrap):
    return _source(
        tmp_path,
        topic,
        **{
            "connection.url": "https://db.example.com/x",
            "connection.password": "s3cret-value",
            "producer.override.sasl.jaas.config": (
                "org.apache.kafka.common.security.plain.PlainLoginModule required "
                'username="u" password="jaas-s3cret";'
            ),
            "producer.override.bootstrap.servers": bootstrap,
        },
    )


def test_a_kept_secret_is_not_sent_to_a_new_destination(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("secret"))
    w = start_worker()
    config = _with_secret(tmp_path, topic, broker.bootstrap)
    assert w.rest.post("/connectors", {"name": "s", "config": config}).status_code == 201
    shown = w.rest.get("/connectors/s/config").json()
    assert shown["connection.password"] == "[hidden]"
    assert shown["producer.override.sasl.jaas.config"] == "[hidden]"

    # Same destinations: [hidden] keeps the stored secrets.
    assert w.rest.put("/connectors/s/config", {**shown, "tasks.max": "1"}).status_code == 200
    shown = w.rest.get("/connectors/s/config").json()

    for key, elsewhere in [
        ("connection.url", "https://attacker.example.net/x"),
        ("producer.override.bootstrap.servers", "attacker.example.net:9092"),
    ]:
        r = w.rest.put("/connectors/s/config", {**shown, key: elsewhere})
        assert r.status_code == 400, r.text
        message = r.json()["message"]
        assert key in message and "connection.password" in message, message
        assert "producer.override.sasl.jaas.config" in message, message
        assert "s3cret" not in message
        # PATCH merges with the masked config, so it is the same request.
        r = w.rest.request("PATCH", "/connectors/s/config", {key: elsewhere})
        assert r.status_code == 400 and key in r.json()["message"], r.text
    assert w.rest.get("/connectors/s/config").json() == shown

    # Sending the secrets again with the new destination is fine.
    moved = {
        **shown,
        "connection.url": "https://db2.example.com/x",
        "connection.password": "other",
        "producer.override.sasl.jaas.config": "org.x.Plain required password=p;",
    }
    assert w.rest.put("/connectors/s/config", moved).status_code == 200, "secrets given again"
    assert w.rest.get("/connectors/s/config").json()["connection.url"] == "https://db2.example.com/x"


def test_error_messages_never_echo_secrets(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("secret"))
    w = start_worker()
    config = _with_secret(tmp_path, topic, broker.bootstrap)
    config["api.token"] = "tok-s3cret"
    assert w.rest.post("/connectors", {"name": "s", "config": config}).status_code == 201
    r = w.rest.request("PATCH", "/connectors/s/config", {"connector.class": None})
    assert r.status_code == 400, r.text
    message = r.json()["message"]
    assert message.startswith("Connector config {") and message.endswith("} contains no connector type")
    assert "connection.password=[hidden]" in message, message
    assert "s3cret" not in message, message
    r = w.rest.post("/connectors", {"name": "t", "config": {**config, "connector.class": ""}})
    assert r.status_code == 400 and "s3cret" not in r.text, r.text
    assert "s3cret" not in w.log_text()


# ---------------------------------------------------------------- connection limits


def _fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1024) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except BlockingIOError:
        return False


def test_idle_connections_are_closed_and_capped(broker, start_worker):
    w = start_worker(extra={"rest.idle.timeout.ms": 2000, "rest.max.connections": 40})
    address = ("127.0.0.1", w.port)
    before = _fds(w.proc.pid)
    slow = socket.create_connection(address, timeout=10)
    slow.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # headers that never end
    # A keep-alive connection that goes quiet after one request.
    kept = socket.create_connection(address, timeout=10)
    kept.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"}"):
        answer += kept.recv(4096)
    assert answer.startswith(b"HTTP/1.1 200"), answer
    sockets = [slow, kept]
    for _ in range(300):
        sockets.append(socket.create_connection(address, timeout=10))
    for s in sockets:
        s.setblocking(False)
    time.sleep(0.5)
    # The cap holds: idle sockets do not each take a file descriptor in the worker.
    assert _fds(w.proc.pid) <= before + 40 + 10, (before, _fds(w.proc.pid))
    # Every one of them is closed by the worker once the idle timeout passes.
    started = time.monotonic()
    wait_until(lambda: all(_closed_by_server(s) for s in sockets), 15, what="idle sockets closed")
    assert time.monotonic() - started < 10
    for s in sockets:
        s.close()
    assert w.rest.get("/health").status_code == 200
    wait_until(lambda: _fds(w.proc.pid) <= before + 5, 15, what="descriptors released")
    assert w.rest.get("/connectors").status_code == 200


# ---------------------------------------------------------------- loggers


def test_invalid_logger_names_are_refused_and_break_nothing(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("loggers"))
    w = start_worker()
    for bad in ["a%5Bb", "a%5D", "a%7Bb%7D", "a%3Db", "a%2Cb", "a%20b", "%22x%22"]:
        r = w.rest.put(f"/admin/loggers/{bad}", {"level": "DEBUG"})
        assert r.status_code == 400, (bad, r.text)
        assert "Invalid logger name" in r.json()["message"], r.text
    assert set(w.rest.get("/admin/loggers").json()) == {"root"}
    r = w.rest.put("/admin/loggers/x", {"level": "LOUD"})
    assert (r.status_code, r.json()["message"]) == (404, "invalid log level 'LOUD'.")
    for good in ["org.apache.kafka.connect.runtime.WorkerSinkTask", "kafka", "io.debezium$Inner-1_x"]:
        assert w.rest.put(f"/admin/loggers/{good}", {"level": "ERROR"}).status_code == 200, good
    # Later levels still apply: with root at ERROR, starting a connector logs no INFO line.
    assert w.rest.put("/admin/loggers/root", {"level": "ERROR"}).status_code == 200
    mark = len(w.log_text())
    assert (
        w.rest.post("/connectors", {"name": "quiet", "config": _source(tmp_path, topic)}).status_code == 201
    )
    w.rest.wait_running("quiet")
    time.sleep(1)
    assert " INFO " not in w.log_text()[mark:], w.log_text()[mark:]


# ---------------------------------------------------------------- Location


def test_the_location_header_is_percent_encoded(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("names"))
    w = start_worker()
    for name, location in [("a/b", "/connectors/a%2Fb"), ("p q?r#s%t", "/connectors/p%20q%3Fr%23s%25t")]:
        r = w.rest.post("/connectors", {"name": name, "config": _source(tmp_path, topic)})
        assert r.status_code == 201, r.text
        assert r.headers["Location"] == location
        assert w.rest.get(location).json()["name"] == name
    r = w.rest.put("/connectors/%C3%A9%5Bx%5D/config", _source(tmp_path, topic))
    assert r.status_code == 201, r.text
    assert r.headers["Location"] == "/connectors/%C3%A9%5Bx%5D"


def test_a_body_over_the_limit_gets_413_in_connects_shape(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("big"))
    w = start_worker()
    config = _source(tmp_path, topic, padding="x" * (3 * 1024 * 1024))
    r = w.rest.post("/connectors", {"name": "big", "config": config})
    assert r.status_code == 413, r.text
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json()["error_code"] == 413 and "2097152 bytes" in r.json()["message"], r.text
    assert w.rest.get("/health").status_code == 200
