"""FileStreamSource -> tansu -> FileStreamSink, as a user runs it from the command line."""

from __future__ import annotations

from helpers import read_lines, unique, wait_until, write_properties


def _connector_files(tmp_path, topic, source_file, sink_file):
    src = write_properties(
        tmp_path / "source.properties",
        {
            "name": "file-source",
            "connector.class": "org.apache.kafka.connect.file.FileStreamSourceConnector",
            "tasks.max": 1,
            "file": source_file,
            "topic": topic,
        },
    )
    sink = write_properties(
        tmp_path / "sink.properties",
        {
            "name": "file-sink",
            "connector.class": "FileStreamSink",
            "tasks.max": 1,
            "file": sink_file,
            "topics": topic,
        },
    )
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
    worker = start_worker(
        src,
        sink,
        extra={
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "true",
        },
    )
    wait_until(lambda: read_lines(sink_file) == ["hello", "world"], 60, what="sink output")
    msgs = broker.consume(topic, 2)
    assert [m.value() for m in msgs] == [
        b'{"schema":{"type":"string","optional":false},"payload":"hello"}',
        b'{"schema":{"type":"string","optional":false},"payload":"world"}',
    ]
    assert worker.stop() == 0


def test_source_reads_stdin_when_file_is_unset(tmp_path, broker, start_worker):
    import subprocess

    topic = broker.create_topic(unique("stdin"))
    w = start_worker(stdin=subprocess.PIPE)
    w.create("stdin-src", {"connector.class": "FileStreamSource", "topic": topic})
    w.proc.stdin.write(b"from stdin 1\nfrom stdin 2\n")
    w.proc.stdin.flush()
    msgs = broker.consume(topic, 2)
    assert [m.value() for m in msgs] == [b"from stdin 1", b"from stdin 2"]
    assert w.rest.get("/connectors/stdin-src/offsets").json() == {"offsets": []}
    assert w.stop() == 0


def test_sink_subscribes_with_topics_regex(tmp_path, broker, start_worker):
    prefix = unique("rx")
    a = broker.create_topic(f"{prefix}-a")
    b = broker.create_topic(f"{prefix}-b")
    other = broker.create_topic(f"x{prefix}-c")
    broker.produce(a, [b"from a"])
    broker.produce(b, [b"from b"])
    broker.produce(other, [b"not matched"])
    w = start_worker()
    out = tmp_path / "out.txt"
    w.create("rx-sink", {"connector.class": "FileStreamSink", "file": out, "topics.regex": f"{prefix}-.*"})
    wait_until(lambda: sorted(read_lines(out)) == ["from a", "from b"], 60, what="both matching topics")
    topics = w.rest.get("/connectors/rx-sink/topics").json()["rx-sink"]["topics"]
    assert sorted(topics) == sorted([a, b])
