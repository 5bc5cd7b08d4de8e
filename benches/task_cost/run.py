"""What a task costs a worker, and whether memory comes back, on Apache Kafka:

1. idle sinks: one worker, a FileStreamSink connector on a topic of ``--tasks`` partitions,
   first with 1 task, then with ``--tasks`` tasks (the same connector, ``tasks.max`` raised);
2. idle Python sources: one worker, a Python no-op source (its ``poll`` sleeps and returns
   nothing), 1 task, then ``--tasks`` tasks;
3. memory returned: a fresh worker's idle RSS, then ``--connectors`` connectors (half file
   sources, half file sinks reading the sources' topics) each move ``--records`` records and
   are deleted; the idle RSS after that against the fresh one.

For 1 and 2 it prints the RSS and OS thread count (from /proc) at each step and the cost of each
extra task: (RSS with N tasks - RSS with 1 task) / (N - 1), and the same for threads. Targets
(issue "Side by side with Apache Kafka Connect"): at most 1 MB and 2 threads per extra task;
memory returned within 10% of the fresh worker's. The script prints figures against those
targets; it asserts nothing.

    python benches/task_cost/run.py [--tasks 500] [--connectors 8] [--records 200000]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import Kafka, Worker, count_lines  # noqa: E402

FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"

PLUGIN = textwrap.dedent(
    """
    import time

    from conveyor import SourceConnector, SourceTask


    class NoopTask(SourceTask):
        def poll(self):
            time.sleep(0.5)
            return []


    class Noop(SourceConnector):
        task_class = NoopTask

        def task_configs(self, max_tasks):
            return [dict(self.config) for _ in range(max_tasks)]
    """
)


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise KeyError("Threads")


def wait_running(worker: Worker, name: str, tasks: int, timeout: float = 600) -> None:
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        r = requests.get(f"{worker.base}/connectors/{name}/status", timeout=30)
        if r.ok:
            last = r.json()
            states = [t["state"] for t in last.get("tasks", [])]
            failed = [t for t in last.get("tasks", []) if t["state"] == "FAILED"]
            if failed:
                raise RuntimeError(f"{name}: task failed: {failed[0].get('trace', '')[:2000]}")
            if len(states) == tasks and all(s == "RUNNING" for s in states):
                return
        time.sleep(0.5)
    raise RuntimeError(f"{name}: {tasks} tasks not RUNNING in {timeout} s; last status {last}")


def end_offset(consumer, topic: str) -> int:
    """The topic's end offset; 0 while the source has not created it yet."""
    from confluent_kafka import KafkaException, TopicPartition

    try:
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)[1]
    except KafkaException:
        return 0


def settle_and_read(worker: Worker, settle: float) -> tuple[float, int]:
    time.sleep(settle)
    return worker.rss_mb(), threads(worker.proc.pid)


def idle_tasks(
    worker: Worker, name: str, config: dict, tasks: int, settle: float
) -> tuple[tuple[float, int], tuple[float, int], tuple[float, int]]:
    """(fresh, 1 task, N tasks) readings of RSS MB and threads."""
    fresh = settle_and_read(worker, settle)
    worker.create(name, {**config, "tasks.max": 1})
    wait_running(worker, name, 1)
    one = settle_and_read(worker, settle)
    r = requests.put(
        f"{worker.base}/connectors/{name}/config",
        json={**{k: str(v) for k, v in config.items()}, "tasks.max": str(tasks)},
        timeout=60,
    )
    r.raise_for_status()
    wait_running(worker, name, tasks)
    many = settle_and_read(worker, settle)
    return fresh, one, many


def report_idle(title: str, tasks: int, fresh, one, many) -> dict:
    per_mb = (many[0] - one[0]) / (tasks - 1)
    per_threads = (many[1] - one[1]) / (tasks - 1)
    print(f"\n{title}")
    print(f"  {'':<12} {'RSS MB':>9} {'threads':>8}")
    print(f"  {'no task':<12} {fresh[0]:>9.1f} {fresh[1]:>8}")
    print(f"  {'1 task':<12} {one[0]:>9.1f} {one[1]:>8}")
    print(f"  {f'{tasks} tasks':<12} {many[0]:>9.1f} {many[1]:>8}")
    print(
        f"  per extra task: {per_mb * 1024:.0f} KB ({'met' if per_mb <= 1 else 'NOT met'}: <= 1 MB), "
        f"{per_threads:.2f} threads ({'met' if per_threads <= 2 else 'NOT met'}: <= 2)"
    )
    return {"per_task_mb": per_mb, "per_task_threads": per_threads}


def memory_returned(kafka: Kafka, workdir: Path, connectors: int, records: int, settle: float) -> None:
    line = "x" * 200
    data = workdir / "lines.txt"
    with open(data, "w") as f:
        for i in range(records):
            f.write(f"{i:09d} {line}\n")
    worker = Worker(workdir, kafka.bootstrap, name="memory")
    try:
        fresh = settle_and_read(worker, settle)
        sources = connectors - connectors // 2
        topics = [f"mem-{uuid.uuid4().hex[:8]}-{i}" for i in range(sources)]
        for i, topic in enumerate(topics):
            worker.create(f"mem-source-{i}", {"connector.class": FILE_SOURCE, "file": data, "topic": topic})
        outputs = []
        for i in range(connectors // 2):
            out = workdir / f"mem-out-{i}.txt"
            outputs.append(out)
            worker.create(
                f"mem-sink-{i}",
                {
                    "connector.class": FILE_SINK,
                    "file": out,
                    "topics": topics[i % len(topics)],
                    "consumer.auto.offset.reset": "earliest",
                },
            )
        started = time.time()
        from confluent_kafka import Consumer

        consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": "bench-task-cost"})
        try:
            while True:
                produced = [end_offset(consumer, t) for t in topics]
                sunk = [count_lines(o) for o in outputs]
                if all(p >= records for p in produced) and all(s >= records for s in sunk):
                    break
                if time.time() - started > 900:
                    raise RuntimeError(f"connectors did not finish: produced {produced}, sunk {sunk}")
                time.sleep(1)
        finally:
            consumer.close()
        moved = time.time() - started
        busy = settle_and_read(worker, 0)
        for name in worker.connectors():
            worker.delete(name)
        after = settle_and_read(worker, settle)
        ratio = after[0] / fresh[0]
        print(f"\nmemory returned: {connectors} connectors x {records:,} records ({moved:.0f} s), deleted")
        print(f"  fresh idle RSS     {fresh[0]:8.1f} MB, {fresh[1]} threads")
        print(f"  with connectors    {busy[0]:8.1f} MB, {busy[1]} threads")
        print(f"  after deletes      {after[0]:8.1f} MB, {after[1]} threads (after {settle:.0f} s)")
        print(f"  after / fresh      {ratio:8.2f}x ({'met' if ratio <= 1.10 else 'NOT met'}: <= 1.10x)")
    finally:
        worker.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=500)
    ap.add_argument("--connectors", type=int, default=8)
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--settle", type=float, default=10, help="seconds before each idle reading")
    ap.add_argument("--parts", default="sinks,sources,memory")
    args = ap.parse_args()
    parts = set(args.parts.split(","))

    kafka = Kafka()
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-task-cost-"))
    plugins = workdir / "plugins"
    plugins.mkdir()
    (plugins / "bench_noop.py").write_text(PLUGIN)
    extra = {"plugin.path": plugins, "worker.tasks.max": max(1000, args.tasks)}
    try:
        if "sinks" in parts:
            topic = kafka.create_topic(f"idle-{uuid.uuid4().hex[:8]}", args.tasks)
            worker = Worker(workdir, kafka.bootstrap, extra=extra, name="sinks")
            try:
                readings = idle_tasks(
                    worker,
                    "idle-sinks",
                    {"connector.class": FILE_SINK, "file": "/dev/null", "topics": topic},
                    args.tasks,
                    args.settle,
                )
            finally:
                worker.stop()
            report_idle(f"idle FileStreamSink tasks on a {args.tasks}-partition topic", args.tasks, *readings)
        if "sources" in parts:
            worker = Worker(workdir, kafka.bootstrap, extra=extra, name="sources")
            try:
                readings = idle_tasks(
                    worker,
                    "idle-sources",
                    {"connector.class": "bench_noop.Noop", "topic": "unused"},
                    args.tasks,
                    args.settle,
                )
            finally:
                worker.stop()
            report_idle("idle Python no-op source tasks", args.tasks, *readings)
        if "memory" in parts:
            memory_returned(kafka, workdir, args.connectors, args.records, args.settle)
    finally:
        kafka.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
