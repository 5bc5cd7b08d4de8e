"""Conveyor's PostgreSQL sink against a hand-written confluent-kafka + psycopg loop.

One run, one Apache Kafka broker, one PostgreSQL (a test-owned cluster started for the run, or
the one whose directory ``CONVEYOR_TEST_PG_DIR`` names), one topic of
JSON-envelope records with repeating keys. Each contender reads the whole topic and writes it:

- baseline upsert: consume 1000 records, ``executemany`` an ``INSERT ... ON CONFLICT DO
  UPDATE``, commit the transaction, commit the consumer offsets; repeat.
- baseline insert: the same loop with a plain ``INSERT``.
- Conveyor upsert / insert: a standalone worker with the JDBC sink connector config
  (``insert.mode=upsert, pk.mode=record_key`` / ``insert.mode=insert``).

Time runs from the start of consumption (baseline: consumer created; Conveyor: connector
created over REST, so start-up, connecting and the consumer group join count) to the database
commit of the last record (baseline: its last ``commit()``; Conveyor: the write that
completes the topic, from the writer's debug log line, which it emits after ``COMMIT``).
Every contender's table is checked for the expected rows afterwards.

Each contender runs ``--repeat`` times (order alternating, a CHECKPOINT before each run) and
its best run counts, which keeps other load on the machine from deciding the ratio.

    python benches/postgres/run.py [--records 200000] [--keys 20000] [--repeat 2] [--schemaless]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import psycopg
from confluent_kafka import Consumer, Producer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "python"))

sys.path.insert(0, str(ROOT / "tests" / "services"))

from helpers import Broker, WorkerProcess, wait_until  # noqa: E402
from postgres import TestPostgres  # noqa: E402

from kafka import ApacheKafka  # noqa: E402

# The port is filled in when the run's PostgreSQL is known.
PG = {"host": "127.0.0.1", "port": 0, "user": "postgres"}

KEY_SCHEMA = {"type": "int64", "optional": False}
VALUE_SCHEMA = {
    "type": "struct",
    "name": "order",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int64", "optional": False},
        {"field": "customer", "type": "string", "optional": False},
        {"field": "item", "type": "string", "optional": True},
        {"field": "qty", "type": "int32", "optional": False},
        {"field": "price", "type": "double", "optional": False},
        {"field": "paid", "type": "boolean", "optional": False},
        {"field": "seq", "type": "int64", "optional": False},
    ],
}
COLUMNS = "id, customer, item, qty, price, paid, seq"
TABLE_DDL = (
    "(id BIGINT NOT NULL, customer TEXT NOT NULL, item TEXT NULL, qty INT NOT NULL, "
    "price DOUBLE PRECISION NOT NULL, paid BOOLEAN NOT NULL, seq BIGINT NOT NULL{pk})"
)
UPSERT = (
    f"INSERT INTO {{table}} ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO UPDATE SET customer = EXCLUDED.customer, item = EXCLUDED.item, "
    "qty = EXCLUDED.qty, price = EXCLUDED.price, paid = EXCLUDED.paid, seq = EXCLUDED.seq"
)
INSERT = f"INSERT INTO {{table}} ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"


def produce(bootstrap: str, topic: str, records: int, keys: int, envelope: bool) -> None:
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "compression.type": "none",
        }
    )
    for seq in range(records):
        key = seq % keys
        value = {
            "id": key,
            "customer": f"customer-{seq % 977}",
            "item": f"item-{seq}",
            "qty": seq % 50,
            "price": (seq % 1000) / 4,
            "paid": seq % 3 == 0,
            "seq": seq,
        }
        p.produce(
            topic,
            key=json.dumps({"schema": KEY_SCHEMA, "payload": key} if envelope else key).encode(),
            value=json.dumps({"schema": VALUE_SCHEMA, "payload": value} if envelope else value).encode(),
        )
        if seq % 10_000 == 0:
            p.poll(0)
    assert p.flush(120) == 0, "produce did not complete"


def baseline(bootstrap: str, topic: str, records: int, db: str, table: str, sql: str) -> float:
    """The hand-written loop; returns seconds."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"baseline-{uuid.uuid4().hex[:8]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    statement = sql.format(table=table)
    start = time.perf_counter()
    consumer.subscribe([topic])
    seen = 0
    with psycopg.connect(dbname=db, **PG) as conn:
        while seen < records:
            batch = consumer.consume(num_messages=1000, timeout=1.0)
            rows = []
            for m in batch:
                if m.error():
                    continue
                v = json.loads(m.value())
                if "payload" in v:
                    v = v["payload"]
                rows.append((v["id"], v["customer"], v["item"], v["qty"], v["price"], v["paid"], v["seq"]))
            if not rows:
                continue
            with conn.cursor() as cur:
                cur.executemany(statement, rows)
            conn.commit()
            consumer.commit(asynchronous=True)
            seen += len(rows)
        elapsed = time.perf_counter() - start
    consumer.close()
    return elapsed


def last_write_time(worker: WorkerProcess, name: str, records: int) -> float | None:
    """When the connector's write that completed `records` committed (epoch seconds), from its
    debug log line (`batch written connector=... records=N`, logged after COMMIT)."""
    total = 0
    for line in worker.log_text().splitlines():
        if "batch written" not in line or f"connector={name} " not in line:
            continue
        total += int(re.search(r" records=(\d+)", line).group(1))
        if total >= records:
            stamp = line.split()[0].rstrip("Z")
            return datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc).timestamp()
    return None


def conveyor(
    worker: WorkerProcess, bootstrap: str, topic: str, records: int, db: str, name: str, **config
) -> float:
    """Runs the JDBC sink connector until its write of the last record has committed; seconds."""
    start = time.time()
    worker.create(
        name,
        {
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "tasks.max": "1",
            "topics": topic,
            "connection.url": f"jdbc:postgresql://127.0.0.1:{PG['port']}/{db}",
            "connection.user": "postgres",
            "connection.password": "unused",
            "auto.create": "true",
            "table.name.format": name.replace("-", "_"),
            **config,
        },
    )
    end = wait_until(
        lambda: last_write_time(worker, name, records),
        600,
        interval=0.2,
        what=f"{name} to write every record",
    )
    worker.rest.delete(f"/connectors/{name}")
    return end - start


def check(db: str, table: str, expected_rows: int, expected_sum: int) -> None:
    with psycopg.connect(dbname=db, **PG) as conn:
        got = conn.execute(f"SELECT count(*), sum(seq) FROM {table}").fetchone()
    assert got == (expected_rows, expected_sum), f"{table}: {got} != {(expected_rows, expected_sum)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--keys", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=2, help="rounds; each contender's best counts")
    parser.add_argument(
        "--schemaless",
        action="store_true",
        help="plain JSON records (JsonConverter schemas.enable=false) instead of the envelope",
    )
    args = parser.parse_args()
    n, keys = args.records, args.keys
    db = f"conveyor_bench_{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="conveyor-pg-bench-"))
    shared_pg = os.environ.get("CONVEYOR_TEST_PG_DIR")
    if shared_pg:
        pg = TestPostgres(Path(shared_pg), int((Path(shared_pg) / "port").read_text()))
    else:
        pg = TestPostgres.start(tmp / "postgres")
    PG["port"] = pg.port
    kafka = ApacheKafka(tmp / "kafka", heap="1g")
    broker = Broker(kafka.bootstrap, kafka)
    worker = None
    with psycopg.connect(dbname="test", autocommit=True, **PG) as admin:
        admin.execute(f"CREATE DATABASE {db}")
    try:
        topic = broker.create_topic("bench-orders")
        print(f"producing {n} records ({keys} distinct keys) ...", flush=True)
        produce(broker.bootstrap, topic, n, keys, envelope=not args.schemaless)
        last = {}
        for seq in range(n):
            last[seq % keys] = seq
        expected = {"upsert": (len(last), sum(last.values())), "insert": (n, n * (n - 1) // 2)}

        # The writer logs each committed batch at debug level: that is Conveyor's finish line.
        os.environ["RUST_LOG"] = "info,conveyor::connectors::postgres::writer=debug"
        worker = WorkerProcess.standalone(
            tmp,
            broker.bootstrap,
            extra={
                "key.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "key.converter.schemas.enable": str(not args.schemaless).lower(),
                "value.converter.schemas.enable": str(not args.schemaless).lower(),
                "offset.flush.interval.ms": 10_000,
            },
        )
        contenders = ["baseline upsert", "conveyor upsert", "conveyor insert", "baseline insert"]
        results: dict[str, list[float]] = {c: [] for c in contenders}
        for round_ in range(args.repeat):
            # Alternate the order so that no contender always follows the same one.
            for contender in contenders if round_ % 2 == 0 else contenders[::-1]:
                who, mode = contender.split()
                table = f"{who}_{mode}_{round_}"
                with psycopg.connect(dbname=db, autocommit=True, **PG) as conn:
                    # Start every contender from a clean slate: no dirty buffers to write.
                    conn.execute("CHECKPOINT")
                    if who == "baseline":
                        pk = ", PRIMARY KEY(id)" if mode == "upsert" else ""
                        conn.execute(f"CREATE TABLE {table} " + TABLE_DDL.format(pk=pk))
                if who == "baseline":
                    sql = UPSERT if mode == "upsert" else INSERT
                    seconds = baseline(broker.bootstrap, topic, n, db, table, sql)
                else:
                    config = {"insert.mode": mode}
                    if mode == "upsert":
                        config.update({"pk.mode": "record_key", "pk.fields": "id"})
                    name = table.replace("_", "-")
                    seconds = conveyor(worker, broker.bootstrap, topic, n, db, name, **config)
                check(db, table, *expected[mode])
                results[contender].append(seconds)
                rate = n / seconds
                print(f"  round {round_ + 1}: {contender:<16} {rate:>10,.0f} rows/s", flush=True)

        best = {c: n / min(v) for c, v in results.items()}
        fmt = "plain JSON" if args.schemaless else "JSON with the schema envelope"
        print(f"\n{n} records ({fmt}), {keys} distinct keys, one partition, one PostgreSQL")
        print(f"best of {args.repeat} rounds:\n")
        for c in contenders:
            print(f"  {c:<16} {best[c]:>10,.0f} rows/s  ({min(results[c]):.2f} s)")
        print()
        for label, ours, theirs in [
            ("upsert", "conveyor upsert", "baseline upsert"),
            ("insert", "conveyor insert", "baseline upsert"),
            ("insert", "conveyor insert", "baseline insert"),
        ]:
            print(f"  {label}: {ours} / {theirs} loop = {best[ours] / best[theirs]:.2f}x")
    finally:
        if worker is not None:
            worker.kill()
        kafka.stop()
        with psycopg.connect(dbname="test", autocommit=True, **PG) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
        if not shared_pg:
            pg.stop()


if __name__ == "__main__":
    main()
