//! `MaskField$Key` / `MaskField$Value`: replaces field values with a type-appropriate "null"
//! (0, false, "", empty array or map, epoch for dates) or with a configured replacement.
//!
//! ```properties
//! transforms=mask
//! transforms.mask.type=org.apache.kafka.connect.transforms.MaskField$Value
//! transforms.mask.fields=ssn,card_number
//! transforms.mask.replacement=****
//! ```
//!
//! A `replacement` applies to numeric and string fields (and Decimals), converted to the
//! field's type; other fields (booleans, bytes, Date, Time and Timestamp) refuse it, as in
//! Kafka. Null fields stay null; null keys/values pass through unchanged.

use std::collections::HashSet;

use super::config_keys::{
    non_empty_list, parse, replace_null_with_default_key, REPLACE_NULL_WITH_DEFAULT,
};
use super::requirements::{java_class_name, require_map, require_struct};
use super::schema_util::{field_value, put_field};
use super::{Target, Transformation};
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance, Validator};
use crate::data::{decimal, logical, Record, Schema, Struct, Value};
use crate::errors::{ConnectError, Result};

/// Connect's class name, without the `$Key`/`$Value` suffix.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.MaskField";

const FIELDS: &str = "fields";
const REPLACEMENT: &str = "replacement";
const PURPOSE: &str = "mask fields";

/// Masks configured fields of a struct or map.
pub struct MaskField {
    target: Target,
    fields: HashSet<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

impl MaskField {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(FIELDS, ConfigType::List)
                    .validator(non_empty_list())
                    .importance(Importance::High)
                    .doc("Names of fields to mask."),
            )
            .define(
                ConfigKey::new(REPLACEMENT, ConfigType::String)
                    .default_null()
                    .validator(Validator::NonEmptyString)
                    .importance(Importance::Low)
                    .doc("Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only)."),
            )
            .define(replace_null_with_default_key())
    }

    pub fn new(target: Target, config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        Ok(MaskField {
            target,
            fields: p.list(FIELDS).into_iter().collect(),
            replacement: p.string(REPLACEMENT).map(String::from),
            replace_null_with_default: p.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        })
    }

    /// The masked form of `value`; `schema` is known for struct fields.
    fn masked(&self, value: Value, schema: Option<&Schema>) -> Result<Value> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        match &self.replacement {
            None => mask_with_null_value(&value, schema),
            Some(r) => mask_with_replacement(&value, schema, r),
        }
    }
}

fn is_decimal(schema: Option<&Schema>) -> Option<i32> {
    let s = schema?;
    if !s.is_logical(logical::DECIMAL) {
        return None;
    }
    s.parameters
        .get(logical::DECIMAL_SCALE)
        .and_then(|v| v.parse().ok())
}

fn mask_with_null_value(value: &Value, schema: Option<&Schema>) -> Result<Value> {
    if is_decimal(schema).is_some() {
        return Ok(Value::Bytes(decimal::to_bytes(0)));
    }
    Ok(match value {
        Value::Boolean(_) => Value::Boolean(false),
        Value::Int8(_) => Value::Int8(0),
        Value::Int16(_) => Value::Int16(0),
        Value::Int32(_) => Value::Int32(0),
        Value::Int64(_) => Value::Int64(0),
        Value::Float32(_) => Value::Float32(0.0),
        Value::Float64(_) => Value::Float64(0.0),
        Value::String(_) => Value::String(String::new()),
        Value::Array(_) => Value::Array(Vec::new()),
        Value::Map(_) => Value::Map(Vec::new()),
        other => {
            return Err(ConnectError::Data(format!(
                "Cannot mask value of type: class {}",
                java_class_name(other)
            )))
        }
    })
}

fn mask_with_replacement(value: &Value, schema: Option<&Schema>, r: &str) -> Result<Value> {
    // Dates, times and timestamps are java.util.Date in Kafka, which has no replacement.
    if schema.is_some_and(|s| {
        s.is_logical(logical::DATE)
            || s.is_logical(logical::TIME)
            || s.is_logical(logical::TIMESTAMP)
    }) {
        return Err(ConnectError::Data(
            "Cannot mask value of type class java.util.Date with custom replacement.".into(),
        ));
    }
    let not_a_number = || {
        ConnectError::Data(format!(
            "Unable to convert {r} (class java.lang.String) to number"
        ))
    };
    if let Some(scale) = is_decimal(schema) {
        let unscaled = decimal::parse_unscaled(r, scale).ok_or_else(not_a_number)?;
        return Ok(Value::Bytes(decimal::to_bytes(unscaled)));
    }
    let integer = || r.trim().parse::<i64>().map_err(|_| not_a_number());
    let out_of_range = |ty: &str| {
        ConnectError::Data(format!(
            "Unable to convert {r} (class java.lang.String) to {ty}: value out of range"
        ))
    };
    Ok(match value {
        Value::Int8(_) => Value::Int8(i8::try_from(integer()?).map_err(|_| out_of_range("Byte"))?),
        Value::Int16(_) => {
            Value::Int16(i16::try_from(integer()?).map_err(|_| out_of_range("Short"))?)
        }
        Value::Int32(_) => {
            Value::Int32(i32::try_from(integer()?).map_err(|_| out_of_range("Integer"))?)
        }
        Value::Int64(_) => Value::Int64(integer()?),
        Value::Float32(_) => Value::Float32(r.trim().parse().map_err(|_| not_a_number())?),
        Value::Float64(_) => Value::Float64(r.trim().parse().map_err(|_| not_a_number())?),
        Value::String(_) => Value::String(r.to_string()),
        other => {
            return Err(ConnectError::Data(format!(
                "Cannot mask value of type class {} with custom replacement.",
                java_class_name(other)
            )))
        }
    })
}

impl Transformation for MaskField {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let target = self.target;
        if target.value(&record).is_null() {
            return Ok(Some(record));
        }
        match target.schema(&record).cloned() {
            None => {
                let mut entries = require_map(target.value(&record), PURPOSE)?.to_vec();
                for (k, v) in entries.iter_mut() {
                    if k.as_str().is_some_and(|k| self.fields.contains(k)) {
                        *v = self.masked(std::mem::take(v), None)?;
                    }
                }
                target.set(&mut record, None, Value::Map(entries));
            }
            Some(schema) => {
                let value = require_struct(target.value(&record), PURPOSE)?;
                let mut out = Struct::new(value.schema().clone());
                for f in &value.schema().fields {
                    let v = field_value(value, &f.name, self.replace_null_with_default);
                    let v = if self.fields.contains(&f.name) {
                        self.masked(v, Some(&f.schema))?
                    } else {
                        v
                    };
                    put_field(&mut out, &f.name, v)?;
                }
                target.set(&mut record, Some(schema), Value::Struct(out));
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{logical_schemas, SchemaBuilder, SchemaRef};
    use crate::transform::test_support::*;

    fn schema() -> SchemaRef {
        SchemaBuilder::struct_()
            .field("id", Schema::int32())
            .field("name", Schema::string())
            .field("score", Schema::float64())
            .field("ok", Schema::boolean())
            .field("tags", SchemaBuilder::array(Schema::string()).build())
            .field("when", logical_schemas::timestamp().build())
            .field("amount", logical_schemas::decimal(2).build())
            .field("note", Schema::optional_string())
            .build()
    }

    fn row() -> Value {
        let mut s = Struct::new(schema());
        s.put("id", Value::Int32(7)).unwrap();
        s.put("name", Value::from("ann")).unwrap();
        s.put("score", Value::Float64(9.5)).unwrap();
        s.put("ok", Value::Boolean(true)).unwrap();
        s.put("tags", Value::Array(vec![Value::from("a")])).unwrap();
        s.put("when", Value::Int64(1_000)).unwrap();
        s.put("amount", Value::Bytes(decimal::to_bytes(12345)))
            .unwrap();
        Value::Struct(s)
    }

    #[test]
    fn masks_with_type_appropriate_nulls() {
        let mut t = MaskField::new(
            Target::Value,
            &cfg(&[("fields", "id,name,score,ok,tags,when,amount,note")]),
        )
        .unwrap();
        let r = t
            .apply(value_record(Some(schema()), row()))
            .unwrap()
            .unwrap();
        let json = envelope(r.value_schema.as_ref(), &r.value);
        assert!(
            json.ends_with(
                r#""payload":{"id":0,"name":"","score":0.0,"ok":false,"tags":[],"when":0,"amount":"AA==","note":null}}"#
            ),
            "{json}"
        );
    }

    #[test]
    fn masks_with_replacement_converted_to_the_field_type() {
        let mut t = MaskField::new(
            Target::Value,
            &cfg(&[("fields", "id,name,amount"), ("replacement", "42")]),
        )
        .unwrap();
        let r = t
            .apply(value_record(Some(schema()), row()))
            .unwrap()
            .unwrap();
        let Value::Struct(s) = &r.value else { panic!() };
        assert_eq!(s.get("id"), Some(&Value::Int32(42)));
        assert_eq!(s.get("name"), Some(&Value::from("42")));
        assert_eq!(
            s.get("amount"),
            Some(&Value::Bytes(decimal::to_bytes(4200)))
        );

        let mut t = MaskField::new(
            Target::Value,
            &cfg(&[("fields", "id"), ("replacement", "****")]),
        )
        .unwrap();
        let err = t.apply(value_record(Some(schema()), row())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unable to convert **** (class java.lang.String) to number"
        );
        let mut t = MaskField::new(
            Target::Value,
            &cfg(&[("fields", "ok"), ("replacement", "x")]),
        )
        .unwrap();
        let err = t.apply(value_record(Some(schema()), row())).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot mask value of type class java.lang.Boolean with custom replacement."
        );
    }

    #[test]
    fn dates_times_and_timestamps_refuse_a_replacement() {
        let schema = SchemaBuilder::struct_()
            .field("day", logical_schemas::date().build())
            .field("at", logical_schemas::time().build())
            .field("when", logical_schemas::timestamp().build())
            .build();
        let mut s = Struct::new(schema.clone());
        s.put("day", Value::Int32(19_723)).unwrap();
        s.put("at", Value::Int32(3_723_004)).unwrap();
        s.put("when", Value::Int64(1_000)).unwrap();
        let row = Value::Struct(s);
        for field in ["day", "at", "when"] {
            for replacement in ["42", "x"] {
                let mut t = MaskField::new(
                    Target::Value,
                    &cfg(&[("fields", field), ("replacement", replacement)]),
                )
                .unwrap();
                let err = t
                    .apply(value_record(Some(schema.clone()), row.clone()))
                    .unwrap_err();
                assert_eq!(
                    err.to_string(),
                    "Cannot mask value of type class java.util.Date with custom replacement.",
                    "{field} with {replacement}"
                );
            }
        }
        // Without a replacement they become the epoch, as Kafka's `new Date(0)`.
        let mut t = MaskField::new(Target::Value, &cfg(&[("fields", "day,at,when")])).unwrap();
        let r = t.apply(value_record(Some(schema), row)).unwrap().unwrap();
        let Value::Struct(s) = &r.value else { panic!() };
        assert_eq!(s.get("day"), Some(&Value::Int32(0)));
        assert_eq!(s.get("at"), Some(&Value::Int32(0)));
        assert_eq!(s.get("when"), Some(&Value::Int64(0)));
    }

    #[test]
    fn masks_schemaless_maps_and_keys() {
        let mut t = MaskField::new(Target::Key, &cfg(&[("fields", "ssn,missing")])).unwrap();
        let r = t
            .apply(sink_record(
                None,
                Value::string_map([("ssn", Value::from("123")), ("n", Value::Int64(5))]),
                None,
                Value::Null,
            ))
            .unwrap()
            .unwrap();
        assert_eq!(plain_json(&r.key), r#"{"ssn":"","n":5}"#);
        let mut t = MaskField::new(Target::Value, &cfg(&[("fields", "b")])).unwrap();
        let err = t
            .apply(value_record(
                None,
                Value::string_map([("b", Value::Bytes(vec![1]))]),
            ))
            .unwrap_err();
        assert_eq!(err.to_string(), "Cannot mask value of type: class [B");
    }

    #[test]
    fn bad_configs() {
        let err = MaskField::new(Target::Value, &cfg(&[])).err().unwrap();
        assert_eq!(
            err.to_string(),
            "Missing required configuration \"fields\" which has no default value."
        );
        let err = MaskField::new(Target::Value, &cfg(&[("fields", "")]))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "Invalid value [] for configuration fields: Empty list"
        );
        let err = MaskField::new(Target::Value, &cfg(&[("fields", "a"), ("replacement", "")]))
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "Invalid value  for configuration replacement: String must be non-empty"
        );
    }
}
