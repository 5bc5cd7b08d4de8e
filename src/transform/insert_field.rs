//! `InsertField$Key` / `InsertField$Value`: adds fields from the record's metadata (topic,
//! partition, offset, timestamp) or a static value.
//!
//! ```properties
//! transforms=meta
//! transforms.meta.type=org.apache.kafka.connect.transforms.InsertField$Value
//! transforms.meta.topic.field=kafka_topic
//! transforms.meta.offset.field=kafka_offset!
//! transforms.meta.static.field=source
//! transforms.meta.static.value=conveyor
//! ```
//!
//! A field name ending in `!` is required in the new schema, `?` (the default) optional. The
//! timestamp field is an optional `Timestamp`; `offset.field` only works for sink records.
//! Records whose key/value is null (tombstones) pass through unchanged.

use super::config_keys::{parse, replace_null_with_default_key, REPLACE_NULL_WITH_DEFAULT};
use super::requirements::{require_map, require_sink_offset, require_struct};
use super::schema_util::{
    add_field, copy_schema_basics, field_value, map_put, put_field, SchemaCache,
};
use super::{Target, Transformation};
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::{logical_schemas, Record, Schema, SchemaBuilder, SchemaRef, Struct, Value};
use crate::errors::{ConnectError, Result};

/// Connect's class name, without the `$Key`/`$Value` suffix.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.InsertField";

const TOPIC_FIELD: &str = "topic.field";
const PARTITION_FIELD: &str = "partition.field";
const OFFSET_FIELD: &str = "offset.field";
const TIMESTAMP_FIELD: &str = "timestamp.field";
const STATIC_FIELD: &str = "static.field";
const STATIC_VALUE: &str = "static.value";
const PURPOSE: &str = "field insertion";
const OPTIONALITY_DOC: &str =
    "Suffix with <code>!</code> to make this a required field, or <code>?</code> to keep it optional (the default).";

/// A field to insert: its name and whether the new field is optional.
#[derive(Clone, Debug, PartialEq)]
struct InsertionSpec {
    name: String,
    optional: bool,
}

impl InsertionSpec {
    fn parse(spec: Option<&str>) -> Option<InsertionSpec> {
        let spec = spec.filter(|s| !s.is_empty())?;
        Some(if let Some(name) = spec.strip_suffix('?') {
            InsertionSpec {
                name: name.to_string(),
                optional: true,
            }
        } else if let Some(name) = spec.strip_suffix('!') {
            InsertionSpec {
                name: name.to_string(),
                optional: false,
            }
        } else {
            InsertionSpec {
                name: spec.to_string(),
                optional: true,
            }
        })
    }
}

/// The configured fields to insert.
struct Insertions {
    topic: Option<InsertionSpec>,
    partition: Option<InsertionSpec>,
    offset: Option<InsertionSpec>,
    timestamp: Option<InsertionSpec>,
    static_field: Option<InsertionSpec>,
    static_value: Option<String>,
}

/// Inserts metadata or static fields into a struct or map.
pub struct InsertField {
    target: Target,
    insertions: Insertions,
    replace_null_with_default: bool,
    schema_cache: SchemaCache,
}

fn field_key(name: &str, doc: &str) -> ConfigKey {
    ConfigKey::new(name, ConfigType::String)
        .default_null()
        .importance(Importance::Medium)
        .doc(format!("{doc} {OPTIONALITY_DOC}"))
}

impl InsertField {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(field_key(TOPIC_FIELD, "Field name for Kafka topic."))
            .define(field_key(
                PARTITION_FIELD,
                "Field name for Kafka partition.",
            ))
            .define(field_key(
                OFFSET_FIELD,
                "Field name for Kafka offset - only applicable to sink connectors.<br/>",
            ))
            .define(field_key(
                TIMESTAMP_FIELD,
                "Field name for record timestamp.",
            ))
            .define(field_key(STATIC_FIELD, "Field name for static data field."))
            .define(
                ConfigKey::new(STATIC_VALUE, ConfigType::String)
                    .default_null()
                    .importance(Importance::Medium)
                    .doc("Static field value, if field name configured."),
            )
            .define(replace_null_with_default_key())
    }

    pub fn new(target: Target, config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let me = Insertions {
            topic: InsertionSpec::parse(p.string(TOPIC_FIELD)),
            partition: InsertionSpec::parse(p.string(PARTITION_FIELD)),
            offset: InsertionSpec::parse(p.string(OFFSET_FIELD)),
            timestamp: InsertionSpec::parse(p.string(TIMESTAMP_FIELD)),
            static_field: InsertionSpec::parse(p.string(STATIC_FIELD)),
            static_value: p.string(STATIC_VALUE).map(String::from),
        };
        if me.topic.is_none()
            && me.partition.is_none()
            && me.offset.is_none()
            && me.timestamp.is_none()
            && me.static_field.is_none()
        {
            return Err(ConnectError::Config("No field insertion configured".into()));
        }
        if let (Some(f), None) = (&me.static_field, &me.static_value) {
            return Err(ConnectError::Config(format!(
                "Invalid value null for configuration {STATIC_VALUE}: No value specified for static field: {}",
                f.name
            )));
        }
        Ok(InsertField {
            target,
            insertions: me,
            replace_null_with_default: p.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
            schema_cache: SchemaCache::default(),
        })
    }
}

impl Insertions {
    /// The values to insert, in schema order, as (spec, value) pairs.
    fn values<'a>(&'a self, record: &Record) -> Result<Vec<(&'a InsertionSpec, Value)>> {
        let mut out = Vec::with_capacity(5);
        if let Some(f) = &self.topic {
            out.push((f, Value::String(record.topic.clone())));
        }
        if let (Some(f), Some(p)) = (&self.partition, record.kafka_partition) {
            out.push((f, Value::Int32(p)));
        }
        if let Some(f) = &self.offset {
            out.push((f, Value::Int64(require_sink_offset(record, PURPOSE)?)));
        }
        if let (Some(f), Some(ts)) = (&self.timestamp, record.timestamp) {
            out.push((f, Value::Int64(ts)));
        }
        if let (Some(f), Some(v)) = (&self.static_field, &self.static_value) {
            out.push((f, Value::String(v.clone())));
        }
        Ok(out)
    }

    fn updated_schema(&self, schema: &SchemaRef) -> Result<SchemaRef> {
        let mut b = copy_schema_basics(schema, SchemaBuilder::struct_());
        for f in &schema.fields {
            b = b.field(f.name.clone(), f.schema.clone());
        }
        let pick = |spec: &InsertionSpec, optional: SchemaRef, required: SchemaRef| {
            if spec.optional {
                optional
            } else {
                required
            }
        };
        if let Some(f) = &self.topic {
            b = add_field(
                b,
                &f.name,
                pick(f, Schema::optional_string(), Schema::string()),
            )?;
        }
        if let Some(f) = &self.partition {
            b = add_field(
                b,
                &f.name,
                pick(f, Schema::optional_int32(), Schema::int32()),
            )?;
        }
        if let Some(f) = &self.offset {
            b = add_field(
                b,
                &f.name,
                pick(f, Schema::optional_int64(), Schema::int64()),
            )?;
        }
        if let Some(f) = &self.timestamp {
            let ts = if f.optional {
                logical_schemas::timestamp().optional().build()
            } else {
                logical_schemas::timestamp().build()
            };
            b = add_field(b, &f.name, ts)?;
        }
        if let Some(f) = &self.static_field {
            b = add_field(
                b,
                &f.name,
                pick(f, Schema::optional_string(), Schema::string()),
            )?;
        }
        Ok(b.build())
    }
}

impl Transformation for InsertField {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let target = self.target;
        if target.value(&record).is_null() {
            return Ok(Some(record));
        }
        let insertions = self.insertions.values(&record)?;
        match target.schema(&record).cloned() {
            None => {
                let mut entries = require_map(target.value(&record), PURPOSE)?.to_vec();
                for (spec, v) in insertions {
                    map_put(&mut entries, &spec.name, v);
                }
                target.set(&mut record, None, Value::Map(entries));
            }
            Some(_) => {
                let value = require_struct(target.value(&record), PURPOSE)?;
                let schema = value.schema().clone();
                let updated = self
                    .schema_cache
                    .get_or_build(&schema, || self.insertions.updated_schema(&schema))?;
                let mut out = Struct::new(updated.clone());
                for f in &schema.fields {
                    put_field(
                        &mut out,
                        &f.name,
                        field_value(value, &f.name, self.replace_null_with_default),
                    )?;
                }
                for (spec, v) in insertions {
                    put_field(&mut out, &spec.name, v)?;
                }
                target.set(&mut record, Some(updated), Value::Struct(out));
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::test_support::*;

    fn value_schema() -> SchemaRef {
        SchemaBuilder::struct_()
            .name("row")
            .field("id", Schema::int64())
            .build()
    }

    fn row(id: i64) -> Value {
        let mut s = Struct::new(value_schema());
        s.put("id", Value::Int64(id)).unwrap();
        Value::Struct(s)
    }

    #[test]
    fn inserts_metadata_with_schema_as_connect_json() {
        let mut t = InsertField::new(
            Target::Value,
            &cfg(&[
                ("topic.field", "topic"),
                ("partition.field", "partition!"),
                ("offset.field", "offset"),
                ("timestamp.field", "ts"),
                ("static.field", "source"),
                ("static.value", "conveyor"),
            ]),
        )
        .unwrap();
        let r = t
            .apply(value_record(Some(value_schema()), row(7)))
            .unwrap()
            .unwrap();
        assert_eq!(
            envelope(r.value_schema.as_ref(), &r.value),
            concat!(
                r#"{"schema":{"type":"struct","fields":["#,
                r#"{"type":"int64","optional":false,"field":"id"},"#,
                r#"{"type":"string","optional":true,"field":"topic"},"#,
                r#"{"type":"int32","optional":false,"field":"partition"},"#,
                r#"{"type":"int64","optional":true,"field":"offset"},"#,
                r#"{"type":"int64","optional":true,"name":"org.apache.kafka.connect.data.Timestamp","version":1,"field":"ts"},"#,
                r#"{"type":"string","optional":true,"field":"source"}],"#,
                r#""optional":false,"name":"row"},"#,
                r#""payload":{"id":7,"topic":"test","partition":0,"offset":42,"ts":1709622489012,"source":"conveyor"}}"#
            )
        );
    }

    #[test]
    fn inserts_into_schemaless_maps_and_caches_schemas() {
        let mut t = InsertField::new(
            Target::Value,
            &cfg(&[("topic.field", "t"), ("timestamp.field", "ts")]),
        )
        .unwrap();
        let r = t
            .apply(value_record(
                None,
                Value::string_map([("a", Value::Int64(1)), ("t", Value::from("old"))]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(
            plain_json(&r.value),
            r#"{"a":1,"t":"test","ts":1709622489012}"#
        );

        for id in 0..3 {
            t.apply(value_record(Some(value_schema()), row(id)))
                .unwrap();
        }
        assert_eq!(t.schema_cache.len(), 1);
    }

    #[test]
    fn key_variant_and_tombstones() {
        let mut t = InsertField::new(
            Target::Key,
            &cfg(&[("static.field", "k"), ("static.value", "v")]),
        )
        .unwrap();
        let r = t
            .apply(sink_record(
                None,
                Value::string_map([("id", Value::Int64(1))]),
                None,
                Value::Null,
            ))
            .unwrap()
            .unwrap();
        assert_eq!(plain_json(&r.key), r#"{"id":1,"k":"v"}"#);
        let tomb = value_record(Some(value_schema()), Value::Null);
        let mut tv = InsertField::new(Target::Value, &cfg(&[("topic.field", "t")])).unwrap();
        assert_eq!(tv.apply(tomb.clone()).unwrap(), Some(tomb));
    }

    #[test]
    fn offset_requires_a_sink_record_and_values_must_be_maps_or_structs() {
        let mut t = InsertField::new(Target::Value, &cfg(&[("offset.field", "o")])).unwrap();
        let err = t
            .apply(source_record(
                None,
                Value::string_map([("a", Value::Int32(1))]),
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Only SinkRecord supported for [field insertion], found: org.apache.kafka.connect.source.SourceRecord"
        );
        let err = t
            .apply(value_record(None, Value::from("text")))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Only Map objects supported in absence of schema for [field insertion], found: java.lang.String"
        );
        let mut dup = InsertField::new(Target::Value, &cfg(&[("topic.field", "id")])).unwrap();
        assert!(dup
            .apply(value_record(Some(value_schema()), row(1)))
            .unwrap_err()
            .to_string()
            .contains("field name duplication id"));
    }

    #[test]
    fn source_records_without_partition_or_timestamp_leave_fields_null() {
        let mut t = InsertField::new(
            Target::Value,
            &cfg(&[("partition.field", "p"), ("timestamp.field", "ts")]),
        )
        .unwrap();
        let r = t
            .apply(source_record(Some(value_schema()), row(1)))
            .unwrap()
            .unwrap();
        assert_eq!(plain_json_with_schema(&r), r#"{"id":1,"p":null,"ts":null}"#);
    }

    fn plain_json_with_schema(r: &Record) -> String {
        let bytes = crate::convert::Converter::to_bytes(
            &crate::convert::JsonConverter::schemaless(),
            "t",
            r.value_schema.as_ref(),
            &r.value,
        )
        .unwrap()
        .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn replace_null_with_default_controls_copied_fields() {
        let schema = SchemaBuilder::struct_()
            .field(
                "n",
                SchemaBuilder::new(crate::data::SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .build();
        let s = Value::Struct(Struct::new(schema.clone()));
        for (setting, want) in [("true", Value::Int32(5)), ("false", Value::Null)] {
            let mut t = InsertField::new(
                Target::Value,
                &cfg(&[("topic.field", "t"), ("replace.null.with.default", setting)]),
            )
            .unwrap();
            let r = t
                .apply(value_record(Some(schema.clone()), s.clone()))
                .unwrap()
                .unwrap();
            let Value::Struct(out) = &r.value else {
                panic!()
            };
            assert_eq!(out.get_without_default("n"), Some(&want), "{setting}");
        }
    }

    #[test]
    fn bad_configs() {
        let err = InsertField::new(Target::Value, &cfg(&[])).err().unwrap();
        assert_eq!(err.to_string(), "No field insertion configured");
        let err = InsertField::new(Target::Value, &cfg(&[("static.field", "s")]))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "Invalid value null for configuration static.value: No value specified for static field: s"
        );
        let err = InsertField::new(
            Target::Value,
            &cfg(&[("topic.field", "t"), ("replace.null.with.default", "maybe")]),
        )
        .err()
        .unwrap();
        assert!(matches!(err, ConnectError::Config(_)));
        assert_eq!(
            err.to_string(),
            "Invalid value maybe for configuration replace.null.with.default: Expected value to be either true or false"
        );
    }
}
