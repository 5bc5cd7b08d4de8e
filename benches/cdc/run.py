"""PostgreSQL change data capture: Conveyor's connector against Debezium's in Apache Kafka Connect.

One Apache Kafka broker, one PostgreSQL (test-owned, ``wal_level=logical``). For each contender
(``conveyor``, and ``debezium`` when Java, Maven and the jars are available; ``--only`` picks
one), on a fresh database:

- snapshot: a table of ``--rows`` rows (int key, text, int, numeric(10,2), timestamptz) is
  snapshotted (``snapshot.mode=initial``); time from the connector's creation to the last
  snapshot event in Kafka (the topic's end offset reaching ``--rows``).
- streaming: then ``--rows`` row updates, in transactions of 10,000 rows, are streamed; time
  from the first update to the last event in Kafka.

Events/s for both phases, the peak RSS of the process (Conveyor's worker, Connect's JVM),
sampled every 0.2 s, and the CPU time that process used per event (user plus system, all
threads; the snapshot's includes start-up), which a loaded machine disturbs less than events/s.
Both use JsonConverter with schemas.

    python benches/cdc/run.py [--rows 1000000] [--only conveyor|debezium]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg
from confluent_kafka import Consumer, TopicPartition

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "python"))
sys.path.insert(0, str(ROOT / "tests" / "services"))
sys.path.insert(0, str(ROOT / "benches" / "vs_kafka_connect"))

from helpers import Broker, WorkerProcess, free_port, write_properties  # noqa: E402
from postgres import TestPostgres  # noqa: E402

from kafka import ApacheKafka  # noqa: E402

PG = {"host": "127.0.0.1", "port": 0, "user": "postgres"}
JSON = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "true",
    "value.converter.schemas.enable": "true",
}
BATCH = 10_000


def cpu_s(pid: int) -> float:
    """User plus system CPU seconds the process (all its threads) has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Peak:
    """Samples a process's RSS in the background; ``peak`` is the highest seen."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mb(self.pid))
            time.sleep(0.2)

    def stop(self) -> float:
        self._stop.set()
        self._t.join()
        return self.peak


def end_offset(bootstrap: str, topic: str) -> int:
    c = Consumer({"bootstrap.servers": bootstrap, "group.id": f"bench-{uuid.uuid4().hex[:6]}"})
    try:
        md = c.list_topics(topic, timeout=5)
        if topic not in md.topics or md.topics[topic].error is not None:
            return 0
        return sum(
            c.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
            for p in md.topics[topic].partitions
        )
    finally:
        c.close()


def wait_offset(bootstrap: str, topic: str, target: int, timeout: float) -> float:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if end_offset(bootstrap, topic) >= target:
            return time.time()
        time.sleep(0.2)
    raise TimeoutError(f"{topic} did not reach {target} events in {timeout:.0f} s")


def connector_config(db: str, prefix: str) -> dict:
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": "127.0.0.1",
        "database.port": str(PG["port"]),
        "database.user": "postgres",
        "database.dbname": db,
        "database.sslmode": "disable",
        "topic.prefix": prefix,
        "plugin.name": "pgoutput",
        "slot.name": f"slot_{prefix}",
        "publication.name": f"pub_{prefix}",
    }


def start_conveyor(tmp: Path, bootstrap: str, config: dict):
    w = WorkerProcess.standalone(
        tmp, bootstrap, extra={**JSON, "offset.flush.interval.ms": 5000}, name="conveyor"
    )
    r = w.rest.post("/connectors", {"name": "cdc", "config": config})
    assert r.status_code == 201, r.text
    return w.proc, w.kill


def start_debezium(tmp: Path, bootstrap: str, config: dict):
    import kafka_connect

    plugin = kafka_connect.ensure_debezium_postgres(verbose=False)
    worker = write_properties(
        tmp / "connect.properties",
        {
            "bootstrap.servers": bootstrap,
            **JSON,
            "offset.storage.file.filename": tmp / "connect.offsets",
            "offset.flush.interval.ms": 5000,
            "listeners": f"http://127.0.0.1:{free_port()}",
            "plugin.path": plugin,
        },
    )
    connector = write_properties(tmp / "dbz.properties", {"name": "dbz", **config})
    logs = tmp / "connect-logs"
    logs.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        kafka_connect.command("standalone", worker, [connector], logs),
        stdout=open(tmp / "connect.log", "ab"),
        stderr=subprocess.STDOUT,
    )

    def stop():
        proc.kill()
        proc.wait()

    return proc, stop


def run(who: str, rows: int, bootstrap: str, tmp: Path) -> dict:
    db = f"cdc_bench_{who}_{uuid.uuid4().hex[:6]}"
    prefix = f"{who}{uuid.uuid4().hex[:6]}"
    topic = f"{prefix}.public.bench"
    with psycopg.connect(dbname="test", autocommit=True, **PG) as admin:
        admin.execute(f"CREATE DATABASE {db}")
    with psycopg.connect(dbname=db, autocommit=True, **PG) as conn:
        conn.execute(
            "CREATE TABLE bench (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL, "
            "price numeric(10,2), at timestamptz)"
        )
        conn.execute(
            "INSERT INTO bench SELECT g, 'name-' || g, g %% 100, g / 100.0, now() "
            "FROM generate_series(1, %s) g",
            (rows,),
        )
        conn.execute("CHECKPOINT")
    work = tmp / who
    work.mkdir()
    started = time.time()
    proc, stop = (start_conveyor if who == "conveyor" else start_debezium)(
        work, bootstrap, connector_config(db, prefix)
    )
    peak = Peak(proc.pid)
    try:
        snapshot_done = wait_offset(bootstrap, topic, rows, 1800)
        snapshot_s = snapshot_done - started
        snapshot_cpu = cpu_s(proc.pid)
        time.sleep(2)
        with psycopg.connect(dbname=db, autocommit=True, **PG) as conn:
            cpu0 = cpu_s(proc.pid)
            t0 = time.time()
            for lo in range(1, rows + 1, BATCH):
                conn.execute(
                    "UPDATE bench SET qty = qty + 1 WHERE id BETWEEN %s AND %s", (lo, lo + BATCH - 1)
                )
        stream_s = wait_offset(bootstrap, topic, 2 * rows, 1800) - t0
        stream_cpu = cpu_s(proc.pid) - cpu0
    finally:
        rss = peak.stop()
        stop()
        time.sleep(1)
        with psycopg.connect(dbname="test", autocommit=True, **PG) as admin:
            admin.execute(f"SELECT pg_drop_replication_slot('slot_{prefix}')")
            admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    return {
        "snapshot": rows / snapshot_s,
        "stream": rows / stream_s,
        "rss": rss,
        "snapshot_cpu_us": snapshot_cpu * 1e6 / rows,
        "stream_cpu_us": stream_cpu * 1e6 / rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["conveyor", "debezium"])
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="conveyor-cdc-bench-"))
    shared_pg = os.environ.get("CONVEYOR_TEST_PG_DIR")
    pg = (
        TestPostgres(Path(shared_pg), int((Path(shared_pg) / "port").read_text()))
        if shared_pg
        else TestPostgres.start(tmp / "postgres")
    )
    PG["port"] = pg.port
    kafka = ApacheKafka(tmp / "kafka", heap="1g")
    broker = Broker(kafka.bootstrap, kafka)
    results = {}
    try:
        for who in [args.only] if args.only else ["conveyor", "debezium"]:
            print(f"{who}: {args.rows} rows ...", flush=True)
            try:
                results[who] = run(who, args.rows, broker.bootstrap, tmp)
            except Exception as e:  # noqa: BLE001 - report and go on with the other contender
                print(f"  {who} failed: {e}", flush=True)
                continue
            r = results[who]
            print(
                f"  snapshot {r['snapshot']:>10,.0f} events/s   streaming {r['stream']:>10,.0f} events/s"
                f"   peak RSS {r['rss']:,.0f} MB\n"
                f"  CPU per event: snapshot {r['snapshot_cpu_us']:,.0f} us (with start-up)"
                f"   streaming {r['stream_cpu_us']:,.0f} us",
                flush=True,
            )
        if {"conveyor", "debezium"} <= set(results):
            c, d = results["conveyor"], results["debezium"]
            print(
                f"\nconveyor / debezium: snapshot {c['snapshot'] / d['snapshot']:.2f}x, "
                f"streaming {c['stream'] / d['stream']:.2f}x, RSS {c['rss'] / d['rss']:.3f}x"
            )
    finally:
        kafka.stop()
        if not shared_pg:
            pg.stop()


if __name__ == "__main__":
    main()
