"""Error handling (tolerance, dead letter queue, context headers), SMTs in a running
pipeline, and config providers, against a real broker."""

from __future__ import annotations

import json

from helpers import read_lines, unique, wait_until


def _json_worker(start_worker, **extra):
    return start_worker(
        extra={
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            **extra,
        }
    )


def _interleaved(n_bad=500):
    values, good, bad = [], [], []
    for i in range(2 * n_bad):
        if i % 2 == 0:
            v = json.dumps({"i": i}, separators=(",", ":")).encode()
            good.append(f"{{i={i}}}")  # FileStreamSink prints Java's toString of the map
        else:
            v = f"not json {i}".encode()
            bad.append((i, v))
        values.append(v)
    return values, good, bad


def test_dead_letter_queue_gets_every_bad_record_in_order_with_context(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("dlq-in"))
    dlq = unique("dlq")
    values, good, bad = _interleaved(500)
    broker.produce(topic, values)
    w = _json_worker(start_worker)
    out = tmp_path / "good.txt"
    w.create(
        "tolerant",
        {
            "connector.class": "FileStreamSink",
            "file": out,
            "topics": topic,
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": 1,
            "errors.deadletterqueue.context.headers.enable": "true",
            "errors.log.enable": "true",
        },
    )
    wait_until(lambda: len(read_lines(out)) >= len(good), 90, what="all good records in the sink")
    assert read_lines(out) == good
    assert w.rest.status("tolerant")["tasks"][0]["state"] == "RUNNING"

    msgs = broker.consume(dlq, len(bad), timeout=60)
    assert [m.value() for m in msgs] == [v for _, v in bad]
    first = dict(msgs[0].headers())
    assert first["__connect.errors.topic"] == topic.encode()
    assert first["__connect.errors.partition"] == b"0"
    assert first["__connect.errors.offset"] == b"1"
    assert first["__connect.errors.connector.name"] == b"tolerant"
    assert first["__connect.errors.task.id"] == b"0"
    assert first["__connect.errors.stage"] == b"VALUE_CONVERTER"
    assert first["__connect.errors.class.name"] == b"org.apache.kafka.connect.json.JsonConverter"
    assert first["__connect.errors.exception.class.name"] == b"org.apache.kafka.connect.errors.DataException"
    assert b"serialization error" in first["__connect.errors.exception.message"]
    assert [int(dict(m.headers())["__connect.errors.offset"]) for m in msgs] == [i for i, _ in bad]
    # offsets are committed past the bad records
    wait_until(
        lambda: broker.committed("connect-tolerant", topic) == {0: len(values)},
        30,
        what="committed offset at the end of the topic",
    )


def test_tolerance_none_fails_on_the_first_bad_record(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("strict"))
    values, good, bad = _interleaved(5)
    broker.produce(topic, values, one_per_batch=True)
    w = _json_worker(start_worker)
    out = tmp_path / "out.txt"
    w.create("strict", {"connector.class": "FileStreamSink", "file": out, "topics": topic})
    st = w.rest.wait_state("strict", "FAILED")
    assert "offset=1" in st["tasks"][0]["trace"]
    assert read_lines(out) == good[:1]
    assert broker.committed("connect-strict", topic) == {0: 1}


def test_smts_and_predicates_in_a_source_and_a_sink(tmp_path, broker, start_worker):
    raw = broker.create_topic(unique("raw"))
    routed = broker.create_topic(f"routed-{raw}")
    src = tmp_path / "in.txt"
    src.write_text("alpha\nbeta\n")
    w = start_worker(
        extra={
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "true",
        }
    )
    w.create(
        "smt-src",
        {
            "connector.class": "FileStreamSource",
            "file": src,
            "topic": raw,
            "transforms": "hoist,stamp,route",
            "transforms.hoist.type": "org.apache.kafka.connect.transforms.HoistField$Value",
            "transforms.hoist.field": "line",
            "transforms.stamp.type": "org.apache.kafka.connect.transforms.InsertField$Value",
            "transforms.stamp.static.field": "origin",
            "transforms.stamp.static.value": "file",
            "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
            "transforms.route.regex": "(.*)",
            "transforms.route.replacement": "routed-$1",
        },
    )
    msgs = broker.consume(routed, 2)
    assert [m.value() for m in msgs] == [
        b'{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"line"},'
        b'{"type":"string","optional":true,"field":"origin"}],"optional":false},'
        b'"payload":{"line":"' + word + b'","origin":"file"}}'
        for word in (b"alpha", b"beta")
    ]
    # sink side: drop tombstones with Filter + RecordIsTombstone, extract a field
    out = tmp_path / "out.txt"
    broker.produce(routed, [None], one_per_batch=True)
    w.create(
        "smt-sink",
        {
            "connector.class": "FileStreamSink",
            "file": out,
            "topics": routed,
            "transforms": "dropTombstones,extract",
            "transforms.dropTombstones.type": "org.apache.kafka.connect.transforms.Filter",
            "transforms.dropTombstones.predicate": "isTombstone",
            "transforms.extract.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
            "transforms.extract.field": "line",
            "predicates": "isTombstone",
            "predicates.isTombstone.type": "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
        },
    )
    wait_until(lambda: read_lines(out) == ["alpha", "beta"], 60, what="transformed sink output")
    w.rest.wait_running("smt-sink")


def test_unknown_transform_class_is_a_400(tmp_path, broker, start_worker):
    w = start_worker()
    r = w.rest.post(
        "/connectors",
        {
            "name": "x",
            "config": {
                "connector.class": "FileStreamSink",
                "topics": "t",
                "transforms": "a",
                "transforms.a.type": "com.acme.Nope",
            },
        },
    )
    assert r.status_code == 400
    assert "transforms.a.type" in r.json()["message"]


def test_config_provider_secrets_stay_out_of_rest_and_logs(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("secret"))
    secret_dir = tmp_path / "secret-place-4d1c"
    secret_dir.mkdir()
    secrets = tmp_path / "secrets.properties"
    secrets.write_text(f"out.file={secret_dir / 'out.txt'}\n")
    w = start_worker(
        extra={
            "config.providers": "file",
            "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
        }
    )
    ref = f"${{file:{secrets}:out.file}}"
    w.create("hidden", {"connector.class": "FileStreamSink", "topics": topic, "file": ref})
    w.rest.wait_running("hidden")
    broker.produce(topic, [b"x"])
    wait_until(lambda: read_lines(secret_dir / "out.txt") == ["x"], 60, what="output at the resolved path")
    for path in ("/config", "", "/tasks", "/status"):
        body = w.rest.get(f"/connectors/hidden{path}").text
        assert "secret-place-4d1c" not in body, (path, body)
    assert w.rest.get("/connectors/hidden/config").json()["file"] == ref
    assert w.rest.get("/connectors/hidden/tasks").json()[0]["config"]["file"] == ref
    assert "secret-place-4d1c" not in w.log_text()
