//! Tests against the test-owned PostgreSQL that `scripts/test.sh` starts (its port in
//! `CONVEYOR_TEST_PG_PORT`, user postgres, trust auth); without it they are skipped. Each test
//! creates its own database and drops it, even when it fails.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use serde_json::json;
use tokio_postgres::NoTls;

use crate::config::ConfigMap;
use crate::data::{
    decimal, logical_schemas, Headers, KafkaPosition, OffsetMap, Origin, Record, Schema,
    SchemaBuilder, SchemaRef, Struct, TimestampType, TopicPartition, Value,
};
use crate::errors::{ConnectError, Result};
use crate::plugin::{
    Connector, ConnectorContext, ErrantRecordReporter, OffsetReader, SinkContextState, SinkTask,
    SinkTaskContext, SourceTask, SourceTaskContext, TaskId,
};

use super::{PostgresSinkTask, PostgresSourceConnector, PostgresSourceTask};

/// The test-owned PostgreSQL's port, or None (the test is skipped) when none was started.
fn pg_port() -> Option<u16> {
    match std::env::var("CONVEYOR_TEST_PG_PORT") {
        Ok(port) => Some(
            port.parse()
                .expect("CONVEYOR_TEST_PG_PORT is a port number"),
        ),
        Err(_) => {
            eprintln!(
                "skipped: no test PostgreSQL (CONVEYOR_TEST_PG_PORT; scripts/test.sh sets it)"
            );
            None
        }
    }
}

fn conninfo(port: u16, dbname: &str) -> String {
    format!("host=127.0.0.1 port={port} user=postgres dbname={dbname}")
}

/// A database of its own for one test, dropped when the test ends.
struct TestDb {
    name: String,
    port: u16,
    client: tokio_postgres::Client,
}

impl TestDb {
    async fn new() -> Option<TestDb> {
        let port = pg_port()?;
        let name = format!("conveyor_pg_{:016x}", rand::random::<u64>());
        let admin = connect(&conninfo(port, "test")).await;
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create the test database");
        let client = connect(&conninfo(port, &name)).await;
        Some(TestDb { name, port, client })
    }

    fn url(&self) -> String {
        format!("jdbc:postgresql://127.0.0.1:{}/{}", self.port, self.name)
    }

    async fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.client
            .simple_query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .into_iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    Some((0..r.len()).map(|i| r.get(i).map(String::from)).collect())
                }
                _ => None,
            })
            .collect()
    }

    async fn exec(&self, sql: &str) {
        self.client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin_url = conninfo(self.port, "test");
        // Drop cannot await: drop the database from a thread with its own runtime.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let admin = connect(&admin_url).await;
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

async fn connect(conninfo: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(conninfo, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to the test PostgreSQL ({conninfo}): {e}"));
    tokio::spawn(conn);
    client
}

fn config(db: &TestDb, pairs: &[(&str, &str)]) -> ConfigMap {
    let mut c: ConfigMap = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    c.insert("connection.url".into(), db.url());
    c.insert("connection.user".into(), "postgres".into());
    c.insert("connection.password".into(), "secret".into());
    c
}

#[derive(Default)]
struct CollectingReporter(Mutex<Vec<(i64, String)>>);

impl ErrantRecordReporter for CollectingReporter {
    fn report(&self, record: &Record, error: &ConnectError) -> Result<()> {
        self.0
            .lock()
            .push((record.kafka_offset().unwrap_or(-1), error.to_string()));
        Ok(())
    }
}

async fn sink(
    config: ConfigMap,
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
) -> (PostgresSinkTask, Arc<Mutex<SinkContextState>>) {
    let state = Arc::new(Mutex::new(SinkContextState::default()));
    let ctx = SinkTaskContext::new(TaskId::new("pg-sink", 0), state.clone(), reporter);
    let mut task = PostgresSinkTask::default();
    task.start(config, ctx).await.expect("sink task starts");
    (task, state)
}

fn sink_record(
    topic: &str,
    offset: i64,
    key: (Option<SchemaRef>, Value),
    value: (Option<SchemaRef>, Value),
) -> Record {
    Record {
        topic: topic.into(),
        kafka_partition: Some(0),
        key_schema: key.0,
        key: key.1,
        value_schema: value.0,
        value: value.1,
        timestamp: Some(1_700_000_000_000),
        headers: Headers::new(),
        origin: Origin::Sink(KafkaPosition {
            offset,
            timestamp_type: TimestampType::CreateTime,
            original_topic: topic.into(),
            original_partition: 0,
            original_offset: offset,
        }),
    }
}

fn order_schema() -> SchemaRef {
    SchemaBuilder::struct_()
        .name("order")
        .field("id", Schema::int64())
        .field("item", Schema::optional_string())
        .field("qty", Schema::int32())
        .build()
}

fn order(id: i64, item: Option<&str>, qty: i32) -> (Option<SchemaRef>, Value) {
    let schema = order_schema();
    let mut s = Struct::new(schema.clone());
    s.put("id", Value::Int64(id)).unwrap();
    s.put("item", item.map(Value::from).unwrap_or_default())
        .unwrap();
    s.put("qty", Value::Int32(qty)).unwrap();
    (Some(schema), Value::Struct(s))
}

fn int_key(id: i64) -> (Option<SchemaRef>, Value) {
    (Some(Schema::int64()), Value::Int64(id))
}

async fn flush(task: &mut PostgresSinkTask) -> Result<()> {
    task.flush(&HashMap::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upsert_keeps_the_last_value_per_key_and_creates_the_table() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (mut task, _) = sink(
        config(
            &db,
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "record_key"),
                ("pk.fields", "id"),
                ("auto.create", "true"),
            ],
        ),
        None,
    )
    .await;
    let mut offset = 0;
    for round in 0..3 {
        let batch: Vec<Record> = (0..100)
            .map(|i| {
                offset += 1;
                let id = i % 10;
                sink_record(
                    "orders",
                    offset,
                    int_key(id),
                    order(id, Some(&format!("item-{round}-{i}")), i as i32),
                )
            })
            .collect();
        task.put(batch).await.unwrap();
    }
    flush(&mut task).await.unwrap();
    let rows = db
        .rows("SELECT id, item, qty FROM orders ORDER BY id")
        .await;
    assert_eq!(rows.len(), 10);
    for (id, row) in rows.iter().enumerate() {
        let last = 90 + id;
        assert_eq!(row[0].as_deref(), Some(id.to_string().as_str()));
        assert_eq!(row[1].as_deref(), Some(format!("item-2-{last}").as_str()));
        assert_eq!(row[2].as_deref(), Some(last.to_string().as_str()));
    }
    let pk = db
        .rows("SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) WHERE i.indrelid = 'orders'::regclass AND i.indisprimary")
        .await;
    assert_eq!(pk, vec![vec![Some("id".to_string())]]);
    let nullable = db
        .rows("SELECT column_name, is_nullable, data_type FROM information_schema.columns WHERE table_name = 'orders' ORDER BY ordinal_position")
        .await;
    assert_eq!(
        nullable,
        vec![
            vec![Some("id".into()), Some("NO".into()), Some("bigint".into())],
            vec![Some("item".into()), Some("YES".into()), Some("text".into())],
            vec![
                Some("qty".into()),
                Some("NO".into()),
                Some("integer".into())
            ],
        ]
    );
    task.stop().await.unwrap();
}

fn all_types_schema() -> SchemaRef {
    SchemaBuilder::struct_()
        .field("i8", Schema::int8())
        .field("i16", Schema::int16())
        .field("i32", Schema::int32())
        .field("i64", Schema::int64())
        .field("f32", Schema::float32())
        .field("f64", Schema::float64())
        .field("flag", Schema::boolean())
        .field("text", Schema::string())
        .field("raw", Schema::bytes())
        .field("price", logical_schemas::decimal(2).build())
        .field("day", logical_schemas::date().build())
        .field("at", logical_schemas::time().build())
        .field("ts", logical_schemas::timestamp().build())
        .field("tags", SchemaBuilder::array(Schema::string()).build())
        .field(
            "attrs",
            SchemaBuilder::map(Schema::string(), Schema::int32()).build(),
        )
        .field("missing", Schema::optional_string())
        .build()
}

fn all_types_value(n: i64) -> (Option<SchemaRef>, Value) {
    let schema = all_types_schema();
    let mut s = Struct::new(schema.clone());
    s.put("i8", Value::Int8(-8)).unwrap();
    s.put("i16", Value::Int16(1600)).unwrap();
    s.put("i32", Value::Int32(32_000 + n as i32)).unwrap();
    s.put("i64", Value::Int64(6_400_000_000 + n)).unwrap();
    s.put("f32", Value::Float32(1.5)).unwrap();
    s.put("f64", Value::Float64(-2.25)).unwrap();
    s.put("flag", Value::Boolean(n % 2 == 0)).unwrap();
    s.put("text", Value::String(format!("héllo \"{n}\"")))
        .unwrap();
    s.put("raw", Value::Bytes(vec![0, 1, 255])).unwrap();
    s.put(
        "price",
        Value::Bytes(decimal::to_bytes(-123_456 - n as i128)),
    )
    .unwrap();
    s.put("day", Value::Int32(19_723)).unwrap(); // 2024-01-01
    s.put("at", Value::Int32(45_296_789)).unwrap(); // 12:34:56.789
    s.put("ts", Value::Int64(1_704_112_496_789)).unwrap(); // 2024-01-01T12:34:56.789Z
    s.put(
        "tags",
        Value::Array(vec!["a,b".into(), Value::String("c\"d".into())]),
    )
    .unwrap();
    s.put(
        "attrs",
        Value::Map(vec![(Value::String("k".into()), Value::Int32(1))]),
    )
    .unwrap();
    (Some(schema), Value::Struct(s))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_connect_type_round_trips_in_insert_mode() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (mut task, _) = sink(
        config(
            &db,
            &[
                ("auto.create", "true"),
                ("table.name.format", "kafka_${topic}"),
            ],
        ),
        None,
    )
    .await;
    let records: Vec<Record> = (0..3)
        .map(|n| sink_record("types", n, (None, Value::Null), all_types_value(n)))
        .collect();
    task.put(records).await.unwrap();
    flush(&mut task).await.unwrap();
    let types = db
        .rows("SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = 'kafka_types'")
        .await;
    assert_eq!(
        types[0][0].as_deref(),
        Some("i8 smallint, i16 smallint, i32 integer, i64 bigint, f32 real, f64 double precision, flag boolean, text text, raw bytea, price numeric, day date, at time without time zone, ts timestamp without time zone, tags ARRAY, attrs jsonb, missing text")
    );
    let rows = db
        .rows("SELECT i8, i16, i32, i64, f32, f64, flag, text, raw, price, day, at, ts, tags, attrs, missing FROM kafka_types ORDER BY i32")
        .await;
    assert_eq!(rows.len(), 3);
    let expected: Vec<Option<String>> = [
        Some("-8"),
        Some("1600"),
        Some("32001"),
        Some("6400000001"),
        Some("1.5"),
        Some("-2.25"),
        Some("f"),
        Some("héllo \"1\""),
        Some("\\x0001ff"),
        Some("-1234.57"),
        Some("2024-01-01"),
        Some("12:34:56.789"),
        Some("2024-01-01 12:34:56.789"),
        Some("{\"a,b\",\"c\\\"d\"}"),
        Some("{\"k\": 1}"),
        None,
    ]
    .into_iter()
    .map(|s| s.map(String::from))
    .collect();
    assert_eq!(rows[1], expected);
    task.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn existing_columns_of_other_types_are_written_through_casts() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    db.exec("CREATE TABLE t (id int4 PRIMARY KEY, price numeric(10,2), ref uuid, note varchar(20), ts timestamptz, d timestamp, n int2)").await;
    let schema = SchemaBuilder::struct_()
        .field("id", Schema::int64())
        .field("price", Schema::float64())
        .field("ref", Schema::string())
        .field("note", Schema::string())
        .field("ts", logical_schemas::timestamp().build())
        .field("d", logical_schemas::date().build())
        .field("n", Schema::int64())
        .build();
    let mut s = Struct::new(schema.clone());
    s.put("id", Value::Int64(7)).unwrap();
    s.put("price", Value::Float64(12.345)).unwrap();
    s.put("ref", "123e4567-e89b-12d3-a456-426614174000".into())
        .unwrap();
    s.put("note", "short".into()).unwrap();
    s.put("ts", Value::Int64(0)).unwrap();
    s.put("d", Value::Int32(1)).unwrap();
    s.put("n", Value::Int64(5)).unwrap();
    for mode in ["insert", "upsert"] {
        db.exec("TRUNCATE t").await;
        let (mut task, _) = sink(
            config(
                &db,
                &[
                    ("insert.mode", mode),
                    ("pk.mode", "record_value"),
                    ("pk.fields", "id"),
                    ("table.name.format", "t"),
                    ("db.timezone", "Europe/Paris"),
                ],
            ),
            None,
        )
        .await;
        task.put(vec![sink_record(
            "x",
            1,
            (None, Value::Null),
            (Some(schema.clone()), Value::Struct(s.clone())),
        )])
        .await
        .unwrap();
        flush(&mut task).await.unwrap();
        task.stop().await.unwrap();
        let rows = db
            .rows("SET TIME ZONE 'UTC'; SELECT id, price, ref, note, ts, d, n FROM t")
            .await;
        assert_eq!(
            rows,
            vec![vec![
                Some("7".into()),
                Some("12.35".into()),
                Some("123e4567-e89b-12d3-a456-426614174000".into()),
                Some("short".into()),
                Some("1970-01-01 00:00:00+00".into()),
                // A date into a TIMESTAMP column is midnight; db.timezone does not shift it.
                Some("1970-01-02 00:00:00".into()),
                Some("5".into()),
            ]],
            "insert.mode={mode}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamps_in_columns_without_zone_are_wall_clock_in_db_timezone() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (mut task, _) = sink(
        config(
            &db,
            &[("auto.create", "true"), ("db.timezone", "America/New_York")],
        ),
        None,
    )
    .await;
    let schema = SchemaBuilder::struct_()
        .field("ts", logical_schemas::timestamp().build())
        .build();
    let mut s = Struct::new(schema.clone());
    s.put("ts", Value::Int64(1_704_067_200_000)).unwrap(); // 2024-01-01T00:00:00Z
    task.put(vec![sink_record(
        "tz",
        0,
        (None, Value::Null),
        (Some(schema), Value::Struct(s)),
    )])
    .await
    .unwrap();
    flush(&mut task).await.unwrap();
    assert_eq!(
        db.rows("SELECT ts FROM tz").await,
        vec![vec![Some("2023-12-31 19:00:00".into())]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_mode_changes_existing_rows_only() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    db.exec("CREATE TABLE orders (id bigint PRIMARY KEY, item text, qty int)")
        .await;
    db.exec("INSERT INTO orders VALUES (1, 'a', 1), (2, 'b', 2)")
        .await;
    let (mut task, _) = sink(
        config(
            &db,
            &[
                ("insert.mode", "update"),
                ("pk.mode", "record_key"),
                ("pk.fields", "id"),
            ],
        ),
        None,
    )
    .await;
    task.put(vec![
        sink_record("orders", 0, int_key(1), order(1, Some("a2"), 10)),
        sink_record("orders", 1, int_key(3), order(3, Some("c"), 3)),
        sink_record("orders", 2, int_key(1), order(1, Some("a3"), 11)),
    ])
    .await
    .unwrap();
    flush(&mut task).await.unwrap();
    assert_eq!(
        db.rows("SELECT id, item, qty FROM orders ORDER BY id")
            .await,
        vec![
            vec![Some("1".into()), Some("a3".into()), Some("11".into())],
            vec![Some("2".into()), Some("b".into()), Some("2".into())],
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tombstones_delete_in_record_order() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    for mode in ["insert", "upsert"] {
        db.exec("DROP TABLE IF EXISTS orders").await;
        let (mut task, _) = sink(
            config(
                &db,
                &[
                    ("insert.mode", mode),
                    ("pk.mode", "record_key"),
                    ("pk.fields", "id"),
                    ("delete.enabled", "true"),
                    ("auto.create", "true"),
                ],
            ),
            None,
        )
        .await;
        task.put(vec![
            sink_record("orders", 0, int_key(1), order(1, Some("a"), 1)),
            sink_record("orders", 1, int_key(2), order(2, Some("b"), 2)),
            sink_record("orders", 2, int_key(3), order(3, Some("c"), 3)),
        ])
        .await
        .unwrap();
        flush(&mut task).await.unwrap();
        task.put(vec![
            // Deleted then written again: the row comes back with the new value.
            sink_record("orders", 3, int_key(1), (None, Value::Null)),
            sink_record("orders", 4, int_key(1), order(1, Some("a2"), 10)),
            // Written then deleted: gone.
            sink_record("orders", 5, int_key(4), order(4, Some("d"), 4)),
            sink_record("orders", 6, int_key(4), (None, Value::Null)),
            sink_record("orders", 7, int_key(2), (None, Value::Null)),
            // A key that never existed.
            sink_record("orders", 8, int_key(99), (None, Value::Null)),
        ])
        .await
        .unwrap();
        flush(&mut task).await.unwrap();
        assert_eq!(
            db.rows("SELECT id, item FROM orders ORDER BY id").await,
            vec![
                vec![Some("1".into()), Some("a2".into())],
                vec![Some("3".into()), Some("c".into())],
            ],
            "insert.mode={mode}"
        );
        task.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_evolve_adds_nullable_columns_and_is_required_for_new_fields() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let v2 = SchemaBuilder::struct_()
        .field("id", Schema::int64())
        .field("item", Schema::optional_string())
        .field("qty", Schema::int32())
        .field("colour", Schema::string())
        .build();
    let record_v2 = |offset: i64| {
        let mut s = Struct::new(v2.clone());
        s.put("id", Value::Int64(2)).unwrap();
        s.put("qty", Value::Int32(2)).unwrap();
        s.put("colour", "red".into()).unwrap();
        sink_record(
            "orders",
            offset,
            int_key(2),
            (Some(v2.clone()), Value::Struct(s)),
        )
    };
    let base = [
        ("insert.mode", "upsert"),
        ("pk.mode", "record_key"),
        ("pk.fields", "id"),
        ("auto.create", "true"),
    ];

    let (mut task, _) = sink(config(&db, &base), None).await;
    task.put(vec![sink_record(
        "orders",
        0,
        int_key(1),
        order(1, Some("a"), 1),
    )])
    .await
    .unwrap();
    flush(&mut task).await.unwrap();
    task.put(vec![record_v2(1)]).await.unwrap();
    let err = flush(&mut task).await.unwrap_err().to_string();
    assert!(
        err.contains("missing fields (colour)") && err.contains("auto-evolution is disabled"),
        "{err}"
    );

    let mut evolving = base.to_vec();
    evolving.push(("auto.evolve", "true"));
    let (mut task, _) = sink(config(&db, &evolving), None).await;
    task.put(vec![record_v2(1)]).await.unwrap();
    flush(&mut task).await.unwrap();
    assert_eq!(
        db.rows("SELECT id, item, qty, colour FROM orders ORDER BY id")
            .await,
        vec![
            vec![Some("1".into()), Some("a".into()), Some("1".into()), None],
            vec![Some("2".into()), None, Some("2".into()), Some("red".into())],
        ]
    );
    assert_eq!(
        db.rows("SELECT is_nullable FROM information_schema.columns WHERE table_name = 'orders' AND column_name = 'colour'").await,
        vec![vec![Some("YES".into())]]
    );
}

fn json_map(v: serde_json::Value) -> Value {
    crate::convert::json::schemaless_to_connect(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemaless_maps_infer_types_and_follow_existing_columns() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    db.exec("CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz, amount numeric(12,3), payload jsonb, label text)").await;
    let (mut task, _) = sink(
        config(
            &db,
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "record_key"),
                ("pk.fields", "id"),
                ("auto.evolve", "true"),
            ],
        ),
        None,
    )
    .await;
    task.put(vec![
        sink_record(
            "events",
            0,
            (None, Value::Int64(1)),
            (None, json_map(json!({"at": 1_700_000_000_000i64, "amount": 1.5, "payload": {"a": [1, 2]}, "label": "x", "count": 3, "ratio": 0.5, "ok": true}))),
        ),
    ])
    .await
    .unwrap();
    // Another batch: the same fields with other JSON types (within a batch a field keeps
    // one type).
    flush(&mut task).await.unwrap();
    task.put(vec![
        sink_record(
            "events",
            1,
            (None, Value::Int64(2)),
            (None, json_map(json!({"at": "2024-01-01T00:00:00Z", "amount": 2, "count": 4, "ratio": 1, "ok": false, "nothing": null}))),
        ),
    ])
    .await
    .unwrap();
    flush(&mut task).await.unwrap();
    assert_eq!(
        db.rows("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'events' AND ordinal_position > 5 ORDER BY ordinal_position").await,
        vec![
            vec![Some("count".into()), Some("bigint".into())],
            vec![Some("ok".into()), Some("boolean".into())],
            vec![Some("ratio".into()), Some("double precision".into())],
        ]
    );
    assert_eq!(
        db.rows("SET TIME ZONE 'UTC'; SELECT id, at, amount, payload, label, count, ok, ratio FROM events ORDER BY id").await,
        vec![
            vec![Some("1".into()), Some("2023-11-14 22:13:20+00".into()), Some("1.500".into()), Some("{\"a\": [1, 2]}".into()), Some("x".into()), Some("3".into()), Some("t".into()), Some("0.5".into())],
            vec![Some("2".into()), Some("2024-01-01 00:00:00+00".into()), Some("2.000".into()), None, None, Some("4".into()), Some("f".into()), Some("1".into())],
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_null_violation_is_reported_and_the_rest_written() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    db.exec("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL, qty int)")
        .await;
    let reporter = Arc::new(CollectingReporter::default());
    let (mut task, _) = sink(
        config(
            &db,
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "record_key"),
                ("pk.fields", "id"),
            ],
        ),
        Some(reporter.clone()),
    )
    .await;
    task.put(vec![
        sink_record("orders", 10, int_key(1), order(1, Some("a"), 1)),
        sink_record("orders", 11, int_key(2), order(2, None, 2)),
        sink_record("orders", 12, int_key(3), order(3, Some("c"), 3)),
    ])
    .await
    .unwrap();
    flush(&mut task).await.unwrap();
    assert_eq!(
        db.rows("SELECT id FROM orders ORDER BY id").await,
        vec![vec![Some("1".into())], vec![Some("3".into())]]
    );
    let reported = reporter.0.lock().clone();
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0].0, 11);
    assert!(
        reported[0].1.contains("violates not-null constraint"),
        "{reported:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_not_null_violation_without_a_reporter_fails_with_the_postgres_error() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    db.exec("CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL, qty int)")
        .await;
    let (mut task, _) = sink(
        config(
            &db,
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "record_key"),
                ("pk.fields", "id"),
            ],
        ),
        None,
    )
    .await;
    task.put(vec![
        sink_record("orders", 10, int_key(1), order(1, Some("a"), 1)),
        sink_record("orders", 11, int_key(2), order(2, None, 2)),
    ])
    .await
    .unwrap();
    let err = flush(&mut task).await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ConnectError::Data(_)), "{err:?}");
    assert!(
        text.contains("null value in column \"item\"")
            && text.contains("violates not-null constraint")
            && text.contains("offset 11"),
        "{text}"
    );
    // Nothing of the failed batch was committed, and the task stays failed.
    assert!(db.rows("SELECT id FROM orders").await.is_empty());
    assert!(task.put(Vec::new()).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_connection_is_retried_without_loss() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (mut task, _) = sink(
        config(
            &db,
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "record_key"),
                ("pk.fields", "id"),
                ("auto.create", "true"),
                ("retry.backoff.ms", "100"),
            ],
        ),
        None,
    )
    .await;
    task.put(vec![sink_record(
        "orders",
        0,
        int_key(0),
        order(0, Some("a"), 0),
    )])
    .await
    .unwrap();
    flush(&mut task).await.unwrap();
    let killed = db
        .rows(&format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{}' AND pid <> pg_backend_pid()", db.name))
        .await;
    assert_eq!(killed, vec![vec![Some("t".into())]]);
    let batch: Vec<Record> = (1..=500)
        .map(|i| sink_record("orders", i, int_key(i), order(i, Some("b"), 1)))
        .collect();
    task.put(batch).await.unwrap();
    flush(&mut task).await.unwrap();
    assert_eq!(
        db.rows("SELECT count(*) FROM orders").await,
        vec![vec![Some("501".into())]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_give_up_with_the_error_after_max_retries() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (mut task, _) = sink(
        config(
            &db,
            &[
                ("max.retries", "1"),
                ("retry.backoff.ms", "10"),
                ("auto.create", "true"),
            ],
        ),
        None,
    )
    .await;
    // A trigger that fails with a non-data error every time.
    db.exec("CREATE TABLE orders (id bigint, item text, qty int)")
        .await;
    db.exec("CREATE FUNCTION nope() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION USING ERRCODE = '57P03', MESSAGE = 'the database is starting up'; END $$ LANGUAGE plpgsql").await;
    db.exec("CREATE TRIGGER nope BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION nope()")
        .await;
    task.put(vec![sink_record(
        "orders",
        0,
        int_key(1),
        order(1, Some("a"), 1),
    )])
    .await
    .unwrap();
    let err = flush(&mut task).await.unwrap_err().to_string();
    assert!(
        err.contains("failed after 1 retries") && err.contains("the database is starting up"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_stores_offsets_with_the_rows_and_rewinds_on_open() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let cfg = config(
        &db,
        &[
            ("insert.mode", "insert"),
            ("auto.create", "true"),
            ("delivery.guarantee", "exactly_once"),
        ],
    );
    let tp = TopicPartition::new("orders", 0);
    let (mut task, _) = sink(cfg.clone(), None).await;
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    let batch: Vec<Record> = (0..50)
        .map(|i| sink_record("orders", i, (None, Value::Null), order(i, Some("a"), 1)))
        .collect();
    task.put(batch).await.unwrap();
    flush(&mut task).await.unwrap();
    task.stop().await.unwrap();
    assert_eq!(
        db.rows("SELECT connector, topic, partition, next_offset FROM connect_offsets")
            .await,
        vec![vec![
            Some("pg-sink".into()),
            Some("orders".into()),
            Some("0".into()),
            Some("50".into())
        ]]
    );

    // A new task (after a crash before the consumer offsets were committed) rewinds to the
    // stored offset and skips records it is given again.
    let (mut task, state) = sink(cfg, None).await;
    task.open(std::slice::from_ref(&tp)).await.unwrap();
    assert_eq!(state.lock().offsets.get(&tp), Some(&50));
    let replay: Vec<Record> = (40..60)
        .map(|i| sink_record("orders", i, (None, Value::Null), order(i, Some("a"), 1)))
        .collect();
    task.put(replay).await.unwrap();
    flush(&mut task).await.unwrap();
    assert_eq!(
        db.rows("SELECT count(*), count(DISTINCT id), max(id) FROM orders")
            .await,
        vec![vec![
            Some("60".into()),
            Some("60".into()),
            Some("59".into())
        ]]
    );
    assert_eq!(
        db.rows("SELECT next_offset FROM connect_offsets").await,
        vec![vec![Some("60".into())]]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_coordinates_and_record_value_keys() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (mut task, _) = sink(
        config(
            &db,
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "kafka"),
                ("auto.create", "true"),
                ("fields.whitelist", "item"),
            ],
        ),
        None,
    )
    .await;
    task.put(vec![
        sink_record("orders", 5, (None, Value::Null), order(1, Some("a"), 1)),
        sink_record("orders", 5, (None, Value::Null), order(1, Some("b"), 1)),
    ])
    .await
    .unwrap();
    flush(&mut task).await.unwrap();
    assert_eq!(
        db.rows("SELECT __connect_topic, __connect_partition, __connect_offset, item FROM orders")
            .await,
        vec![vec![
            Some("orders".into()),
            Some("0".into()),
            Some("5".into()),
            Some("b".into())
        ]]
    );

    let (mut task, _) = sink(
        config(
            &db,
            &[
                ("insert.mode", "upsert"),
                ("pk.mode", "record_value"),
                ("pk.fields", "id,qty"),
                ("auto.create", "true"),
                ("table.name.format", "by_value"),
            ],
        ),
        None,
    )
    .await;
    task.put(vec![
        sink_record("orders", 0, (None, Value::Null), order(1, Some("a"), 1)),
        sink_record("orders", 1, (None, Value::Null), order(1, Some("b"), 2)),
        sink_record("orders", 2, (None, Value::Null), order(1, Some("c"), 1)),
    ])
    .await
    .unwrap();
    flush(&mut task).await.unwrap();
    assert_eq!(
        db.rows("SELECT id, qty, item FROM by_value ORDER BY qty")
            .await,
        vec![
            vec![Some("1".into()), Some("1".into()), Some("c".into())],
            vec![Some("1".into()), Some("2".into()), Some("b".into())],
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_table_without_auto_create_names_the_table() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    let (mut task, _) = sink(config(&db, &[]), None).await;
    task.put(vec![sink_record(
        "nowhere",
        0,
        (None, Value::Null),
        order(1, Some("a"), 1),
    )])
    .await
    .unwrap();
    let err = flush(&mut task).await.unwrap_err().to_string();
    assert!(
        err.contains("Table \"nowhere\" is missing and auto-creation is disabled"),
        "{err}"
    );
}

// ---- source ----

/// Offsets as the runtime would read them back.
#[derive(Default)]
struct StoredOffsets(Mutex<Vec<(OffsetMap, OffsetMap)>>);

impl OffsetReader for StoredOffsets {
    fn offset(&self, partition: &OffsetMap) -> Result<Option<OffsetMap>> {
        Ok(self
            .0
            .lock()
            .iter()
            .rev()
            .find(|(p, _)| p == partition)
            .map(|(_, o)| o.clone()))
    }
}

impl StoredOffsets {
    fn commit(&self, records: &[Record]) {
        if let Some(r) = records.last() {
            if let Origin::Source { partition, offset } = &r.origin {
                self.0
                    .lock()
                    .push((partition.as_ref().clone(), offset.clone()));
            }
        }
    }
}

async fn source(config: ConfigMap, offsets: Arc<StoredOffsets>) -> PostgresSourceTask {
    let mut task = PostgresSourceTask::default();
    task.start(
        config,
        SourceTaskContext {
            task_id: TaskId::new("pg-source", 0),
            offsets,
            transaction_context: None,
        },
    )
    .await
    .expect("source task starts");
    task
}

/// Polls until `n` records arrived (or a poll returns nothing after some did).
async fn poll_n(task: &mut PostgresSourceTask, n: usize) -> Vec<Record> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while out.len() < n && tokio::time::Instant::now() < deadline {
        out.extend(task.poll().await.expect("poll"));
    }
    out
}

fn field(r: &Record, name: &str) -> Value {
    match &r.value {
        Value::Struct(s) => s.get(name).cloned().unwrap_or_default(),
        _ => Value::Null,
    }
}

fn source_config(db: &TestDb, pairs: &[(&str, &str)]) -> ConfigMap {
    let mut c = config(db, pairs);
    c.entry("topic.prefix".into())
        .or_insert_with(|| "pg-".into());
    c.entry("poll.interval.ms".into())
        .or_insert_with(|| "100".into());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incrementing_mode_reads_new_rows_and_resumes_from_offsets() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    db.exec("CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(8,2), seen date, at timestamp, other inet)").await;
    db.exec("INSERT INTO items (name, price, seen, at, other) SELECT 'n' || i, i * 1.25, DATE '2024-01-01' + i, TIMESTAMP '2024-01-01 00:00:00' + i * INTERVAL '1 second', '10.0.0.1' FROM generate_series(1, 250) i").await;
    let offsets = Arc::new(StoredOffsets::default());
    let cfg = source_config(
        &db,
        &[("mode", "incrementing"), ("tables", "\"public\".\"items\"")],
    );
    let mut task = source(cfg.clone(), offsets.clone()).await;
    let first = poll_n(&mut task, 250).await;
    assert_eq!(first.len(), 250);
    let r = &first[0];
    assert_eq!(r.topic, "pg-items");
    let schema = r.value_schema.as_ref().unwrap();
    assert_eq!(schema.name.as_deref(), Some("items"));
    let names: Vec<&str> = schema.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["id", "name", "price", "seen", "at", "other"]);
    assert!(!schema.fields[1].schema.optional && schema.fields[2].schema.optional);
    assert_eq!(field(r, "id"), Value::Int32(1));
    assert_eq!(field(r, "price"), Value::Bytes(decimal::to_bytes(125)));
    assert_eq!(field(r, "seen"), Value::Int32(19_724));
    assert_eq!(field(r, "at"), Value::Int64(1_704_067_201_000));
    assert_eq!(field(r, "other"), Value::String("10.0.0.1/32".into()));
    let Origin::Source { partition, offset } = &first[249].origin else {
        panic!()
    };
    assert_eq!(
        partition.as_ref(),
        json!({"protocol": "1", "table": "public.items"})
            .as_object()
            .unwrap()
    );
    assert_eq!(offset, json!({"incrementing": 250}).as_object().unwrap());
    let ids: Vec<Value> = first.iter().map(|r| field(r, "id")).collect();
    assert_eq!(ids, (1..=250).map(Value::Int32).collect::<Vec<_>>());
    offsets.commit(&first);
    task.stop().await.unwrap();

    db.exec("INSERT INTO items (name) SELECT 'late' || i FROM generate_series(1, 5) i")
        .await;
    let mut task = source(cfg, offsets.clone()).await;
    let next = poll_n(&mut task, 5).await;
    assert_eq!(
        next.iter().map(|r| field(r, "id")).collect::<Vec<_>>(),
        (251..=255).map(Value::Int32).collect::<Vec<_>>()
    );
    // Nothing more until new rows arrive.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut more = Vec::new();
    for _ in 0..3 {
        more.extend(task.poll().await.unwrap());
    }
    assert!(more.is_empty(), "{more:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timestamp_modes_track_updates_and_resume() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    db.exec("CREATE TABLE t (id int PRIMARY KEY, v text, updated timestamptz NOT NULL)")
        .await;
    db.exec("INSERT INTO t SELECT i, 'v' || i, TIMESTAMPTZ '2024-01-01 00:00:00+00' + (i / 2) * INTERVAL '1.000001 second' FROM generate_series(1, 10) i").await;
    for mode in ["timestamp", "timestamp+incrementing"] {
        let offsets = Arc::new(StoredOffsets::default());
        let cfg = source_config(
            &db,
            &[
                ("mode", mode),
                ("timestamp.column.name", "updated"),
                ("incrementing.column.name", "id"),
                ("batch.max.rows", "3"),
                ("tables", "public.t"),
            ],
        );
        let mut task = source(cfg.clone(), offsets.clone()).await;
        let rows = poll_n(&mut task, 10).await;
        assert_eq!(
            rows.iter().map(|r| field(r, "id")).collect::<Vec<_>>(),
            (1..=10).map(Value::Int32).collect::<Vec<_>>(),
            "{mode}"
        );
        let Origin::Source { offset, .. } = &rows[9].origin else {
            panic!()
        };
        // 2024-01-01T00:00:05.000005Z
        assert_eq!(offset["timestamp"], json!(1_704_067_205_000i64));
        assert_eq!(offset["timestamp_nanos"], json!(5_000));
        assert_eq!(
            offset.contains_key("incrementing"),
            mode == "timestamp+incrementing"
        );
        offsets.commit(&rows);
        task.stop().await.unwrap();

        db.exec("UPDATE t SET v = 'changed', updated = now() WHERE id = 3")
            .await;
        let mut task = source(cfg, offsets.clone()).await;
        let changed = poll_n(&mut task, 1).await;
        assert_eq!(changed.len(), 1, "{mode}");
        assert_eq!(field(&changed[0], "v"), Value::String("changed".into()));
        db.exec("UPDATE t SET updated = TIMESTAMPTZ '2024-01-01 00:00:00+00' + (id / 2) * INTERVAL '1.000001 second', v = 'v' || id").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bulk_and_query_modes() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    db.exec("CREATE TABLE a (id int, label text); INSERT INTO a VALUES (1, 'x'), (2, 'y')")
        .await;
    let mut task = source(
        source_config(&db, &[("mode", "bulk"), ("tables", "a")]),
        Arc::default(),
    )
    .await;
    let first = poll_n(&mut task, 2).await;
    let again = poll_n(&mut task, 2).await;
    assert_eq!(first.len(), 2);
    assert_eq!(
        again.len(),
        2,
        "bulk copies the whole table every poll interval"
    );
    let Origin::Source { partition, .. } = &first[0].origin else {
        panic!()
    };
    assert_eq!(
        partition.as_ref(),
        json!({"table": "a"}).as_object().unwrap()
    );

    let mut task = source(
        source_config(
            &db,
            &[
                ("mode", "incrementing"),
                ("incrementing.column.name", "id"),
                (
                    "query",
                    "SELECT id, upper(label) AS label FROM a WHERE label <> 'zz'",
                ),
                ("topic.prefix", "query-topic"),
            ],
        ),
        Arc::default(),
    )
    .await;
    let rows = poll_n(&mut task, 2).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].topic, "query-topic");
    assert_eq!(field(&rows[1], "label"), Value::String("Y".into()));
    let Origin::Source { partition, offset } = &rows[1].origin else {
        panic!()
    };
    assert_eq!(
        partition.as_ref(),
        json!({"query": "query"}).as_object().unwrap()
    );
    assert_eq!(offset, json!({"incrementing": 2}).as_object().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connector_spreads_selected_tables_over_tasks() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    db.exec("CREATE TABLE t1 (id int); CREATE TABLE t2 (id int); CREATE TABLE t3 (id int); CREATE SCHEMA other; CREATE TABLE other.t4 (id int)").await;
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let mut connector = PostgresSourceConnector::default();
    connector
        .start(
            source_config(
                &db,
                &[
                    ("mode", "bulk"),
                    ("table.blacklist", "t2"),
                    ("table.poll.interval.ms", "0"),
                ],
            ),
            ConnectorContext::new("pg-source", tx),
        )
        .await
        .unwrap();
    let tasks = connector.task_configs(2).await.unwrap();
    let tables: Vec<&str> = tasks.iter().map(|t| t["tables"].as_str()).collect();
    assert_eq!(
        tables,
        ["\"other\".\"t4\",\"public\".\"t1\"", "\"public\".\"t3\""]
    );
    connector.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn source_rejects_nullable_incrementing_columns() {
    let Some(db) = TestDb::new().await else {
        return;
    };
    db.exec("CREATE TABLE n (id int, v text)").await;
    let mut task = source(
        source_config(
            &db,
            &[
                ("mode", "incrementing"),
                ("incrementing.column.name", "id"),
                ("tables", "n"),
            ],
        ),
        Arc::default(),
    )
    .await;
    let err = task.poll().await.unwrap_err();
    assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
    assert!(
        err.to_string().contains("because this column is nullable"),
        "{err}"
    );
}

// ---- TLS ----
//
// The test PostgreSQL runs with ssl=on; its CA, server certificate (for localhost and
// 127.0.0.1) and the client certificate of `certuser` (who must log in with it) are in
// `$CONVEYOR_TEST_PG_DIR/certs` (tests/services/postgres.py).

mod tls {
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkcs12::Pkcs12;
    use openssl::pkey::PKey;
    use openssl::symm::Cipher;
    use openssl::x509::extension::BasicConstraints;
    use openssl::x509::{X509NameBuilder, X509};

    use super::super::config::{db_timezone_key, define_connection_keys, ConnectionSettings};
    use super::super::connection::{self, PgClient};
    use super::*;
    use crate::config::ConfigDef;

    /// The test PostgreSQL's port and certificate directory, or None (skipped).
    fn pg_tls() -> Option<(u16, PathBuf)> {
        let port = pg_port()?;
        match std::env::var("CONVEYOR_TEST_PG_DIR") {
            Ok(dir) => Some((port, PathBuf::from(dir).join("certs"))),
            Err(_) => {
                eprintln!("skipped: CONVEYOR_TEST_PG_DIR (the test PostgreSQL's directory, with its certs) is not set");
                None
            }
        }
    }

    fn path(p: &Path) -> String {
        p.display().to_string()
    }

    /// Connection settings from a URL and `connection.*` configs; one attempt unless set.
    fn settings(url: &str, extra: &[(&str, &str)]) -> Result<ConnectionSettings> {
        let mut c = ConfigMap::new();
        c.insert("connection.url".into(), url.into());
        c.insert("connection.attempts".into(), "1".into());
        for (k, v) in extra {
            c.insert(k.to_string(), v.to_string());
        }
        let def = define_connection_keys(ConfigDef::new(), "Connection")
            .define(db_timezone_key("Connection", 99));
        ConnectionSettings::from_parsed(&def.parse(&c)?)
    }

    async fn connect(url: &str, extra: &[(&str, &str)]) -> Result<PgClient> {
        connection::connect(&settings(url, extra)?).await
    }

    /// (TLS in use, current user) of a connection.
    async fn session(client: &PgClient) -> (bool, String) {
        let rows = client
            .simple_query("SELECT ssl::text, current_user::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            .await
            .expect("query pg_stat_ssl");
        for m in rows {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                return (r.get(0) == Some("true"), r.get(1).unwrap_or("").to_string());
            }
        }
        panic!("no pg_stat_ssl row");
    }

    /// A CA of our own, which signed nothing the server has.
    fn other_ca(dir: &Path) -> PathBuf {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "Another CA").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_serial_number(&BigNum::from_u32(7).unwrap().to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.sign(&key, MessageDigest::sha256()).unwrap();
        let out = dir.join("other-ca.pem");
        std::fs::write(&out, b.build().to_pem().unwrap()).unwrap();
        out
    }

    fn config_error(result: Result<PgClient>) -> String {
        match result {
            Err(ConnectError::Config(m)) => m,
            Err(e) => panic!("expected a config error, got {e:?}"),
            Ok(_) => panic!("expected a config error, but the connection was opened"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn verify_full_checks_the_chain_and_the_host_name() {
        let Some((port, certs)) = pg_tls() else {
            return;
        };
        let ca = path(&certs.join("ca.cert.pem"));
        for host in ["localhost", "127.0.0.1"] {
            let url = format!(
                "jdbc:postgresql://{host}:{port}/test?sslmode=verify-full&sslrootcert={ca}"
            );
            let client = connect(&url, &[]).await.expect("verify-full with the CA");
            assert_eq!(session(&client).await, (true, "postgres".into()));
        }

        // A host name the certificate does not list (the connection still goes to 127.0.0.1).
        let url = format!(
            "jdbc:postgresql://pg.example.test:{port}/test?sslmode=verify-full&sslrootcert={ca}"
        );
        let mut s = settings(&url, &[]).unwrap();
        s.pg.hostaddr("127.0.0.1".parse().unwrap());
        let started = Instant::now();
        let err = config_error(connection::connect(&s).await);
        assert!(
            err.contains("does not name the host pg.example.test (it is for localhost, 127.0.0.1)"),
            "{err}"
        );
        assert!(
            err.contains("sslmode=verify-full in connection.url"),
            "{err}"
        );
        assert!(err.contains("sslmode=verify-ca"), "says what to do: {err}");
        assert!(started.elapsed() < Duration::from_secs(5), "no retries");

        // verify-ca checks the chain only.
        let url = format!(
            "jdbc:postgresql://pg.example.test:{port}/test?sslmode=verify-ca&sslrootcert={ca}"
        );
        let mut s = settings(&url, &[]).unwrap();
        s.pg.hostaddr("127.0.0.1".parse().unwrap());
        let client = connection::connect(&s)
            .await
            .expect("verify-ca ignores the name");
        assert!(session(&client).await.0);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_ca_that_did_not_sign_the_server_certificate_is_refused() {
        let Some((port, _)) = pg_tls() else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let other = path(&other_ca(dir.path()));
        let url = format!(
            "jdbc:postgresql://127.0.0.1:{port}/test?sslmode=verify-ca&sslrootcert={other}"
        );
        let started = Instant::now();
        // Three attempts 10 s apart would take 20 s: a certificate failure is not retried.
        let err = config_error(
            connect(
                &url,
                &[
                    ("connection.attempts", "3"),
                    ("connection.backoff.ms", "10000"),
                ],
            )
            .await,
        );
        assert!(started.elapsed() < Duration::from_secs(5), "no retries");
        // The server sends its CA along, so OpenSSL's reason depends on the chain it got.
        assert!(
            err.contains("the TLS certificate of the server at 127.0.0.1 failed verification: unable to get local issuer certificate")
                || err.contains("the TLS certificate of the server at 127.0.0.1 failed verification: self-signed certificate in certificate chain"),
            "{err}"
        );
        assert!(
            err.contains(&format!("sslrootcert={other} in connection.url")),
            "{err}"
        );
        assert!(err.contains("sslmode=verify-ca in connection.url"), "{err}");
        assert!(
            err.contains(
                "CN=Conveyor test CA, O=Conveyor tests, which is not among the CAs of sslrootcert="
            ),
            "{err}"
        );
        assert!(err.contains("or use sslmode=require"), "{err}");

        // require checks the chain too once sslrootcert is given (libpq), here as a config.
        let url = format!("jdbc:postgresql://127.0.0.1:{port}/test");
        let err = config_error(
            connect(
                &url,
                &[
                    ("connection.sslmode", "require"),
                    ("connection.sslrootcert", &other),
                ],
            )
            .await,
        );
        assert!(
            err.contains(&format!("connection.sslrootcert={other}")),
            "{err}"
        );
        assert!(err.contains("connection.sslmode=require"), "{err}");
        assert!(err.contains("or leave sslrootcert out"), "{err}");

        // The system's CAs did not sign the test CA either.
        let err = config_error(
            connect(
                &format!("jdbc:postgresql://localhost:{port}/test?sslrootcert=system"),
                &[],
            )
            .await,
        );
        assert!(
            err.contains("which is not among the CAs of the system's trusted CAs")
                || err.contains("no system CA certificates were found"),
            "{err}"
        );
        assert!(
            err.contains("sslrootcert=system in connection.url (which implies sslmode=verify-full")
                || err.contains("no system CA certificates were found"),
            "{err}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn require_and_prefer_encrypt_without_a_ca_and_disable_does_not() {
        let Some((port, _)) = pg_tls() else {
            return;
        };
        let base = format!("jdbc:postgresql://127.0.0.1:{port}/test");
        for (query, tls) in [
            ("?sslmode=require", true),
            (
                "?ssl=true&sslfactory=org.postgresql.ssl.NonValidatingFactory&sslmode=require",
                true,
            ),
            ("", true), // prefer, PgJDBC's default
            ("?sslmode=allow", false),
            ("?sslmode=disable", false),
        ] {
            let client = connect(&format!("{base}{query}"), &[])
                .await
                .unwrap_or_else(|e| panic!("{query}: {e}"));
            assert_eq!(session(&client).await.0, tls, "{query}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn client_certificates_log_in_as_certuser() {
        let Some((port, certs)) = pg_tls() else {
            return;
        };
        let (ca, cert, key) = (
            path(&certs.join("ca.cert.pem")),
            path(&certs.join("certuser.cert.pem")),
            path(&certs.join("certuser.key.pem")),
        );
        let url = format!(
            "jdbc:postgresql://localhost:{port}/test?user=certuser&sslmode=verify-full&sslrootcert={ca}&sslcert={cert}&sslkey={key}"
        );
        let client = connect(&url, &[]).await.expect("certificate login");
        assert_eq!(session(&client).await, (true, "certuser".into()));

        // The same as connector configs, as JDBC connector users give them.
        let base = format!("jdbc:postgresql://localhost:{port}/test");
        let as_configs = [
            ("connection.user", "certuser"),
            ("connection.sslmode", "verify-full"),
            ("connection.sslrootcert", ca.as_str()),
            ("connection.sslcert", cert.as_str()),
            ("connection.sslkey", key.as_str()),
        ];
        let client = connect(&base, &as_configs)
            .await
            .expect("certificate login");
        assert_eq!(session(&client).await, (true, "certuser".into()));

        // Without the certificate the server refuses certuser.
        let err = connect(&base, &as_configs[..3])
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("certificate"), "{err}");

        // An encrypted PEM key, a DER PKCS#8 key (PgJDBC's .pk8) and a PKCS#12 archive.
        let dir = tempfile::tempdir().unwrap();
        let plain = PKey::private_key_from_pem(&std::fs::read(&key).unwrap()).unwrap();
        let encrypted = dir.path().join("certuser.enc.pem");
        std::fs::write(
            &encrypted,
            plain
                .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"s3cret")
                .unwrap(),
        )
        .unwrap();
        let encrypted = path(&encrypted);
        let with_key = |k: &str, password: Option<&str>| {
            let mut c: Vec<(String, String)> = vec![
                ("connection.user".into(), "certuser".into()),
                ("connection.sslmode".into(), "verify-full".into()),
                ("connection.sslrootcert".into(), ca.clone()),
                ("connection.sslcert".into(), cert.clone()),
                ("connection.sslkey".into(), k.to_string()),
            ];
            if let Some(p) = password {
                c.push(("connection.sslpassword".into(), p.into()));
            }
            c
        };
        let as_refs = |c: &[(String, String)]| -> Vec<(String, String)> { c.to_vec() };
        async fn connect_owned(url: &str, c: Vec<(String, String)>) -> Result<PgClient> {
            let refs: Vec<(&str, &str)> = c.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            connect(url, &refs).await
        }
        let client = connect_owned(&base, as_refs(&with_key(&encrypted, Some("s3cret"))))
            .await
            .expect("encrypted key with sslpassword");
        assert_eq!(session(&client).await.1, "certuser");
        let err = config_error(connect_owned(&base, with_key(&encrypted, None)).await);
        assert!(err.contains("configuration connection.sslkey"), "{err}");
        assert!(err.contains("encrypted: set sslpassword"), "{err}");
        let err = config_error(connect_owned(&base, with_key(&encrypted, Some("nope"))).await);
        assert!(err.contains("wrong password"), "{err}");

        let pk8 = dir.path().join("certuser.pk8");
        std::fs::write(&pk8, plain.private_key_to_pkcs8().unwrap()).unwrap();
        let client = connect_owned(&base, with_key(&path(&pk8), None))
            .await
            .expect("DER PKCS#8 key");
        assert_eq!(session(&client).await.1, "certuser");

        let p12 = dir.path().join("certuser.p12");
        let x509 = X509::from_pem(&std::fs::read(&cert).unwrap()).unwrap();
        let archive = Pkcs12::builder()
            .name("certuser")
            .pkey(&plain)
            .cert(&x509)
            .build2("p12pass")
            .unwrap();
        std::fs::write(&p12, archive.to_der().unwrap()).unwrap();
        let client = connect_owned(&base, with_key(&path(&p12), Some("p12pass")))
            .await
            .expect("PKCS#12 archive");
        assert_eq!(session(&client).await.1, "certuser");

        // A key that belongs to another certificate.
        let other_key = dir.path().join("other.key.pem");
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        let k = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
        std::fs::write(&other_key, k.private_key_to_pem_pkcs8().unwrap()).unwrap();
        let err = config_error(connect_owned(&base, with_key(&path(&other_key), None)).await);
        assert!(
            err.contains("does not belong to the client certificate"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn missing_tls_files_are_errors_naming_the_setting() {
        // Nothing listens on port 1: these fail before any network traffic.
        let base = "jdbc:postgresql://127.0.0.1:1/db";
        let err = config_error(
            connect(
                &format!("{base}?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem"),
                &[],
            )
            .await,
        );
        assert!(
            err.contains("Invalid value /nonexistent/ca.pem for sslrootcert in connection.url: the file cannot be read (it does not exist)"),
            "{err}"
        );
        let err = config_error(
            connect(
                base,
                &[
                    ("connection.sslmode", "require"),
                    ("connection.sslcert", "/nonexistent/client.pem"),
                    ("connection.sslkey", "/nonexistent/client.key"),
                ],
            )
            .await,
        );
        assert!(
            err.contains(
                "Invalid value /nonexistent/client.pem for configuration connection.sslcert"
            ),
            "{err}"
        );
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("client.pem");
        std::fs::write(&cert, "not a certificate").unwrap();
        let err = config_error(
            connect(
                base,
                &[
                    ("connection.sslmode", "require"),
                    ("connection.sslcert", &path(&cert)),
                    ("connection.sslkey", "/nonexistent/client.key"),
                ],
            )
            .await,
        );
        assert!(err.contains("connection.sslcert"), "{err}");
        assert!(err.contains("holds no certificate"), "{err}");
        let err = config_error(
            connect(
                base,
                &[
                    ("connection.sslmode", "require"),
                    ("connection.sslkey", "/nonexistent/client.key"),
                ],
            )
            .await,
        );
        assert!(err.contains("connection.sslkey"), "{err}");
        assert!(err.contains("set sslcert"), "{err}");
        let default_root =
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".postgresql/root.crt"));
        if default_root.is_some_and(|p| !p.exists()) {
            let err = config_error(connect(&format!("{base}?sslmode=verify-ca"), &[]).await);
            assert!(err.contains("sslmode=verify-ca in connection.url checks the server's certificate against a CA, but sslrootcert is not set"), "{err}");
        }
    }

    /// A server that answers the TLS request with `reply` and then says nothing more.
    async fn mute_server(reply: &'static [u8]) -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let mut held = Vec::new();
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 8];
                if socket.read_exact(&mut request).await.is_ok() {
                    let _ = socket.write_all(reply).await;
                }
                held.push(socket);
            }
        });
        port
    }

    #[tokio::test]
    async fn no_tls_under_require_is_a_clear_error_and_nothing_hangs() {
        let port = mute_server(b"N").await;
        let url = format!("jdbc:postgresql://127.0.0.1:{port}/db");
        let err = config_error(connect(&format!("{url}?sslmode=require"), &[]).await);
        assert!(
            err.contains("sslmode=require in connection.url needs an encrypted connection, but the server does not accept TLS"),
            "{err}"
        );
        let err = config_error(
            connect(
                &url,
                &[
                    ("connection.sslmode", "verify-full"),
                    ("connection.sslrootcert", "system"),
                ],
            )
            .await,
        );
        assert!(
            err.contains("connection.sslmode=verify-full needs an encrypted connection"),
            "{err}"
        );

        // prefer goes on without TLS, and the silent server runs into loginTimeout.
        let started = Instant::now();
        let err = connect(&format!("{url}?loginTimeout=1"), &[])
            .await
            .err()
            .unwrap();
        assert!(err.is_retriable(), "{err:?}");
        assert!(
            err.to_string()
                .contains("no answer within 1 s (loginTimeout;"),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));

        // A server that accepts TLS and then stalls the handshake.
        let port = mute_server(b"S").await;
        let url = format!("jdbc:postgresql://127.0.0.1:{port}/db?sslmode=require&loginTimeout=1");
        let err = connect(&url, &[]).await.err().unwrap().to_string();
        assert!(err.contains("no answer within 1 s"), "{err}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_sink_writes_through_verify_full() {
        let (Some(db), Some((_, certs))) = (TestDb::new().await, pg_tls()) else {
            return;
        };
        let ca = path(&certs.join("ca.cert.pem"));
        let mut c = config(&db, &[("auto.create", "true")]);
        c.insert(
            "connection.url".into(),
            format!(
                "jdbc:postgresql://localhost:{}/{}?sslmode=verify-full&sslrootcert={ca}",
                db.port, db.name
            ),
        );
        let (mut task, _) = sink(c, None).await;
        task.put(vec![sink_record(
            "orders",
            0,
            int_key(1),
            order(1, Some("a"), 2),
        )])
        .await
        .unwrap();
        flush(&mut task).await.unwrap();
        assert_eq!(
            db.rows("SELECT id, item FROM orders").await,
            vec![vec![Some("1".into()), Some("a".into())]]
        );
        let encrypted = db
            .rows(&format!(
                "SELECT count(*) FROM pg_stat_ssl JOIN pg_stat_activity USING (pid) WHERE datname = '{}' AND ssl",
                db.name
            ))
            .await;
        assert_eq!(
            encrypted,
            vec![vec![Some("1".into())]],
            "the sink's connection"
        );
        task.stop().await.unwrap();
    }
}
