"""Where a ``transaction.boundary=poll`` transaction's time goes: runs the exactly-once
sequence source with librdkafka's ``debug=eos,protocol,msg`` log and prints, per step of a
transaction, the median, mean and 90th percentile over every transaction of the window.
Not a throughput figure: the debug log itself slows the task down.

    python benches/eos/breakdown.py [--batch 100] [--seconds 6] [--keep LOG]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# librdkafka's lines, and the name each transaction's first one is kept under.
EVENTS = [
    ("begin_called", "API called: begin_transaction"),
    ("begin_ret", "begin_transaction return"),
    ("registering", "Registering partitions with transaction"),
    ("addp_sent", "Sent AddPartitionsToTxnRequest"),
    ("registered", "registered with transaction"),
    ("prod_sent", "Sent ProduceRequest"),
    ("prod_recv", "Received ProduceResponse"),
    ("commit_called", "API called: commit_transaction"),
    ("flush_done", "Transaction commit message flush complete"),
    ("committing", "BeginCommit -> CommittingTransaction"),
    ("endtxn_recv", "Received EndTxnResponse"),
    ("commit_ret", "commit_transaction return"),
]

STEPS = [
    ("prev_ret", "begin_called", "task: commit(), poll, convert"),
    ("begin_called", "begin_ret", "begin_transaction"),
    ("begin_ret", "registering", "AddPartitionsToTxn scheduled"),
    ("registering", "addp_sent", "AddPartitionsToTxn sent"),
    ("addp_sent", "registered", "AddPartitionsToTxn answered"),
    ("registered", "first_prod_sent", "first produce request sent"),
    ("first_prod_sent", "last_prod_recv", "produce requests answered"),
    ("last_prod_recv", "commit_called", "delivery reports, flush"),
    ("commit_called", "flush_done", "commit: begin, flush"),
    ("flush_done", "committing", "commit: EndTxn queued"),
    ("committing", "endtxn_recv", "EndTxn answered"),
    ("endtxn_recv", "commit_ret", "commit returns"),
    ("prev_ret", "commit_ret", "TOTAL"),
]


def transactions(log: Path) -> list[dict]:
    """Each transaction's first time of each event (produce requests: all of them)."""
    txns: list[dict] = []
    current: dict | None = None
    for line in log.read_text(errors="replace").splitlines():
        for name, text in EVENTS:
            if text not in line:
                continue
            t = datetime.fromisoformat(line[:26]).timestamp()
            if name == "begin_called":
                previous = txns[-1].get("commit_ret") if txns else None
                current = {"begin_called": t, "prev_ret": previous, "retries": -1}
                txns.append(current)
            elif current is not None:
                if name in ("prod_sent", "prod_recv"):
                    current.setdefault(name, []).append(t)
                else:
                    if name == "addp_sent":
                        current["retries"] += 1
                    current.setdefault(name, t)
            break
    done = [t for t in txns if t.get("prev_ret") and "commit_ret" in t and t.get("prod_recv")]
    for t in done:
        t["first_prod_sent"], t["last_prod_recv"] = t["prod_sent"][0], t["prod_recv"][-1]
    return done[5:]  # past the start


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=6)
    parser.add_argument("--keep", type=Path, help="copy the worker's log here")
    args = parser.parse_args()
    os.environ["CONVEYOR_TEST_CONNECTORS"] = "1"
    os.environ["RUST_LOG"] = "warn,librdkafka=debug"
    from _common import Kafka
    from run import rate

    kafka = Kafka()
    try:
        with tempfile.TemporaryDirectory(prefix="conveyor-bench-eos-breakdown-") as tmp:
            debug = {"debug": "eos,protocol,msg"}
            r = rate(kafka, Path(tmp), "enabled", "poll", args.batch, args.seconds, debug)
            log = next(Path(tmp).glob("*.log"))
            if args.keep:
                shutil.copy(log, args.keep)
            txns = transactions(log)
    finally:
        kafka.stop()
    if not txns:
        raise SystemExit("no transaction found in the log")
    retries = statistics.mean(t["retries"] for t in txns)
    print(f"batch {args.batch}: {r:.0f} records/s with the debug log; {len(txns)} transactions")
    print(f"AddPartitionsToTxn retries per transaction: {retries:.2f}")
    print(f"{'step':32} {'median':>8} {'mean':>8} {'p90':>8}  (ms)")
    for start, end, label in STEPS:
        d = sorted((t[end] - t[start]) * 1000 for t in txns if start in t and end in t)
        if d:
            print(
                f"{label:32} {statistics.median(d):8.2f} {statistics.mean(d):8.2f}"
                f" {d[int(len(d) * 0.9)]:8.2f}"
            )


if __name__ == "__main__":
    main()
