"""At-least-once source tasks of a worker share one producer when their producer settings are
alike: an extra source task costs its own thread, not a librdkafka client. Sharing must not mix
the tasks' books: a record one task fails to deliver fails that task alone, and the others keep
delivering and committing."""

from __future__ import annotations

from pathlib import Path

from helpers import unique, wait_until


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise KeyError("Threads")


def _source(path: Path, topic: str, **extra) -> dict:
    return {"connector.class": "FileStreamSource", "file": str(path), "topic": topic, **extra}


def _delivered(broker, topic: str, count: int) -> bool:
    return len(broker.consume(topic, count, timeout=5)) >= count


def test_extra_source_tasks_share_the_producer(tmp_path, broker, start_worker):
    worker = start_worker()
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"line {i}\n" for i in range(50)))
    first = broker.create_topic(unique("shared-first"))
    worker.create("first", _source(lines, first))
    worker.rest.wait_running("first")
    wait_until(lambda: _delivered(broker, first, 50), 60, what="the first connector's records")
    before = _threads(worker.proc.pid)

    more = 6
    topics = [broker.create_topic(unique(f"shared-{i}")) for i in range(more)]
    for i, topic in enumerate(topics):
        worker.create(f"more-{i}", _source(lines, topic))
    for i, topic in enumerate(topics):
        worker.rest.wait_running(f"more-{i}")
        wait_until(lambda t=topic: _delivered(broker, t, 50), 60, what=f"records of more-{i}")
    after = _threads(worker.proc.pid)

    # A producer of its own would bring librdkafka's main, internal and broker threads and a
    # polling thread (5 or more) with each task; a shared one brings none. The task's own
    # thread plus one for whatever the runtime starts meanwhile is the allowance.
    assert after - before <= 2 * more, f"{after - before} threads for {more} more source tasks"


def test_a_delivery_failure_fails_only_the_task_that_sent_the_record(tmp_path, broker, start_worker):
    from confluent_kafka.admin import NewTopic

    small = unique("shared-small")
    admin = broker.admin()
    for f in admin.create_topics([NewTopic(small, 1, 1, config={"max.message.bytes": "2000"})]).values():
        f.result(timeout=30)
    fine = broker.create_topic(unique("shared-fine"))

    worker = start_worker()
    too_big = tmp_path / "too-big.txt"
    too_big.write_text("short\n" + "x" * 10_000 + "\n")
    ok_lines = tmp_path / "ok.txt"
    ok_lines.write_text("".join(f"ok {i}\n" for i in range(20)))
    worker.create("too-big", _source(too_big, small))
    worker.create("fine", _source(ok_lines, fine))

    # The broker refuses the long line (MESSAGE_TOO_LARGE) in a delivery report of the
    # shared producer: the task that sent it fails, with the reason.
    status = worker.rest.wait_state("too-big", "FAILED", timeout=90)
    trace = status["tasks"][0]["trace"]
    assert f"failed to send a record to topic {small}" in trace, trace
    assert "too large" in trace.lower(), trace

    # The other task, on the same producer, is untouched: it delivers, and keeps delivering.
    assert worker.rest.status("fine")["tasks"][0]["state"] == "RUNNING"
    wait_until(lambda: _delivered(broker, fine, 20), 60, what="the healthy connector's records")
    with ok_lines.open("a") as f:
        f.write("".join(f"later {i}\n" for i in range(5)))
    wait_until(lambda: _delivered(broker, fine, 25), 60, what="records appended later")
    assert worker.rest.status("fine")["tasks"][0]["state"] == "RUNNING"


def _client_threads(pid: int) -> list[str]:
    """librdkafka's threads in the process (they are all named rdk:...)."""
    names = [(t / "comm").read_text().strip() for t in Path(f"/proc/{pid}/task").iterdir()]
    return sorted(n for n in names if n.startswith("rdk:"))


def test_a_worker_without_tasks_keeps_no_kafka_client(tmp_path, broker, start_worker):
    worker = start_worker()
    assert _client_threads(worker.proc.pid) == []
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"line {i}\n" for i in range(20)))
    # A topic that does not exist yet: the worker creates it with its admin client.
    topic = unique("idle-clients")
    worker.create("busy", _source(lines, topic))
    worker.rest.wait_running("busy")
    wait_until(lambda: _delivered(broker, topic, 20), 60, what="the connector's records")
    assert _client_threads(worker.proc.pid), "the running task's clients should show"

    assert worker.rest.delete("/connectors/busy").status_code == 204
    # The shared producer goes with its last task, and the topic-creation admin client too.
    wait_until(
        lambda: _client_threads(worker.proc.pid) == [],
        30,
        what="no librdkafka threads left in the idle worker",
    )
