//! `Flatten$Key` / `Flatten$Value`: flattens nested structs (or maps) into one level, joining
//! field names with a delimiter.
//!
//! ```properties
//! transforms=flat
//! transforms.flat.type=org.apache.kafka.connect.transforms.Flatten$Value
//! transforms.flat.delimiter=_
//! ```
//!
//! A field of an optional struct becomes optional; defaults of parent structs carry over.
//! Arrays are kept as they are; maps inside a schema are not supported. Null keys/values pass
//! through unchanged.

use super::config_keys::parse;
use super::requirements::{java_class_name, require_map, require_struct};
use super::schema_util::{add_field, copy_schema_basics, put_field, SchemaCache};
use super::{Target, Transformation};
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::{Record, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};
use crate::errors::{ConnectError, Result};

/// Connect's class name, without the `$Key`/`$Value` suffix.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.Flatten";

const DELIMITER: &str = "delimiter";
const PURPOSE: &str = "flattening";

/// Flattens nested structs or maps.
pub struct Flatten {
    target: Target,
    delimiter: String,
    schema_cache: SchemaCache,
}

fn field_name(delimiter: &str, prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}{delimiter}{name}")
    }
}

impl Flatten {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(DELIMITER, ConfigType::String)
                .default_value(".")
                .importance(Importance::Medium)
                .doc("Delimiter to insert between field names from the input record when generating field names for the output record"),
        )
    }

    pub fn new(target: Target, config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        // ConfigDef trims strings; a delimiter made of spaces is kept as given.
        let delimiter = match config.get(DELIMITER) {
            Some(raw) if raw.trim().is_empty() && !raw.is_empty() => raw.clone(),
            _ => p.string(DELIMITER).unwrap_or(".").to_string(),
        };
        Ok(Flatten {
            target,
            delimiter,
            schema_cache: SchemaCache::default(),
        })
    }
}

fn flatten_map(
    delimiter: &str,
    entries: &[(Value, Value)],
    prefix: &str,
    out: &mut Vec<(Value, Value)>,
) -> Result<()> {
    for (k, v) in entries {
        let key = match k {
            Value::String(s) => s.as_str(),
            other => {
                return Err(ConnectError::Data(format!(
                    "Flatten transformation requires string map keys, found: {}",
                    java_class_name(other)
                )))
            }
        };
        let name = field_name(delimiter, prefix, key);
        match v {
            Value::Map(inner) => flatten_map(delimiter, inner, &name, out)?,
            Value::Struct(_) => {
                return Err(ConnectError::Data(format!(
                    "Flatten transformation does not support class {} for record without schemas (for field {name}).",
                    java_class_name(v)
                )))
            }
            other => out.push((Value::String(name), other.clone())),
        }
    }
    Ok(())
}

fn flatten_schema(
    delimiter: &str,
    schema: &Schema,
    prefix: &str,
    mut builder: SchemaBuilder,
    optional: bool,
    default_from_parent: Option<&Struct>,
) -> Result<SchemaBuilder> {
    for f in &schema.fields {
        let name = field_name(delimiter, prefix, &f.name);
        let field_optional = optional || f.schema.optional;
        let default = f.schema.default.clone().or_else(|| {
            default_from_parent
                .and_then(|d| d.get(&f.name))
                .filter(|v| !v.is_null())
                .cloned()
        });
        match f.schema.schema_type {
            SchemaType::Struct => {
                let nested_default = match &default {
                    Some(Value::Struct(s)) => Some(s),
                    _ => None,
                };
                builder =
                    flatten_schema(delimiter, &f.schema, &name, builder, field_optional, nested_default)?;
            }
            SchemaType::Map => {
                return Err(ConnectError::Data(format!(
                    "Flatten transformation does not support MAP for record with schemas (for field {name})."
                )))
            }
            _ => {
                let field_schema = f
                    .schema
                    .to_builder()
                    .set_optional(field_optional)
                    .set_default(default)
                    .build();
                builder = add_field(builder, &name, field_schema)?;
            }
        }
    }
    Ok(builder)
}

fn flatten_struct(delimiter: &str, value: &Struct, prefix: &str, out: &mut Struct) -> Result<()> {
    for f in &value.schema().fields {
        let name = field_name(delimiter, prefix, &f.name);
        let v = value.get(&f.name).cloned().unwrap_or(Value::Null);
        match (f.schema.schema_type, v) {
            (SchemaType::Struct, Value::Struct(inner)) => {
                flatten_struct(delimiter, &inner, &name, out)?
            }
            // A null nested struct leaves its flattened fields null.
            (SchemaType::Struct, _) => {}
            (_, v) => put_field(out, &name, v)?,
        }
    }
    Ok(())
}

fn updated_schema(delimiter: &str, schema: &SchemaRef) -> Result<SchemaRef> {
    let default = match &schema.default {
        Some(Value::Struct(s)) => Some(s),
        _ => None,
    };
    let builder = copy_schema_basics(schema, SchemaBuilder::struct_());
    Ok(flatten_schema(delimiter, schema, "", builder, schema.optional, default)?.build())
}

impl Transformation for Flatten {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let target = self.target;
        if target.value(&record).is_null() {
            return Ok(Some(record));
        }
        let delimiter = &self.delimiter;
        match target.schema(&record) {
            None => {
                let entries = require_map(target.value(&record), PURPOSE)?;
                let mut out = Vec::with_capacity(entries.len());
                flatten_map(delimiter, entries, "", &mut out)?;
                target.set(&mut record, None, Value::Map(out));
            }
            Some(_) => {
                let value = require_struct(target.value(&record), PURPOSE)?;
                let schema = value.schema().clone();
                let updated = self
                    .schema_cache
                    .get_or_build(&schema, || updated_schema(delimiter, &schema))?;
                let mut out = Struct::new(updated.clone());
                flatten_struct(delimiter, value, "", &mut out)?;
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

    fn nested() -> (SchemaRef, Value) {
        let address = SchemaBuilder::struct_()
            .optional()
            .field("city", Schema::string())
            .field("zip", Schema::int32())
            .build();
        let schema = SchemaBuilder::struct_()
            .name("person")
            .field("id", Schema::int64())
            .field("address", address.clone())
            .field("tags", SchemaBuilder::array(Schema::string()).build())
            .build();
        let mut a = Struct::new(address);
        a.put("city", Value::from("Oslo")).unwrap();
        a.put("zip", Value::Int32(150)).unwrap();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(1)).unwrap();
        s.put("address", Value::Struct(a)).unwrap();
        s.put("tags", Value::Array(vec![Value::from("x")])).unwrap();
        (schema, Value::Struct(s))
    }

    #[test]
    fn flattens_structs_as_connect_json() {
        let (schema, v) = nested();
        let mut t = Flatten::new(Target::Value, &cfg(&[])).unwrap();
        let r = t.apply(value_record(Some(schema), v)).unwrap().unwrap();
        assert_eq!(
            envelope(r.value_schema.as_ref(), &r.value),
            concat!(
                r#"{"schema":{"type":"struct","fields":["#,
                r#"{"type":"int64","optional":false,"field":"id"},"#,
                r#"{"type":"string","optional":true,"field":"address.city"},"#,
                r#"{"type":"int32","optional":true,"field":"address.zip"},"#,
                r#"{"type":"array","items":{"type":"string","optional":false},"optional":false,"field":"tags"}],"#,
                r#""optional":false,"name":"person"},"#,
                r#""payload":{"id":1,"address.city":"Oslo","address.zip":150,"tags":["x"]}}"#
            )
        );
    }

    #[test]
    fn null_nested_structs_leave_fields_null() {
        let (schema, _) = nested();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(2)).unwrap();
        s.put("tags", Value::Array(vec![])).unwrap();
        let mut t = Flatten::new(Target::Value, &cfg(&[("delimiter", "_")])).unwrap();
        let r = t
            .apply(value_record(Some(schema), Value::Struct(s)))
            .unwrap()
            .unwrap();
        let Value::Struct(out) = &r.value else {
            panic!()
        };
        assert_eq!(out.get("address_city"), Some(&Value::Null));
    }

    #[test]
    fn flattens_schemaless_maps_and_keys() {
        let mut t = Flatten::new(Target::Key, &cfg(&[("delimiter", "_")])).unwrap();
        let key = Value::string_map([
            (
                "a",
                Value::string_map([("b", Value::Int64(1)), ("c", Value::Null)]),
            ),
            ("list", Value::Array(vec![Value::Int64(1)])),
            ("d", Value::from("x")),
        ]);
        let r = t
            .apply(sink_record(None, key, None, Value::Null))
            .unwrap()
            .unwrap();
        assert_eq!(
            plain_json(&r.key),
            r#"{"a_b":1,"a_c":null,"list":[1],"d":"x"}"#
        );
        let mut tv = Flatten::new(Target::Value, &cfg(&[])).unwrap();
        let tomb = value_record(None, Value::Null);
        assert_eq!(tv.apply(tomb.clone()).unwrap(), Some(tomb));
    }

    #[test]
    fn maps_with_schemas_are_unsupported() {
        let schema = SchemaBuilder::struct_()
            .field(
                "m",
                SchemaBuilder::map(Schema::string(), Schema::string()).build(),
            )
            .build();
        let mut s = Struct::new(schema.clone());
        s.put("m", Value::Map(vec![])).unwrap();
        let mut t = Flatten::new(Target::Value, &cfg(&[])).unwrap();
        let err = t
            .apply(value_record(Some(schema), Value::Struct(s)))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Flatten transformation does not support MAP for record with schemas (for field m)."
        );
        let err = t.apply(value_record(None, Value::Int32(1))).unwrap_err();
        assert!(
            err.to_string().starts_with("Only Map objects supported"),
            "{err}"
        );
    }

    #[test]
    fn delimiter_defaults_to_a_dot_and_keeps_spaces() {
        let def = Flatten::config_def();
        let key = def.key("delimiter").unwrap();
        assert_eq!(key.default, crate::config::DefaultValue::Value(".".into()));
        let t = Flatten::new(Target::Value, &cfg(&[("delimiter", " ")])).unwrap();
        assert_eq!(t.delimiter, " ");
    }
}
