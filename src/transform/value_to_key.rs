//! `ValueToKey`: replaces the key with a struct (or map) of fields copied from the value.
//!
//! ```properties
//! transforms=key
//! transforms.key.type=org.apache.kafka.connect.transforms.ValueToKey
//! transforms.key.fields=user_id,region
//! ```

use super::config_keys::{
    non_empty_list, parse, replace_null_with_default_key, REPLACE_NULL_WITH_DEFAULT,
};
use super::requirements::{require_map, require_struct};
use super::schema_util::{field_value, put_field, SchemaCache};
use super::Transformation;
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::{Record, SchemaBuilder, SchemaRef, Struct, Value};
use crate::errors::{ConnectError, Result};

/// Connect's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.ValueToKey";

const FIELDS: &str = "fields";
const PURPOSE: &str = "copying fields from value to key";

/// Builds the key from value fields.
pub struct ValueToKey {
    fields: Vec<String>,
    replace_null_with_default: bool,
    schema_cache: SchemaCache,
}

impl ValueToKey {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(FIELDS, ConfigType::List)
                    .validator(non_empty_list())
                    .importance(Importance::High)
                    .doc("Field names on the record value to extract as the record key."),
            )
            .define(replace_null_with_default_key())
    }

    pub fn new(config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        Ok(ValueToKey {
            fields: p.list(FIELDS),
            replace_null_with_default: p.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
            schema_cache: SchemaCache::default(),
        })
    }
}

fn key_schema(fields: &[String], value_schema: &SchemaRef) -> Result<SchemaRef> {
    let mut b = SchemaBuilder::struct_();
    for name in fields {
        let f = value_schema
            .field(name)
            .ok_or_else(|| ConnectError::Data(format!("Field does not exist: {name}")))?;
        b = b.field(name.clone(), f.schema.clone());
    }
    Ok(b.build())
}

impl Transformation for ValueToKey {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        match &record.value_schema {
            None => {
                require_map(&record.value, PURPOSE)?;
                let key = Value::string_map(self.fields.iter().map(|f| {
                    (
                        f.clone(),
                        record.value.map_get(f).cloned().unwrap_or(Value::Null),
                    )
                }));
                record.key_schema = None;
                record.key = key;
            }
            Some(_) => {
                let value = require_struct(&record.value, PURPOSE)?;
                let fields = &self.fields;
                let schema = value.schema().clone();
                let key_schema = self
                    .schema_cache
                    .get_or_build(&schema, || key_schema(fields, &schema))?;
                let mut key = Struct::new(key_schema.clone());
                for f in fields {
                    put_field(
                        &mut key,
                        f,
                        field_value(value, f, self.replace_null_with_default),
                    )?;
                }
                record.key_schema = Some(key_schema);
                record.key = Value::Struct(key);
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
    fn builds_a_struct_key_as_connect_json() {
        let schema = SchemaBuilder::struct_()
            .field("user_id", Schema::int64())
            .field("region", Schema::optional_string())
            .field("amount", Schema::float64())
            .build();
        let mut s = Struct::new(schema.clone());
        s.put("user_id", Value::Int64(12)).unwrap();
        s.put("region", Value::from("eu")).unwrap();
        s.put("amount", Value::Float64(1.5)).unwrap();
        let mut t = ValueToKey::new(&cfg(&[("fields", "region,user_id")])).unwrap();
        let r = t
            .apply(value_record(Some(schema), Value::Struct(s)))
            .unwrap()
            .unwrap();
        assert_eq!(
            envelope(r.key_schema.as_ref(), &r.key),
            r#"{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"field":"region"},{"type":"int64","optional":false,"field":"user_id"}],"optional":false},"payload":{"region":"eu","user_id":12}}"#
        );
        assert!(r.value_schema.is_some(), "the value is unchanged");
    }

    #[test]
    fn schemaless_values_and_errors() {
        let mut t = ValueToKey::new(&cfg(&[("fields", "userId,city")])).unwrap();
        let r = t
            .apply(value_record(
                None,
                Value::string_map([
                    ("userId", Value::Int64(12)),
                    ("address", Value::from("x")),
                    ("city", Value::from("Topeka")),
                ]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(plain_json(&r.key), r#"{"userId":12,"city":"Topeka"}"#);
        let err = t.apply(value_record(None, Value::Null)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Only Map objects supported in absence of schema for [copying fields from value to key], found: null"
        );
        let schema = SchemaBuilder::struct_().field("a", Schema::int32()).build();
        let mut s = Struct::new(schema.clone());
        s.put("a", Value::Int32(1)).unwrap();
        let err = t
            .apply(value_record(Some(schema), Value::Struct(s)))
            .unwrap_err();
        assert_eq!(err.to_string(), "Field does not exist: userId");
    }

    #[test]
    fn bad_configs() {
        assert_eq!(
            ValueToKey::new(&cfg(&[])).err().unwrap().to_string(),
            "Missing required configuration \"fields\" which has no default value."
        );
        assert!(ValueToKey::new(&cfg(&[("fields", " ")]))
            .err()
            .unwrap()
            .to_string()
            .ends_with("Empty list"));
    }
}
