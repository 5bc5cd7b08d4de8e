//! Debezium's change event format: per table a `<prefix>.<schema>.<table>.Key` struct (the
//! primary key), a `.Value` struct (the row), and the `.Envelope` with `before`, `after`,
//! `source` (`io.debezium.connector.postgresql.Source`), `transaction`, `op` and `ts_*`.

use std::sync::{Arc, LazyLock};

use crate::data::{Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};

use super::config::CdcConfig;
use super::pgoutput::TupleValue;
use super::types::{convert, schema_for, Kind};

/// Debezium's placeholder for an unchanged TOASTed value that the WAL does not carry
/// (`unavailable.value.placeholder`).
pub const UNAVAILABLE_VALUE: &str = "__debezium_unavailable_value";

/// What `source.version` says: Conveyor's version, so that a reader can tell the producer.
pub const VERSION: &str = concat!("conveyor-", env!("CARGO_PKG_VERSION"));

/// One column of a captured table.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    pub kind: Kind,
    pub optional: bool,
    pub schema: SchemaRef,
    /// In the `.Value` struct (`column.include.list` / `column.exclude.list`).
    pub included: bool,
}

/// A captured table as its events describe it.
#[derive(Clone, Debug)]
pub struct TableModel {
    pub oid: u32,
    pub schema: String,
    pub name: String,
    /// In tuple order (the table's column order, without dropped or generated columns).
    pub columns: Vec<Column>,
    /// Indexes into `columns` of the primary key, in key order.
    pub key: Vec<usize>,
    pub topic: String,
    pub key_schema: Option<SchemaRef>,
    pub row_schema: SchemaRef,
    pub envelope_schema: SchemaRef,
    /// REPLICA IDENTITY FULL: updates carry the whole old row, which becomes `before`.
    pub full_identity: bool,
}

/// A column as the catalog describes it.
#[derive(Clone, Debug)]
pub struct ColumnDef {
    pub name: String,
    pub kind: Kind,
    pub not_null: bool,
}

impl TableModel {
    /// The model of `schema.name` with `columns` (tuple order) and primary key `pk`.
    pub fn new(
        config: &CdcConfig,
        oid: u32,
        schema: &str,
        name: &str,
        columns: Vec<ColumnDef>,
        pk: &[String],
    ) -> TableModel {
        let topic = format!("{}.{schema}.{name}", config.topic_prefix);
        let columns: Vec<Column> = columns
            .into_iter()
            .map(|c| {
                let in_key = pk.contains(&c.name);
                let optional = !c.not_null && !in_key;
                Column {
                    schema: schema_for(&c.kind, optional, config.modes),
                    included: in_key || config.captures_column(schema, name, &c.name),
                    name: c.name,
                    kind: c.kind,
                    optional,
                }
            })
            .collect();
        let key: Vec<usize> = pk
            .iter()
            .filter_map(|k| columns.iter().position(|c| &c.name == k))
            .collect();
        let key_schema = (!key.is_empty()).then(|| {
            let mut b = SchemaBuilder::struct_().name(format!("{topic}.Key"));
            for &i in &key {
                b = b.field(columns[i].name.clone(), columns[i].schema.clone());
            }
            b.build()
        });
        let mut row = SchemaBuilder::struct_()
            .name(format!("{topic}.Value"))
            .optional();
        for c in columns.iter().filter(|c| c.included) {
            row = row.field(c.name.clone(), c.schema.clone());
        }
        let row_schema = row.build();
        let envelope_schema = SchemaBuilder::struct_()
            .name(format!("{topic}.Envelope"))
            .version(2)
            .field("before", row_schema.clone())
            .field("after", row_schema.clone())
            .field("source", source_schema())
            .field("transaction", transaction_schema())
            .field("op", Schema::string())
            .field("ts_ms", Schema::optional_int64())
            .field("ts_us", Schema::optional_int64())
            .field("ts_ns", Schema::optional_int64())
            .build();
        TableModel {
            oid,
            schema: schema.to_string(),
            name: name.to_string(),
            columns,
            key,
            topic,
            key_schema,
            row_schema,
            envelope_schema,
            full_identity: false,
        }
    }

    fn value_of(
        &self,
        column: &Column,
        v: Option<&TupleValue>,
        config: &CdcConfig,
    ) -> Result<Value, String> {
        let value = match v {
            Some(TupleValue::Text(t)) => convert(&column.kind, t, &column.schema, config.modes)
                .map_err(|e| {
                    format!(
                        "column {} of {}.{}: {e}",
                        column.name, self.schema, self.name
                    )
                })?,
            Some(TupleValue::UnchangedToast) => unavailable(&column.schema),
            Some(TupleValue::Null) | None => Value::Null,
        };
        if value.is_null() && !column.optional {
            // Debezium's converters give a required column without a value (a key-only
            // before-image) the type's fallback.
            return Ok(fallback(&column.schema));
        }
        Ok(value)
    }

    /// The `.Value` struct of `tuple`.
    pub fn row(&self, tuple: &[TupleValue], config: &CdcConfig) -> Result<Value, String> {
        let mut s = Struct::new(self.row_schema.clone());
        for (i, c) in self.columns.iter().enumerate() {
            if c.included {
                let v = self.value_of(c, tuple.get(i), config)?;
                s.put(&c.name, v)?;
            }
        }
        Ok(Value::Struct(s))
    }

    /// The `.Key` struct of `tuple`; Null for a table without a primary key.
    pub fn key_value(&self, tuple: &[TupleValue], config: &CdcConfig) -> Result<Value, String> {
        let Some(schema) = &self.key_schema else {
            return Ok(Value::Null);
        };
        let mut s = Struct::new(schema.clone());
        for &i in &self.key {
            let c = &self.columns[i];
            s.put(&c.name, self.value_of(c, tuple.get(i), config)?)?;
        }
        Ok(Value::Struct(s))
    }

    /// Whether two tuples have the same key (an update that changes the key is a delete and
    /// a create, as in Debezium).
    pub fn same_key(&self, a: &[TupleValue], b: &[TupleValue]) -> bool {
        self.key.iter().all(|&i| match (a.get(i), b.get(i)) {
            (_, Some(TupleValue::UnchangedToast)) | (Some(TupleValue::UnchangedToast), _) => true,
            (x, y) => x == y,
        })
    }
}

/// The placeholder for an unchanged TOAST value in a column of `schema`; Null where the type
/// cannot hold it.
fn unavailable(schema: &SchemaRef) -> Value {
    match schema.schema_type {
        SchemaType::String => Value::String(UNAVAILABLE_VALUE.into()),
        SchemaType::Bytes if schema.name.is_none() => {
            Value::Bytes(UNAVAILABLE_VALUE.as_bytes().to_vec())
        }
        SchemaType::Array => match schema.value_schema.as_ref().map(|s| s.schema_type) {
            Some(SchemaType::String) => Value::Array(vec![Value::String(UNAVAILABLE_VALUE.into())]),
            _ => Value::Null,
        },
        _ => Value::Null,
    }
}

fn fallback(schema: &SchemaRef) -> Value {
    match schema.schema_type {
        SchemaType::Int8 => Value::Int8(0),
        SchemaType::Int16 => Value::Int16(0),
        SchemaType::Int32 => Value::Int32(0),
        SchemaType::Int64 => Value::Int64(0),
        SchemaType::Float32 => Value::Float32(0.0),
        SchemaType::Float64 => Value::Float64(0.0),
        SchemaType::Boolean => Value::Boolean(false),
        SchemaType::String => Value::String(String::new()),
        SchemaType::Bytes => Value::Bytes(vec![0]),
        SchemaType::Array => Value::Array(Vec::new()),
        SchemaType::Map => Value::Map(Vec::new()),
        SchemaType::Struct => {
            let mut s = Struct::new(schema.clone());
            for f in &schema.fields {
                s.put_unchecked(f.index, fallback(&f.schema));
            }
            Value::Struct(s)
        }
    }
}

/// `io.debezium.connector.postgresql.Source`.
pub fn source_schema() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        let snapshot = SchemaBuilder::new(SchemaType::String)
            .name("io.debezium.data.Enum")
            .version(1)
            .parameter(
                "allowed",
                "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental",
            )
            .default_value(Value::String("false".into()))
            .optional()
            .build();
        SchemaBuilder::struct_()
            .name("io.debezium.connector.postgresql.Source")
            .version(1)
            .field("version", Schema::string())
            .field("connector", Schema::string())
            .field("name", Schema::string())
            .field("ts_ms", Schema::int64())
            .field("snapshot", snapshot)
            .field("db", Schema::string())
            .field("sequence", Schema::optional_string())
            .field("ts_us", Schema::optional_int64())
            .field("ts_ns", Schema::optional_int64())
            .field("schema", Schema::string())
            .field("table", Schema::string())
            .field("txId", Schema::optional_int64())
            .field("lsn", Schema::optional_int64())
            .field("xmin", Schema::optional_int64())
            .field("origin", Schema::optional_string())
            .field("origin_lsn", Schema::optional_int64())
            .build()
    });
    S.clone()
}

/// Debezium's `transaction` block (`event.block`): always null here, as with
/// `provide.transaction.metadata=false`.
fn transaction_schema() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        SchemaBuilder::struct_()
            .name("event.block")
            .version(1)
            .optional()
            .field("id", Schema::string())
            .field("total_order", Schema::int64())
            .field("data_collection_order", Schema::int64())
            .build()
    });
    S.clone()
}

/// Where an event comes from: the `source` block's varying part.
#[derive(Clone, Debug, Default)]
pub struct SourceInfo {
    /// Commit time (streaming) or snapshot time, in microseconds since the epoch.
    pub ts_us: i64,
    /// `true`, `first`, `last`, ...; None: not a snapshot event (`false`).
    pub snapshot: Option<&'static str>,
    pub tx_id: Option<i64>,
    pub lsn: Option<i64>,
    /// `["<last commit lsn>","<lsn>"]`.
    pub sequence: Option<String>,
}

/// The `source` struct for an event of `table`.
pub fn source(config: &CdcConfig, table: &TableModel, info: &SourceInfo) -> Result<Value, String> {
    let mut s = Struct::new(source_schema());
    s.put("version", Value::String(VERSION.into()))?;
    s.put("connector", Value::String("postgresql".into()))?;
    s.put("name", Value::String(config.topic_prefix.clone()))?;
    s.put("ts_ms", Value::Int64(info.ts_us.div_euclid(1000)))?;
    s.put(
        "snapshot",
        Value::String(info.snapshot.unwrap_or("false").into()),
    )?;
    s.put("db", Value::String(config.dbname.clone()))?;
    s.put(
        "sequence",
        info.sequence.clone().map_or(Value::Null, Value::String),
    )?;
    s.put("ts_us", Value::Int64(info.ts_us))?;
    s.put("ts_ns", Value::Int64(info.ts_us.saturating_mul(1000)))?;
    s.put("schema", Value::String(table.schema.clone()))?;
    s.put("table", Value::String(table.name.clone()))?;
    s.put("txId", info.tx_id.map_or(Value::Null, Value::Int64))?;
    s.put("lsn", info.lsn.map_or(Value::Null, Value::Int64))?;
    s.put("xmin", Value::Null)?;
    s.put("origin", Value::Null)?;
    s.put("origin_lsn", Value::Null)?;
    Ok(Value::Struct(s))
}

/// The envelope of one event; `now_us` is when Conveyor processed it.
pub fn envelope(
    table: &TableModel,
    before: Value,
    after: Value,
    source: Value,
    op: &str,
    now_us: i64,
) -> Result<Value, String> {
    let mut s = Struct::new(table.envelope_schema.clone());
    s.put("before", before)?;
    s.put("after", after)?;
    s.put("source", source)?;
    s.put("transaction", Value::Null)?;
    s.put("op", Value::String(op.into()))?;
    s.put("ts_ms", Value::Int64(now_us.div_euclid(1000)))?;
    s.put("ts_us", Value::Int64(now_us))?;
    s.put("ts_ns", Value::Int64(now_us.saturating_mul(1000)))?;
    Ok(Value::Struct(s))
}

/// Debezium's heartbeat key schema: `{serverName}`.
pub fn heartbeat_key_schema() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        SchemaBuilder::struct_()
            .name("io.debezium.connector.common.ServerNameKey")
            .field("serverName", Schema::string())
            .build()
    });
    S.clone()
}

/// Debezium's heartbeat value schema: `{ts_ms}`.
pub fn heartbeat_value_schema() -> SchemaRef {
    static S: LazyLock<SchemaRef> = LazyLock::new(|| {
        SchemaBuilder::struct_()
            .name("io.debezium.connector.common.Heartbeat")
            .field("ts_ms", Schema::int64())
            .build()
    });
    S.clone()
}

/// A heartbeat's key and value.
pub fn heartbeat(server: &str, now_us: i64) -> Result<(Value, Value), String> {
    let mut k = Struct::new(heartbeat_key_schema());
    k.put("serverName", Value::String(server.into()))?;
    let mut v = Struct::new(heartbeat_value_schema());
    v.put("ts_ms", Value::Int64(now_us.div_euclid(1000)))?;
    Ok((Value::Struct(k), Value::Struct(v)))
}

/// Shared so that every event of a table reuses one schema allocation.
pub type SharedModel = Arc<TableModel>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::map;

    fn config() -> CdcConfig {
        CdcConfig::parse(&map(&[
            ("database.hostname", "h"),
            ("database.user", "u"),
            ("database.dbname", "db"),
            ("topic.prefix", "srv"),
            ("column.exclude.list", "public\\.t\\.secret"),
        ]))
        .unwrap()
    }

    fn model() -> TableModel {
        let col = |n: &str, kind: Kind, not_null| ColumnDef {
            name: n.into(),
            kind,
            not_null,
        };
        TableModel::new(
            &config(),
            1,
            "public",
            "t",
            vec![
                col("id", Kind::Int32, true),
                col("name", Kind::Text, true),
                col("note", Kind::Text, false),
                col("secret", Kind::Text, false),
            ],
            &["id".to_string()],
        )
    }

    #[test]
    fn names_schemas_like_debezium() {
        let m = model();
        assert_eq!(m.topic, "srv.public.t");
        assert_eq!(
            m.key_schema.as_ref().unwrap().name.as_deref(),
            Some("srv.public.t.Key")
        );
        assert_eq!(m.row_schema.name.as_deref(), Some("srv.public.t.Value"));
        assert!(m.row_schema.optional);
        assert_eq!(
            m.envelope_schema.name.as_deref(),
            Some("srv.public.t.Envelope")
        );
        let names: Vec<&str> = m
            .row_schema
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(names, ["id", "name", "note"], "secret is excluded");
        let fields: Vec<&str> = m
            .envelope_schema
            .fields
            .iter()
            .map(|f| f.name.as_str())
            .collect();
        assert_eq!(
            fields,
            [
                "before",
                "after",
                "source",
                "transaction",
                "op",
                "ts_ms",
                "ts_us",
                "ts_ns"
            ]
        );
    }

    #[test]
    fn rows_keys_toast_and_fallbacks() {
        let c = config();
        let m = model();
        let t = |s: &str| TupleValue::Text(s.into());
        let row = m
            .row(
                &[t("7"), t("n"), TupleValue::UnchangedToast, TupleValue::Null],
                &c,
            )
            .unwrap();
        let Value::Struct(r) = row else { panic!() };
        assert_eq!(r.get("id"), Some(&Value::Int32(7)));
        assert_eq!(
            r.get("note"),
            Some(&Value::String(UNAVAILABLE_VALUE.into()))
        );
        // A key-only before-image: the required column gets its fallback, the optional null.
        let Value::Struct(k) = m
            .row(
                &[t("7"), TupleValue::Null, TupleValue::Null, TupleValue::Null],
                &c,
            )
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(k.get("name"), Some(&Value::String(String::new())));
        assert_eq!(k.get("note"), Some(&Value::Null));
        let Value::Struct(key) = m.key_value(&[t("7")], &c).unwrap() else {
            panic!()
        };
        assert_eq!(key.get("id"), Some(&Value::Int32(7)));
        assert!(m.same_key(&[t("7"), t("a")], &[t("7"), t("b")]));
        assert!(!m.same_key(&[t("7")], &[t("8")]));
        let err = m.row(&[t("x")], &c).unwrap_err();
        assert!(err.contains("column id of public.t"), "{err}");
    }
}
