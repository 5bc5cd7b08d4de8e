"""Rebalance benchmark: distributed workers on one Apache Kafka broker, in one run.

1. Three workers run a sink connector with tasks.max=6. A fourth worker starts: the time from
   starting its process to its first moved task RUNNING (target: at most 5 s).
2. kill -9 of a worker that runs tasks: the time until every task is RUNNING on the
   survivors (target: at most 15 s; Kafka Connect waits scheduled.rebalance.max.delay.ms,
   300 s by default, before it reassigns a lost worker's tasks).

Workers use Conveyor's defaults (session.timeout.ms=10000, heartbeat.interval.ms=1000,
scheduled.rebalance.max.delay.ms=0). Each round uses a fresh group; the script prints every
round and the median, and asserts nothing.

    python benches/rebalance/run.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import Kafka, Worker  # noqa: E402

TASKS = 6


def placement(worker: Worker, name: str) -> dict[int, str] | None:
    """task id -> worker_id for RUNNING tasks, or None when the status is not readable."""
    try:
        r = requests.get(f"{worker.base}/connectors/{name}/status", timeout=5)
    except requests.RequestException:
        return None
    if r.status_code != 200:
        return None
    return {t["id"]: t["worker_id"] for t in r.json()["tasks"] if t["state"] == "RUNNING"}


def wait_for(predicate, timeout: float, what: str, poll: float = 0.05):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise RuntimeError(f"timed out waiting for {what}")


def one_round(kafka: Kafka, workdir: Path) -> tuple[float, float, float]:
    group = f"bench-{uuid.uuid4().hex[:8]}"
    topic = kafka.create_topic(f"{group}-data", partitions=TASKS)
    workers = [Worker(workdir, kafka.bootstrap, group=group, name=f"{group}-w{i}") for i in range(3)]
    try:
        workers[0].create(
            "sink",
            {
                "connector.class": "FileStreamSink",
                "file": workdir / f"{group}.out",
                "topics": topic,
                "tasks.max": TASKS,
            },
        )
        alive = {w.worker_id for w in workers}

        def spread():
            p = placement(workers[0], "sink")
            return p if p and len(p) == TASKS and set(p.values()) == alive else None

        wait_for(spread, 120, "tasks spread over three workers")

        fourth = Worker(workdir, kafka.bootstrap, group=group, name=f"{group}-w3")
        workers.append(fourth)
        ready_after = time.time() - fourth.started

        def moved():
            p = placement(workers[0], "sink")
            return p and fourth.worker_id in p.values()

        wait_for(moved, 60, "a task RUNNING on the fourth worker")
        add_seconds = time.time() - fourth.started
        alive.add(fourth.worker_id)

        def balanced():
            p = placement(workers[0], "sink")
            return p and len(p) == TASKS and set(p.values()) == alive

        wait_for(balanced, 60, "tasks spread over four workers")
        time.sleep(4)  # a quiet group before the kill
        p = placement(workers[0], "sink")
        victim = next(w for w in workers[1:] if w.worker_id in p.values())
        victim.kill()
        killed = time.time()
        alive.discard(victim.worker_id)
        survivor = workers[0]

        def recovered():
            q = placement(survivor, "sink")
            return q and len(q) == TASKS and set(q.values()) <= alive

        wait_for(recovered, 120, "every task RUNNING after kill -9")
        kill_seconds = time.time() - killed
        print(f"  spread after the kill: {dict(Counter(placement(survivor, 'sink').values()))}")
        return add_seconds, ready_after, kill_seconds
    finally:
        for w in workers:
            if w.proc.poll() is None:
                w.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    kafka = Kafka()
    adds, readies, kills = [], [], []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.rounds):
                add_s, ready_s, kill_s = one_round(kafka, Path(tmp))
                adds.append(add_s)
                readies.append(ready_s)
                kills.append(kill_s)
                print(
                    f"round {i + 1}: new worker ready {ready_s:.1f} s, first moved task RUNNING "
                    f"{add_s:.1f} s after its start; all tasks RUNNING {kill_s:.1f} s after kill -9"
                )
    finally:
        kafka.stop()
    add_m, kill_m = statistics.median(adds), statistics.median(kills)
    print()
    print(f"add a worker -> first moved task RUNNING: median {add_m:.1f} s (target <= 5 s)")
    print(
        f"kill -9 -> all tasks RUNNING again:       median {kill_m:.1f} s (target <= 15 s; "
        f"Kafka Connect's default delay alone is 300 s)"
    )


if __name__ == "__main__":
    main()
