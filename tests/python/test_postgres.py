"""The PostgreSQL sink and source (Confluent JDBC connector compatible) end to end: Apache
Kafka, standalone workers driven over REST, and the test-owned PostgreSQL (each test gets its
own database)."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
from helpers import unique, wait_until, write_properties

psycopg = pytest.importorskip("psycopg")

# Filled in by the ``pgdb`` fixture from the test-owned PostgreSQL.
PG = {"host": "127.0.0.1", "port": 0, "user": "postgres"}

JSON_CONVERTERS = {
    "key.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "key.converter.schemas.enable": "true",
    "value.converter.schemas.enable": "true",
}

ORDER_SCHEMA = {
    "type": "struct",
    "name": "order",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int64", "optional": False},
        {"field": "item", "type": "string", "optional": True},
        {"field": "qty", "type": "int32", "optional": False},
        {"field": "seq", "type": "int64", "optional": False},
    ],
}
KEY_SCHEMA = {"type": "int64", "optional": False}


@pytest.fixture
def pgdb(postgres):
    """A database of the test's own, dropped afterwards."""
    PG["port"] = postgres.port
    name = f"conveyor_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dbname="test", autocommit=True, **PG) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield name
    with psycopg.connect(dbname="test", autocommit=True, **PG) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def query(db: str, sql: str, params=None) -> list[tuple]:
    with psycopg.connect(dbname=db, autocommit=True, **PG) as conn:
        cur = conn.execute(sql, params)
        return cur.fetchall() if cur.description else []


def execute(db: str, sql: str, params=None) -> None:
    with psycopg.connect(dbname=db, autocommit=True, **PG) as conn:
        conn.execute(sql, params)


def envelope(schema, payload) -> bytes:
    return json.dumps({"schema": schema, "payload": payload}).encode()


def order(seq: int, key: int, item: str | None = "thing", schema=ORDER_SCHEMA, **extra) -> bytes:
    return envelope(schema, {"id": key, "item": item, "qty": seq % 100, "seq": seq, **extra})


def produce(bootstrap: str, topic: str, messages) -> None:
    """Produces (key, value) pairs in order."""
    from confluent_kafka import Producer

    p = Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, "enable.idempotence": False})
    for key, value in messages:
        p.produce(topic, key=key, value=value)
        p.poll(0)
    assert p.flush(60) == 0, "produce did not complete"


def sink_config(db: str, topic: str, **overrides) -> dict:
    config = {
        "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
        "tasks.max": "1",
        "topics": topic,
        "connection.url": f"jdbc:postgresql://127.0.0.1:{PG['port']}/{db}",
        "connection.user": "postgres",
        "connection.password": "secret",
        "auto.create": "true",
    }
    config.update({k.replace("_", "."): v for k, v in overrides.items()})
    return config


def test_seed_config_upserts_the_latest_value_per_key(broker, start_worker, pgdb):
    topic = broker.create_topic("orders", partitions=3)
    seed = {
        "name": "postgres-sink",
        "config": {
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "tasks.max": "3",
            "topics": "orders",
            "connection.url": "jdbc:postgresql://localhost:5432/mydb",
            "connection.user": "postgres",
            "connection.password": "secret",
            "insert.mode": "upsert",
            "pk.mode": "record_key",
            "pk.fields": "id",
            "auto.create": "true",
        },
    }
    # The config verbatim, pointed at this test's database.
    seed["config"]["connection.url"] = seed["config"]["connection.url"].replace(
        "localhost:5432/mydb", f"localhost:{PG['port']}/{pgdb}"
    )
    worker = start_worker(extra=JSON_CONVERTERS)
    r = worker.rest.post("/connectors", seed)
    assert r.status_code == 201, r.text
    worker.rest.wait_running("postgres-sink", tasks=3)
    assert worker.rest.get("/connectors/postgres-sink/config").json()["connection.password"] == "[hidden]"

    keys = 1000
    messages = [
        (envelope(KEY_SCHEMA, seq % keys), order(seq, seq % keys, f"item-{seq}")) for seq in range(10_000)
    ]
    produce(broker.bootstrap, topic, messages)
    expected = {k: 9000 + k for k in range(keys)}
    wait_until(
        lambda: (
            query(pgdb, "SELECT count(*), COALESCE(sum(seq), 0) FROM orders")[0]
            == (keys, sum(expected.values()))
        ),
        120,
        what="one row per key with the latest value",
    )
    rows = query(pgdb, "SELECT id, seq, item FROM orders ORDER BY id")
    assert rows == [(k, s, f"item-{s}") for k, s in sorted(expected.items())]
    pk = query(
        pgdb,
        "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid "
        "AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'orders'::regclass AND i.indisprimary",
    )
    assert pk == [("id",)]
    assert worker.rest.status("postgres-sink")["tasks"][0]["state"] == "RUNNING"
    assert worker.stop() == 0


def test_insert_and_update_modes(broker, start_worker, pgdb):
    inserts, updates = broker.create_topic(unique("ins")), broker.create_topic(unique("upd"))
    execute(pgdb, "CREATE TABLE updated (id bigint PRIMARY KEY, item text, qty int, seq bigint)")
    execute(pgdb, "INSERT INTO updated SELECT i, 'old', 0, 0 FROM generate_series(0, 9) i")
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create("insert-sink", sink_config(pgdb, inserts, table_name_format="inserted"))
    worker.create(
        "update-sink",
        sink_config(
            pgdb,
            updates,
            insert_mode="update",
            pk_mode="record_key",
            pk_fields="id",
            table_name_format="updated",
            auto_create="false",
        ),
    )
    worker.rest.wait_running("insert-sink")
    worker.rest.wait_running("update-sink")
    produce(broker.bootstrap, inserts, [(None, order(i, i % 7)) for i in range(500)])
    # Keys 5..14: 10..14 have no row, so update mode leaves them out.
    produce(
        broker.bootstrap,
        updates,
        [(envelope(KEY_SCHEMA, k), order(100 + k, k, "new")) for k in range(5, 15)],
    )
    wait_until(
        lambda: query(pgdb, "SELECT count(*) FROM inserted")[0][0] == 500,
        60,
        what="500 inserted rows",
    )
    assert query(pgdb, "SELECT count(DISTINCT seq), count(DISTINCT id) FROM inserted") == [(500, 7)]
    wait_until(
        lambda: query(pgdb, "SELECT count(*) FROM updated WHERE item = 'new'")[0][0] == 5,
        60,
        what="updates",
    )
    assert query(pgdb, "SELECT id, item, seq FROM updated ORDER BY id") == (
        [(k, "old", 0) for k in range(5)] + [(k, "new", 100 + k) for k in range(5, 10)]
    )
    assert worker.stop() == 0


def test_tombstones_delete_rows(broker, start_worker, pgdb):
    topic = broker.create_topic(unique("del"))
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create(
        "delete-sink",
        sink_config(
            pgdb,
            topic,
            insert_mode="upsert",
            pk_mode="record_key",
            pk_fields="id",
            delete_enabled="true",
            table_name_format="orders",
        ),
    )
    worker.rest.wait_running("delete-sink")
    produce(broker.bootstrap, topic, [(envelope(KEY_SCHEMA, k), order(k, k)) for k in range(20)])
    wait_until(lambda: query(pgdb, "SELECT count(*) FROM orders")[0][0] == 20, 60, what="20 rows")
    produce(broker.bootstrap, topic, [(envelope(KEY_SCHEMA, k), None) for k in range(0, 20, 2)])
    wait_until(lambda: query(pgdb, "SELECT count(*) FROM orders")[0][0] == 10, 60, what="even keys deleted")
    assert [r[0] for r in query(pgdb, "SELECT id FROM orders ORDER BY id")] == list(range(1, 20, 2))
    assert worker.stop() == 0


def test_auto_create_then_auto_evolve_when_a_field_appears(broker, start_worker, pgdb):
    topic = broker.create_topic(unique("evolve"))
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create(
        "evolve-sink",
        sink_config(
            pgdb,
            topic,
            insert_mode="upsert",
            pk_mode="record_key",
            pk_fields="id",
            auto_evolve="true",
            table_name_format="orders",
        ),
    )
    worker.rest.wait_running("evolve-sink")
    produce(broker.bootstrap, topic, [(envelope(KEY_SCHEMA, k), order(k, k)) for k in range(5)])
    wait_until(lambda: query(pgdb, "SELECT count(*) FROM orders")[0][0] == 5, 60, what="first rows")
    v2 = dict(
        ORDER_SCHEMA,
        fields=[*ORDER_SCHEMA["fields"], {"field": "colour", "type": "string", "optional": True}],
    )
    produce(
        broker.bootstrap,
        topic,
        [(envelope(KEY_SCHEMA, k), order(10 + k, k, schema=v2, colour="red")) for k in range(3, 8)],
    )
    wait_until(lambda: query(pgdb, "SELECT count(*) FROM orders")[0][0] == 8, 60, what="evolved rows")
    cols = query(
        pgdb,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'orders' ORDER BY ordinal_position",
    )
    assert cols == [
        ("id", "bigint", "NO"),
        ("item", "text", "YES"),
        ("qty", "integer", "NO"),
        ("seq", "bigint", "NO"),
        ("colour", "text", "YES"),
    ]
    assert query(pgdb, "SELECT id, colour FROM orders ORDER BY id") == (
        [(k, None) for k in range(3)] + [(k, "red") for k in range(3, 8)]
    )
    assert worker.stop() == 0


def test_schemaless_json(broker, start_worker, pgdb):
    topic = broker.create_topic(unique("schemaless"))
    worker = start_worker()
    worker.create(
        "schemaless-sink",
        sink_config(
            pgdb,
            topic,
            insert_mode="upsert",
            pk_mode="record_key",
            pk_fields="id",
            auto_evolve="true",
            table_name_format="events",
            **{
                "key.converter": "org.apache.kafka.connect.json.JsonConverter",
                "key.converter.schemas.enable": "false",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "false",
            },
        ),
    )
    worker.rest.wait_running("schemaless-sink")
    produce(
        broker.bootstrap,
        topic,
        [
            (
                b"1",
                json.dumps({"name": "a", "amount": 1.5, "tags": ["x"], "active": True}).encode(),
            ),
            (b"2", json.dumps({"name": "b", "amount": 2, "tags": [], "active": False}).encode()),
            (
                b"1",
                json.dumps({"name": "a2", "amount": 3.25, "tags": ["y", "z"], "active": True}).encode(),
            ),
        ],
    )
    wait_until(
        lambda: query(pgdb, "SELECT count(*) FROM events WHERE name = 'a2'")[0][0] == 1,
        60,
        what="rows",
    )
    cols = query(
        pgdb,
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_name = 'events' ORDER BY ordinal_position",
    )
    assert cols == [
        ("id", "bigint"),
        ("active", "boolean"),
        ("amount", "double precision"),
        ("name", "text"),
        ("tags", "jsonb"),
    ]
    assert query(pgdb, "SELECT id, active, amount, name, tags FROM events ORDER BY id") == [
        (1, True, 3.25, "a2", ["y", "z"]),
        (2, False, 2.0, "b", []),
    ]
    assert worker.stop() == 0


def _backends(db: str) -> list[int]:
    return [
        r[0]
        for r in query(
            db,
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = 'conveyor'",
            (db,),
        )
    ]


def test_connection_drops_mid_stream_are_retried_without_loss(broker, start_worker, pgdb):
    topic = broker.create_topic(unique("drops"))
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create(
        "drop-sink",
        sink_config(
            pgdb,
            topic,
            insert_mode="insert",
            table_name_format="orders",
            retry_backoff_ms="200",
        ),
    )
    worker.rest.wait_running("drop-sink")
    total, chunk = 20_000, 500
    done = threading.Event()

    def feed():
        for start in range(0, total, chunk):
            produce(broker.bootstrap, topic, [(None, order(i, i)) for i in range(start, start + chunk)])
            time.sleep(0.05)
        done.set()

    feeder = threading.Thread(target=feed)
    feeder.start()
    killed: set[int] = set()
    wait_until(lambda: _backends(pgdb), 60, what="the connector's connection")
    deadline = time.time() + 120
    while (not done.is_set() or len(killed) < 3) and time.time() < deadline:
        for pid in _backends(pgdb):
            execute(pgdb, "SELECT pg_terminate_backend(%s)", (pid,))
            killed.add(pid)
        time.sleep(0.3)
    feeder.join()
    # Three different backends were killed: the connector reconnected after each kill.
    assert len(killed) >= 3
    wait_until(
        lambda: query(pgdb, "SELECT count(DISTINCT seq) FROM orders")[0][0] == total,
        120,
        what="every record written",
    )
    assert query(pgdb, "SELECT min(seq), max(seq) FROM orders") == [(0, total - 1)]
    assert worker.rest.status("drop-sink")["tasks"][0]["state"] == "RUNNING"
    assert worker.stop() == 0


def test_not_null_violation_fails_the_task_with_the_postgres_error(broker, start_worker, pgdb):
    topic = broker.create_topic(unique("notnull"))
    execute(pgdb, "CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL, qty int, seq bigint)")
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create(
        "strict-sink",
        sink_config(
            pgdb,
            topic,
            insert_mode="upsert",
            pk_mode="record_key",
            pk_fields="id",
            table_name_format="orders",
        ),
    )
    worker.rest.wait_running("strict-sink")
    produce(
        broker.bootstrap,
        topic,
        [(envelope(KEY_SCHEMA, 1), order(1, 1)), (envelope(KEY_SCHEMA, 2), order(2, 2, None))],
    )
    status = worker.rest.wait_state("strict-sink", "FAILED", timeout=60)
    trace = status["tasks"][0]["trace"]
    assert 'null value in column "item"' in trace and "violates not-null constraint" in trace, trace
    assert query(pgdb, "SELECT count(*) FROM orders") == [(0,)]


def test_not_null_violation_goes_to_the_dead_letter_queue(broker, start_worker, pgdb):
    topic, dlq = broker.create_topic(unique("notnull")), broker.create_topic(unique("dlq"))
    execute(pgdb, "CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL, qty int, seq bigint)")
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create(
        "tolerant-sink",
        sink_config(
            pgdb,
            topic,
            insert_mode="upsert",
            pk_mode="record_key",
            pk_fields="id",
            table_name_format="orders",
            **{
                "errors.tolerance": "all",
                "errors.deadletterqueue.topic.name": dlq,
                "errors.deadletterqueue.topic.replication.factor": "1",
            },
        ),
    )
    worker.rest.wait_running("tolerant-sink")
    produce(
        broker.bootstrap,
        topic,
        [(envelope(KEY_SCHEMA, k), order(k, k, None if k == 2 else "ok")) for k in (1, 2, 3)],
    )

    def settled():
        failed = worker.rest.status("tolerant-sink")["tasks"][0]["state"] == "FAILED"
        return failed or query(pgdb, "SELECT id FROM orders ORDER BY id") == [(1,), (3,)]

    wait_until(settled, 60, what="the good records written or the task failed")
    assert query(pgdb, "SELECT id FROM orders ORDER BY id") == [(1,), (3,)]
    dead = broker.consume(dlq, 1, timeout=30)
    assert len(dead) == 1 and json.loads(dead[0].value())["payload"]["id"] == 2
    assert worker.rest.status("tolerant-sink")["tasks"][0]["state"] == "RUNNING"


def test_tls_verify_full_with_a_client_certificate_and_a_wrong_ca(
    tmp_path, broker, start_worker, pgdb, postgres
):
    """The sink writes over TLS with sslmode=verify-full, logging in as ``certuser`` with its
    client certificate (key encrypted, password as a hidden config); a CA that did not sign
    the server's certificate fails the task with a trace naming the host, the cause and the
    setting."""
    from certs import CertificateAuthority
    from cryptography.hazmat.primitives import serialization

    certs = postgres.ca.parent
    key = serialization.load_pem_private_key((certs / "certuser.key.pem").read_bytes(), None)
    encrypted_key = tmp_path / "certuser.key.encrypted.pem"
    encrypted_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"key-secret"),
        )
    )
    topic = broker.create_topic(unique("tls"))
    url = f"jdbc:postgresql://localhost:{PG['port']}/{pgdb}?sslmode=verify-full&sslrootcert={postgres.ca}"
    config = sink_config(
        pgdb,
        topic,
        connection_url=url,
        insert_mode="upsert",
        pk_mode="record_key",
        pk_fields="id",
        table_name_format="orders",
    )
    config.update(
        {
            "connection.user": "certuser",
            "connection.sslcert": str(certs / "certuser.cert.pem"),
            "connection.sslkey": str(encrypted_key),
            "connection.sslpassword": "key-secret",
        }
    )
    worker = start_worker(extra=JSON_CONVERTERS)
    worker.create("tls-sink", config)
    worker.rest.wait_running("tls-sink")
    assert worker.rest.get("/connectors/tls-sink/config").json()["connection.sslpassword"] == "[hidden]"
    produce(broker.bootstrap, topic, [(envelope(KEY_SCHEMA, k), order(k, k)) for k in range(1, 4)])
    wait_until(lambda: query(pgdb, "SELECT count(*) FROM orders") == [(3,)], 60, what="3 rows over TLS")
    sessions = query(
        pgdb,
        "SELECT bool_and(s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) "
        "WHERE a.datname = %s AND a.application_name = 'conveyor' AND a.usename = 'certuser'",
        (pgdb,),
    )
    assert sessions[0][0] is True and sessions[0][1] >= 1, sessions

    other = CertificateAuthority(tmp_path / "other-ca", name="Another CA")
    worker.create(
        "wrong-ca-sink",
        sink_config(pgdb, topic, connection_url=url.replace(str(postgres.ca), str(other.cert))),
    )
    status = worker.rest.wait_state("wrong-ca-sink", "FAILED", timeout=60)
    trace = status["tasks"][0]["trace"]
    assert "the TLS certificate of the server at localhost failed verification" in trace, trace
    reasons = ("unable to get local issuer certificate", "self-signed certificate in certificate chain")
    assert any(reason in trace for reason in reasons), trace
    assert f"sslrootcert={other.cert} in connection.url" in trace, trace
    assert worker.rest.status("tls-sink")["tasks"][0]["state"] == "RUNNING"


def test_other_databases_are_rejected_naming_connection_url(start_worker):
    worker = start_worker()
    r = worker.rest.put(
        "/connector-plugins/JdbcSinkConnector/config/validate",
        {
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "topics": "t",
            "connection.url": "jdbc:mysql://localhost:3306/db",
        },
    )
    assert r.status_code == 200, r.text
    errors = {c["value"]["name"]: c["value"]["errors"] for c in r.json()["configs"]}
    assert any("not supported" in e and "connection.url" in e for e in errors["connection.url"]), errors
    r = worker.rest.post(
        "/connectors",
        {
            "name": "mysql",
            "config": {
                "connector.class": "PostgresSink",
                "topics": "t",
                "connection.url": "jdbc:mysql://localhost/db",
            },
        },
    )
    assert r.status_code == 400 and "connection.url" in r.text, r.text


# ---- source ----


def source_properties(tmp_path, db: str, name: str, **config):
    props = {
        "name": name,
        "connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "tasks.max": "2",
        "connection.url": f"jdbc:postgresql://127.0.0.1:{PG['port']}/{db}",
        "connection.user": "postgres",
        "connection.password": "secret",
        "poll.interval.ms": "200",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "false",
    }
    props.update({k.replace("_", "."): v for k, v in config.items()})
    return write_properties(tmp_path / f"{name}.properties", props)


def payloads(broker, topic: str, count: int, timeout: float = 60) -> list[dict]:
    deadline = time.time() + timeout
    out: list = []
    while time.time() < deadline:
        out = broker.consume(topic, count, timeout=max(1.0, deadline - time.time()))
        if len(out) >= count:
            break
    return [json.loads(m.value()) for m in out]


@pytest.mark.parametrize("mode", ["incrementing", "timestamp", "timestamp+incrementing", "bulk"])
def test_source_modes(tmp_path, broker, start_worker, pgdb, mode):
    prefix = unique("pg") + "-"
    broker.create_topic(prefix + "items")
    execute(
        pgdb,
        "CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(8,2), "
        "updated timestamptz NOT NULL DEFAULT now())",
    )
    execute(
        pgdb,
        "INSERT INTO items (name, price, updated) SELECT 'n' || i, i * 0.5, "
        "TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL '1 second' "
        "FROM generate_series(1, 300) i",
    )
    extra = {
        "mode": mode,
        "topic_prefix": prefix,
        "table_whitelist": "items",
        "batch_max_rows": "50",
    }
    if "timestamp" in mode:
        extra["timestamp_column_name"] = "updated"
    if mode == "timestamp+incrementing":
        extra["incrementing_column_name"] = "id"
    worker = start_worker(
        source_properties(tmp_path, pgdb, "src", **extra),
        extra={
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        },
    )
    worker.rest.wait_running("src")
    rows = payloads(broker, prefix + "items", 300)
    assert [r["id"] for r in rows[:300]] == list(range(1, 301))
    assert rows[0]["name"] == "n1"
    if mode == "bulk":
        # The whole table again at the next poll.
        again = payloads(broker, prefix + "items", 600)
        assert [r["id"] for r in again[300:600]] == list(range(1, 301))
        assert worker.stop() == 0
        return
    execute(pgdb, "INSERT INTO items (name) SELECT 'late' || i FROM generate_series(1, 5) i")
    if "timestamp" in mode:
        execute(pgdb, "UPDATE items SET name = 'changed', updated = now() WHERE id = 7")
    expected = list(range(1, 306)) + ([7] if "timestamp" in mode else [])
    rows = payloads(broker, prefix + "items", len(expected))
    ids = [r["id"] for r in rows]
    assert sorted(ids[300:]) == sorted(expected[300:]), ids[300:]
    assert len(ids) == len(expected)
    assert worker.stop() == 0


@pytest.mark.parametrize("mode", ["incrementing", "timestamp+incrementing"])
def test_source_resumes_after_restart_without_gaps_or_repeats(tmp_path, broker, start_worker, pgdb, mode):
    prefix = unique("resume") + "-"
    broker.create_topic(prefix + "events")
    execute(
        pgdb,
        "CREATE TABLE events (id bigserial PRIMARY KEY, body text, "
        "at timestamptz NOT NULL DEFAULT clock_timestamp())",
    )
    execute(pgdb, "INSERT INTO events (body) SELECT 'e' || i FROM generate_series(1, 2000) i")
    extra = {
        "mode": mode,
        "topic_prefix": prefix,
        "incrementing_column_name": "id",
        "batch_max_rows": "100",
    }
    if mode != "incrementing":
        extra["timestamp_column_name"] = "at"
    props = source_properties(tmp_path, pgdb, "resume-src", **extra)
    worker = start_worker(props, extra={"value.converter": "org.apache.kafka.connect.json.JsonConverter"})
    worker.rest.wait_running("resume-src")
    wait_until(
        lambda: len(broker.consume(prefix + "events", 2000, timeout=5)) >= 2000,
        90,
        what="first rows",
    )
    # Stop once the offset of the last row is committed (the runtime currently drops offsets
    # acknowledged during shutdown; see the report).
    offsets = tmp_path / "worker.offsets"
    wait_until(
        lambda: offsets.exists() and '\\"incrementing\\":2000' in offsets.read_text(),
        30,
        what="the offset of row 2000 committed",
    )
    assert worker.stop() == 0
    execute(pgdb, "INSERT INTO events (body) SELECT 'more' || i FROM generate_series(1, 1000) i")
    worker = worker.restart()
    try:
        worker.rest.wait_running("resume-src")
        payloads(broker, prefix + "events", 3000, timeout=90)
        time.sleep(1.5)  # anything repeated would arrive within a few polls
        rows = payloads(broker, prefix + "events", 3001, timeout=3)
        ids = [r["id"] for r in rows]
        assert ids == list(range(1, 3001))
        assert worker.stop() == 0
    finally:
        worker.kill()


def test_avro_values_through_the_schema_registry_get_typed_columns(broker, start_worker, pgdb):
    """Records written by confluent-kafka's AvroSerializer against the registry a worker serves
    (``schema.registry.listeners``) land in typed columns, decimals and timestamps included."""
    from datetime import datetime, timezone
    from decimal import Decimal

    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext
    from helpers import free_port

    schema = {
        "type": "record",
        "name": "Payment",
        "namespace": "com.example",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "payer", "type": "string"},
            {
                "name": "amount",
                "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2},
            },
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
            {"name": "score", "type": ["null", "double"], "default": None},
            {"name": "settled", "type": "boolean"},
        ],
    }
    registry_url = f"http://127.0.0.1:{free_port()}"
    topic = broker.create_topic(unique("avro-payments"))
    worker = start_worker(
        extra={
            "schema.registry.listeners": registry_url,
            "schema.registry.kafkastore.topic": unique("_schemas"),
            "schema.registry.kafkastore.topic.replication.factor": 1,
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": registry_url,
        }
    )
    worker.create("pay-sink", sink_config(pgdb, topic, table_name_format="payments"))
    worker.rest.wait_running("pay-sink")
    serializer = AvroSerializer(SchemaRegistryClient({"url": registry_url}), json.dumps(schema))
    ctx = SerializationContext(topic, MessageField.VALUE)
    at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    rows = [
        {"id": 1, "payer": "ann", "amount": Decimal("1234.56"), "at": at, "score": 0.5, "settled": True},
        {"id": 2, "payer": "bob", "amount": Decimal("-0.01"), "at": at, "score": None, "settled": False},
    ]
    produce(broker.bootstrap, topic, [(None, serializer(r, ctx)) for r in rows])
    wait_until(lambda: query(pgdb, "SELECT count(*) FROM payments")[0][0] == 2, 60, what="the payments")
    cols = query(
        pgdb,
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = 'payments' ORDER BY ordinal_position",
    )
    assert cols == [
        ("id", "bigint", "NO"),
        ("payer", "text", "NO"),
        ("amount", "numeric", "NO"),
        ("at", "timestamp without time zone", "NO"),
        ("score", "double precision", "YES"),
        ("settled", "boolean", "NO"),
    ]
    assert query(pgdb, "SELECT id, payer, amount, at, score, settled FROM payments ORDER BY id") == [
        (1, "ann", Decimal("1234.56"), at.replace(tzinfo=None), 0.5, True),
        (2, "bob", Decimal("-0.01"), at.replace(tzinfo=None), None, False),
    ]
