"""Data correctness against Apache Kafka, as a user sees it through a running worker: what
FileStreamSink writes, records without source offsets on stop, source positions in SMTs and
predicates, and the dead letter queue under errors.tolerance=none."""

from __future__ import annotations

import json
import textwrap

from helpers import read_lines, unique, wait_until

PLUGINS = textwrap.dedent(
    """
    import json
    import os
    import time

    from conveyor import (ConfigDef, Predicate, SourceConnector, SourceRecord, SourceTask,
                          Transformation)


    class BurstTask(SourceTask):
        # One burst of records without a source partition or offset (as a stdin reader or a
        # fire-and-forget source sends), then nothing: the test stops the task right after.
        def start(self, config):
            self.topic = config["topic"]
            self.count = int(config["count"])
            self.marker = config["marker"]

        def poll(self):
            if os.path.exists(self.marker):
                time.sleep(0.05)
                return None
            with open(self.marker, "w") as f:
                f.write("polled")
            return [SourceRecord(self.topic, f"record-{i}") for i in range(self.count)]


    class Burst(SourceConnector):
        config_def = (ConfigDef()
                      .define("topic", str, doc="Topic to write to")
                      .define("count", int, doc="Records in the burst")
                      .define("marker", str, doc="File written after the burst"))
        task_class = BurstTask


    class ShowPosition(Transformation):
        def apply(self, record):
            return record.replace(value=json.dumps({
                "line": record.value,
                "partition": record.source_partition,
                "offset": record.source_offset,
            }))


    class NoOffset(Predicate):
        def test(self, record):
            return not record.source_offset


    class FailOn(Transformation):
        config_def = ConfigDef().define("value", str, doc="The value to fail on")

        def configure(self, config):
            self.bad = config["value"]

        def apply(self, record):
            if record.value == self.bad:
                raise ValueError(f"cannot transform {record.value!r}")
            return record
    """
)


def plugin_dir(tmp_path):
    d = tmp_path / "plugins"
    d.mkdir(exist_ok=True)
    (d / "correctness_plugins.py").write_text(PLUGINS)
    return d


def test_file_sink_writes_values_as_kafka_connect_prints_them(tmp_path, broker, start_worker):
    # Kafka Connect's quickstart: JSON without schemas into FileStreamSink prints {some_key=0}.
    plain = broker.create_topic(unique("plain-json"))
    broker.produce(
        plain,
        [b'{"some_key":0}', b"[1, 2]", b"null", b"", b'{"b":1,"a":0012.50,"c":{}}'],
        one_per_batch=True,
    )
    enveloped = broker.create_topic(unique("schema-json"))
    broker.produce(
        enveloped,
        [
            b'{"schema":{"type":"struct","fields":[{"type":"int32","field":"a"},'
            b'{"type":"string","optional":true,"field":"n"},{"type":"string","field":"b"}]},'
            b'"payload":{"a":1,"n":null,"b":"x"}}',
            b'{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal",'
            b'"parameters":{"scale":"4"}},"payload":1.5600}',
        ],
        one_per_batch=True,
    )
    w = start_worker()
    plain_out, enveloped_out = tmp_path / "plain.txt", tmp_path / "enveloped.txt"
    for name, topic, out, schemas in (
        ("plain-sink", plain, plain_out, "false"),
        ("schema-sink", enveloped, enveloped_out, "true"),
    ):
        w.create(
            name,
            {
                "connector.class": "FileStreamSink",
                "file": out,
                "topics": topic,
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": schemas,
                "value.converter.decimal.format": "NUMERIC",
            },
        )
    wait_until(lambda: len(read_lines(plain_out)) >= 5, 60, what="every plain JSON record")
    assert read_lines(plain_out) == ["{some_key=0}", "[1, 2]", "null", "null", "{a=12.5, b=1, c={}}"]
    wait_until(lambda: len(read_lines(enveloped_out)) >= 2, 60, what="every enveloped record")
    assert read_lines(enveloped_out) == ["Struct{a=1,b=x}", "1.5600"]
    assert w.rest.status("plain-sink")["tasks"][0]["state"] == "RUNNING"


def test_records_without_source_offsets_are_delivered_when_the_task_stops(tmp_path, broker, start_worker):
    w = start_worker(extra={"plugin.path": plugin_dir(tmp_path)})
    count = 2_000
    # Every way a task is stopped; each right after the poll that returned the records.
    stops = {
        "stop": lambda name: w.rest.put(f"/connectors/{name}/stop"),
        "restart": lambda name: w.rest.post(f"/connectors/{name}/restart?includeTasks=true"),
        "delete": lambda name: w.rest.delete(f"/connectors/{name}"),
    }
    for how, stop in stops.items():
        for attempt in range(3):
            name = f"burst-{how}-{attempt}"
            topic = broker.create_topic(unique(name))
            marker = tmp_path / f"{name}.polled"
            w.create(
                name,
                {
                    "connector.class": "correctness_plugins:Burst",
                    "topic": topic,
                    "count": count,
                    "marker": marker,
                    # Records wait in the producer long enough for the stop to catch them.
                    "producer.override.linger.ms": 1000,
                },
            )
            wait_until(marker.exists, 60, interval=0.005, what=f"the burst of {name}")
            r = stop(name)
            assert r.status_code < 300, r.text
            values = sorted(m.value().decode() for m in broker.consume(topic, count, timeout=30))
            assert values == sorted(f"record-{i}" for i in range(count)), (
                f"{how}: {count - len(values)} of {count} records lost"
            )


def test_transforms_and_predicates_see_the_source_position(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("positions"))
    source = tmp_path / "in.txt"
    source.write_text("alpha\nbeta\n")
    w = start_worker(extra={"plugin.path": plugin_dir(tmp_path)})
    w.create(
        "positions",
        {
            "connector.class": "FileStreamSource",
            "file": source,
            "topic": topic,
            # Drops records whose offset a predicate cannot see, then shows what an SMT sees.
            "transforms": "dropBlind,show",
            "transforms.dropBlind.type": "org.apache.kafka.connect.transforms.Filter",
            "transforms.dropBlind.predicate": "noOffset",
            "transforms.show.type": "correctness_plugins.ShowPosition",
            "predicates": "noOffset",
            "predicates.noOffset.type": "correctness_plugins.NoOffset",
        },
    )
    msgs = broker.consume(topic, 2, timeout=30)
    assert [json.loads(m.value()) for m in msgs] == [
        {"line": "alpha", "partition": {"filename": str(source)}, "offset": {"position": 6}},
        {"line": "beta", "partition": {"filename": str(source)}, "offset": {"position": 11}},
    ]
    # The runtime still commits the offsets it read before the chain.
    wait_until(
        lambda: (
            w.rest.get("/connectors/positions/offsets").json()["offsets"]
            == [{"partition": {"filename": str(source)}, "offset": {"position": 11}}]
        ),
        30,
        what="the committed source offset",
    )


def _dlq_headers(msg) -> dict[str, bytes]:
    return dict(msg.headers() or [])


def test_the_record_that_fails_a_sink_task_goes_to_the_dead_letter_queue(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("strict-dlq-in"))
    dlq = unique("strict-dlq")
    broker.produce(topic, [b'{"i":0}', b"not json", b'{"i":2}'], one_per_batch=True)
    w = start_worker(
        extra={
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
        }
    )
    out = tmp_path / "out.txt"
    w.create(
        "strict-sink",
        {
            "connector.class": "FileStreamSink",
            "file": out,
            "topics": topic,
            "errors.tolerance": "none",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": 1,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    st = w.rest.wait_state("strict-sink", "FAILED")
    assert "Tolerance exceeded" in st["tasks"][0]["trace"]
    assert read_lines(out) == ["{i=0}"]
    msgs = broker.consume(dlq, 1, timeout=30)
    assert [m.value() for m in msgs] == [b"not json"]
    h = _dlq_headers(msgs[0])
    assert h["__connect.errors.topic"] == topic.encode()
    assert h["__connect.errors.offset"] == b"1"
    assert h["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert h["__connect.errors.connector.name"] == b"strict-sink"
    assert h["__connect.errors.exception.class.name"] == b"org.apache.kafka.connect.errors.DataException"
    assert f"dead letter queue {dlq}" in w.log_text()


def test_the_record_that_fails_a_source_task_goes_to_the_dead_letter_queue(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("strict-src"))
    dlq = unique("strict-src-dlq")
    source = tmp_path / "in.txt"
    source.write_text("one\ntwo\nthree\n")
    w = start_worker(extra={"plugin.path": plugin_dir(tmp_path)})
    w.create(
        "strict-src",
        {
            "connector.class": "FileStreamSource",
            "file": source,
            "topic": topic,
            "transforms": "fail",
            "transforms.fail.type": "correctness_plugins.FailOn",
            "transforms.fail.value": "two",
            "errors.tolerance": "none",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": 1,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    st = w.rest.wait_state("strict-src", "FAILED")
    assert "cannot transform 'two'" in st["tasks"][0]["trace"]
    msgs = broker.consume(dlq, 1, timeout=30)
    assert [m.value() for m in msgs] == [b"two"]
    h = _dlq_headers(msgs[0])
    assert h["__connect.errors.stage"] == b"TRANSFORMATION"
    assert h["__connect.errors.class.name"] == b"correctness_plugins.FailOn"
    assert b"cannot transform 'two'" in h["__connect.errors.exception.message"]
    assert f"dead letter queue {dlq}" in w.log_text()
