"""Authoring polish, through an in-process worker on the embedded broker (no services): the
dead letter queue there (no stall, one partition), the Python exception class in DLQ headers
and traces, the interactive flush default, peek's windows, the in-memory log and its rate
limit, a true worker_id, aliases and "did you mean"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import conveyor
import pytest
from conveyor import (
    ConfigDef,
    SinkConnector,
    SinkTask,
    SourceConnector,
    SourceRecord,
    SourceTask,
    Transformation,
)
from conveyor.errors import BadRequestError
from helpers import unique, wait_until

SINK_SEEN: dict[str, list] = {}
FLUSHED: dict[str, list[float]] = {}


class CountTask(SourceTask):
    """Writes `count` records {"n": i} to one partition, then nothing."""

    def start(self, config):
        self.n = 0
        self.count = int(config["count"])

    def poll(self):
        if self.n >= self.count:
            time.sleep(0.05)
            return None
        batch = [
            SourceRecord(self.config["topic"], {"n": i}, kafka_partition=0, timestamp=1_000_000 + i * 1000)
            for i in range(self.n, min(self.n + 10, self.count))
        ]
        self.n += len(batch)
        return batch


class Count(SourceConnector):
    config_def = ConfigDef().define("topic", str).define("count", int, 20)
    task_class = CountTask


class FailOdd(Transformation):
    """Fails every record with an odd `n`."""

    def apply(self, record):
        if record.value["n"] % 2:
            raise ValueError(f"odd n {record.value['n']}")
        return record


class RememberTask(SinkTask):
    def put(self, records):
        SINK_SEEN.setdefault(self.config["name"], []).extend(r.value for r in records)

    def flush(self, offsets):
        FLUSHED.setdefault(self.config["name"], []).append(time.monotonic())


class Remember(SinkConnector):
    task_class = RememberTask


class ForgetfulTask(SinkTask):
    def put(self, records):
        pass

    def pre_commit(self, offsets):
        pass  # returns None


class Forgetful(SinkConnector):
    task_class = ForgetfulTask


@pytest.fixture(scope="module")
def worker():
    with conveyor.Worker("embedded", log_to="memory", log_level="INFO") as w:
        yield w


def partitions_of(worker: conveyor.Worker, topic: str) -> int:
    from confluent_kafka.admin import AdminClient

    md = AdminClient({"bootstrap.servers": worker.bootstrap_servers}).list_topics(topic, timeout=10)
    return len(md.topics[topic].partitions)


def header(record, name: str):
    return next(v for k, v in record.headers if k == name)


def test_source_dlq_on_the_embedded_broker_starts_at_once_with_one_partition(worker):
    topic, dlq = unique("t"), unique("dlq")
    started = time.monotonic()
    worker.create_connector(
        "dlq-source",
        {
            "connector.class": Count,
            "topic": topic,
            "count": 10,
            "transforms": "odd",
            "transforms.odd.type": FailOdd,
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    worker.wait_running("dlq-source")
    took = time.monotonic() - started
    print(f"source connector with a DLQ running after {took:.2f} s")
    assert took < 5, f"the task took {took:.1f} s to start"
    records = wait_until(
        lambda: (r := worker.peek(dlq, 10, timeout=2)) and len(r) == 5 and r, what="5 DLQ records"
    )
    assert partitions_of(worker, dlq) == 1
    assert sorted(r.value["n"] for r in records) == [1, 3, 5, 7, 9]
    first = records[0]
    assert header(first, "__connect.errors.exception.class.name") == "builtins.ValueError"
    assert "odd n" in header(first, "__connect.errors.exception.message")
    assert header(first, "__connect.errors.exception.stacktrace").startswith("builtins.ValueError: ")


def test_sink_dlq_on_the_embedded_broker_has_one_partition_and_python_class(worker):
    source_topic, dlq = unique("t"), unique("dlq")
    worker.create_connector("dlq-feed", {"connector.class": Count, "topic": source_topic, "count": 6})
    worker.wait_running("dlq-feed")
    started = time.monotonic()
    worker.create_connector(
        "dlq-sink",
        {
            "connector.class": Remember,
            "topics": source_topic,
            "transforms": "odd",
            "transforms.odd.type": FailOdd,
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    worker.wait_running("dlq-sink")
    took = time.monotonic() - started
    print(f"sink connector with a DLQ running after {took:.2f} s")
    assert took < 5, f"the task took {took:.1f} s to start"
    records = wait_until(
        lambda: (r := worker.peek(dlq, 10, timeout=2)) and len(r) == 3 and r, what="3 DLQ records"
    )
    assert partitions_of(worker, dlq) == 1
    assert {header(r, "__connect.errors.exception.class.name") for r in records} == {"builtins.ValueError"}
    wait_until(
        lambda: sorted(v["n"] for v in SINK_SEEN.get("dlq-sink", [])) == [0, 2, 4], what="even records"
    )


class Boom(Exception):
    pass


class BoomTask(SourceTask):
    def poll(self):
        raise Boom("no more")


class BoomSource(SourceConnector):
    task_class = BoomTask


def test_a_failed_python_task_trace_starts_with_the_python_class(worker):
    worker.create_connector("boom", {"connector.class": BoomSource})
    trace = wait_until(
        lambda: (t := worker.status("boom")["tasks"]) and t[0]["state"] == "FAILED" and t[0]["trace"],
        what="a FAILED task",
    )
    qualified = f"{__name__}.Boom"
    assert trace.splitlines()[0] == (
        f"{qualified}: error calling `SourceTask.poll` in connector boom task 0: Boom: no more"
    ), trace.splitlines()[0]
    assert "Traceback (most recent call last)" in trace


def test_sink_flush_runs_every_second_in_the_in_process_worker(worker):
    topic = unique("t")
    worker.create_connector("flush-feed", {"connector.class": Count, "topic": topic, "count": 3})
    worker.create_connector("flushes", {"connector.class": Remember, "topics": topic})
    worker.wait_running("flushes")
    wait_until(lambda: len(SINK_SEEN.get("flushes", [])) == 3, what="3 records put")
    put_at = time.monotonic()
    wait_until(lambda: any(t >= put_at for t in FLUSHED.get("flushes", [])), timeout=5, what="a flush")
    print(f"flush {max(FLUSHED['flushes']) - put_at:.2f} s after the records were seen")


def test_pre_commit_returning_none_is_warned_about_once(worker):
    topic = unique("t")
    worker.create_connector("forgetful-feed", {"connector.class": Count, "topic": topic, "count": 3})
    worker.create_connector("forgetful", {"connector.class": Forgetful, "topics": topic})
    worker.wait_running("forgetful")

    def warnings():
        return [
            line for line in worker.logs(10_000) if "pre_commit returned None" in line and "forgetful" in line
        ]

    wait_until(warnings, what="the warning")
    # Committed anyway: the group's offsets reach the end of the topic.
    wait_until(
        lambda: (
            worker.offsets("forgetful")["offsets"]
            and worker.offsets("forgetful")["offsets"][0]["offset"]["kafka_offset"] == 3
        ),
        what="offsets committed",
    )
    time.sleep(2.5)  # two more commits
    assert len(warnings()) == 1


def test_peek_first_last_from_offset_and_from_timestamp(worker):
    topic = unique("t")
    worker.create_connector("peek-feed", {"connector.class": Count, "topic": topic, "count": 20})
    wait_until(lambda: len(worker.peek(topic, 20, timeout=1)) == 20, what="20 records")
    assert [r.value["n"] for r in worker.peek(topic, 3)] == [0, 1, 2]
    assert [r.value["n"] for r in worker.peek(topic, last=4)] == [16, 17, 18, 19]
    assert [r.offset for r in worker.peek(topic, 3, start_offset=10)] == [10, 11, 12]
    assert [r.value["n"] for r in worker.peek(topic, 2, start_timestamp=1_000_000 + 15 * 1000)] == [15, 16]
    from datetime import datetime, timezone

    when = datetime.fromtimestamp((1_000_000 + 18 * 1000) / 1000, tz=timezone.utc)
    assert [r.value["n"] for r in worker.peek(topic, start_timestamp=when)] == [18, 19]
    assert worker.peek(topic, start_offset=1000, timeout=1) == []
    with pytest.raises(ValueError, match="last=n reads the newest records"):
        worker.peek(topic, 3, last=2)
    with pytest.raises(ValueError, match="not both"):
        worker.peek(topic, start_offset=1, start_timestamp=1)
    frame = worker.peek(topic, last=2).to_pandas()
    assert list(frame.columns) == ["topic", "partition", "offset", "timestamp", "key", "value.n"]
    assert list(frame["value.n"]) == [18, 19]


def test_error_log_lines_are_rate_limited(worker):
    topic = unique("t")
    worker.create_connector(
        "noisy",
        {
            "connector.class": Count,
            "topic": topic,
            "count": 60,
            "transforms": "odd",
            "transforms.odd.type": FailOdd,
            "errors.tolerance": "all",
            "errors.log.enable": "true",
        },
    )
    wait_until(lambda: len(worker.peek(topic, 30, timeout=1)) == 30, what="the even records")
    lines = [line for line in worker.logs(10_000) if "Error encountered in task noisy-0" in line]
    assert len(lines) == 10, lines


def test_worker_logs_go_to_memory_and_worker_id_is_true(worker):
    topic = unique("t")
    worker.create_connector("ids", {"connector.class": Count, "topic": topic, "count": 1})
    status = worker.wait_running("ids")
    assert status["connector"]["worker_id"].endswith(" (no REST listener)")
    assert ":8083" not in status["connector"]["worker_id"]
    assert worker.worker_id == status["connector"]["worker_id"]
    assert any("ids" in line for line in worker.logs(10_000))


def test_a_misspelt_class_suggests_the_closest_names(worker):
    with pytest.raises(BadRequestError) as e:
        worker.create_connector(
            "typo", {"connector.class": "FileStreamSorce", "file": "/dev/null", "topic": "x"}
        )
    assert ". Did you mean 'FileStreamSource'" in str(e.value)
    with pytest.raises(BadRequestError) as e:
        worker.create_connector("typo2", {"connector.class": f"{__name__}:Cuont", "topic": "x"})
    assert "did you mean 'Count'?" in str(e.value)
    with pytest.raises(BadRequestError) as e:
        worker.create_connector(
            "typo3",
            {"connector.class": Count, "topic": "x", "transforms": "a", "transforms.a.type": "InsertFeild"},
        )
    assert "Did you mean 'org.apache.kafka.connect.transforms.InsertField$Key' or " in str(e.value)


def test_a_none_config_value_is_refused_by_the_worker(worker):
    with pytest.raises(TypeError, match="the value of 'topic' is None"):
        worker.create_connector("nones", {"connector.class": Count, "topic": None})


PLUGIN = """
from conveyor import ConfigDef, SourceConnector, SourceTask

class OrdersTask(SourceTask):
    def poll(self):
        return None

class OrdersSource(SourceConnector):
    config_def = ConfigDef().define("topic", str)
    task_class = OrdersTask
"""


def test_entry_point_names_are_listed_and_suggested(tmp_path):
    (tmp_path / "orders_plugin.py").write_text(textwrap.dedent(PLUGIN))
    dist = tmp_path / "orders_plugin-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: orders-plugin\nVersion: 1.2.3\n")
    (dist / "top_level.txt").write_text("orders_plugin\n")
    (dist / "entry_points.txt").write_text(
        "[conveyor.connectors]\norders-source = orders_plugin:OrdersSource\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    cli = [sys.executable, "-m", "conveyor", "plugins"]
    listed = json.loads(
        subprocess.run([*cli, "--json"], env=env, capture_output=True, text=True, check=True).stdout
    )
    orders = next(p for p in listed if p["class"] == "orders_plugin.OrdersSource")
    assert orders["aliases"] == ["orders-source"]
    assert orders["type"] == "source"
    builtin = next(p for p in listed if p["class"].endswith("FileStreamSourceConnector"))
    assert "aliases" not in builtin  # built-ins are listed exactly as Kafka Connect lists them
    text = subprocess.run(cli, env=env, capture_output=True, text=True, check=True).stdout
    assert "orders_plugin.OrdersSource  (1.2.3)  also: orders-source" in text
    script = textwrap.dedent(
        """
        import conveyor
        with conveyor.Worker("embedded", log_to="memory") as w:
            found = [p for p in w.plugins() if p["class"] == "orders_plugin.OrdersSource"]
            print(sorted(p.get("aliases", []) for p in found))
            try:
                w.create_connector("x", {"connector.class": "orders-sorce", "topic": "t"})
            except Exception as e:
                print(e)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert "[['orders-source']]" in out.stdout, out.stdout + out.stderr
    assert "Did you mean 'orders-source'" in out.stdout, out.stdout + out.stderr
