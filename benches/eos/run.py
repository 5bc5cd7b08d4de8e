"""Exactly-once source benchmark: the throughput of a source task with and without
exactly-once support (KIP-618), at the same batch sizes, on one Apache Kafka broker.

A distributed worker runs the built-in test sequence source (registered with
``CONVEYOR_TEST_CONNECTORS=1``; it polls ``batch.size`` records at once, without pausing) with
``exactly.once.source.support=disabled``, then a fresh worker and group with ``enabled`` and
``transaction.boundary=poll`` (a transaction per batch: the worst case for throughput) or
``interval``. The rate is the growth of the task's committed source offset over the
measuring window, after a warm-up. Target: at least 0.7x with ``transaction.boundary=poll``.

    python benches/eos/run.py [--seconds 20] [--batches 100,1000] [--poll-producer K=V,...]

``--poll-producer`` adds ``producer.override.K=V`` to the ``transaction.boundary=poll``
connector, to try producer settings against the same build.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import Kafka, Worker  # noqa: E402


def committed_seq(worker: Worker, name: str) -> int:
    # A loaded machine can take a while to read the offsets topic to its end.
    r = requests.get(f"{worker.base}/connectors/{name}/offsets", timeout=60)
    offsets = r.json().get("offsets", []) if r.status_code == 200 else []
    return max((o["offset"]["seq"] for o in offsets), default=-1)


def rate(
    kafka: Kafka,
    workdir: Path,
    support: str,
    boundary: str,
    batch: int,
    seconds: float,
    producer: dict[str, str] | None = None,
) -> float:
    """Records per second one task delivers (committed) in ``seconds``."""
    group = f"bench-eos-{uuid.uuid4().hex[:8]}"
    topic = kafka.create_topic(f"{group}-data", partitions=1)
    worker = Worker(
        workdir,
        kafka.bootstrap,
        group=group,
        name=group,
        extra={"exactly.once.source.support": support, "offset.flush.interval.ms": 1000},
    )
    try:
        worker.create(
            "seq",
            {
                "connector.class": "conveyor.testing.SequenceSourceConnector",
                "topic": topic,
                "batch.size": batch,
                "poll.interval.ms": 0,
                "transaction.boundary": boundary,
                "transaction.boundary.interval.ms": 1000,
                **{f"producer.override.{k}": v for k, v in (producer or {}).items()},
            },
        )
        deadline = time.time() + 60
        while committed_seq(worker, "seq") < 0:
            if time.time() > deadline:
                raise RuntimeError("the source committed nothing")
            time.sleep(0.2)
        time.sleep(3)  # warm-up
        start_seq, start = committed_seq(worker, "seq"), time.time()
        time.sleep(seconds)
        end_seq, end = committed_seq(worker, "seq"), time.time()
        return (end_seq - start_seq) / (end - start)
    finally:
        worker.kill()


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--batches", default="100,1000")
    parser.add_argument("--poll-producer", default="", help="K=V,... producer overrides for the poll runs")
    args = parser.parse_args()
    poll_producer = dict(kv.split("=", 1) for kv in args.poll_producer.split(",") if kv)
    os.environ["CONVEYOR_TEST_CONNECTORS"] = "1"
    kafka = Kafka()
    try:
        with tempfile.TemporaryDirectory(prefix="conveyor-bench-eos-") as tmp:
            workdir = Path(tmp)
            header = ("batch", "at-least-once", "eos poll", "ratio", "eos interval", "ratio")
            print("{:>6} {:>14} {:>10} {:>6} {:>13} {:>6}".format(*header))
            for batch in (int(b) for b in args.batches.split(",")):
                plain = rate(kafka, workdir, "disabled", "poll", batch, args.seconds)
                poll = rate(kafka, workdir, "enabled", "poll", batch, args.seconds, poll_producer)
                interval = rate(kafka, workdir, "enabled", "interval", batch, args.seconds)
                print(
                    f"{batch:>6} {plain:>12.0f}/s {poll:>8.0f}/s {poll / plain:>5.2f}x"
                    f" {interval:>11.0f}/s {interval / plain:>5.2f}x",
                    flush=True,
                )
    finally:
        kafka.stop()


if __name__ == "__main__":
    main()
