"""Change data capture from PostgreSQL (``io.debezium.connector.postgresql.PostgresConnector``)
end to end: the test-owned PostgreSQL (``wal_level=logical``), Apache Kafka, standalone
workers, and the events read back with JsonConverter and compared, field by field, with the
format Debezium documents for its PostgreSQL connector."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid

import pytest
from helpers import wait_until, write_properties

psycopg = pytest.importorskip("psycopg")

PG = {"host": "127.0.0.1", "port": 0, "user": "postgres"}

JSON_CONVERTERS = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "true",
    "value.converter.schemas.enable": "true",
}


def execute(db: str, *statements: str) -> None:
    with psycopg.connect(dbname=db, autocommit=True, **PG) as conn:
        for sql in statements:
            conn.execute(sql)


def query(db: str, sql: str) -> list[tuple]:
    with psycopg.connect(dbname=db, autocommit=True, **PG) as conn:
        return conn.execute(sql).fetchall()


@pytest.fixture
def cdcdb(postgres):
    """A database of the test's own; its replication slots are dropped with it (request it
    before ``start_worker``, so that the workers stop first)."""
    PG["port"] = postgres.port
    name = f"cdc_{uuid.uuid4().hex[:12]}"
    execute("test", f"CREATE DATABASE {name}")
    yield name
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            execute(
                "test",
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                f"WHERE database = '{name}' AND active",
            )
            execute(
                "test",
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                f"WHERE database = '{name}' AND NOT active",
            )
            if not query("test", f"SELECT 1 FROM pg_replication_slots WHERE database = '{name}'"):
                break
        except psycopg.Error:
            pass
        time.sleep(0.5)
    execute("test", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def cdc_config(db: str, prefix: str, **extra) -> dict:
    slot = f"slot_{uuid.uuid4().hex[:10]}"
    return {
        "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
        "tasks.max": "1",
        "database.hostname": "127.0.0.1",
        "database.port": str(PG["port"]),
        "database.user": "postgres",
        "database.dbname": db,
        "database.sslmode": "disable",
        "topic.prefix": prefix,
        "slot.name": slot,
        "publication.name": f"pub_{slot}",
        "poll.interval.ms": "100",
        **extra,
    }


class Reader:
    """Reads a topic from the start, keeping what it has read; events decoded from JSON."""

    def __init__(self, broker, topic: str):
        from confluent_kafka import Consumer

        self.topic = topic
        self.events: list[tuple[dict | None, dict | None]] = []
        self.consumer = Consumer(
            broker._config(
                **{
                    "group.id": f"reader-{uuid.uuid4().hex[:8]}",
                    "enable.auto.commit": False,
                    "auto.offset.reset": "earliest",
                    "fetch.wait.max.ms": 50,
                }
            )
        )
        self.consumer.subscribe([topic])

    def read(self, count: int, timeout: float = 60) -> list[tuple[dict | None, dict | None]]:
        deadline = time.time() + timeout
        while len(self.events) < count and time.time() < deadline:
            m = self.consumer.poll(0.5)
            if m is None or m.error():
                continue
            key = json.loads(m.key()) if m.key() else None
            value = json.loads(m.value()) if m.value() else None
            self.events.append((key, value))
        assert len(self.events) >= count, (
            f"{len(self.events)} of {count} events on {self.topic}: {self.events}"
        )
        return self.events

    def read_until(self, done, timeout: float = 120) -> list[tuple[dict | None, dict | None]]:
        """Reads until ``done(events)`` holds."""
        deadline = time.time() + timeout
        while not done(self.events) and time.time() < deadline:
            self.read(len(self.events) + 1, timeout=max(1, deadline - time.time()))
        assert done(self.events), f"{len(self.events)} events on {self.topic}, not the expected ones"
        return self.events

    def drain(self, seconds: float) -> None:
        """Reads whatever else arrives within ``seconds``."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            m = self.consumer.poll(0.2)
            if m is not None and not m.error():
                key = json.loads(m.key()) if m.key() else None
                value = json.loads(m.value()) if m.value() else None
                self.events.append((key, value))

    def close(self):
        self.consumer.close()


def schema_field(schema: dict, name: str) -> dict:
    return next(f for f in schema["fields"] if f["field"] == name)


def test_debezium_events_snapshot_then_stream(broker, cdcdb, start_worker):
    execute(
        cdcdb,
        "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
        "CREATE TABLE customers (id int PRIMARY KEY, name varchar(255) NOT NULL, email text, "
        "price numeric(10,2), score numeric, ratio double precision, small smallint, big bigint, "
        "flag boolean, born date, at_time time, ts timestamp, ts3 timestamp(3), tstz timestamptz, "
        "doc jsonb, uid uuid, raw bytea, tags text[], nums int[], feeling mood, span interval)",
        "INSERT INTO customers VALUES (1, 'Anne', 'annek@noanswer.org', 12.5, 3.14159, 0.5, 7, "
        "9007199254740993, true, '2020-02-03', '10:11:12.5', '2020-02-03 04:05:06.789012', "
        "'2020-02-03 04:05:06.789', '2020-02-03 04:05:06.5+02', '{\"a\": 1}', "
        "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff', '{x,\"y z\"}', '{1,NULL,3}', 'happy', "
        "'1 day 02:00:00')",
        "INSERT INTO customers (id, name) VALUES (2, 'Bob'), (3, 'Carol')",
    )
    prefix = f"srv{uuid.uuid4().hex[:6]}"
    topic = f"{prefix}.public.customers"
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create("cdc", cdc_config(cdcdb, prefix, **{"skipped.operations": "none"}))
    worker.rest.wait_running("cdc")
    reader = Reader(broker, topic)
    events = reader.read(3)
    snapshot = [v["payload"] for _, v in events[:3]]
    assert [p["op"] for p in snapshot] == ["r", "r", "r"]
    assert [p["source"]["snapshot"] for p in snapshot] == ["first", "true", "last"]
    assert sorted(p["after"]["id"] for p in snapshot) == [1, 2, 3]

    key, value = events[0]
    # The key: the primary key struct, named <prefix>.<schema>.<table>.Key.
    assert key == {
        "schema": {
            "type": "struct",
            "fields": [{"type": "int32", "optional": False, "field": "id"}],
            "optional": False,
            "name": f"{topic}.Key",
        },
        "payload": {"id": 1},
    }
    schema = value["schema"]
    assert schema["name"] == f"{topic}.Envelope"
    assert schema["version"] == 2
    assert [f["field"] for f in schema["fields"]] == [
        "before", "after", "source", "transaction", "op", "ts_ms", "ts_us", "ts_ns",
    ]  # fmt: skip
    row = schema_field(schema, "after")
    assert row["name"] == f"{topic}.Value" and row["optional"] is True
    assert {**schema_field(schema, "before"), "field": "after"} == row
    expected_types = {
        "id": {"type": "int32", "optional": False},
        "name": {"type": "string", "optional": False},
        "email": {"type": "string", "optional": True},
        "price": {
            "type": "bytes",
            "optional": True,
            "name": "org.apache.kafka.connect.data.Decimal",
            "version": 1,
            "parameters": {"scale": "2", "connect.decimal.precision": "10"},
        },
        "score": {
            "type": "struct",
            "fields": [
                {"type": "int32", "optional": False, "field": "scale"},
                {"type": "bytes", "optional": False, "field": "value"},
            ],
            "optional": True,
            "name": "io.debezium.data.VariableScaleDecimal",
            "version": 1,
            "doc": "Variable scaled decimal",
        },
        "ratio": {"type": "double", "optional": True},
        "small": {"type": "int16", "optional": True},
        "big": {"type": "int64", "optional": True},
        "flag": {"type": "boolean", "optional": True},
        "born": {"type": "int32", "optional": True, "name": "io.debezium.time.Date", "version": 1},
        "at_time": {"type": "int64", "optional": True, "name": "io.debezium.time.MicroTime", "version": 1},
        "ts": {"type": "int64", "optional": True, "name": "io.debezium.time.MicroTimestamp", "version": 1},
        "ts3": {"type": "int64", "optional": True, "name": "io.debezium.time.Timestamp", "version": 1},
        "tstz": {"type": "string", "optional": True, "name": "io.debezium.time.ZonedTimestamp", "version": 1},
        "doc": {"type": "string", "optional": True, "name": "io.debezium.data.Json", "version": 1},
        "uid": {"type": "string", "optional": True, "name": "io.debezium.data.Uuid", "version": 1},
        "raw": {"type": "bytes", "optional": True},
        "tags": {"type": "array", "items": {"type": "string", "optional": True}, "optional": True},
        "nums": {"type": "array", "items": {"type": "int32", "optional": True}, "optional": True},
        "feeling": {
            "type": "string",
            "optional": True,
            "name": "io.debezium.data.Enum",
            "version": 1,
            "parameters": {"allowed": "sad,ok,happy"},
        },
        "span": {"type": "int64", "optional": True, "name": "io.debezium.time.MicroDuration", "version": 1},
    }
    assert [f["field"] for f in row["fields"]] == list(expected_types)
    for f in row["fields"]:
        assert {k: v for k, v in f.items() if k != "field"} == expected_types[f["field"]], f["field"]

    source_schema = schema_field(schema, "source")
    assert source_schema["name"] == "io.debezium.connector.postgresql.Source"
    assert [(f["field"], f["type"], f["optional"]) for f in source_schema["fields"]] == [
        ("version", "string", False),
        ("connector", "string", False),
        ("name", "string", False),
        ("ts_ms", "int64", False),
        ("snapshot", "string", True),
        ("db", "string", False),
        ("sequence", "string", True),
        ("ts_us", "int64", True),
        ("ts_ns", "int64", True),
        ("schema", "string", False),
        ("table", "string", False),
        ("txId", "int64", True),
        ("lsn", "int64", True),
        ("xmin", "int64", True),
        ("origin", "string", True),
        ("origin_lsn", "int64", True),
    ]
    assert source_schema["version"] == 1
    snap_field = schema_field(source_schema, "snapshot")
    assert snap_field["name"] == "io.debezium.data.Enum" and snap_field["default"] == "false"
    assert schema_field(schema, "transaction")["name"] == "event.block"

    payload = value["payload"]
    after = payload["after"]
    assert base64.b64decode(after["price"]) == (1250).to_bytes(2, "big")
    assert after["score"]["scale"] == 5
    assert int.from_bytes(base64.b64decode(after["score"]["value"]), "big") == 314159
    assert after["ratio"] == 0.5 and after["small"] == 7 and after["big"] == 9007199254740993
    assert after["flag"] is True
    assert after["born"] == 18295  # days since 1970-01-01
    assert after["at_time"] == (10 * 3600 + 11 * 60 + 12) * 1_000_000 + 500_000
    assert after["ts"] == 1580702706789012
    assert after["ts3"] == 1580702706789
    assert after["tstz"] == "2020-02-03T02:05:06.500000Z"
    assert json.loads(after["doc"]) == {"a": 1}
    assert after["uid"] == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
    assert base64.b64decode(after["raw"]) == b"\x00\xff"
    assert after["tags"] == ["x", "y z"] and after["nums"] == [1, None, 3]
    assert after["feeling"] == "happy"
    assert after["span"] == 26 * 3600 * 1_000_000
    assert payload["before"] is None and payload["transaction"] is None
    src = payload["source"]
    assert src["connector"] == "postgresql" and src["name"] == prefix and src["db"] == cdcdb
    assert (src["schema"], src["table"]) == ("public", "customers")
    assert isinstance(src["lsn"], int) and src["lsn"] > 0
    assert payload["ts_us"] // 1000 == payload["ts_ms"] and payload["ts_ns"] // 1000 == payload["ts_us"]

    # Streaming: insert, update, delete (+ tombstone), truncate.
    execute(
        cdcdb,
        "INSERT INTO customers (id, name, email) VALUES (4, 'Dan', 'dan@x')",
        "UPDATE customers SET email = 'bob@x' WHERE id = 2",
        "DELETE FROM customers WHERE id = 3",
        "TRUNCATE customers",
    )
    events = reader.read(8)
    stream = events[3:8]
    ops = [v["payload"]["op"] if v else None for _, v in stream]
    assert ops == ["c", "u", "d", None, "t"], ops
    created = stream[0][1]["payload"]
    assert created["before"] is None and created["after"]["email"] == "dan@x"
    assert created["source"]["snapshot"] == "false" and isinstance(created["source"]["txId"], int)
    seq = json.loads(created["source"]["sequence"])
    assert len(seq) == 2 and int(seq[1]) == created["source"]["lsn"]
    updated = stream[1][1]["payload"]
    assert stream[1][0]["payload"] == {"id": 2}
    assert updated["before"] is None, "REPLICA IDENTITY DEFAULT: no before-image"
    assert updated["after"]["email"] == "bob@x" and updated["after"]["name"] == "Bob"
    deleted = stream[2][1]["payload"]
    assert stream[2][0]["payload"] == {"id": 3} and deleted["after"] is None
    assert deleted["before"]["id"] == 3
    assert stream[3][0]["payload"] == {"id": 3}, "the tombstone has the deleted row's key"
    truncated = stream[4]
    assert truncated[0] is None
    assert truncated[1]["payload"]["before"] is None and truncated[1]["payload"]["after"] is None
    reader.close()

    # Debezium's offset layout: partition {"server": prefix}, lsn / txId / ts_usec / lsn_commit.
    def offsets():
        r = worker.rest.get("/connectors/cdc/offsets")
        return r.json()["offsets"] if r.status_code == 200 else []

    wait_until(lambda: offsets() and "lsn_commit" in offsets()[0]["offset"], 30, what="a streaming offset")
    entry = offsets()[0]
    assert entry["partition"] == {"server": prefix}
    assert {"lsn", "lsn_proc", "lsn_commit", "txId", "ts_usec"} <= set(entry["offset"])


def test_replica_identity_full_toast_key_change_and_schema_change(broker, cdcdb, start_worker):
    execute(
        cdcdb,
        "CREATE TABLE items (id int PRIMARY KEY, qty int NOT NULL, big text)",
        "CREATE TABLE fulls (id int PRIMARY KEY, qty int NOT NULL, note text)",
        "ALTER TABLE fulls REPLICA IDENTITY FULL",
    )
    prefix = f"srv{uuid.uuid4().hex[:6]}"
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create("cdc", cdc_config(cdcdb, prefix, **{"table.include.list": r"public\.(items|fulls)"}))
    worker.rest.wait_running("cdc")
    wait_until(
        lambda: query(cdcdb, "SELECT count(*) FROM pg_replication_slots WHERE active")[0][0] == 1,
        60,
        what="the slot is streaming",
    )
    # A value stored out of line (TOASTed): over 2 kB, and not compressed.
    big = uuid.uuid4().hex * 200
    execute(
        cdcdb,
        "ALTER TABLE items ALTER COLUMN big SET STORAGE EXTERNAL",
        f"INSERT INTO items VALUES (1, 1, '{big}')",
        "UPDATE items SET qty = 2 WHERE id = 1",
        "UPDATE items SET id = 10 WHERE id = 1",
        "INSERT INTO fulls VALUES (1, 1, 'one')",
        "UPDATE fulls SET qty = 5 WHERE id = 1",
        "DELETE FROM fulls WHERE id = 1",
        "ALTER TABLE items ADD COLUMN color text",
        "INSERT INTO items (id, qty, color) VALUES (20, 3, 'red')",
        "ALTER TABLE items DROP COLUMN big",
        "INSERT INTO items (id, qty, color) VALUES (30, 4, 'blue')",
    )
    items = Reader(broker, f"{prefix}.public.items")
    ev = items.read(7)
    ops = [(k["payload"] if k else None, v["payload"]["op"] if v else None) for k, v in ev]
    # The key change is a delete + tombstone of the old key and a create of the new one.
    assert ops == [
        ({"id": 1}, "c"),
        ({"id": 1}, "u"),
        ({"id": 1}, "d"),
        ({"id": 1}, None),
        ({"id": 10}, "c"),
        ({"id": 20}, "c"),
        ({"id": 30}, "c"),
    ], ops
    assert ev[0][1]["payload"]["after"]["big"] == big
    # The unchanged TOASTed value is not in the WAL: Debezium's placeholder.
    assert ev[1][1]["payload"]["after"]["big"] == "__debezium_unavailable_value"
    assert ev[1][1]["payload"]["after"]["qty"] == 2
    # Schema changes mid-stream: the column added, then dropped.
    fields = lambda e: [f["field"] for f in schema_field(e[1]["schema"], "after")["fields"]]  # noqa: E731
    assert fields(ev[0]) == ["id", "qty", "big"]
    assert fields(ev[5]) == ["id", "qty", "big", "color"]
    assert ev[5][1]["payload"]["after"]["color"] == "red"
    assert fields(ev[6]) == ["id", "qty", "color"]
    items.close()

    fulls = Reader(broker, f"{prefix}.public.fulls")
    ev = fulls.read(4)
    upd = ev[1][1]["payload"]
    assert upd["op"] == "u"
    assert upd["before"] == {"id": 1, "qty": 1, "note": "one"}, "REPLICA IDENTITY FULL: the whole old row"
    assert upd["after"] == {"id": 1, "qty": 5, "note": "one"}
    assert ev[2][1]["payload"]["before"] == {"id": 1, "qty": 5, "note": "one"}
    assert ev[3][1] is None
    fulls.close()


def test_kill_and_restart_resumes_without_loss(broker, cdcdb, start_worker, tmp_path):
    """kill -9 while changes stream, then a restart: every change arrives at least once, in
    order per key, and the slot's confirmed LSN moves only with committed offsets."""
    execute(cdcdb, "CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL)")
    execute(cdcdb, *[f"INSERT INTO counters VALUES ({i}, 0)" for i in range(20)])
    prefix = f"srv{uuid.uuid4().hex[:6]}"
    config = cdc_config(cdcdb, prefix, **{"max.batch.size": "50"})
    connector = write_properties(tmp_path / "cdc.properties", {"name": "cdc", **config})
    worker = start_worker(connector, extra=JSON_CONVERTERS)
    worker.rest.wait_running("cdc")
    reader = Reader(broker, f"{prefix}.public.counters")
    reader.read(20)
    slot = config["slot.name"]

    def confirmed() -> int:
        lsn = query(
            cdcdb, f"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '{slot}'"
        )
        hi, lo = lsn[0][0].split("/")
        return (int(hi, 16) << 32) + int(lo, 16)

    start_lsn = confirmed()
    rounds = 30
    done = threading.Event()

    def writer():
        for r in range(1, rounds + 1):
            execute(cdcdb, f"UPDATE counters SET n = {r}")
            time.sleep(0.05)
        done.set()

    t = threading.Thread(target=writer)
    t.start()
    time.sleep(0.6)
    worker.kill()
    t.join()
    assert done.is_set()
    worker.restart()
    worker.rest.wait_running("cdc")

    def by_key(events) -> dict[int, list[int]]:
        seen: dict[int, list[int]] = {}
        for _, v in events[20:]:
            after = v["payload"]["after"]
            seen.setdefault(after["id"], []).append(after["n"])
        return seen

    def complete(events) -> bool:
        seen = by_key(events)
        return all(set(seen.get(i, [])) >= set(range(1, rounds + 1)) for i in range(20))

    events = reader.read_until(complete, timeout=120)
    reader.close()
    seen = by_key(events)
    duplicates = len(events) - 20 - 20 * rounds
    print(f"{duplicates} events delivered twice after kill -9")
    for i in range(20):
        ns = seen.get(i, [])
        assert set(ns) == set(range(1, rounds + 1)), f"key {i}: missing {set(range(1, rounds + 1)) - set(ns)}"
        # In order per key; a replay after the restart starts again from an earlier value.
        drops = [j for j in range(1, len(ns)) if ns[j] < ns[j - 1]]
        assert len(drops) <= 1, f"key {i} out of order beyond one replay: {ns}"
    wait_until(lambda: confirmed() > start_lsn, 30, what="the slot's confirmed LSN advances")


def test_bad_input_is_a_clear_error(broker, cdcdb, start_worker):
    """Unknown or unsupported config values fail validation by name; a missing publication
    with autocreate disabled, and a table list that matches nothing under filtered, fail the
    task with the reason."""
    execute(cdcdb, "CREATE TABLE t (id int PRIMARY KEY)")
    worker = start_worker(extra=JSON_CONVERTERS)
    config = cdc_config(cdcdb, "bad", **{"plugin.name": "decoderbufs", "snapshot.mod": "initial"})
    config["name"] = "bad"
    r = worker.rest.put("/connector-plugins/PostgresCdcSource/config/validate", config)
    assert r.status_code == 200, r.text
    body = r.json()
    errors = {c["value"]["name"]: c["value"]["errors"] for c in body["configs"] if c["value"]["errors"]}
    assert set(errors) == {"plugin.name", "snapshot.mod"}, errors
    assert "pgoutput" in errors["plugin.name"][0]
    assert "snapshot.mod is not a configuration" in errors["snapshot.mod"][0]
    assert body["error_count"] == 2

    worker.create("nopub", cdc_config(cdcdb, "nopub", **{"publication.autocreate.mode": "disabled"}))
    status = worker.rest.wait_state("nopub", "FAILED")
    trace = status["tasks"][0]["trace"]
    assert "does not exist" in trace and "publication.autocreate.mode=disabled" in trace, trace

    worker.create(
        "nomatch",
        cdc_config(
            cdcdb, "nomatch", **{"publication.autocreate.mode": "filtered", "table.include.list": "x\\.y"}
        ),
    )
    trace = worker.rest.wait_state("nomatch", "FAILED")["tasks"][0]["trace"]
    assert "no table" in trace and "table.include.list" in trace, trace
    assert worker.rest.status("nopub")["connector"]["state"] == "RUNNING", "the worker stays up"


def test_snapshot_in_chunks_is_consistent_with_the_stream(broker, cdcdb, start_worker):
    """Rows written while the snapshot is read arrive exactly once: either in the snapshot
    (the slot's exported snapshot) or streamed after it, never both, never neither."""
    execute(
        cdcdb,
        "CREATE TABLE a (id int PRIMARY KEY, v text)",
        "CREATE TABLE b (id int PRIMARY KEY)",
        "CREATE TABLE skipped (id int PRIMARY KEY)",
        "INSERT INTO a SELECT g, 'v' || g FROM generate_series(1, 3000) g",
        "INSERT INTO b SELECT g FROM generate_series(1, 5) g",
        "INSERT INTO skipped VALUES (1)",
    )
    prefix = f"srv{uuid.uuid4().hex[:6]}"
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create(
        "cdc",
        cdc_config(
            cdcdb,
            prefix,
            **{
                "table.exclude.list": r"public\.skipped",
                "snapshot.fetch.size": "100",
                "max.batch.size": "70",
            },
        ),
    )
    stop = threading.Event()
    written: list[int] = []

    def writer():
        i = 3001
        while not stop.is_set() and i < 3400:
            execute(cdcdb, f"INSERT INTO a VALUES ({i}, 'late')")
            written.append(i)
            i += 1

    t = threading.Thread(target=writer)
    t.start()
    worker.rest.wait_running("cdc")
    a = Reader(broker, f"{prefix}.public.a")
    a.read(3000)
    stop.set()
    t.join()
    ids = {i for i in range(1, 3001)} | set(written)
    events = a.read_until(lambda ev: {v["payload"]["after"]["id"] for _, v in ev} >= ids, timeout=120)
    time.sleep(2)
    a.drain(2)
    got = [v["payload"]["after"]["id"] for _, v in a.events]
    assert sorted(got) == sorted(ids), "each row exactly once"
    snapshot = [v["payload"] for _, v in events if v["payload"]["op"] == "r"]
    streamed = [v["payload"] for _, v in events if v["payload"]["op"] == "c"]
    assert len(snapshot) + len(streamed) == len(ids)
    assert snapshot[0]["source"]["snapshot"] == "first"
    assert snapshot[-1]["source"]["snapshot"] == "last_in_data_collection"
    assert all(p["source"]["snapshot"] == "true" for p in snapshot[1:-1])
    a.close()
    b = Reader(broker, f"{prefix}.public.b")
    bev = [v["payload"]["source"]["snapshot"] for _, v in b.read(5)]
    assert bev == ["first_in_data_collection", "true", "true", "true", "last"]
    b.close()
    topics = broker.admin().list_topics(timeout=10).topics
    assert f"{prefix}.public.skipped" not in topics


def test_slot_is_confirmed_only_after_offsets_commit_and_heartbeats(broker, cdcdb, start_worker):
    execute(cdcdb, "CREATE TABLE t (id int PRIMARY KEY)", "CREATE TABLE other (id int PRIMARY KEY)")
    prefix = f"srv{uuid.uuid4().hex[:6]}"
    config = cdc_config(cdcdb, prefix, **{"table.include.list": r"public\.t"})
    slot = config["slot.name"]

    def confirmed() -> int:
        rows = query(
            cdcdb, f"SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = '{slot}'"
        )
        hi, lo = rows[0][0].split("/")
        return (int(hi, 16) << 32) + int(lo, 16)

    # Offsets are committed once a minute only: the slot must not move before that.
    worker = start_worker(extra={**JSON_CONVERTERS, "offset.flush.interval.ms": 60_000}, name="slow")
    worker.create("cdc", config)
    worker.rest.wait_running("cdc")
    reader = Reader(broker, f"{prefix}.public.t")
    wait_until(lambda: query(cdcdb, f"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'")
               == [(True,)], 60, what="streaming")  # fmt: skip
    start = confirmed()
    execute(cdcdb, *[f"INSERT INTO t VALUES ({i})" for i in range(10)])
    reader.read(10)
    time.sleep(3)
    assert confirmed() == start, "confirmed before the offsets were committed"
    worker.kill()
    reader.close()

    # Heartbeats: only "other" changes, yet the slot advances through heartbeat offsets.
    worker = start_worker(extra=JSON_CONVERTERS, name="beating")
    worker.create("cdc", {**config, "heartbeat.interval.ms": "200"})
    worker.rest.wait_running("cdc")
    before = confirmed()
    for i in range(20):
        execute(cdcdb, f"INSERT INTO other VALUES ({i})")
        time.sleep(0.1)
    wait_until(lambda: confirmed() > before, 30, what="the slot advances with heartbeats")
    beats = Reader(broker, f"__debezium-heartbeat.{prefix}")
    key, value = beats.read(1)[0]
    assert key["schema"]["name"] == "io.debezium.connector.common.ServerNameKey"
    assert key["payload"] == {"serverName": prefix}
    assert value["schema"]["name"] == "io.debezium.connector.common.Heartbeat"
    assert isinstance(value["payload"]["ts_ms"], int)
    beats.close()


def test_replication_postgres_to_kafka_to_postgres(broker, cdcdb, start_worker):
    """The CDC topics, unwrapped by ExtractNewRecordState, feed Conveyor's PostgreSQL sink: the
    replica follows inserts, updates and deletes (docs/postgres-cdc.md shows this set-up)."""
    execute(
        cdcdb,
        "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, price numeric(10,2), qty int)",
        "INSERT INTO items VALUES (1, 'one', 1.50, 10), (2, 'two', 2.25, 20)",
    )
    replica = f"{cdcdb}_replica"
    execute("test", f"CREATE DATABASE {replica}")
    try:
        prefix = f"srv{uuid.uuid4().hex[:6]}"
        worker = start_worker(extra=JSON_CONVERTERS)
        worker.create("cdc", cdc_config(cdcdb, prefix))
        worker.create(
            "replica",
            {
                "connector.class": "PostgresSink",
                "topics": f"{prefix}.public.items",
                "connection.url": f"jdbc:postgresql://127.0.0.1:{PG['port']}/{replica}",
                "connection.user": "postgres",
                "table.name.format": "items",
                "insert.mode": "upsert",
                "pk.mode": "record_key",
                "delete.enabled": "true",
                "auto.create": "true",
                "auto.evolve": "true",
                "transforms": "unwrap",
                "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
                "transforms.unwrap.drop.tombstones": "false",
                "transforms.unwrap.delete.handling.mode": "none",
            },
        )
        worker.rest.wait_running("cdc")
        worker.rest.wait_running("replica")

        def rows():
            try:
                return query(replica, "SELECT id, name, price::text, qty FROM items ORDER BY id")
            except psycopg.Error:
                return None

        wait_until(
            lambda: rows() == [(1, "one", "1.50", 10), (2, "two", "2.25", 20)], 60, what="the snapshot"
        )
        execute(
            cdcdb,
            "INSERT INTO items VALUES (3, 'three', 3.00, 30)",
            "UPDATE items SET qty = 11, price = 1.75 WHERE id = 1",
            "DELETE FROM items WHERE id = 2",
        )
        wait_until(
            lambda: rows() == [(1, "one", "1.75", 11), (3, "three", "3.00", 30)],
            60,
            what="the changes replicated",
        )
    finally:
        execute("test", f"DROP DATABASE IF EXISTS {replica} WITH (FORCE)")


def test_dropped_slot_fails_the_task_with_the_reason(broker, cdcdb, start_worker, tmp_path):
    execute(cdcdb, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    prefix = f"srv{uuid.uuid4().hex[:6]}"
    config = cdc_config(cdcdb, prefix)
    connector = write_properties(tmp_path / "cdc.properties", {"name": "cdc", **config})
    worker = start_worker(connector, extra=JSON_CONVERTERS)
    worker.rest.wait_running("cdc")
    reader = Reader(broker, f"{prefix}.public.t")
    reader.read(1)
    reader.close()
    wait_until(
        lambda: "lsn" in json.dumps(worker.rest.get("/connectors/cdc/offsets").json()), 30, what="offsets"
    )
    assert worker.stop() == 0
    execute(cdcdb, f"SELECT pg_drop_replication_slot('{config['slot.name']}')")
    worker.restart()
    trace = worker.rest.wait_state("cdc", "FAILED")["tasks"][0]["trace"]
    assert "does not exist" in trace and "dropped" in trace and "snapshot.mode=when_needed" in trace, trace


def test_missing_permissions_fail_the_task_with_the_reason(broker, cdcdb, start_worker):
    """A user without the privileges logical replication needs: the task fails, naming them."""
    role = f"plain_{uuid.uuid4().hex[:8]}"
    execute(cdcdb, "CREATE TABLE t (id int PRIMARY KEY)", f"CREATE ROLE {role} LOGIN")
    try:
        worker = start_worker(extra=JSON_CONVERTERS)
        # Creating a FOR ALL TABLES publication needs superuser.
        worker.create("nopriv", {**cdc_config(cdcdb, "nopriv"), "database.user": role})
        trace = worker.rest.wait_state("nopriv", "FAILED")["tasks"][0]["trace"]
        assert "publication" in trace and "superuser" in trace, trace
        # With the publication in place, the slot needs the REPLICATION attribute.
        config = {**cdc_config(cdcdb, "norepl"), "database.user": role}
        execute(cdcdb, f"CREATE PUBLICATION {config['publication.name']} FOR ALL TABLES")
        worker.create("norepl", config)
        trace = worker.rest.wait_state("norepl", "FAILED")["tasks"][0]["trace"]
        assert "REPLICATION" in trace, trace
    finally:
        try:
            execute("test", f"DROP ROLE IF EXISTS {role}")
        except psycopg.Error:
            pass  # still connected: the role goes with the test cluster


def test_wal_level_not_logical_fails_the_task_with_the_reason(broker, start_worker, tmp_path):
    """A server with ``wal_level=replica`` (a second test-owned cluster): the task fails and
    names the setting, instead of creating a slot that cannot be made."""
    from postgres import TestPostgres

    replica_pg = TestPostgres.start(tmp_path / "pg-replica", wal_level="replica")
    try:
        with psycopg.connect(
            host="127.0.0.1", port=replica_pg.port, user="postgres", dbname="test", autocommit=True
        ) as conn:
            conn.execute("CREATE TABLE t (id int PRIMARY KEY)")
            conn.execute("INSERT INTO t VALUES (1)")
        worker = start_worker(extra=JSON_CONVERTERS)
        config = {**cdc_config("test", "nowal"), "database.port": str(replica_pg.port)}
        worker.create("nowal", config)
        trace = worker.rest.wait_state("nowal", "FAILED")["tasks"][0]["trace"]
        assert "wal_level=replica" in trace and "wal_level=logical" in trace, trace
        with psycopg.connect(
            host="127.0.0.1", port=replica_pg.port, user="postgres", dbname="test", autocommit=True
        ) as conn:
            assert conn.execute("SELECT count(*) FROM pg_replication_slots").fetchone()[0] == 0
    finally:
        replica_pg.stop()


def test_slot_dropped_while_streaming_fails_the_task_with_the_reason(broker, cdcdb, start_worker):
    """The slot dropped under a running task (its walsender ended first, as PostgreSQL only
    drops an inactive slot): the task does not recreate it and stream on from the new slot's
    position, which would silently skip the changes in between; it fails with the reason."""
    execute(cdcdb, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")
    prefix = f"srv{uuid.uuid4().hex[:6]}"
    config = cdc_config(cdcdb, prefix)
    slot = config["slot.name"]
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create("cdc", config)
    reader = Reader(broker, f"{prefix}.public.t")
    reader.read(1)
    execute(cdcdb, "INSERT INTO t VALUES (2)")
    reader.read(2)
    reader.close()
    wait_until(
        lambda: (
            query(cdcdb, f"SELECT active FROM pg_replication_slots WHERE slot_name = '{slot}'") == [(True,)]
        ),
        30,
        what="the slot in use by the task",
    )

    def drop() -> bool:
        try:
            execute(
                cdcdb,
                "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots "
                f"WHERE slot_name = '{slot}' AND active",
                f"SELECT pg_drop_replication_slot('{slot}')",
            )
            return True
        except psycopg.Error:
            return False  # the walsender had not ended yet, or the task got the slot back

    wait_until(drop, 30, interval=0.05, what="the slot dropped")
    trace = worker.rest.wait_state("cdc", "FAILED")["tasks"][0]["trace"]
    assert "dropped while the connector was running" in trace and "snapshot.mode=when_needed" in trace, trace
    assert not query(cdcdb, f"SELECT 1 FROM pg_replication_slots WHERE slot_name = '{slot}'"), (
        "the task must not recreate the slot"
    )
