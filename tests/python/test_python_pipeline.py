"""A Python source, a Python SMT and a Python sink in one standalone worker against tansu,
driven through the REST API as a user would: create, pause, resume, restart, a worker
restart in the middle of the stream, delete."""

from __future__ import annotations

import json
import textwrap

from helpers import read_lines, unique, wait_until

PLUGINS = textwrap.dedent(
    """
    import json
    import os
    import time

    from conveyor import (ConfigDef, SinkConnector, SinkTask, SourceConnector, SourceRecord,
                          SourceTask, Transformation)


    class SeqTask(SourceTask):
        def start(self, config):
            self.topic = config["topic"]
            self.limit = int(config["limit"])
            self.batch = int(config["batch"])
            stored = self.context.offset_storage_reader.offset({"seq": "main"})
            self.next = stored["seq"] + 1 if stored else 1

        def poll(self):
            if self.next > self.limit:
                time.sleep(0.05)
                return None
            time.sleep(0.005)  # slow enough for the test to act mid-stream
            end = min(self.next + self.batch, self.limit + 1)
            out = [SourceRecord(self.topic, {"seq": n}, key=str(n),
                                source_partition={"seq": "main"}, source_offset={"seq": n})
                   for n in range(self.next, end)]
            self.next = end
            return out


    class SeqSource(SourceConnector):
        version = "1.2.3"
        config_def = (ConfigDef()
                      .define("topic", str, doc="Topic to write to", importance="high")
                      .define("limit", int, doc="Last sequence number")
                      .define("batch", int, 20, doc="Records per poll"))
        task_class = SeqTask


    class Tag(Transformation):
        config_def = ConfigDef().define("field", str, "tagged")

        def configure(self, config):
            self.field = self.config_def.parse(config)["field"]

        def apply(self, record):
            return record.replace(value={**record.value, self.field: True})


    class LinesTask(SinkTask):
        def start(self, config):
            self.file = open(config["path"], "a")

        def put(self, records):
            for r in records:
                self.file.write(json.dumps(r.value) + "\\n")

        def flush(self, offsets):
            self.file.flush()
            os.fsync(self.file.fileno())

        def stop(self):
            self.file.close()


    class LinesSink(SinkConnector):
        config_def = ConfigDef().define("path", str, doc="File to append to")
        task_class = LinesTask
    """
)

JSON = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}


def plugin_dir(tmp_path):
    d = tmp_path / "plugins"
    d.mkdir(exist_ok=True)
    (d / "pipeline_plugins.py").write_text(PLUGINS)
    return d


def seqs(path):
    return [json.loads(line) for line in read_lines(path)]


def test_source_smts_sink_through_rest_and_a_worker_restart(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("seq"))
    out = tmp_path / "out.jsonl"
    limit = 20_000
    worker = start_worker(
        extra={**JSON, "plugin.path": plugin_dir(tmp_path)}, config_dir=tmp_path / "configs"
    )
    rest = worker.rest
    worker.create(
        "seq",
        {
            "connector.class": "pipeline_plugins:SeqSource",
            "topic": topic,
            "limit": limit,
            "batch": 20,
            # A Python SMT and a built-in one in one chain.
            "transforms": "tag,origin",
            "transforms.tag.type": "pipeline_plugins.Tag",
            "transforms.origin.type": "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.origin.static.field": "origin",
            "transforms.origin.static.value": "py",
        },
    )
    worker.create(
        "lines",
        {
            "connector.class": "pipeline_plugins.LinesSink",
            "topics": topic,
            "path": out,
        },
    )
    rest.wait_running("seq")
    rest.wait_running("lines")
    wait_until(lambda: len(read_lines(out)) >= 200, 60, what="the first records in the sink file")

    assert rest.put("/connectors/seq/pause").status_code == 202
    rest.wait_state("seq", "PAUSED")
    assert rest.status("seq")["connector"]["state"] == "PAUSED"
    assert rest.put("/connectors/seq/resume").status_code == 202
    rest.wait_running("seq")

    r = rest.post("/connectors/seq/restart?includeTasks=true")
    assert r.status_code == 202, r.text
    rest.wait_running("seq")
    wait_until(lambda: len(read_lines(out)) >= 2_000, 60, what="more records after the restart")

    # Stop the worker mid-stream; the connectors come back from --config-dir and resume from
    # the committed offsets.
    assert worker.stop() == 0, worker.log_text()
    stopped_at = len(read_lines(out))
    assert stopped_at < limit, "the stream ended before the worker restart; raise the limit"
    worker = worker.restart()
    worker.rest.wait_running("seq")
    worker.rest.wait_running("lines")
    wait_until(lambda: len(read_lines(out)) >= limit, 120, what="every record in the sink file")

    committed = {"offsets": [{"partition": {"seq": "main"}, "offset": {"seq": limit}}]}
    wait_until(
        lambda: worker.rest.get("/connectors/seq/offsets").json() == committed,
        30,
        what="the last source offset committed",
    )
    for name in ("seq", "lines"):
        assert worker.rest.delete(f"/connectors/{name}").status_code == 204
        assert worker.rest.get(f"/connectors/{name}/status").status_code == 404
    assert worker.rest.get("/connectors").json() == []
    assert worker.stop() == 0

    # Nothing lost, nothing twice, in order, and every record went through both SMTs.
    assert seqs(out) == [{"seq": n, "tagged": True, "origin": "py"} for n in range(1, limit + 1)]


def test_python_plugins_are_listed_and_their_config_def_drives_validation(tmp_path, broker, start_worker):
    worker = start_worker(extra={**JSON, "plugin.path": plugin_dir(tmp_path)})
    rest = worker.rest
    plugins = rest.get("/connector-plugins").json()
    assert {"class": "pipeline_plugins.SeqSource", "type": "source", "version": "1.2.3"} in plugins
    assert {"class": "pipeline_plugins.LinesSink", "type": "sink", "version": "unknown"} in plugins
    everything = rest.get("/connector-plugins?connectorsOnly=false").json()
    tag = {"class": "pipeline_plugins.Tag", "type": "transformation", "version": "unknown"}
    assert tag in everything

    keys = rest.get("/connector-plugins/pipeline_plugins.SeqSource/config").json()
    assert [k["name"] for k in keys] == ["topic", "limit", "batch"]
    batch = keys[2]
    assert (batch["type"], batch["default_value"], batch["documentation"]) == (
        "LONG",
        "20",
        "Records per poll",
    )

    r = rest.put(
        "/connector-plugins/SeqSource/config/validate",
        {
            "connector.class": "SeqSource",
            "name": "v",
            "limit": "lots",
            "transforms": "tag",
            "transforms.tag.type": "pipeline_plugins.Tag",
        },
    )
    assert r.status_code == 200, r.text
    body = r.json()
    errors = {c["value"]["name"]: c["value"]["errors"] for c in body["configs"]}
    assert errors["topic"] == ['Missing required configuration "topic" which has no default value.']
    assert errors["limit"] == ["Invalid value lots for configuration limit: Not a number of type LONG"]
    assert errors["transforms.tag.field"] == []
    assert body["error_count"] == 2

    r = rest.post(
        "/connectors",
        {"name": "bad", "config": {"connector.class": "pipeline_plugins.SeqSource", "limit": "1"}},
    )
    assert r.status_code == 400
    assert 'Missing required configuration "topic"' in r.json()["message"]
