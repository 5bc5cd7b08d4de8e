//! `HeaderFrom$Key` / `HeaderFrom$Value`: moves or copies fields of the key/value into
//! headers.
//!
//! ```properties
//! transforms=headers
//! transforms.headers.type=org.apache.kafka.connect.transforms.HeaderFrom$Value
//! transforms.headers.fields=trace_id,tenant
//! transforms.headers.headers=x-trace-id,x-tenant
//! transforms.headers.operation=move
//! ```
//!
//! `fields` and `headers` are parallel lists. With a schema each header gets the field's
//! schema; `move` also removes the fields from the key/value schema.

use std::collections::HashSet;

use super::config_keys::{
    non_empty_list, parse, replace_null_with_default_key, REPLACE_NULL_WITH_DEFAULT,
};
use super::requirements::{require_map, require_struct};
use super::schema_util::{copy_schema_basics, field_value, put_field, SchemaCache};
use super::{Target, Transformation};
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance, Validator};
use crate::data::{Record, SchemaBuilder, Struct, Value};
use crate::errors::{ConnectError, Result};

/// Connect's class name, without the `$Key`/`$Value` suffix.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.HeaderFrom";

const FIELDS: &str = "fields";
const HEADERS: &str = "headers";
const OPERATION: &str = "operation";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Operation {
    Move,
    Copy,
}

impl Operation {
    fn name(self) -> &'static str {
        match self {
            Operation::Move => "move",
            Operation::Copy => "copy",
        }
    }
}

/// Moves or copies fields into headers.
pub struct HeaderFrom {
    target: Target,
    fields: Vec<String>,
    headers: Vec<String>,
    operation: Operation,
    replace_null_with_default: bool,
    move_schema_cache: SchemaCache,
}

impl HeaderFrom {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(FIELDS, ConfigType::List)
                    .validator(non_empty_list())
                    .importance(Importance::High)
                    .doc("Field names in the record whose values are to be copied or moved to headers."),
            )
            .define(
                ConfigKey::new(HEADERS, ConfigType::List)
                    .validator(non_empty_list())
                    .importance(Importance::High)
                    .doc("Header names, in the same order as the field names listed in the fields configuration property."),
            )
            .define(
                ConfigKey::new(OPERATION, ConfigType::String)
                    .validator(Validator::one_of(["move", "copy"]))
                    .importance(Importance::High)
                    .doc("Either <code>move</code> if the fields are to be moved to the headers (removed from the key/value), or <code>copy</code> if the fields are to be copied to the headers (retained in the key/value)."),
            )
            .define(replace_null_with_default_key())
    }

    pub fn new(target: Target, config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let fields = p.list(FIELDS);
        let headers = p.list(HEADERS);
        if fields.len() != headers.len() {
            return Err(ConnectError::Config(format!(
                "'{FIELDS}' config must have the same number of elements as '{HEADERS}' config."
            )));
        }
        let operation = if p.string(OPERATION) == Some("move") {
            Operation::Move
        } else {
            Operation::Copy
        };
        Ok(HeaderFrom {
            target,
            fields,
            headers,
            operation,
            replace_null_with_default: p.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
            move_schema_cache: SchemaCache::default(),
        })
    }
}

impl Transformation for HeaderFrom {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let target = self.target;
        let purpose = format!("header {}", self.operation.name());
        match target.schema(&record).cloned() {
            None => {
                let entries = require_map(target.value(&record), &purpose)?;
                let mut new_headers = Vec::with_capacity(self.fields.len());
                for (field, header) in self.fields.iter().zip(&self.headers) {
                    let v = target
                        .value(&record)
                        .map_get(field)
                        .cloned()
                        .unwrap_or(Value::Null);
                    new_headers.push((header.clone(), v));
                }
                if self.operation == Operation::Move {
                    let moved: HashSet<&str> = self.fields.iter().map(String::as_str).collect();
                    let kept = entries
                        .iter()
                        .filter(|(k, _)| !k.as_str().is_some_and(|k| moved.contains(k)))
                        .cloned()
                        .collect();
                    target.set(&mut record, None, Value::Map(kept));
                }
                for (h, v) in new_headers {
                    record.headers.push(h, None, v);
                }
            }
            Some(schema) => {
                let value = require_struct(target.value(&record), &purpose)?;
                let mut new_headers = Vec::with_capacity(self.fields.len());
                for (field, header) in self.fields.iter().zip(&self.headers) {
                    let f = schema
                        .field(field)
                        .ok_or_else(|| ConnectError::Data(format!("Unknown field: {field}")))?;
                    let v = field_value(value, field, self.replace_null_with_default);
                    new_headers.push((header.clone(), f.schema.clone(), v));
                }
                if self.operation == Operation::Move {
                    let fields = &self.fields;
                    let struct_schema = value.schema().clone();
                    let moved_schema =
                        self.move_schema_cache.get_or_build(&struct_schema, || {
                            let mut b =
                                copy_schema_basics(&struct_schema, SchemaBuilder::struct_());
                            for f in &struct_schema.fields {
                                if !fields.contains(&f.name) {
                                    b = b.field(f.name.clone(), f.schema.clone());
                                }
                            }
                            Ok(b.build())
                        })?;
                    let mut out = Struct::new(moved_schema.clone());
                    for f in &moved_schema.fields {
                        put_field(
                            &mut out,
                            &f.name,
                            field_value(value, &f.name, self.replace_null_with_default),
                        )?;
                    }
                    target.set(&mut record, Some(moved_schema), Value::Struct(out));
                }
                for (h, s, v) in new_headers {
                    record.headers.push(h, Some(s), v);
                }
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, SchemaRef};
    use crate::transform::test_support::*;

    fn schema() -> SchemaRef {
        SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field("trace", Schema::string())
            .build()
    }

    fn row() -> Value {
        let mut s = Struct::new(schema());
        s.put("id", Value::Int64(1)).unwrap();
        s.put("trace", Value::from("abc")).unwrap();
        Value::Struct(s)
    }

    fn header_from(op: &str) -> HeaderFrom {
        HeaderFrom::new(
            Target::Value,
            &cfg(&[
                ("fields", "trace"),
                ("headers", "x-trace"),
                ("operation", op),
            ]),
        )
        .unwrap()
    }

    #[test]
    fn moves_fields_with_schema() {
        let r = header_from("move")
            .apply(value_record(Some(schema()), row()))
            .unwrap()
            .unwrap();
        assert_eq!(
            envelope(r.value_schema.as_ref(), &r.value),
            r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":false,"field":"id"}],"optional":false},"payload":{"id":1}}"#
        );
        let h = r.headers.last_with_name("x-trace").unwrap();
        assert_eq!(h.value, Value::from("abc"));
        assert_eq!(h.schema.as_deref(), Some(&*Schema::string()));
    }

    #[test]
    fn copies_fields_and_works_without_schema() {
        let r = header_from("copy")
            .apply(value_record(Some(schema()), row()))
            .unwrap()
            .unwrap();
        assert_eq!(r.value, row());
        assert_eq!(r.headers.len(), 1);

        let mut t = HeaderFrom::new(
            Target::Key,
            &cfg(&[
                ("fields", "a,b"),
                ("headers", "ha,hb"),
                ("operation", "move"),
            ]),
        )
        .unwrap();
        let r = t
            .apply(sink_record(
                None,
                Value::string_map([("a", Value::Int64(1)), ("c", Value::Int64(3))]),
                None,
                Value::Null,
            ))
            .unwrap()
            .unwrap();
        assert_eq!(plain_json(&r.key), r#"{"c":3}"#);
        assert_eq!(
            r.headers.last_with_name("ha").unwrap().value,
            Value::Int64(1)
        );
        assert_eq!(r.headers.last_with_name("hb").unwrap().value, Value::Null);
        assert!(r.headers.last_with_name("ha").unwrap().schema.is_none());
    }

    #[test]
    fn runtime_errors() {
        let err = header_from("move")
            .apply(value_record(None, Value::Null))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Only Map objects supported in absence of schema for [header move], found: null"
        );
        let mut t = HeaderFrom::new(
            Target::Value,
            &cfg(&[("fields", "nope"), ("headers", "h"), ("operation", "copy")]),
        )
        .unwrap();
        let err = t.apply(value_record(Some(schema()), row())).unwrap_err();
        assert_eq!(err.to_string(), "Unknown field: nope");
    }

    #[test]
    fn bad_configs() {
        let msg = |pairs: &[(&str, &str)]| {
            HeaderFrom::new(Target::Value, &cfg(pairs))
                .err()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            msg(&[("fields", "a,b"), ("headers", "h"), ("operation", "move")]),
            "'fields' config must have the same number of elements as 'headers' config."
        );
        assert_eq!(
            msg(&[("fields", "a"), ("headers", "h"), ("operation", "rename")]),
            "Invalid value rename for configuration operation: String must be one of: move, copy"
        );
        assert!(msg(&[("fields", "a"), ("headers", "h")]).contains("\"operation\""));
    }
}
