"""Conveyor's PostgreSQL CDC against Debezium's own PostgreSQL connector
(``io.debezium:debezium-connector-postgres`` from Maven Central, in Apache Kafka Connect): the
same table operations through both, keys, values and schemas compared event by event after
normalising what must differ (topic prefix, timestamps, LSNs, transaction ids, version).
Skipped when Java, Maven or the jars are unavailable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from helpers import free_port, wait_until, write_properties
from test_postgres_cdc import JSON_CONVERTERS, PG, Reader, cdc_config, cdcdb, execute, query  # noqa: F401

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benches" / "vs_kafka_connect"))

# What still differs from Debezium, by JSON path (list indexes as *), with the reason; each is
# listed in docs/postgres-cdc.md.
KNOWN_DIFFERENCES: dict[str, str] = {}


@pytest.fixture(scope="module")
def debezium_plugin() -> Path:
    try:
        import kafka_connect

        kafka_connect.ensure_connect(verbose=False)
        return kafka_connect.ensure_debezium_postgres(verbose=False)
    except Exception as e:  # noqa: BLE001 - any missing tool or jar means: cannot compare here
        pytest.skip(f"Debezium in Kafka Connect is not available: {e}")


def start_debezium(
    tmp_path: Path, bootstrap: str, plugin: Path, config: dict
) -> tuple[subprocess.Popen, int]:
    import kafka_connect

    port = free_port()
    worker = write_properties(
        tmp_path / "connect.properties",
        {
            "bootstrap.servers": bootstrap,
            **JSON_CONVERTERS,
            "offset.storage.file.filename": tmp_path / "connect.offsets",
            "offset.flush.interval.ms": 500,
            "listeners": f"http://127.0.0.1:{port}",
            "plugin.path": plugin,
        },
    )
    connector = write_properties(tmp_path / "dbz.properties", {"name": "dbz", **config})
    logs = tmp_path / "connect-logs"
    logs.mkdir()
    log = open(tmp_path / "connect.log", "ab")
    proc = subprocess.Popen(
        kafka_connect.command("standalone", worker, [connector], logs),
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ),
    )
    return proc, port


def normalise(event, prefix: str):
    """The event with what must differ between the two replaced."""
    text = json.dumps(event).replace(f"{prefix}.", "PREFIX.")
    e = json.loads(text)
    if e is None:
        return None
    payload = e.get("payload")
    if isinstance(payload, dict) and "source" in payload:
        for k in ("ts_ms", "ts_us", "ts_ns"):
            payload[k] = 0
        src = payload["source"]
        for k in ("version", "name", "ts_ms", "ts_us", "ts_ns", "lsn", "txId", "sequence"):
            src[k] = None
    return e


def differences(a, b, path: str = "") -> list[tuple[str, object, object]]:
    """(path, Debezium's value, Conveyor's value) where the two differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            out += differences(a.get(k, "<absent>"), b.get(k, "<absent>"), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for x, y in zip(a, b) for d in differences(x, y, f"{path}.*")]
    return [] if a == b else [(path, a, b)]


def test_events_match_debezium(broker, cdcdb, start_worker, tmp_path, debezium_plugin):  # noqa: F811
    execute(
        cdcdb,
        "CREATE TYPE color AS ENUM ('red', 'green')",
        "CREATE TABLE everything (id int PRIMARY KEY, name varchar(100) NOT NULL, note text, "
        "price numeric(12,3), amount numeric, ratio real, dbl double precision, small smallint, "
        "big bigint, flag boolean, doc json, docb jsonb, uid uuid, born date, at time, at3 time(3), "
        "ts timestamp, ts3 timestamp(3), tstz timestamptz, raw bytea, tags text[], nums int[], "
        "c color, span interval, ch char(3))",
        "CREATE TABLE fulls (id int PRIMARY KEY, v text)",
        "ALTER TABLE fulls REPLICA IDENTITY FULL",
        "INSERT INTO everything (id, name, note, price) VALUES (1, 'first', 'n', 1.5)",
        "INSERT INTO fulls VALUES (1, 'a'), (2, 'b'), (3, 'c')",
        "CREATE TABLE nokey (v text, n int)",
        "ALTER TABLE nokey REPLICA IDENTITY FULL",
    )
    tag = uuid.uuid4().hex[:6]
    dbz_prefix, cvy_prefix = f"dbz{tag}", f"cvy{tag}"
    common = {"skipped.operations": "none", "plugin.name": "pgoutput"}
    dbz_config = cdc_config(cdcdb, dbz_prefix, **common)
    cvy_config = cdc_config(cdcdb, cvy_prefix, **common)
    proc, port = start_debezium(tmp_path, broker.bootstrap, debezium_plugin, dbz_config)
    try:
        worker = start_worker(extra=JSON_CONVERTERS)
        worker.create("cvy", cvy_config)
        worker.rest.wait_running("cvy")
        slots = (dbz_config["slot.name"], cvy_config["slot.name"])
        wait_until(
            lambda: (
                query(
                    cdcdb,
                    f"SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name IN {slots}",
                )[0][0]
                == 2
            ),
            180,
            what=f"both connectors streaming (Connect log: {tmp_path / 'connect.log'})",
        )
        time.sleep(2)
        execute(
            cdcdb,
            "INSERT INTO everything VALUES (2, 'all', 'note', 12.345, 3.14159265358979, 1.5, 2.25, 7, "
            "9007199254740993, true, '{\"a\": [1, 2]}', '{\"b\": null}', "
            "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '2021-03-04', '10:11:12.123456', '10:11:12.123', "
            "'2021-03-04 05:06:07.123456', '2021-03-04 05:06:07.123', '2021-03-04 05:06:07.5+01', "
            "'\\x0102ff', '{a,\"b c\",NULL}', '{1,2}', 'green', '1 year 2 mons 3 days 04:05:06.5', 'ab')",
            "UPDATE everything SET note = 'changed', price = -0.001 WHERE id = 2",
            "UPDATE fulls SET v = 'b' WHERE id = 1",
            "UPDATE fulls SET id = 30 WHERE id = 3",
            "INSERT INTO nokey VALUES ('x', 1), ('y', 2)",
            "UPDATE nokey SET n = 3 WHERE v = 'x'",
            "DELETE FROM nokey WHERE v = 'y'",
            "DELETE FROM everything WHERE id = 1",
            "DELETE FROM fulls WHERE id = 1",
            "ALTER TABLE everything ADD COLUMN extra int",
            "INSERT INTO everything (id, name, extra) VALUES (3, 'added', 42)",
            "TRUNCATE everything",
        )
        report = []
        compared = 0
        for table, count in (("everything", 7), ("fulls", 9), ("nokey", 4)):
            dbz = Reader(broker, f"{dbz_prefix}.public.{table}")
            cvy = Reader(broker, f"{cvy_prefix}.public.{table}")
            dbz_events = dbz.read(count, timeout=120)
            cvy_events = cvy.read(count, timeout=60)
            dbz.drain(2)
            cvy.drain(2)
            assert len(dbz.events) == len(cvy.events), (len(dbz.events), len(cvy.events))
            compared += len(dbz.events)
            for i, ((dk, dv), (ck, cv)) in enumerate(zip(dbz_events, cvy_events)):
                for part, d, c in (("key", dk, ck), ("value", dv, cv)):
                    for path, x, y in differences(normalise(d, dbz_prefix), normalise(c, cvy_prefix)):
                        report.append((table, i, part + path, x, y))
            dbz.close()
            cvy.close()
        print(f"{compared} events compared")
        unexpected = [r for r in report if r[2] not in KNOWN_DIFFERENCES]
        seen: dict[str, str] = {}
        for t, i, p, d, c in unexpected:
            seen.setdefault(
                p, f"{t} event {i} {p}:\n  debezium: {json.dumps(d)[:400]}\n  conveyor: {json.dumps(c)[:400]}"
            )
        assert not unexpected, "\n".join(seen.values())
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
