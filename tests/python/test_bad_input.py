"""Bad input gets a clear error naming what is wrong, and never takes the worker down."""

from __future__ import annotations

import socket
import subprocess

from helpers import conveyor_cmd, free_port, read_lines, unique, wait_until, write_properties


def _run(args, timeout=60):
    return subprocess.run([*conveyor_cmd(), *args], capture_output=True, text=True, timeout=timeout)


def _worker_file(tmp_path, broker, **extra):
    props = {
        "bootstrap.servers": broker.bootstrap,
        "offset.storage.file.filename": tmp_path / "offsets",
        "listeners": f"http://127.0.0.1:{free_port()}",
    }
    props.update(extra)
    return write_properties(tmp_path / "worker.properties", props)


def test_malformed_properties_line_names_file_and_line(tmp_path, broker):
    worker = _worker_file(tmp_path, broker)
    bad = tmp_path / "bad.properties"
    bad.write_text("name=x\nconnector.class=FileStreamSink\ntopics\n")
    r = _run(["standalone", str(worker), str(bad)])
    assert r.returncode != 0
    assert f"{bad}, line 3" in r.stderr and "`topics` has no value" in r.stderr, r.stderr


def test_unknown_connector_class_in_a_file_lists_plugins(tmp_path, broker):
    worker = _worker_file(tmp_path, broker)
    bad = write_properties(tmp_path / "c.properties", {"name": "x", "connector.class": "com.acme.Nope"})
    r = _run(["standalone", str(worker), str(bad)])
    assert r.returncode != 0
    assert "com.acme.Nope" in r.stderr
    assert "org.apache.kafka.connect.file.FileStreamSourceConnector" in r.stderr, r.stderr


def test_missing_required_config_in_a_file(tmp_path, broker):
    worker = _worker_file(tmp_path, broker)
    bad = write_properties(tmp_path / "c.properties", {"name": "x", "connector.class": "FileStreamSource"})
    r = _run(["standalone", str(worker), str(bad)])
    assert r.returncode != 0
    assert 'Missing required configuration "topic"' in r.stderr, r.stderr


def test_port_in_use_exits_with_a_clear_message(tmp_path, broker):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        worker = _worker_file(tmp_path, broker, listeners=f"http://127.0.0.1:{port}")
        r = _run(["standalone", str(worker)])
    assert r.returncode != 0
    assert f"port {port}" in r.stderr and "listeners" in r.stderr, r.stderr


def test_bad_worker_config_value_names_the_key(tmp_path, broker):
    worker = _worker_file(tmp_path, broker, **{"offset.flush.interval.ms": "soon"})
    r = _run(["standalone", str(worker)])
    assert r.returncode != 0
    assert "Invalid value soon for configuration offset.flush.interval.ms" in r.stderr, r.stderr


def test_unknown_worker_keys_are_a_warning(tmp_path, broker, start_worker):
    w = start_worker(extra={"offset.flush.intervall.ms": "5"})
    assert "offset.flush.intervall.ms" in w.log_text()
    assert w.rest.get("/health").status_code == 200


def test_broker_unreachable_task_retries_and_status_says_why(tmp_path, start_worker):
    dead = f"127.0.0.1:{free_port()}"
    w = start_worker(extra={"bootstrap.servers": dead})
    source = tmp_path / "in.txt"
    source.write_text("a\nb\n")
    w.create("src", {"connector.class": "FileStreamSource", "file": source, "topic": "t"})
    w.create("snk", {"connector.class": "FileStreamSink", "file": tmp_path / "o", "topics": "t"})

    def explains(name):
        t = w.rest.status(name)["tasks"][0]
        return t if t["state"] == "RUNNING" and dead in t.get("trace", "") else None

    src = wait_until(lambda: explains("src"), 60, what="source status naming the broker")
    assert "retrying" in src["trace"]
    wait_until(lambda: explains("snk"), 60, what="sink status naming the broker")
    # still serving, nothing crashed
    assert w.proc.poll() is None
    assert w.rest.get("/health").status_code == 200
    assert w.stop() == 0


def test_unparseable_record_fails_sink_with_position_and_commits_nothing_past_it(
    tmp_path, broker, start_worker
):
    topic = broker.create_topic(unique("bad-json"))
    broker.produce(topic, [b'{"n":1}', b'{"n":2}', b"this is not json", b'{"n":4}'], one_per_batch=True)
    w = start_worker(
        extra={
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
        }
    )
    out = tmp_path / "out.txt"
    w.create("json-sink", {"connector.class": "FileStreamSink", "file": out, "topics": topic})
    failed = w.rest.wait_state("json-sink", "FAILED", timeout=60)
    trace = failed["tasks"][0]["trace"]
    assert f"topic='{topic}', partition=0, offset=2" in trace, trace
    assert "VALUE_CONVERTER" in trace and "DataException" in trace
    assert read_lines(out) == ["{n=1}", "{n=2}"]
    wait_until(
        lambda: broker.committed("connect-json-sink", topic) == {0: 2},
        30,
        what="offsets committed up to the bad record",
    )
    # the worker survives, and a restart fails again on the same record
    assert w.rest.get("/health").status_code == 200
    assert w.rest.post("/connectors/json-sink/tasks/0/restart").status_code == 204
    w.rest.wait_state("json-sink", "FAILED", timeout=60)
    assert read_lines(out) == ["{n=1}", "{n=2}"]


def test_pause_survives_restart_with_config_dir(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("persist"))
    config_dir = tmp_path / "configs"
    w = start_worker(config_dir=config_dir)
    w.create("keep", {"connector.class": "FileStreamSink", "file": tmp_path / "o", "topics": topic})
    w.rest.wait_running("keep")
    assert w.rest.put("/connectors/keep/pause").status_code == 202
    w.rest.wait_state("keep", "PAUSED")
    w = w.restart()
    assert w.rest.get("/connectors").json() == ["keep"]
    w.rest.wait_state("keep", "PAUSED")
    assert w.rest.status("keep")["connector"]["state"] == "PAUSED"
    w.rest.put("/connectors/keep/stop")
    w = w.restart()
    assert w.rest.status("keep")["connector"]["state"] == "STOPPED"
    assert w.rest.delete("/connectors/keep").status_code == 204
    w = w.restart()
    assert w.rest.get("/connectors").json() == []


def test_cli_plugins_version_and_help():
    import json

    r = _run(["plugins", "--json"])
    assert r.returncode == 0, r.stderr
    plugins = {(p["class"], p["type"]) for p in json.loads(r.stdout)}
    assert ("org.apache.kafka.connect.file.FileStreamSourceConnector", "source") in plugins
    assert ("org.apache.kafka.connect.json.JsonConverter", "converter") in plugins
    assert ("org.apache.kafka.connect.transforms.InsertField$Value", "transformation") in plugins
    assert ("org.apache.kafka.connect.transforms.predicates.TopicNameMatches", "predicate") in plugins
    r = _run(["plugins"])
    assert "transformation:" in r.stdout and "FileStreamSinkConnector" in r.stdout
    r = _run(["version"])
    assert r.returncode == 0 and r.stdout.startswith("conveyor ")
    for sub in ([], ["standalone"], ["distributed"], ["plugins"]):
        r = _run([*sub, "--help"])
        assert r.returncode == 0 and "Usage: conveyor" in r.stdout, (sub, r.stdout, r.stderr)


def test_a_world_writable_plugin_path_is_refused_unless_allowed(tmp_path, broker, start_worker):
    """Anyone who can write a file into a directory on the import path runs code in the
    worker: a world-writable `plugin.path` stops the worker unless the setting allows it."""
    import os

    plugins = tmp_path / "open-plugins"
    plugins.mkdir()
    os.chmod(plugins, 0o777)
    worker = _worker_file(tmp_path, broker, **{"plugin.path": plugins})
    r = _run(["standalone", str(worker)])
    assert r.returncode != 0
    assert f"plugin.path: {plugins} is world-writable" in r.stderr, r.stderr
    assert "plugin.path.allow.world.writable=true" in r.stderr, r.stderr

    # A world-writable file in a safe directory is the same hole.
    safe = tmp_path / "safe-plugins"
    safe.mkdir()
    os.chmod(safe, 0o755)
    (safe / "mod.py").write_text("X = 1\n")
    os.chmod(safe / "mod.py", 0o666)
    r = _run(["standalone", str(_worker_file(tmp_path, broker, **{"plugin.path": safe}))])
    assert r.returncode != 0 and f"{safe / 'mod.py'} is world-writable" in r.stderr, r.stderr

    w = start_worker(extra={"plugin.path": plugins, "plugin.path.allow.world.writable": "true"})
    assert f"plugin.path: {plugins} is world-writable" in w.log_text()
    assert w.rest.get("/health").status_code == 200
