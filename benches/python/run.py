"""Python plugin benchmark, on Apache Kafka, in one run and on one topic:

1. a Python no-op sink (`put(batch)`) against a hand-written confluent-kafka `consume()` loop
   reading the same records (target: the sink at least 1.5x the loop);
2. the same sink behind a Python identity SMT: the SMT's rate on the task's single thread
   (target: at least 150k records/s);
3. the RSS of an idle worker with CPython loaded (target: at most 60 MB).

Both consumers use librdkafka's default fetch settings and the same batch size, and read the
whole topic from the beginning. The machine's load varies from one read to the next, so the
runs alternate (baseline, sink, sink + SMT) for several rounds, and the ratios compare runs of
the same round. The script prints figures and ratios; it asserts nothing.

    python benches/python/run.py [--records 1000000] [--size 100] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import Kafka, Worker  # noqa: E402

BATCH = 500  # Kafka Connect's max.poll.records default; the baseline consumes as many.

PLUGIN = textwrap.dedent(
    """
    import json
    import os
    import time

    from conveyor import SinkConnector, SinkTask, Transformation


    class CountTask(SinkTask):
        def start(self, config):
            self.expected = int(config["expected"])
            self.report = config["report"]
            self.count = 0
            self.first = None

        def put(self, records):
            if not records:
                return
            if self.first is None:
                self.first = time.perf_counter()
            self.count += len(records)
            if self.count >= self.expected:
                done = time.perf_counter()
                with open(self.report + ".tmp", "w") as f:
                    json.dump({"count": self.count, "seconds": done - self.first}, f)
                os.replace(self.report + ".tmp", self.report)
                self.expected = float("inf")


    class Count(SinkConnector):
        task_class = CountTask


    class Identity(Transformation):
        def apply(self, record):
            return record
    """
)


def produce(bootstrap: str, topic: str, n: int, size: int) -> None:
    from confluent_kafka import Producer

    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
            "compression.type": "none",
        }
    )
    payload = b"x" * size
    for i in range(n):
        while True:
            try:
                p.produce(topic, payload, key=str(i).encode())
                break
            except BufferError:
                p.poll(0.05)
        if i % 10_000 == 0:
            p.poll(0)
    assert p.flush(120) == 0, "produce did not complete"


# The prefetch settings Conveyor's sink tasks use (src/runtime/sink_task.rs), for a second,
# equally tuned baseline: it shows what the Python hand-off itself costs.
CONVEYOR_PREFETCH = {"queued.max.messages.kbytes": "16384", "fetch.queue.backoff.ms": "10"}


def baseline(bootstrap: str, topic: str, n: int, tuned: bool = False) -> float:
    """A hand-written confluent-kafka loop: consume() batches, touch each message's value."""
    from confluent_kafka import Consumer

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"baseline-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            **(CONVEYOR_PREFETCH if tuned else {}),
        }
    )
    c.subscribe([topic])
    count, size, first = 0, 0, None
    while count < n:
        msgs = c.consume(num_messages=BATCH, timeout=1.0)
        if not msgs:
            continue
        if first is None:
            first = time.perf_counter()
        for m in msgs:
            if m.error():
                continue
            size += len(m.value())
            count += 1
    seconds = time.perf_counter() - first
    c.close()
    return n / seconds


def conveyor_sink(worker: Worker, workdir: Path, topic: str, n: int, smt: bool, tag: str) -> float:
    """Runs a Python no-op sink (optionally behind an identity SMT) over the whole topic, in a
    new consumer group; returns records/s from its first put to its last."""
    name = f"count-{'smt' if smt else 'noop'}-{tag}"
    report = workdir / f"{name}.json"
    config = {
        "connector.class": "bench_plugins.Count",
        "topics": topic,
        "expected": n,
        "report": report,
    }
    if smt:
        config.update({"transforms": "id", "transforms.id.type": "bench_plugins.Identity"})
    worker.create(name, config)
    deadline = time.time() + 600
    while not report.exists():
        if time.time() > deadline:
            raise RuntimeError(f"{name} did not finish; see {workdir / 'worker.log'}")
        time.sleep(0.1)
    worker.delete(name)
    result = json.loads(report.read_text())
    return result["count"] / result["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=1_000_000)
    ap.add_argument("--size", type=int, default=100, help="value bytes per record")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    n = args.records

    broker = Kafka()
    workdir = Path(tempfile.mkdtemp(prefix="conveyor-bench-python-"))
    plugins = workdir / "plugins"
    plugins.mkdir()
    (plugins / "bench_plugins.py").write_text(PLUGIN)
    rounds: list[tuple[float, float, float, float]] = []
    try:
        topic = broker.create_topic(f"bench-{uuid.uuid4().hex[:8]}")
        print(f"producing {n:,} records of {args.size} bytes to {topic} on Apache Kafka ...")
        produce(broker.bootstrap, topic, n, args.size)

        worker = Worker(
            workdir,
            broker.bootstrap,
            extra={
                "plugin.path": plugins,
                "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
                "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
                "consumer.max.poll.records": BATCH,
            },
        )
        time.sleep(3)
        idle_rss = worker.rss_mb()

        print(
            f"\n{'round':>5} {'consume() loop':>15} {'tuned loop':>12} {'Python sink':>13} "
            f"{'ratio':>6} {'vs tuned':>8} {'sink + SMT':>12}"
        )
        for r in range(args.rounds):
            base = baseline(broker.bootstrap, topic, n)
            tuned = baseline(broker.bootstrap, topic, n, tuned=True)
            sink = conveyor_sink(worker, workdir, topic, n, smt=False, tag=str(r))
            with_smt = conveyor_sink(worker, workdir, topic, n, smt=True, tag=str(r))
            rounds.append((base, tuned, sink, with_smt))
            print(
                f"{r + 1:>5} {base:>13,.0f}/s {tuned:>10,.0f}/s {sink:>11,.0f}/s "
                f"{sink / base:>5.2f}x {sink / tuned:>7.2f}x {with_smt:>10,.0f}/s"
            )
        time.sleep(2)
        rss_after = worker.rss_mb()
        worker.stop()
    finally:
        broker.stop()

    def median(i: int) -> float:
        return statistics.median(r[i] for r in rounds)

    ratio = statistics.median(s / b for b, _, s, _ in rounds)
    ratio_tuned = statistics.median(s / t for _, t, s, _ in rounds)
    # The SMT's own cost per record: the difference between the two sink runs of a round.
    smt_alone = statistics.median(1 / max(1 / m - 1 / s, 1e-12) for _, _, s, m in rounds)
    print()
    print(
        f"records                                 {n:>12,} x {args.size} B, batch {BATCH}, "
        f"medians of {args.rounds} rounds"
    )
    print(f"confluent-kafka consume() loop          {median(0):>12,.0f} rec/s")
    print(f"  same loop, Conveyor's prefetch tuning {median(1):>12,.0f} rec/s")
    print(f"Conveyor Python no-op sink put(batch)   {median(2):>12,.0f} rec/s")
    print(f"  ratio to the consume() loop           {ratio:>12.2f}x     (target >= 1.5x)")
    print(f"  ratio to the tuned loop               {ratio_tuned:>12.2f}x")
    print(
        f"Conveyor sink + Python identity SMT     {median(3):>12,.0f} rec/s "
        "(consume + convert + SMT + put, one task thread; target >= 150k)"
    )
    print(f"  identity SMT alone (difference)       {smt_alone:>12,.0f} rec/s")
    print(f"worker RSS, idle, CPython loaded        {idle_rss:>12.1f} MB     (target <= 60 MB)")
    print(f"worker RSS, idle after the runs         {rss_after:>12.1f} MB")


if __name__ == "__main__":
    main()
