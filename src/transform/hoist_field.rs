//! `HoistField$Key` / `HoistField$Value`: wraps the key/value in a struct (with a schema) or a
//! map (without) under one field.
//!
//! ```properties
//! transforms=wrap
//! transforms.wrap.type=org.apache.kafka.connect.transforms.HoistField$Value
//! transforms.wrap.field=line
//! ```

use super::config_keys::parse;
use super::schema_util::{put_field, SchemaCache};
use super::{Target, Transformation};
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::{Record, SchemaBuilder, Struct, Value};
use crate::errors::Result;

/// Connect's class name, without the `$Key`/`$Value` suffix.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.HoistField";

const FIELD: &str = "field";

/// Wraps a key or value in a single-field struct or map.
pub struct HoistField {
    target: Target,
    field: String,
    schema_cache: SchemaCache,
}

impl HoistField {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(FIELD, ConfigType::String)
                .importance(Importance::Medium)
                .doc("Field name for the single field that will be created in the resulting Struct or Map."),
        )
    }

    pub fn new(target: Target, config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        Ok(HoistField {
            target,
            field: p.string(FIELD).unwrap_or_default().to_string(),
            schema_cache: SchemaCache::default(),
        })
    }
}

impl Transformation for HoistField {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let (schema, value) = self.target.take(&mut record);
        match schema {
            None => {
                let hoisted = Value::string_map([(self.field.clone(), value)]);
                self.target.set(&mut record, None, hoisted);
            }
            Some(schema) => {
                let field = &self.field;
                let updated = self.schema_cache.get_or_build(&schema, || {
                    Ok(SchemaBuilder::struct_()
                        .field(field.clone(), schema.clone())
                        .build())
                })?;
                let mut s = Struct::new(updated.clone());
                put_field(&mut s, field, value)?;
                self.target
                    .set(&mut record, Some(updated), Value::Struct(s));
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Schema;
    use crate::transform::test_support::*;

    #[test]
    fn hoists_with_schema_as_connect_json() {
        let mut t = HoistField::new(Target::Value, &cfg(&[("field", "line")])).unwrap();
        let r = t
            .apply(value_record(Some(Schema::string()), Value::from("hello")))
            .unwrap()
            .unwrap();
        assert_eq!(
            envelope(r.value_schema.as_ref(), &r.value),
            r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":false,"field":"line"}],"optional":false},"payload":{"line":"hello"}}"#
        );
        let err = t
            .apply(value_record(Some(Schema::string()), Value::Null))
            .unwrap_err();
        assert!(
            err.to_string().contains("null used for required field"),
            "{err}"
        );
    }

    #[test]
    fn hoists_schemaless_and_keys() {
        let mut t = HoistField::new(Target::Key, &cfg(&[("field", "id")])).unwrap();
        let r = t
            .apply(sink_record(None, Value::Int64(3), None, Value::Null))
            .unwrap()
            .unwrap();
        assert_eq!(plain_json(&r.key), r#"{"id":3}"#);
        assert!(r.key_schema.is_none());
    }

    #[test]
    fn field_is_required() {
        assert_eq!(
            HoistField::new(Target::Value, &cfg(&[]))
                .err()
                .unwrap()
                .to_string(),
            "Missing required configuration \"field\" which has no default value."
        );
    }
}
