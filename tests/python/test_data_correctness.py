"""Data correctness against Apache Kafka, as a user sees it through a running worker."""

from __future__ import annotations

from helpers import read_lines, unique, wait_until


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
