"""FileStreamSource -> tansu -> FileStreamSink, as a user runs it from the command line."""

from __future__ import annotations

from helpers import read_lines, unique, wait_until, write_properties


def _connector_files(tmp_path, topic, source_file, sink_file):
    src = write_properties(tmp_path / "source.properties", {
        "name": "file-source",
        "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "tasks.max": 1,
        "file": source_file,
        "topic": topic,
    })
    sink = write_properties(tmp_path / "sink.properties", {
        "name": "file-sink",
        "connector.class": "FileStreamSink",
        "tasks.max": 1,
        "file": sink_file,
        "topics": topic,
    })
    return src, sink


def test_lines_arrive_exactly_once_in_order_across_graceful_restart(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("lines"))
    source_file, sink_file = tmp_path / "in.txt", tmp_path / "out.txt"
    expected = [f"line {i:05d} " + "x" * 40 for i in range(10_000)]
    source_file.write_text("\n".join(expected[:5_000]) + "\n")
    worker = start_worker(*_connector_files(tmp_path, topic, source_file, sink_file))
    worker.rest.wait_running("file-source")
    worker.rest.wait_running("file-sink")
    wait_until(lambda: len(read_lines(sink_file)) >= 2_000, 60, what="first lines in the sink file")

    # Stop in the middle: more lines arrive while the worker is down.
    assert worker.stop() == 0, worker.log_text()
    with source_file.open("a") as f:
        f.write("\n".join(expected[5_000:]) + "\n")
    worker = worker.restart()

    wait_until(lambda: len(read_lines(sink_file)) >= len(expected), 120, what="all lines in the sink file")
    assert worker.stop() == 0
    assert read_lines(sink_file) == expected


def test_json_converter_envelope_reaches_kafka(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("json"))
    source_file, sink_file = tmp_path / "in.txt", tmp_path / "out.txt"
    source_file.write_text("hello\nworld\n")
    src, sink = _connector_files(tmp_path, topic, source_file, sink_file)
    worker = start_worker(src, sink, extra={
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
    })
    wait_until(lambda: read_lines(sink_file) == ["hello", "world"], 60, what="sink output")
    msgs = broker.consume(topic, 2)
    assert [m.value() for m in msgs] == [
        b'{"schema":{"type":"string","optional":false},"payload":"hello"}',
        b'{"schema":{"type":"string","optional":false},"payload":"world"}',
    ]
    assert worker.stop() == 0
