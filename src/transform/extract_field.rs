//! `ExtractField$Key` / `ExtractField$Value`: replaces the key/value with one of its fields.
//!
//! ```properties
//! transforms=id
//! transforms.id.type=org.apache.kafka.connect.transforms.ExtractField$Key
//! transforms.id.field=id
//! # nested fields (KIP-821): field.syntax.version=V2 and field=customer.address.city
//! ```
//!
//! With a schema the new schema is the field's schema; a field the schema lacks is an error.
//! Without a schema a missing field gives null. Null keys/values pass through as null.

use super::config_keys::{parse, replace_null_with_default_key, REPLACE_NULL_WITH_DEFAULT};
use super::field_path::{FieldSyntaxVersion, SingleFieldPath, FIELD_SYNTAX_VERSION};
use super::requirements::{require_map, require_struct};
use super::{Target, Transformation};
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::{Record, Value};
use crate::errors::{ConnectError, Result};

/// Connect's class name, without the `$Key`/`$Value` suffix.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.ExtractField";

const FIELD: &str = "field";
const PURPOSE: &str = "field extraction";

/// Replaces a struct or map with one of its (possibly nested) fields.
pub struct ExtractField {
    target: Target,
    original_path: String,
    path: SingleFieldPath,
    replace_null_with_default: bool,
}

impl ExtractField {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(FIELD, ConfigType::String)
                    .importance(Importance::Medium)
                    .doc("Field name to extract."),
            )
            .define(FieldSyntaxVersion::config_key())
            .define(replace_null_with_default_key())
    }

    pub fn new(target: Target, config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let original_path = p.string(FIELD).unwrap_or_default().to_string();
        let version = FieldSyntaxVersion::from_name(p.string(FIELD_SYNTAX_VERSION).unwrap_or("V1"));
        Ok(ExtractField {
            target,
            path: SingleFieldPath::new(&original_path, version)?,
            original_path,
            replace_null_with_default: p.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        })
    }
}

impl Transformation for ExtractField {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let target = self.target;
        match target.schema(&record).cloned() {
            None => {
                let value = target.value(&record);
                let extracted = if value.is_null() {
                    Value::Null
                } else {
                    require_map(value, PURPOSE)?;
                    self.path.value_from_map(value)?
                };
                target.set(&mut record, None, extracted);
            }
            Some(schema) => {
                let value = target.value(&record);
                let field = self.path.field_from(&schema).ok_or_else(|| {
                    ConnectError::Data(format!("Unknown field: {}", self.original_path))
                })?;
                let field_schema = field.schema.clone();
                let extracted = if value.is_null() {
                    Value::Null
                } else {
                    let s = require_struct(value, PURPOSE)?;
                    self.path
                        .value_from_struct(s, self.replace_null_with_default)?
                };
                target.set(&mut record, Some(field_schema), extracted);
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, SchemaBuilder, SchemaRef, SchemaType, Struct};
    use crate::transform::test_support::*;

    fn nested() -> (SchemaRef, Value) {
        let inner = SchemaBuilder::struct_()
            .field("city", Schema::string())
            .build();
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field("address", inner.clone())
            .field(
                "dflt",
                SchemaBuilder::new(SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(9))
                    .build(),
            )
            .build();
        let mut a = Struct::new(inner);
        a.put("city", Value::from("Oslo")).unwrap();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(5)).unwrap();
        s.put("address", Value::Struct(a)).unwrap();
        (schema, Value::Struct(s))
    }

    #[test]
    fn extracts_a_field_with_schema_as_connect_json() {
        let (schema, v) = nested();
        let mut t = ExtractField::new(Target::Value, &cfg(&[("field", "id")])).unwrap();
        let r = t.apply(value_record(Some(schema), v)).unwrap().unwrap();
        assert_eq!(
            envelope(r.value_schema.as_ref(), &r.value),
            r#"{"schema":{"type":"int64","optional":false},"payload":5}"#
        );
    }

    #[test]
    fn extracts_nested_fields_with_v2_syntax() {
        let (schema, v) = nested();
        let mut t = ExtractField::new(
            Target::Key,
            &cfg(&[("field", "address.city"), ("field.syntax.version", "v2")]),
        )
        .unwrap();
        let r = t
            .apply(sink_record(
                Some(schema.clone()),
                v.clone(),
                None,
                Value::Null,
            ))
            .unwrap()
            .unwrap();
        assert_eq!(r.key, Value::from("Oslo"));
        let mut v1 = ExtractField::new(Target::Value, &cfg(&[("field", "address.city")])).unwrap();
        let err = v1.apply(value_record(Some(schema), v)).unwrap_err();
        assert_eq!(err.to_string(), "Unknown field: address.city");

        let map = Value::string_map([("a", Value::string_map([("b.c", Value::Int64(1))]))]);
        let mut t = ExtractField::new(
            Target::Value,
            &cfg(&[("field", "a.`b.c`"), ("field.syntax.version", "V2")]),
        )
        .unwrap();
        let r = t.apply(value_record(None, map)).unwrap().unwrap();
        assert_eq!(r.value, Value::Int64(1));
    }

    #[test]
    fn schemaless_missing_and_null_values() {
        let mut t = ExtractField::new(Target::Value, &cfg(&[("field", "x")])).unwrap();
        let r = t
            .apply(value_record(
                None,
                Value::string_map([("y", Value::Int64(1))]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(r.value, Value::Null);
        let r = t.apply(value_record(None, Value::Null)).unwrap().unwrap();
        assert_eq!(r.value, Value::Null);
        let err = t.apply(value_record(None, Value::Int64(3))).unwrap_err();
        assert!(
            err.to_string().starts_with("Only Map objects supported"),
            "{err}"
        );
    }

    #[test]
    fn replace_null_with_default() {
        let (schema, v) = nested();
        for (setting, want) in [("true", Value::Int32(9)), ("false", Value::Null)] {
            let mut t = ExtractField::new(
                Target::Value,
                &cfg(&[("field", "dflt"), ("replace.null.with.default", setting)]),
            )
            .unwrap();
            let r = t
                .apply(value_record(Some(schema.clone()), v.clone()))
                .unwrap()
                .unwrap();
            assert_eq!(r.value, want, "{setting}");
        }
    }

    #[test]
    fn bad_configs() {
        assert_eq!(
            ExtractField::new(Target::Value, &cfg(&[]))
                .err()
                .unwrap()
                .to_string(),
            "Missing required configuration \"field\" which has no default value."
        );
        assert_eq!(
            ExtractField::new(Target::Value, &cfg(&[("field", "a"), ("field.syntax.version", "V3")]))
                .err()
                .unwrap()
                .to_string(),
            "Invalid value V3 for configuration field.syntax.version: String must be one of (case insensitive): V1, V2"
        );
        assert!(ExtractField::new(
            Target::Value,
            &cfg(&[("field", "`a"), ("field.syntax.version", "V2")])
        )
        .err()
        .unwrap()
        .to_string()
        .starts_with("Incomplete backtick pair"));
    }
}
