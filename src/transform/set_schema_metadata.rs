//! `SetSchemaMetadata$Key` / `SetSchemaMetadata$Value`: sets the schema name and/or version.
//!
//! ```properties
//! transforms=named
//! transforms.named.type=org.apache.kafka.connect.transforms.SetSchemaMetadata$Value
//! transforms.named.schema.name=com.example.Order
//! transforms.named.schema.version=2
//! ```
//!
//! Records without a schema fail, except tombstones without a schema, which pass through.

use super::config_keys::{parse, replace_null_with_default_key, REPLACE_NULL_WITH_DEFAULT};
use super::requirements::require_schema;
use super::schema_util::{field_value, put_field};
use super::{Target, Transformation};
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::{Record, Struct, Value};
use crate::errors::{ConnectError, Result};

/// Connect's class name, without the `$Key`/`$Value` suffix.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.SetSchemaMetadata";

const SCHEMA_NAME: &str = "schema.name";
const SCHEMA_VERSION: &str = "schema.version";

/// Renames or re-versions a key or value schema.
pub struct SetSchemaMetadata {
    target: Target,
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
}

impl SetSchemaMetadata {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(SCHEMA_NAME, ConfigType::String)
                    .default_null()
                    .importance(Importance::High)
                    .doc("Schema name to set."),
            )
            .define(
                ConfigKey::new(SCHEMA_VERSION, ConfigType::Int)
                    .default_null()
                    .importance(Importance::High)
                    .doc("Schema version to set."),
            )
            .define(replace_null_with_default_key())
    }

    pub fn new(target: Target, config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let name = p.string(SCHEMA_NAME).map(String::from);
        let version = p.int(SCHEMA_VERSION);
        if name.is_none() && version.is_none() {
            return Err(ConnectError::Config(
                "Neither schema name nor version configured".into(),
            ));
        }
        Ok(SetSchemaMetadata {
            target,
            name,
            version,
            replace_null_with_default: p.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        })
    }
}

impl Transformation for SetSchemaMetadata {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let target = self.target;
        let schema = target.schema(&record);
        if schema.is_none() && target.value(&record).is_null() {
            return Ok(Some(record));
        }
        let schema = require_schema(schema, "updating schema metadata")?;
        let mut b = schema.to_builder();
        if let Some(n) = &self.name {
            b = b.name(n.clone());
        }
        if let Some(v) = self.version {
            b = b.version(v);
        }
        let updated = b.build();
        // A struct refers to its schema, so it is rebuilt against the renamed one.
        let value = match target.value(&record) {
            Value::Struct(s) => {
                let mut out = Struct::new(updated.clone());
                for f in &updated.fields {
                    put_field(
                        &mut out,
                        &f.name,
                        field_value(s, &f.name, self.replace_null_with_default),
                    )?;
                }
                Value::Struct(out)
            }
            other => other.clone(),
        };
        target.set(&mut record, Some(updated), value);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Schema, SchemaBuilder, SchemaType};
    use crate::transform::test_support::*;

    #[test]
    fn sets_name_and_version_as_connect_json() {
        let schema = SchemaBuilder::struct_()
            .name("old")
            .version(1)
            .field("id", Schema::int32())
            .build();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int32(1)).unwrap();
        let mut t = SetSchemaMetadata::new(
            Target::Value,
            &cfg(&[
                ("schema.name", "com.example.Order"),
                ("schema.version", "2"),
            ]),
        )
        .unwrap();
        let r = t
            .apply(value_record(Some(schema), Value::Struct(s)))
            .unwrap()
            .unwrap();
        assert_eq!(
            envelope(r.value_schema.as_ref(), &r.value),
            r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"com.example.Order","version":2},"payload":{"id":1}}"#
        );
    }

    #[test]
    fn primitive_keys_keep_their_value_and_schemaless_fails() {
        let mut t = SetSchemaMetadata::new(Target::Key, &cfg(&[("schema.version", "7")])).unwrap();
        let r = t
            .apply(sink_record(
                Some(Schema::string()),
                Value::from("k"),
                None,
                Value::Null,
            ))
            .unwrap()
            .unwrap();
        assert_eq!(r.key_schema.as_ref().unwrap().version, Some(7));
        assert_eq!(r.key, Value::from("k"));
        let err = t
            .apply(sink_record(None, Value::from("k"), None, Value::Null))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Schema required for [updating schema metadata]"
        );
        let tomb = value_record(None, Value::Null);
        let mut tv = SetSchemaMetadata::new(Target::Value, &cfg(&[("schema.name", "x")])).unwrap();
        assert_eq!(tv.apply(tomb.clone()).unwrap(), Some(tomb));
    }

    #[test]
    fn keeps_nulls_when_asked() {
        let schema = SchemaBuilder::struct_()
            .field(
                "n",
                SchemaBuilder::new(SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(3))
                    .build(),
            )
            .build();
        let mut t = SetSchemaMetadata::new(
            Target::Value,
            &cfg(&[("schema.name", "x"), ("replace.null.with.default", "false")]),
        )
        .unwrap();
        let r = t
            .apply(value_record(
                Some(schema.clone()),
                Value::Struct(Struct::new(schema)),
            ))
            .unwrap()
            .unwrap();
        let Value::Struct(s) = &r.value else { panic!() };
        assert_eq!(s.get_without_default("n"), Some(&Value::Null));
    }

    #[test]
    fn bad_configs() {
        assert_eq!(
            SetSchemaMetadata::new(Target::Value, &cfg(&[]))
                .err()
                .unwrap()
                .to_string(),
            "Neither schema name nor version configured"
        );
        assert_eq!(
            SetSchemaMetadata::new(Target::Value, &cfg(&[("schema.version", "two")]))
                .err()
                .unwrap()
                .to_string(),
            "Invalid value two for configuration schema.version: Not a number of type INT"
        );
    }
}
