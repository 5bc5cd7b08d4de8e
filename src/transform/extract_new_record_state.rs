//! Debezium's `io.debezium.transforms.ExtractNewRecordState`: turns a change event envelope
//! (`before`, `after`, `source`, `op`) into the row it leaves, so that sinks that expect plain
//! rows (Conveyor's PostgreSQL sink) can consume CDC topics.
//!
//! - `drop.tombstones` (default true): tombstones are dropped.
//! - `delete.handling.mode`: `drop` (default) drops delete events; `none` passes them on with
//!   a null value (a tombstone, which an upserting sink reads as a delete); `rewrite` passes
//!   the `before` row with `__deleted=true` (and `__deleted=false` on every other row).
//! - `add.fields`: envelope or `source` fields (`op`, `table`, `lsn`, `source.ts_ms`, ...)
//!   added to the row as `<add.fields.prefix><name>` (dots become underscores).
//! - Truncate events (`op=t`) carry no row and are dropped; records that are not envelopes
//!   (heartbeats) pass unchanged.

use super::config_keys::parse;
use super::Transformation;
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance, Validator};
use crate::data::{Record, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};
use crate::errors::{ConnectError, Result};

/// Debezium's class name.
pub const CLASS: &str = "io.debezium.transforms.ExtractNewRecordState";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DeleteMode {
    Drop,
    None,
    Rewrite,
}

/// The SMT.
pub struct ExtractNewRecordState {
    drop_tombstones: bool,
    delete_mode: DeleteMode,
    /// (field in the envelope or in `source`, name in the row).
    add_fields: Vec<(String, String)>,
}

impl ExtractNewRecordState {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new("drop.tombstones", ConfigType::Boolean)
                    .default_value("true")
                    .importance(Importance::Low)
                    .doc("Drop tombstone records."),
            )
            .define(
                ConfigKey::new("delete.handling.mode", ConfigType::String)
                    .default_value("drop")
                    .validator(Validator::one_of(["drop", "none", "rewrite"]))
                    .importance(Importance::Medium)
                    .doc("drop: drop delete events; none: keep them with a null value; rewrite: keep the old row with __deleted=true."),
            )
            .define(
                ConfigKey::new("add.fields", ConfigType::List)
                    .default_value("")
                    .importance(Importance::Low)
                    .doc("Envelope or source fields to add to the row (op, table, lsn, source.ts_ms, ...)."),
            )
            .define(
                ConfigKey::new("add.fields.prefix", ConfigType::String)
                    .default_value("__")
                    .importance(Importance::Low)
                    .doc("Prefix of the added fields' names."),
            )
    }

    pub fn new(config: &ConfigMap) -> Result<Self> {
        let parsed = parse(&Self::config_def(), config)?;
        let prefix = parsed
            .string("add.fields.prefix")
            .unwrap_or("__")
            .to_string();
        Ok(ExtractNewRecordState {
            drop_tombstones: parsed.boolean("drop.tombstones").unwrap_or(true),
            delete_mode: match parsed.string("delete.handling.mode") {
                Some("none") => DeleteMode::None,
                Some("rewrite") => DeleteMode::Rewrite,
                _ => DeleteMode::Drop,
            },
            add_fields: parsed
                .list("add.fields")
                .into_iter()
                .map(|f| {
                    let name = format!("{prefix}{}", f.replace('.', "_"));
                    (f, name)
                })
                .collect(),
        })
    }

    /// The value of `field` in the envelope, or else in its `source`, with its schema.
    fn lookup(envelope: &Struct, field: &str) -> Option<(SchemaRef, Value)> {
        let (holder, name) = match field.strip_prefix("source.") {
            Some(rest) => (
                match envelope.get("source") {
                    Some(Value::Struct(s)) => s.clone(),
                    _ => return None,
                },
                rest,
            ),
            None if envelope.schema().field(field).is_some() => (envelope.clone(), field),
            None => match envelope.get("source") {
                Some(Value::Struct(s)) => (s.clone(), field),
                _ => return None,
            },
        };
        let f = holder.schema().field(name)?;
        Some((
            f.schema.clone(),
            holder.get(name).cloned().unwrap_or(Value::Null),
        ))
    }
}

fn optional(schema: &SchemaRef) -> SchemaRef {
    if schema.optional {
        return schema.clone();
    }
    let mut s = (**schema).clone();
    s.optional = true;
    std::sync::Arc::new(s)
}

impl Transformation for ExtractNewRecordState {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        if record.value.is_null() {
            return Ok(if self.drop_tombstones {
                None
            } else {
                Some(record)
            });
        }
        let Value::Struct(envelope) = &record.value else {
            return Ok(Some(record));
        };
        let Some(Value::String(op)) = envelope.get("op") else {
            return Ok(Some(record));
        };
        let op = op.clone();
        let row_schema = match envelope.schema().field("after") {
            Some(f) => f.schema.clone(),
            None => return Ok(Some(record)),
        };
        let (row, deleted) = match op.as_str() {
            "t" => return Ok(None),
            "d" => match self.delete_mode {
                DeleteMode::Drop => return Ok(None),
                DeleteMode::None => {
                    record.value = Value::Null;
                    record.value_schema = Some(row_schema);
                    return Ok(Some(record));
                }
                DeleteMode::Rewrite => (envelope.get("before").cloned(), true),
            },
            _ => (envelope.get("after").cloned(), false),
        };
        let Some(Value::Struct(row)) = row else {
            return Err(ConnectError::Data(format!(
                "ExtractNewRecordState: the {op} event on {} has no row to extract",
                record.topic
            )));
        };
        let rewrite = self.delete_mode == DeleteMode::Rewrite;
        if self.add_fields.is_empty() && !rewrite {
            record.value_schema = Some(row_schema);
            record.value = Value::Struct(row);
            return Ok(Some(record));
        }
        let mut added = Vec::new();
        for (field, name) in &self.add_fields {
            let (schema, value) = Self::lookup(envelope, field)
                .unwrap_or_else(|| (Schema::optional_string(), Value::Null));
            added.push((name.clone(), optional(&schema), value));
        }
        if rewrite {
            added.push((
                "__deleted".into(),
                Schema::optional_string(),
                Value::String(deleted.to_string()),
            ));
        }
        let mut builder = SchemaBuilder::new(SchemaType::Struct)
            .set_name(row_schema.name.clone())
            .set_version(row_schema.version)
            .set_optional(row_schema.optional);
        for f in &row_schema.fields {
            builder = builder.field(f.name.clone(), f.schema.clone());
        }
        for (name, schema, _) in &added {
            builder = builder.field(name.clone(), schema.clone());
        }
        let schema = builder.build();
        let mut out = Struct::new(schema.clone());
        for f in &row_schema.fields {
            out.put_unchecked(f.index, row.get(&f.name).cloned().unwrap_or(Value::Null));
        }
        for (i, (_, _, value)) in added.into_iter().enumerate() {
            out.put_unchecked(row_schema.fields.len() + i, value);
        }
        record.value_schema = Some(schema);
        record.value = Value::Struct(out);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::test_support::*;

    fn event(op: &str, before: Option<i32>, after: Option<i32>) -> Record {
        let row = SchemaBuilder::struct_()
            .name("p.s.t.Value")
            .optional()
            .field("id", Schema::int32())
            .build();
        let source = SchemaBuilder::struct_()
            .name("src")
            .field("table", Schema::string())
            .field("lsn", Schema::optional_int64())
            .build();
        let env = SchemaBuilder::struct_()
            .name("p.s.t.Envelope")
            .field("before", row.clone())
            .field("after", row.clone())
            .field("source", source.clone())
            .field("op", Schema::string())
            .build();
        let mk = |id: Option<i32>| match id {
            Some(id) => {
                let mut r = Struct::new(row.clone());
                r.put("id", Value::Int32(id)).unwrap();
                Value::Struct(r)
            }
            None => Value::Null,
        };
        let mut src = Struct::new(source);
        src.put("table", Value::String("t".into())).unwrap();
        src.put("lsn", Value::Int64(99)).unwrap();
        let mut e = Struct::new(env.clone());
        e.put("before", mk(before)).unwrap();
        e.put("after", mk(after)).unwrap();
        e.put("source", Value::Struct(src)).unwrap();
        e.put("op", Value::String(op.into())).unwrap();
        source_record(Some(env), Value::Struct(e))
    }

    #[test]
    fn extracts_rows_and_handles_deletes_and_tombstones() {
        let mut t = ExtractNewRecordState::new(&cfg(&[])).unwrap();
        let out = t.apply(event("c", None, Some(1))).unwrap().unwrap();
        assert_eq!(
            out.value_schema.as_ref().unwrap().name.as_deref(),
            Some("p.s.t.Value")
        );
        let Value::Struct(s) = &out.value else {
            panic!()
        };
        assert_eq!(s.get("id"), Some(&Value::Int32(1)));
        assert!(t.apply(event("d", Some(1), None)).unwrap().is_none());
        assert!(t.apply(event("t", None, None)).unwrap().is_none());
        assert!(t.apply(source_record(None, Value::Null)).unwrap().is_none());

        let mut keep = ExtractNewRecordState::new(&cfg(&[
            ("delete.handling.mode", "none"),
            ("drop.tombstones", "false"),
        ]))
        .unwrap();
        let out = keep.apply(event("d", Some(1), None)).unwrap().unwrap();
        assert!(out.value.is_null());
        assert!(keep
            .apply(source_record(None, Value::Null))
            .unwrap()
            .is_some());

        let mut rewrite = ExtractNewRecordState::new(&cfg(&[
            ("delete.handling.mode", "rewrite"),
            ("add.fields", "op,table,source.lsn"),
        ]))
        .unwrap();
        let out = rewrite.apply(event("d", Some(7), None)).unwrap().unwrap();
        let Value::Struct(s) = &out.value else {
            panic!()
        };
        assert_eq!(s.get("id"), Some(&Value::Int32(7)));
        assert_eq!(s.get("__op"), Some(&Value::String("d".into())));
        assert_eq!(s.get("__table"), Some(&Value::String("t".into())));
        assert_eq!(s.get("__source_lsn"), Some(&Value::Int64(99)));
        assert_eq!(s.get("__deleted"), Some(&Value::String("true".into())));
        let out = rewrite
            .apply(event("u", Some(7), Some(8)))
            .unwrap()
            .unwrap();
        let Value::Struct(s) = &out.value else {
            panic!()
        };
        assert_eq!(s.get("__deleted"), Some(&Value::String("false".into())));
        assert!(ExtractNewRecordState::new(&cfg(&[("delete.handling.mode", "x")])).is_err());
    }
}
