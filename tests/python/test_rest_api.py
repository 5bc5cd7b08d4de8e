"""The Kafka Connect REST API, driven as an existing Connect client would drive it."""

from __future__ import annotations

from helpers import read_lines, unique, wait_until


def _source(tmp_path, topic, name="src"):
    f = tmp_path / f"{name}.txt"
    f.write_text("a\nb\nc\n")
    return {
        "connector.class": "FileStreamSource",
        "tasks.max": "1",
        "file": str(f),
        "topic": topic,
    }


def _sink(tmp_path, topic, name="sink"):
    return {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
        "tasks.max": "1",
        "file": str(tmp_path / f"{name}.out"),
        "topics": topic,
    }


def test_root_health_and_plugins(broker, start_worker):
    w = start_worker()
    root = w.rest.get("/").json()
    assert set(root) == {"version", "commit", "kafka_cluster_id"}
    assert w.rest.get("/health").json() == {
        "status": "healthy",
        "message": "Worker has completed startup and is ready to handle requests.",
    }
    plugins = w.rest.get("/connector-plugins").json()
    classes = {p["class"]: p["type"] for p in plugins}
    assert classes["org.apache.kafka.connect.file.FileStreamSourceConnector"] == "source"
    assert classes["org.apache.kafka.connect.file.FileStreamSinkConnector"] == "sink"
    assert all(p["type"] in ("source", "sink") for p in plugins)
    everything = w.rest.get("/connector-plugins?connectorsOnly=false").json()
    types = {p["type"] for p in everything}
    assert {"converter", "header_converter"} <= types
    assert any(p["class"] == "org.apache.kafka.connect.json.JsonConverter" for p in everything)

    keys = w.rest.get("/connector-plugins/FileStreamSource/config").json()
    topic_key = next(k for k in keys if k["name"] == "topic")
    assert topic_key["required"] is True and topic_key["type"] == "STRING"
    assert w.rest.get("/connector-plugins/Nope/config").json() == {
        "error_code": 404,
        "message": "Unknown plugin Nope.",
    }


def test_full_lifecycle(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("life"))
    w = start_worker()
    rest = w.rest
    name = "life-sink"

    # create (201 + Location), duplicate (409)
    r = rest.post("/connectors", {"name": name, "config": _sink(tmp_path, topic)})
    assert r.status_code == 201, r.text
    assert r.headers["Location"].endswith(f"/connectors/{name}")
    info = r.json()
    assert info["name"] == name and info["type"] == "sink"
    assert info["config"]["name"] == name
    r = rest.post("/connectors", {"name": name, "config": _sink(tmp_path, topic)})
    assert r.status_code == 409
    assert r.json() == {"error_code": 409, "message": f"Connector {name} already exists"}

    rest.wait_running(name)
    assert rest.get("/connectors").json() == [name]
    assert rest.get(f"/connectors/{name}").json()["tasks"] == [{"connector": name, "task": 0}]
    status = rest.status(name)
    assert status["type"] == "sink"
    assert status["connector"]["worker_id"] == f"127.0.0.1:{w.port}"
    assert status["tasks"][0]["id"] == 0 and "trace" not in status["tasks"][0]
    tasks = rest.get(f"/connectors/{name}/tasks").json()
    assert tasks[0]["id"] == {"connector": name, "task": 0}
    assert tasks[0]["config"]["task.class"] == "org.apache.kafka.connect.file.FileStreamSinkTask"
    assert rest.get(f"/connectors/{name}/tasks/0/status").json()["state"] == "RUNNING"
    assert rest.get(f"/connectors/{name}/tasks/7/status").status_code == 404

    expanded = rest.get("/connectors?expand=status&expand=info").json()
    assert expanded[name]["status"]["connector"]["state"] == "RUNNING"
    assert expanded[name]["info"]["type"] == "sink"

    # data flows
    broker.produce(topic, [b"one", b"two"], one_per_batch=True)
    out = tmp_path / "sink.out"
    wait_until(lambda: read_lines(out) == ["one", "two"], 60, what="sink output")

    # pause: 202, tasks PAUSED, nothing delivered; resume: 202, delivered
    assert rest.put(f"/connectors/{name}/pause").status_code == 202
    rest.wait_state(name, "PAUSED")
    assert rest.status(name)["connector"]["state"] == "PAUSED"
    broker.produce(topic, [b"three"], one_per_batch=True)
    assert rest.put(f"/connectors/{name}/resume").status_code == 202
    rest.wait_state(name, "RUNNING")
    wait_until(lambda: read_lines(out) == ["one", "two", "three"], 60, what="delivery after resume")

    # restart forms (KIP-745)
    assert rest.post(f"/connectors/{name}/restart").status_code == 204
    r = rest.post(f"/connectors/{name}/restart?includeTasks=true&onlyFailed=false")
    assert r.status_code == 202
    body = r.json()
    assert body["connector"]["state"] == "RESTARTING"
    assert body["tasks"][0]["state"] == "RESTARTING"
    rest.wait_running(name)
    r = rest.post(f"/connectors/{name}/restart?includeTasks=true&onlyFailed=true")
    assert r.status_code == 202 and r.json()["tasks"][0]["state"] == "RUNNING"
    assert rest.post(f"/connectors/{name}/tasks/0/restart").status_code == 204
    rest.wait_running(name)

    # config update: 200 (updated) and the new config is served
    new_cfg = _sink(tmp_path, topic)
    new_cfg["file"] = str(tmp_path / "second.out")
    r = rest.put(f"/connectors/{name}/config", new_cfg)
    assert r.status_code == 200, r.text
    assert rest.get(f"/connectors/{name}/config").json()["file"] == new_cfg["file"]
    rest.wait_running(name)

    # offsets: committed consumer offsets of the group connect-<name>
    def committed():
        offs = rest.get(f"/connectors/{name}/offsets").json()["offsets"]
        return offs if offs and offs[0]["offset"]["kafka_offset"] == 3 else None

    offs = wait_until(committed, 30, what="sink offsets")
    assert offs == [
        {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 3}}
    ]

    # stop: 204, connector STOPPED with no tasks; offsets can then be altered
    r = rest.request("PATCH", f"/connectors/{name}/offsets", {"offsets": offs})
    assert r.status_code == 400 and "STOPPED" in r.json()["message"]
    assert rest.put(f"/connectors/{name}/stop").status_code == 204
    st = rest.status(name)
    assert st["connector"]["state"] == "STOPPED" and st["tasks"] == []
    r = rest.request(
        "PATCH",
        f"/connectors/{name}/offsets",
        {
            "offsets": [
                {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 1}}
            ]
        },
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "The offsets for this connector have been altered successfully"}
    assert rest.get(f"/connectors/{name}/offsets").json()["offsets"][0]["offset"] == {"kafka_offset": 1}
    assert rest.put(f"/connectors/{name}/resume").status_code == 202
    rest.wait_running(name)
    # resumed from offset 1: "two" and "three" are delivered again to the new file
    wait_until(lambda: read_lines(tmp_path / "second.out") == ["two", "three"], 60, what="re-delivery")

    # topics in use
    assert rest.get(f"/connectors/{name}/topics").json() == {name: {"topics": [topic]}}
    assert rest.put(f"/connectors/{name}/topics/reset").status_code == 202
    assert rest.get(f"/connectors/{name}/topics").json() == {name: {"topics": []}}

    # delete: 204, then 404 everywhere
    assert rest.delete(f"/connectors/{name}").status_code == 204
    assert rest.get("/connectors").json() == []
    for path in ("", "/status", "/config", "/tasks"):
        r = rest.get(f"/connectors/{name}{path}")
        assert r.status_code == 404
        assert r.json() == {"error_code": 404, "message": f"Connector {name} not found"}


def test_initial_state_and_source_offsets(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("init"))
    w = start_worker()
    r = w.rest.post(
        "/connectors", {"name": "paused-src", "config": _source(tmp_path, topic), "initial_state": "PAUSED"}
    )
    assert r.status_code == 201
    w.rest.wait_state("paused-src", "PAUSED")
    assert w.rest.get("/connectors/paused-src/offsets").json() == {"offsets": []}
    w.rest.put("/connectors/paused-src/resume")
    expected = [{"partition": {"filename": str(tmp_path / "src.txt")}, "offset": {"position": 6}}]
    wait_until(
        lambda: w.rest.get("/connectors/paused-src/offsets").json()["offsets"] == expected,
        30,
        what="source offsets",
    )
    r = w.rest.post(
        "/connectors",
        {"name": "stopped", "config": _source(tmp_path, topic, "s2"), "initial_state": "STOPPED"},
    )
    assert r.status_code == 201 and r.json()["tasks"] == []
    assert w.rest.status("stopped")["connector"]["state"] == "STOPPED"
    # source offsets can be reset while stopped
    w.rest.put("/connectors/paused-src/stop")
    r = w.rest.delete("/connectors/paused-src/offsets")
    assert r.json() == {"message": "The offsets for this connector have been reset successfully"}
    assert w.rest.get("/connectors/paused-src/offsets").json() == {"offsets": []}


def test_validation_errors_match_connect(tmp_path, broker, start_worker):
    w = start_worker()
    r = w.rest.post("/connectors", {"name": "bad", "config": {"connector.class": "FileStreamSource"}})
    assert r.status_code == 400
    msg = r.json()["message"]
    assert msg.startswith("Connector configuration is invalid and contains the following 1 error(s):")
    assert 'Missing required configuration "topic" which has no default value.' in msg

    r = w.rest.post("/connectors", {"name": "bad", "config": {"connector.class": "NoSuchConnector"}})
    assert r.status_code == 400
    assert "FileStreamSinkConnector" in r.json()["message"]  # lists what is available

    r = w.rest.post(
        "/connectors", {"name": "x", "config": {"name": "y", "connector.class": "FileStreamSink"}}
    )
    assert r.status_code == 400
    assert (
        r.json()["message"] == "Connector name configuration (y) doesn't match connector name in the URL (x)"
    )

    body = {"connector.class": "FileStreamSink", "tasks.max": "0", "name": "v"}
    r = w.rest.put("/connector-plugins/FileStreamSink/config/validate", body)
    assert r.status_code == 200
    infos = r.json()
    assert infos["name"] == "org.apache.kafka.connect.file.FileStreamSinkConnector"
    assert infos["error_count"] == 2
    errors = {c["value"]["name"]: c["value"]["errors"] for c in infos["configs"] if c["value"]["errors"]}
    assert errors == {
        "tasks.max": ["Invalid value 0 for configuration tasks.max: Value must be at least 1"],
        "topics": ["Must configure one of topics or topics.regex"],
    }
    r = w.rest.put("/connector-plugins/FileStreamSource/config/validate", body)
    assert r.status_code == 400
    assert w.rest.request("PATCH", "/connectors/missing/config", {"a": "b"}).status_code == 404
    assert w.rest.get("/no/such/path").json() == {"error_code": 404, "message": "HTTP 404 Not Found"}


def test_admin_loggers(broker, start_worker):
    w = start_worker()
    assert w.rest.get("/admin/loggers").json()["root"]["level"] == "INFO"
    r = w.rest.put("/admin/loggers/conveyor.runtime", {"level": "DEBUG"})
    assert r.status_code == 200 and r.json() == ["conveyor.runtime"]
    got = w.rest.get("/admin/loggers/conveyor.runtime").json()
    assert got["level"] == "DEBUG" and isinstance(got["last_modified"], int)
    assert w.rest.put("/admin/loggers/x", {}).status_code == 400
    assert w.rest.put("/admin/loggers/x", {"level": "LOUD"}).status_code == 404


def test_prometheus_metrics_use_connect_names(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("metrics"))
    w = start_worker()
    w.rest.post("/connectors", {"name": "msrc", "config": _source(tmp_path, topic)})
    out = tmp_path / "msink.out"
    w.rest.post("/connectors", {"name": "msink", "config": {**_sink(tmp_path, topic, "msink")}})
    wait_until(lambda: read_lines(out) == ["a", "b", "c"], 60, what="pipeline output")

    def sample(text, name, labels):
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
        return None

    def counts():
        text = w.rest.get("/metrics").text
        return (
            sample(text, "kafka_connect_source_task_metrics_source_record_poll_total", {"connector": "msrc"}),
            sample(text, "kafka_connect_sink_task_metrics_sink_record_send_total", {"connector": "msink"}),
            text,
        )

    polled, sent, text = wait_until(lambda: (c := counts())[0] == 3 and c[1] == 3 and c, 30, what="metrics")
    assert "kafka_connect_connect_worker_metrics_task_count 2" in text
    assert "kafka_connect_connect_worker_metrics_connector_count 2" in text
    assert "kafka_connect_sink_task_metrics_put_batch_time_ms_bucket" in text
