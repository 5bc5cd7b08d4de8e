//! Which columns a run of records writes and where each value comes from (the JDBC
//! connector's `FieldsMetadata`): primary key columns per `pk.mode`/`pk.fields`, value
//! columns filtered by `fields.whitelist`, and types from the schemas or, for schemaless
//! maps, inferred from the values.

use std::borrow::Cow;
use std::sync::Arc;

use crate::data::{Record, SchemaRef, SchemaType, Value};

use super::identifier::Quoting;
use super::sink_config::{PkMode, SinkConfig};
use super::types::{ConnectType, ValueShapes};

/// What a record asks of its table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Write,
    Delete,
}

/// Where a column's value comes from.
#[derive(Clone, Debug, PartialEq)]
pub enum ValueSource {
    KafkaTopic,
    KafkaPartition,
    KafkaOffset,
    /// The whole key (a primitive key).
    Key,
    /// A struct key's field, by index.
    KeyField(usize),
    /// An entry of a schemaless map key.
    KeyEntry(String),
    /// A struct value's field, by index.
    ValueField(usize),
    /// An entry of a schemaless map value.
    ValueEntry(String),
}

impl ValueSource {
    /// The value for this column in `record` (a struct field's default when it is null).
    pub fn get<'r>(&self, record: &'r Record) -> Cow<'r, Value> {
        fn field(v: &Value, index: usize) -> &Value {
            match v {
                Value::Struct(s) => match s.values().get(index) {
                    Some(Value::Null) => s
                        .schema()
                        .fields
                        .get(index)
                        .and_then(|f| f.schema.default.as_ref())
                        .unwrap_or(&Value::Null),
                    Some(v) => v,
                    None => &Value::Null,
                },
                _ => &Value::Null,
            }
        }
        match self {
            ValueSource::KafkaTopic => Cow::Owned(Value::String(record.topic.clone())),
            ValueSource::KafkaPartition => {
                Cow::Owned(record.kafka_partition.map(Value::Int32).unwrap_or_default())
            }
            ValueSource::KafkaOffset => {
                Cow::Owned(record.kafka_offset().map(Value::Int64).unwrap_or_default())
            }
            ValueSource::Key => Cow::Borrowed(&record.key),
            ValueSource::KeyField(i) => Cow::Borrowed(field(&record.key, *i)),
            ValueSource::KeyEntry(name) => {
                Cow::Borrowed(record.key.map_get(name).unwrap_or(&Value::Null))
            }
            ValueSource::ValueField(i) => Cow::Borrowed(field(&record.value, *i)),
            ValueSource::ValueEntry(name) => {
                Cow::Borrowed(record.value.map_get(name).unwrap_or(&Value::Null))
            }
        }
    }
}

/// A column a run writes.
#[derive(Clone, Debug)]
pub struct ColumnPlan {
    /// The column name as PostgreSQL stores it.
    pub name: String,
    pub source: ValueSource,
    /// The values' type: from the schema, or inferred (`None` when every value was null).
    pub connect: Option<ConnectType>,
    /// Schemaless columns: what the values looked like.
    pub shapes: Option<ValueShapes>,
    /// The field's schema (for nested values, array items and defaults).
    pub schema: Option<SchemaRef>,
    pub optional: bool,
    pub key: bool,
}

impl ColumnPlan {
    fn from_schema(name: String, source: ValueSource, schema: &SchemaRef, key: bool) -> Self {
        ColumnPlan {
            name,
            source,
            connect: Some(ConnectType::of_schema(schema)),
            shapes: None,
            schema: Some(schema.clone()),
            optional: schema.optional,
            key,
        }
    }

    fn inferred(name: String, source: ValueSource, records: &[&Record], key: bool) -> Self {
        let mut shapes = ValueShapes::default();
        for r in records {
            shapes.observe(&source.get(r));
        }
        ColumnPlan {
            name,
            source,
            connect: (!shapes.is_empty()).then(|| shapes.connect_type()),
            shapes: Some(shapes),
            schema: None,
            optional: !key,
            key,
        }
    }
}

/// The JDBC connector's message for a record its settings cannot write.
fn unsupported_value(config: &SinkConfig, record: &Record, what: &str) -> String {
    let kind = match &record.value {
        Value::Null => "null",
        v => v.type_name(),
    };
    let schema = match &record.value_schema {
        Some(s) => s.schema_type.connect_name(),
        None => "null",
    };
    format!(
        "Sink connector is configured with 'delete.enabled={}' and 'pk.mode={}' and therefore requires records with {what}, but found record at (topic='{}',partition={},offset={},timestamp={}) with a {kind} value and {schema} value schema.",
        config.delete_enabled,
        pk_mode_name(config.pk_mode),
        record.topic,
        record.kafka_partition.unwrap_or(-1),
        record.kafka_offset().unwrap_or(-1),
        record.timestamp.map(|t| t.to_string()).unwrap_or_else(|| "null".into()),
    )
}

fn pk_mode_name(mode: PkMode) -> &'static str {
    match mode {
        PkMode::None => "none",
        PkMode::Kafka => "kafka",
        PkMode::RecordKey => "record_key",
        PkMode::RecordValue => "record_value",
    }
}

/// Whether `record` is a write or a delete, or why the sink cannot handle it.
pub fn record_op(config: &SinkConfig, record: &Record) -> Result<Op, String> {
    if record.value.is_null() {
        if !config.delete_enabled {
            return Err(unsupported_value(
                config,
                record,
                "a non-null Struct value and non-null Struct schema",
            ));
        }
        if record.key.is_null() {
            return Err(unsupported_value(
                config,
                record,
                "a non-null key to delete by",
            ));
        }
        return Ok(Op::Delete);
    }
    let writable = matches!(
        (&record.value, &record.value_schema),
        (Value::Struct(_), _) | (Value::Map(_), None)
    );
    if !writable {
        return Err(unsupported_value(
            config,
            record,
            "a non-null Struct value and non-null Struct schema (or a schemaless JSON object)",
        ));
    }
    if config.pk_mode == PkMode::RecordKey && record.key.is_null() {
        return Err(unsupported_value(
            config,
            record,
            "a non-null key and non-null Struct or primitive key schema",
        ));
    }
    Ok(Op::Write)
}

fn schema_eq(a: &Option<SchemaRef>, b: &Option<SchemaRef>) -> bool {
    match (a, b) {
        (Some(x), Some(y)) => Arc::ptr_eq(x, y) || x == y,
        (None, None) => true,
        _ => false,
    }
}

/// The schemas a run shares: records with other schemas start a new run.
#[derive(Clone, Debug, Default)]
pub struct RunShape {
    key: Option<Option<SchemaRef>>,
    value: Option<Option<SchemaRef>>,
}

impl RunShape {
    /// Adds `record` to the run if it fits; deletes only need the key schema to match.
    pub fn admit(&mut self, record: &Record, op: Op) -> bool {
        if let Some(k) = &self.key {
            if !schema_eq(k, &record.key_schema) {
                return false;
            }
        }
        if op == Op::Write {
            if let Some(v) = &self.value {
                if !schema_eq(v, &record.value_schema) {
                    return false;
                }
            }
            self.value = Some(record.value_schema.clone());
        }
        self.key = Some(record.key_schema.clone());
        true
    }
}

/// The columns of a run: primary key columns first, then value columns.
pub fn plan_columns(
    config: &SinkConfig,
    records: &[&Record],
    ops: &[Op],
) -> Result<Vec<ColumnPlan>, String> {
    let quoting = config.quoting;
    let name = |n: &str| quoting.stored_name(n);
    let first_write = records
        .iter()
        .zip(ops)
        .find(|(_, op)| **op == Op::Write)
        .map(|(r, _)| *r);
    let first = records.first().copied().ok_or("empty run")?;
    let mut columns: Vec<ColumnPlan> = Vec::new();
    match config.pk_mode {
        PkMode::None => {}
        PkMode::Kafka => {
            let sources = [
                (ValueSource::KafkaTopic, crate::data::Schema::string()),
                (ValueSource::KafkaPartition, crate::data::Schema::int32()),
                (ValueSource::KafkaOffset, crate::data::Schema::int64()),
            ];
            for (field, (source, schema)) in config.pk_fields.iter().zip(sources) {
                columns.push(ColumnPlan::from_schema(name(field), source, &schema, true));
            }
        }
        PkMode::RecordKey => key_columns(config, records, first, &mut columns)?,
        PkMode::RecordValue => {
            let Some(record) = first_write else {
                return Err("pk.mode=record_value cannot delete records".into());
            };
            match (&record.value, &record.value_schema) {
                (Value::Struct(s), _) => {
                    let schema = s.schema();
                    let wanted: Vec<&str> = if config.pk_fields.is_empty() {
                        schema.fields.iter().map(|f| f.name.as_str()).collect()
                    } else {
                        config.pk_fields.iter().map(String::as_str).collect()
                    };
                    for w in wanted {
                        let f = schema
                            .field(w)
                            .ok_or_else(|| format!("PK field not found in value schema: {w}"))?;
                        columns.push(ColumnPlan::from_schema(
                            name(&f.name),
                            ValueSource::ValueField(f.index),
                            &f.schema,
                            true,
                        ));
                    }
                }
                _ => {
                    if config.pk_fields.is_empty() {
                        return Err("pk.mode=record_value with schemaless values needs pk.fields to name the key entries".into());
                    }
                    for w in &config.pk_fields {
                        columns.push(ColumnPlan::inferred(
                            name(w),
                            ValueSource::ValueEntry(w.clone()),
                            records,
                            true,
                        ));
                    }
                }
            }
        }
    }
    let Some(record) = first_write else {
        return Ok(columns);
    };
    let included = |field: &str, columns: &[ColumnPlan]| {
        (config.fields_whitelist.is_empty() || config.fields_whitelist.iter().any(|w| w == field))
            && !columns.iter().any(|c| c.key && c.name == name(field))
    };
    match &record.value {
        Value::Struct(s) => {
            for f in &s.schema().fields {
                if included(&f.name, &columns) {
                    let plan = ColumnPlan::from_schema(
                        name(&f.name),
                        ValueSource::ValueField(f.index),
                        &f.schema,
                        false,
                    );
                    columns.push(plan);
                }
            }
        }
        _ => {
            // Schemaless: every key seen in the run, in first-seen order.
            let mut keys: Vec<&str> = Vec::new();
            for (r, op) in records.iter().zip(ops) {
                if *op != Op::Write {
                    continue;
                }
                if let Value::Map(entries) = &r.value {
                    for (k, _) in entries {
                        if let Some(k) = k.as_str() {
                            if !keys.contains(&k) {
                                keys.push(k);
                            }
                        }
                    }
                }
            }
            for k in keys {
                if included(k, &columns) {
                    let plan = ColumnPlan::inferred(
                        name(k),
                        ValueSource::ValueEntry(k.to_string()),
                        records,
                        false,
                    );
                    columns.push(plan);
                }
            }
        }
    }
    Ok(columns)
}

fn key_columns(
    config: &SinkConfig,
    records: &[&Record],
    first: &Record,
    columns: &mut Vec<ColumnPlan>,
) -> Result<(), String> {
    let quoting: Quoting = config.quoting;
    match (&first.key_schema, &first.key) {
        (Some(schema), _) if schema.schema_type == SchemaType::Struct => {
            let wanted: Vec<&str> = if config.pk_fields.is_empty() {
                schema.fields.iter().map(|f| f.name.as_str()).collect()
            } else {
                config.pk_fields.iter().map(String::as_str).collect()
            };
            for w in wanted {
                let f = schema
                    .field(w)
                    .ok_or_else(|| format!("PK field not found in key schema: {w}"))?;
                columns.push(ColumnPlan::from_schema(
                    quoting.stored_name(&f.name),
                    ValueSource::KeyField(f.index),
                    &f.schema,
                    true,
                ));
            }
        }
        (Some(schema), _) if schema.schema_type.is_primitive() => {
            let [field] = config.pk_fields.as_slice() else {
                return Err(format!(
                    "Need exactly one PK column defined since the key schema for records is a primitive type, defined columns are: {:?}",
                    config.pk_fields
                ));
            };
            columns.push(ColumnPlan::from_schema(
                quoting.stored_name(field),
                ValueSource::Key,
                schema,
                true,
            ));
        }
        (Some(schema), _) => {
            return Err(format!(
                "Key schema must be primitive type or Struct, but is of type: {}",
                schema.schema_type.connect_name()
            ))
        }
        (None, Value::Map(entries)) => {
            let wanted: Vec<String> = if config.pk_fields.is_empty() {
                entries
                    .iter()
                    .filter_map(|(k, _)| k.as_str().map(String::from))
                    .collect()
            } else {
                config.pk_fields.clone()
            };
            for w in wanted {
                columns.push(ColumnPlan::inferred(
                    quoting.stored_name(&w),
                    ValueSource::KeyEntry(w),
                    records,
                    true,
                ));
            }
        }
        (None, Value::Struct(_) | Value::Array(_)) => {
            return Err(
                "Key must be a primitive or a Struct with a schema, or a schemaless JSON object"
                    .into(),
            )
        }
        (None, _) => {
            let [field] = config.pk_fields.as_slice() else {
                return Err(format!(
                    "Need exactly one PK column defined since the key of records is a primitive value, defined columns are: {:?}",
                    config.pk_fields
                ));
            };
            columns.push(ColumnPlan::inferred(
                quoting.stored_name(field),
                ValueSource::Key,
                records,
                true,
            ));
        }
    }
    Ok(())
}
