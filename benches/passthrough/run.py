"""benches/passthrough: each half of a file -> Kafka -> file pipeline through Conveyor, next to a
hand-written rdkafka program doing the same job, in the same run, on the same Apache Kafka broker:

- source: FileStreamSource writes a file's lines to a topic, against ``baseline.rs produce``;
- sink: FileStreamSink writes a topic's records to a file, against ``baseline.rs consume``.

Both sides of a half are timed the same way, from the outside: a sampler reads the progress
(the topic's end offset, or the output file's size) every ``--interval`` seconds, and the window
runs from the last sample with nothing moved to the first with everything moved, so neither
process's start counts. Rounds alternate which side goes first; medians are compared. Then the
worker's idle RSS after its connectors are deleted.

    python benches/passthrough/run.py [--records 500000] [--size 1024] [--rounds 4]

Targets (issue 12): each half >= 0.9x the raw program's records/s at 1 KB records; idle RSS
<= 60 MB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
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


class Window:
    """Samples ``progress()`` until it reaches ``total``; ``seconds`` is the time from the last
    sample at zero to the first at ``total``."""

    def __init__(self, progress: Callable[[], int], total: int, interval: float, timeout: float = 600):
        self.progress, self.total, self.interval, self.timeout = progress, total, interval, timeout
        self.seconds: float | None = None
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        last_zero = time.perf_counter()
        deadline = last_zero + self.timeout
        while time.perf_counter() < deadline:
            now = time.perf_counter()
            done = self.progress()
            if done <= 0:
                last_zero = now
            elif done >= self.total:
                self.seconds = now - last_zero
                return
            time.sleep(self.interval)
        self.error = f"timed out at {self.progress()} of {self.total}"

    def wait(self) -> float:
        self.thread.join()
        if self.seconds is None:
            raise RuntimeError(self.error or "no result")
        return self.seconds


def end_offset(bootstrap: str, topic: str) -> Callable[[], int]:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"probe-{uuid.uuid4().hex[:6]}"})

    def progress() -> int:
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5, cached=False)[1]
        except Exception:  # noqa: BLE001 - the topic may not be there yet
            return 0

    return progress


def file_size(path: Path) -> Callable[[], int]:
    return lambda: path.stat().st_size if path.exists() else 0


def source_round(ctx: dict, system: str, i: int) -> float:
    broker, records = ctx["broker"], ctx["records"]
    topic = broker.create_topic(f"src-{system}-{i}-{uuid.uuid4().hex[:6]}")
    window = Window(end_offset(broker.bootstrap, topic), records, ctx["interval"])
    if system == "raw":
        subprocess.run(
            [ctx["binary"], "produce", broker.bootstrap, topic, str(ctx["input"])],
            check=True,
            capture_output=True,
        )
        return window.wait()
    name = f"source-{i}"
    ctx["worker"].create(name, {"connector.class": "FileStreamSource", "file": ctx["input"], "topic": topic})
    try:
        return window.wait()
    finally:
        ctx["worker"].delete(name)


def sink_round(ctx: dict, system: str, i: int) -> float:
    out = ctx["dir"] / f"sink-{system}-{i}.txt"
    expected = ctx["input"].stat().st_size
    window = Window(file_size(out), expected, ctx["interval"])
    if system == "raw":
        subprocess.run(
            [ctx["binary"], "consume", ctx["broker"].bootstrap, ctx["topic"], str(out), str(ctx["records"])],
            check=True,
            capture_output=True,
        )
        seconds = window.wait()
    else:
        name = f"sink-{i}"
        ctx["worker"].create(name, {"connector.class": "FileStreamSink", "file": out, "topics": ctx["topic"]})
        try:
            seconds = window.wait()
        finally:
            ctx["worker"].delete(name)
    if out.read_bytes() != ctx["input"].read_bytes():
        raise AssertionError(f"{system}'s output differs from the input")
    out.unlink()
    return seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records", type=int, default=500_000)
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--interval", type=float, default=0.01, help="seconds between progress samples")
    args = ap.parse_args()

    binary = baseline_binary()
    broker = Kafka()
    results: dict[str, dict[str, list[float]]] = {}
    try:
        with tempfile.TemporaryDirectory() as d:
            d = Path(d)
            inp = d / "input.txt"
            write_input(inp, args.records, args.size)
            worker = Worker(d, broker.bootstrap)
            time.sleep(2)
            rss_start = worker.rss_mb()
            ctx = {
                "broker": broker,
                "records": args.records,
                "interval": args.interval,
                "binary": binary,
                "input": inp,
                "dir": d,
                "worker": worker,
            }
            # The sink half reads one topic, filled once by the raw producer.
            ctx["topic"] = broker.create_topic(f"sink-input-{uuid.uuid4().hex[:6]}")
            subprocess.run(
                [binary, "produce", broker.bootstrap, ctx["topic"], str(inp)], check=True, capture_output=True
            )
            for half, run in (("source", source_round), ("sink", sink_round)):
                times = results.setdefault(half, {"raw": [], "conveyor": []})
                for i in range(args.rounds):
                    # Alternate which side goes first, so that neither always meets the broker
                    # (its page cache, its log segments) in the same state.
                    order = ("raw", "conveyor") if i % 2 == 0 else ("conveyor", "raw")
                    for system in order:
                        times[system].append(run(ctx, system, i))
            time.sleep(35)  # one memory-release interval of the worker
            rss_idle = worker.rss_mb()
            worker.stop()
    finally:
        broker.stop()
    mb = args.records * args.size / 1e6
    print(
        f"records: {args.records:,} x {args.size} B ({mb:.0f} MB), "
        f"medians of {args.rounds} rounds, Apache Kafka"
    )
    for half, times in results.items():
        rates = {s: args.records / statistics.median(t) for s, t in times.items()}
        for system, t in times.items():
            runs = ", ".join(f"{x:.2f}" for x in t)
            print(f"{half:<6} {system:<9}: {rates[system]:>10,.0f} records/s  (seconds: {runs})")
        print(f"{half:<6} ratio    : {rates['conveyor'] / rates['raw']:.2f}x raw (target >= 0.9x)")
    print(
        f"worker RSS      : {rss_start:.1f} MB at start; {rss_idle:.1f} MB idle after its connectors "
        "ran and were deleted (target <= 60 MB)"
    )


if __name__ == "__main__":
    main()
