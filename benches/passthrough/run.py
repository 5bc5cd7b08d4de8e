"""benches/passthrough: file -> Kafka -> file through Conveyor (FileStreamSource +
FileStreamSink) next to a hand-written rdkafka program doing the same job, in the same run,
on the same Apache Kafka broker; then the worker's idle RSS.

    python benches/passthrough/run.py [--records 200000] [--size 1024] [--rounds 4]

Prints records/s for both and the ratio (target: Conveyor >= 0.9x raw at 1 KB records;
idle RSS <= 60 MB).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _common import ROOT, Kafka, Worker  # noqa: E402


def baseline_binary() -> str:
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    subprocess.run(
        ["cargo", "build", "--quiet", "--release", "--example", "passthrough_baseline"], cwd=ROOT, check=True
    )
    return str(Path(target) / "release" / "examples" / "passthrough_baseline")


def write_input(path: Path, records: int, size: int):
    with open(path, "w") as f:
        for i in range(records):
            head = f"{i:010d} "
            f.write(head + "x" * (size - len(head)) + "\n")


def run_baseline(binary: str, broker: Kafka, inp: Path, out: Path, records: int) -> float:
    topic = broker.create_topic(f"raw-{uuid.uuid4().hex[:8]}")
    r = subprocess.run(
        [binary, broker.bootstrap, topic, str(inp), str(out), str(records)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(r.stdout.strip())


def run_conveyor(worker: Worker, broker: Kafka, inp: Path, out: Path, records: int) -> float:
    topic = broker.create_topic(f"cv-{uuid.uuid4().hex[:8]}")
    tag = uuid.uuid4().hex[:6]
    start = time.perf_counter()
    worker.create(f"sink-{tag}", {"connector.class": "FileStreamSink", "file": out, "topics": topic})
    worker.create(
        f"source-{tag}",
        {"connector.class": "FileStreamSource", "file": inp, "topic": topic, "batch.size": 2000},
    )
    # Compare sizes (a stat) rather than counting lines: reading the output while it is
    # written would take CPU from the pipeline being measured.
    size = inp.stat().st_size
    while not out.exists() or out.stat().st_size < size:
        time.sleep(0.01)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=200_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=4)
    args = ap.parse_args()

    binary = baseline_binary()
    broker = Kafka()
    try:
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            inp = d / "input.txt"
            write_input(inp, args.records, args.size)
            worker = Worker(d, broker.bootstrap)
            time.sleep(2)
            rss_start = worker.rss_mb()
            raw, conv = [], []
            for i in range(args.rounds):
                # Alternate which side runs first, so that neither always meets the broker
                # (its page cache, its log segments) in the same state.
                raw_out, cv_out = d / f"raw-{i}.txt", d / f"cv-{i}.txt"
                runs = [
                    lambda o=raw_out: raw.append(run_baseline(binary, broker, inp, o, args.records)),
                    lambda o=cv_out: conv.append(run_conveyor(worker, broker, inp, o, args.records)),
                ]
                for run in runs if i % 2 == 0 else reversed(runs):
                    run()
                assert (d / f"cv-{i}.txt").read_bytes() == inp.read_bytes(), "output differs from input"
            time.sleep(3)
            rss_loaded = worker.rss_mb()
            for name in worker.connectors():
                worker.delete(name)
            time.sleep(35)  # one memory-release interval of the worker
            rss_idle = worker.rss_mb()
            worker.stop()
    finally:
        broker.stop()
    best_raw, best_conv = min(raw), min(conv)
    mb = args.records * args.size / 1e6
    print(
        f"records: {args.records} x {args.size} B ({mb:.0f} MB), best of {args.rounds} rounds, Apache Kafka"
    )
    for label, times, best in (("raw rdkafka", raw, best_raw), ("conveyor", conv, best_conv)):
        all_runs = ", ".join(f"{t:.2f}" for t in times)
        print(f"{label:<14}: {args.records / best:>10,.0f} records/s  ({best:.2f} s; all: {all_runs})")
    print(f"ratio         : {best_raw / best_conv:.2f}x raw (target >= 0.9x)")
    print(
        f"worker RSS    : {rss_start:.1f} MB at start; {rss_loaded:.1f} MB with the {2 * args.rounds}"
        f" connectors idle after their runs; {rss_idle:.1f} MB idle after deleting them"
        " (target <= 60 MB idle)"
    )


if __name__ == "__main__":
    main()
