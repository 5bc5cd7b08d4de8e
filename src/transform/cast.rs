//! `Cast$Key` / `Cast$Value`: casts fields, or the whole key/value, to another primitive type.
//!
//! ```properties
//! transforms=cast
//! transforms.cast.type=org.apache.kafka.connect.transforms.Cast$Value
//! transforms.cast.spec=id:int32,price:float64,active:boolean
//! # or, for the whole value:  transforms.cast.spec=string
//! ```
//!
//! Types: `int8`, `int16`, `int32`, `int64`, `float32`, `float64`, `boolean`, `string`. Bytes
//! can only be cast to string (base64); `Date`/`Time`/`Timestamp` cast to numbers as their
//! internal value and to string in ISO-8601; Decimals cast like Java's `BigDecimal`. Numbers
//! narrow as in Java (`(byte) 300` is 44). Null keys/values pass through unchanged.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

use super::config_keys::{parse, replace_null_with_default_key, REPLACE_NULL_WITH_DEFAULT};
use super::java_text::{double_to_string, float_to_string, iso_date_text};
use super::requirements::{java_class_name, require_map, require_struct};
use super::schema_util::{copy_schema_basics, field_value, map_put, put_field, SchemaCache};
use super::{Target, Transformation};
use crate::config::{
    ConfigDef, ConfigKey, ConfigMap, ConfigType, ConfigValue, Importance, Validator,
};
use crate::data::{
    decimal, logical, Record, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value,
};
use crate::errors::{ConnectError, Result};

/// Connect's class name, without the `$Key`/`$Value` suffix.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.Cast";

const SPEC: &str = "spec";
const PURPOSE: &str = "cast types";
const MILLIS_PER_DAY: i64 = 86_400_000;

const INPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";
const OUTPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]";

/// What the spec casts: the whole value, or named fields.
#[derive(Clone, Debug, PartialEq)]
enum CastSpec {
    Whole(SchemaType),
    Fields(HashMap<String, SchemaType>),
}

/// Connect's `Schema.Type.valueOf(name.toUpperCase())`.
fn schema_type_named(name: &str) -> Option<SchemaType> {
    let upper = name.to_ascii_uppercase();
    [
        SchemaType::Int8,
        SchemaType::Int16,
        SchemaType::Int32,
        SchemaType::Int64,
        SchemaType::Float32,
        SchemaType::Float64,
        SchemaType::Boolean,
        SchemaType::String,
        SchemaType::Bytes,
        SchemaType::Array,
        SchemaType::Map,
        SchemaType::Struct,
    ]
    .into_iter()
    .find(|t| t.connect_name() == upper)
}

fn valid_output(t: SchemaType) -> Result<SchemaType, String> {
    if t.is_primitive() && t != SchemaType::Bytes {
        Ok(t)
    } else {
        Err(format!(
            "Cast transformation does not support casting to {t}; supported types are {OUTPUT_TYPES}"
        ))
    }
}

fn parse_spec(mappings: &[String]) -> Result<CastSpec, String> {
    if mappings.is_empty() {
        return Err("Must specify at least one field to cast.".into());
    }
    let mut fields = HashMap::new();
    let mut whole = None;
    for mapping in mappings {
        let mut parts: Vec<&str> = mapping.split(':').collect();
        while parts.len() > 1 && parts.last() == Some(&"") {
            parts.pop();
        }
        let type_named = |name: &str| {
            schema_type_named(name.trim())
                .ok_or_else(|| format!("Invalid type found in casting spec: {}", name.trim()))
                .and_then(valid_output)
        };
        match parts.as_slice() {
            [ty] => whole = Some(type_named(ty)?),
            [field, ty] => {
                fields.insert(field.trim().to_string(), type_named(ty)?);
            }
            _ => return Err(format!("Invalid cast mapping: {mapping}")),
        }
    }
    match whole {
        Some(_) if mappings.len() > 1 => Err(
            "Cast transformations that specify a type to cast the entire value to may only specify a single cast in their spec"
                .into(),
        ),
        Some(t) => Ok(CastSpec::Whole(t)),
        None => Ok(CastSpec::Fields(fields)),
    }
}

/// A value as Java would see it before a cast.
enum Source<'a> {
    Bool(bool),
    Long(i64),
    Float(f32),
    Double(f64),
    Str(&'a str),
    Bytes(&'a [u8]),
    Decimal(i128, i32),
    /// A Date/Time/Timestamp: its internal number, and its epoch milliseconds for text.
    Temporal(i64, i64),
}

fn source_of<'a>(schema: Option<&Schema>, value: &'a Value) -> Result<Source<'a>> {
    let inferred = match schema {
        Some(s) => s.schema_type,
        None => value.inferred_type().ok_or_else(|| {
            ConnectError::Data("Cast transformation was passed a null value".into())
        })?,
    };
    if !inferred.is_primitive() {
        return Err(ConnectError::Data(format!(
            "Cast transformation does not support casting from {inferred}; supported types are {INPUT_TYPES}"
        )));
    }
    if let Some(s) = schema {
        match (s.name.as_deref(), value) {
            (Some(logical::DECIMAL), Value::Bytes(b)) => {
                let scale = s
                    .parameters
                    .get(logical::DECIMAL_SCALE)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let unscaled = decimal::from_bytes(b).ok_or_else(|| {
                    ConnectError::Data("Decimal value is too large to cast".into())
                })?;
                return Ok(Source::Decimal(unscaled, scale));
            }
            (Some(logical::DATE), Value::Int32(days)) => {
                return Ok(Source::Temporal(
                    *days as i64,
                    *days as i64 * MILLIS_PER_DAY,
                ))
            }
            (Some(logical::TIME), Value::Int32(ms)) => {
                return Ok(Source::Temporal(*ms as i64, *ms as i64))
            }
            (Some(logical::TIMESTAMP), Value::Int64(ms)) => return Ok(Source::Temporal(*ms, *ms)),
            _ => {}
        }
    }
    Ok(match value {
        Value::Boolean(b) => Source::Bool(*b),
        Value::Int8(v) => Source::Long(*v as i64),
        Value::Int16(v) => Source::Long(*v as i64),
        Value::Int32(v) => Source::Long(*v as i64),
        Value::Int64(v) => Source::Long(*v),
        Value::Float32(v) => Source::Float(*v),
        Value::Float64(v) => Source::Double(*v),
        Value::String(s) => Source::Str(s),
        Value::Bytes(b) => Source::Bytes(b),
        other => {
            return Err(ConnectError::Data(format!(
                "Unexpected type in Cast transformation: class {}",
                java_class_name(other)
            )))
        }
    })
}

fn pow10(scale: i32) -> i128 {
    10i128
        .checked_pow(scale.unsigned_abs())
        .unwrap_or(i128::MAX)
}

/// Java's `Number.longValue()` (truncation toward zero, saturating for floating point).
fn long_value(src: &Source) -> Option<i64> {
    Some(match *src {
        Source::Bool(b) => b as i64,
        Source::Long(v) | Source::Temporal(v, _) => v,
        Source::Float(f) => f as i64,
        Source::Double(d) => d as i64,
        Source::Decimal(u, scale) if scale >= 0 => (u / pow10(scale)) as i64,
        Source::Decimal(u, scale) => u.saturating_mul(pow10(scale)) as i64,
        Source::Str(_) | Source::Bytes(_) => return None,
    })
}

/// Java's `Number.intValue()`: floating point saturates to the int range first.
fn int_value(src: &Source) -> Option<i32> {
    match *src {
        Source::Float(f) => Some(f as i32),
        Source::Double(d) => Some(d as i32),
        _ => long_value(src).map(|v| v as i32),
    }
}

fn double_value(src: &Source) -> Option<f64> {
    Some(match *src {
        Source::Float(f) => f as f64,
        Source::Double(d) => d,
        Source::Decimal(u, scale) => decimal::format_unscaled(u, scale).parse().ok()?,
        _ => long_value(src)? as f64,
    })
}

fn cast_value(schema: Option<&Schema>, value: &Value, target: SchemaType) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let src = source_of(schema, value)?;
    let unexpected = || {
        ConnectError::Data(format!(
            "Unexpected type in Cast transformation: class {}",
            java_class_name(value)
        ))
    };
    if let Source::Str(s) = src {
        let out_of_range = || {
            ConnectError::Data(format!(
                "Value ({s}) was out of range for requested data type"
            ))
        };
        let float_text = || s.trim().trim_end_matches(['f', 'F', 'd', 'D']);
        return Ok(match target {
            SchemaType::Int8 => Value::Int8(s.parse().map_err(|_| out_of_range())?),
            SchemaType::Int16 => Value::Int16(s.parse().map_err(|_| out_of_range())?),
            SchemaType::Int32 => Value::Int32(s.parse().map_err(|_| out_of_range())?),
            SchemaType::Int64 => Value::Int64(s.parse().map_err(|_| out_of_range())?),
            SchemaType::Float32 => {
                Value::Float32(float_text().parse().map_err(|_| out_of_range())?)
            }
            SchemaType::Float64 => {
                Value::Float64(float_text().parse().map_err(|_| out_of_range())?)
            }
            SchemaType::Boolean => Value::Boolean(s.eq_ignore_ascii_case("true")),
            _ => Value::String(s.to_string()),
        });
    }
    if let Source::Bytes(b) = src {
        return match target {
            SchemaType::String => Ok(Value::String(BASE64.encode(b))),
            _ => Err(unexpected()),
        };
    }
    Ok(match target {
        SchemaType::Int8 => Value::Int8(int_value(&src).ok_or_else(unexpected)? as i8),
        SchemaType::Int16 => Value::Int16(int_value(&src).ok_or_else(unexpected)? as i16),
        SchemaType::Int32 => Value::Int32(int_value(&src).ok_or_else(unexpected)?),
        SchemaType::Int64 => Value::Int64(long_value(&src).ok_or_else(unexpected)?),
        SchemaType::Float32 => Value::Float32(match src {
            Source::Float(f) => f,
            _ => double_value(&src).ok_or_else(unexpected)? as f32,
        }),
        SchemaType::Float64 => Value::Float64(double_value(&src).ok_or_else(unexpected)?),
        SchemaType::Boolean => Value::Boolean(match src {
            Source::Bool(b) => b,
            _ => long_value(&src).ok_or_else(unexpected)? != 0,
        }),
        _ => Value::String(match src {
            Source::Bool(b) => b.to_string(),
            Source::Long(v) => v.to_string(),
            Source::Float(f) => float_to_string(f),
            Source::Double(d) => double_to_string(d),
            Source::Decimal(u, scale) => decimal::format_unscaled(u, scale),
            Source::Temporal(_, millis) => iso_date_text(millis),
            Source::Str(s) => s.to_string(),
            Source::Bytes(b) => BASE64.encode(b),
        }),
    })
}

fn builder_for(t: SchemaType) -> SchemaBuilder {
    SchemaBuilder::new(t)
}

fn is_logical(schema: &Schema) -> bool {
    [
        logical::DECIMAL,
        logical::DATE,
        logical::TIME,
        logical::TIMESTAMP,
    ]
    .iter()
    .any(|n| schema.is_logical(n))
}

/// Casts fields or whole keys/values to other primitive types.
pub struct Cast {
    target: Target,
    spec: CastSpec,
    replace_null_with_default: bool,
    schema_cache: SchemaCache,
}

impl Cast {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(SPEC, ConfigType::List)
                    .validator(Validator::Custom(Arc::new(|v| match v {
                        ConfigValue::List(items) => parse_spec(items).map(|_| ()),
                        _ => Err("Must specify at least one field to cast.".into()),
                    })))
                    .importance(Importance::High)
                    .doc("List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of Maps or Structs. A single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean, and string. Note that binary fields can only be cast to string."),
            )
            .define(replace_null_with_default_key())
    }

    pub fn new(target: Target, config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let spec = parse_spec(&p.list(SPEC)).map_err(ConnectError::Config)?;
        Ok(Cast {
            target,
            spec,
            replace_null_with_default: p.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
            schema_cache: SchemaCache::default(),
        })
    }
}

fn updated_schema(spec: &CastSpec, schema: &SchemaRef) -> Result<SchemaRef> {
    let mut b = match spec {
        // A cast type is no longer the logical type, so its name and parameters are not kept.
        CastSpec::Whole(t) if is_logical(schema) => builder_for(*t),
        CastSpec::Whole(t) => copy_schema_basics(schema, builder_for(*t)),
        CastSpec::Fields(casts) => {
            let mut b = copy_schema_basics(schema, SchemaBuilder::struct_());
            for f in &schema.fields {
                match casts.get(&f.name) {
                    Some(t) => {
                        let mut fb = builder_for(*t).set_optional(f.schema.optional);
                        if let Some(d) = &f.schema.default {
                            fb = fb.default_value(cast_value(Some(&f.schema), d, *t)?);
                        }
                        b = b.field(f.name.clone(), fb.build());
                    }
                    None => b = b.field(f.name.clone(), f.schema.clone()),
                }
            }
            b
        }
    };
    b = b.set_optional(schema.optional);
    if let Some(d) = &schema.default {
        let target_type = match spec {
            CastSpec::Whole(t) => *t,
            CastSpec::Fields(_) => SchemaType::Struct,
        };
        b = b.default_value(cast_value(Some(schema), d, target_type)?);
    }
    Ok(b.build())
}

impl Transformation for Cast {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let target = self.target;
        if target.value(&record).is_null() {
            return Ok(Some(record));
        }
        let spec = &self.spec;
        match target.schema(&record).cloned() {
            None => {
                let updated = match spec {
                    CastSpec::Whole(t) => cast_value(None, target.value(&record), *t)?,
                    CastSpec::Fields(casts) => {
                        let mut entries = require_map(target.value(&record), PURPOSE)?.to_vec();
                        for (field, t) in casts {
                            let current = target
                                .value(&record)
                                .map_get(field)
                                .cloned()
                                .unwrap_or(Value::Null);
                            map_put(&mut entries, field, cast_value(None, &current, *t)?);
                        }
                        Value::Map(entries)
                    }
                };
                target.set(&mut record, None, updated);
            }
            Some(schema) => {
                let updated_schema = self
                    .schema_cache
                    .get_or_build(&schema, || updated_schema(spec, &schema))?;
                let updated = match spec {
                    CastSpec::Whole(t) => cast_value(Some(&schema), target.value(&record), *t)?,
                    CastSpec::Fields(casts) => {
                        let value = require_struct(target.value(&record), PURPOSE)?;
                        let mut out = Struct::new(updated_schema.clone());
                        for f in &value.schema().fields {
                            let v = field_value(value, &f.name, self.replace_null_with_default);
                            let v = match casts.get(&f.name) {
                                Some(t) => cast_value(Some(&f.schema), &v, *t)?,
                                None => v,
                            };
                            put_field(&mut out, &f.name, v)?;
                        }
                        Value::Struct(out)
                    }
                };
                target.set(&mut record, Some(updated_schema), updated);
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::logical_schemas;
    use crate::transform::test_support::*;

    fn cast(spec: &str) -> Cast {
        Cast::new(Target::Value, &cfg(&[("spec", spec)])).unwrap()
    }

    fn whole(
        spec: &str,
        schema: Option<SchemaRef>,
        v: Value,
    ) -> Result<(Option<SchemaRef>, Value)> {
        let r = cast(spec).apply(value_record(schema, v))?.unwrap();
        Ok((r.value_schema, r.value))
    }

    #[test]
    fn casts_struct_fields_as_connect_json() {
        let schema = SchemaBuilder::struct_()
            .name("row")
            .field("id", Schema::int64())
            .field("price", Schema::optional_string())
            .field("flag", Schema::int8())
            .field("keep", Schema::boolean())
            .build();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int64(300)).unwrap();
        s.put("price", Value::from("9.75")).unwrap();
        s.put("flag", Value::Int8(0)).unwrap();
        s.put("keep", Value::Boolean(true)).unwrap();
        let mut t = cast("id:int8,price:float64,flag:boolean");
        let r = t
            .apply(value_record(Some(schema), Value::Struct(s)))
            .unwrap()
            .unwrap();
        assert_eq!(
            envelope(r.value_schema.as_ref(), &r.value),
            concat!(
                r#"{"schema":{"type":"struct","fields":["#,
                r#"{"type":"int8","optional":false,"field":"id"},"#,
                r#"{"type":"double","optional":true,"field":"price"},"#,
                r#"{"type":"boolean","optional":false,"field":"flag"},"#,
                r#"{"type":"boolean","optional":false,"field":"keep"}],"#,
                r#""optional":false,"name":"row"},"#,
                r#""payload":{"id":44,"price":9.75,"flag":false,"keep":true}}"#
            )
        );
    }

    #[test]
    fn casts_whole_values_with_and_without_schema() {
        let (s, v) = whole("int32", Some(Schema::optional_int64()), Value::Int64(42)).unwrap();
        assert_eq!(
            envelope(s.as_ref(), &v),
            r#"{"schema":{"type":"int32","optional":true},"payload":42}"#
        );
        assert_eq!(
            whole("string", None, Value::Float64(1.0)).unwrap().1,
            Value::from("1.0")
        );
        assert_eq!(
            whole("string", None, Value::Float32(0.5)).unwrap().1,
            Value::from("0.5")
        );
        assert_eq!(
            whole("int16", None, Value::from("-7")).unwrap().1,
            Value::Int16(-7)
        );
        assert_eq!(
            whole("boolean", None, Value::from("TRUE")).unwrap().1,
            Value::Boolean(true)
        );
        assert_eq!(
            whole("boolean", None, Value::Float64(0.5)).unwrap().1,
            Value::Boolean(false)
        );
        assert_eq!(
            whole("int32", None, Value::Float64(1e20)).unwrap().1,
            Value::Int32(i32::MAX)
        );
        assert_eq!(
            whole("float32", None, Value::Boolean(true)).unwrap().1,
            Value::Float32(1.0)
        );
        assert_eq!(
            whole(
                "string",
                Some(Schema::bytes()),
                Value::Bytes(b"hi".to_vec())
            )
            .unwrap()
            .1,
            Value::from("aGk=")
        );
    }

    #[test]
    fn casts_logical_types() {
        let ts = logical_schemas::timestamp().build();
        let (s, v) = whole("string", Some(ts.clone()), Value::Int64(TS)).unwrap();
        assert_eq!(v, Value::from("2024-03-05T07:08:09.012Z"));
        assert_eq!(
            s.unwrap().name,
            None,
            "the logical name is not carried to the string"
        );
        assert_eq!(
            whole("int64", Some(ts), Value::Int64(TS)).unwrap().1,
            Value::Int64(TS)
        );
        let date = logical_schemas::date().build();
        assert_eq!(
            whole("string", Some(date), Value::Int32(19_787)).unwrap().1,
            Value::from("2024-03-05")
        );
        let dec = logical_schemas::decimal(2).build();
        let amount = Value::Bytes(decimal::to_bytes(-12_345));
        assert_eq!(
            whole("string", Some(dec.clone()), amount.clone())
                .unwrap()
                .1,
            Value::from("-123.45")
        );
        assert_eq!(
            whole("int32", Some(dec.clone()), amount.clone()).unwrap().1,
            Value::Int32(-123)
        );
        assert_eq!(
            whole("float64", Some(dec), amount).unwrap().1,
            Value::Float64(-123.45)
        );
    }

    #[test]
    fn schemaless_maps_and_runtime_errors() {
        let mut t = cast("a:int32,b:string,missing:int8");
        let r = t
            .apply(value_record(
                None,
                Value::string_map([("a", Value::from("12")), ("b", Value::Int64(5))]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(plain_json(&r.value), r#"{"a":12,"b":"5","missing":null}"#);

        let err = whole("int8", None, Value::from("300")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Value (300) was out of range for requested data type"
        );
        let err = whole("int32", Some(Schema::bytes()), Value::Bytes(vec![1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unexpected type in Cast transformation: class [B"
        );
        let err = whole("int32", None, Value::Array(vec![])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cast transformation does not support casting from ARRAY; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]"
        );
        let tomb = value_record(None, Value::Null);
        assert_eq!(cast("int8").apply(tomb.clone()).unwrap(), Some(tomb));
    }

    #[test]
    fn key_variant_and_field_defaults() {
        let schema = SchemaBuilder::struct_()
            .field(
                "n",
                SchemaBuilder::new(SchemaType::String)
                    .optional()
                    .default_value(Value::from("5"))
                    .build(),
            )
            .build();
        let mut t = Cast::new(Target::Key, &cfg(&[("spec", "n:int64")])).unwrap();
        let r = t
            .apply(sink_record(
                Some(schema.clone()),
                Value::Struct(Struct::new(schema)),
                None,
                Value::Null,
            ))
            .unwrap()
            .unwrap();
        assert_eq!(
            envelope(r.key_schema.as_ref(), &r.key),
            r#"{"schema":{"type":"struct","fields":[{"type":"int64","optional":true,"default":5,"field":"n"}],"optional":false},"payload":{"n":5}}"#
        );
    }

    #[test]
    fn bad_specs() {
        let msg = |spec: &str| {
            Cast::new(Target::Value, &cfg(&[("spec", spec)]))
                .err()
                .unwrap()
                .to_string()
        };
        assert!(msg("").ends_with("Must specify at least one field to cast."));
        assert!(
            msg("a:float").ends_with("Invalid type found in casting spec: float"),
            "{}",
            msg("a:float")
        );
        assert!(msg("a:bytes").ends_with(
            "Cast transformation does not support casting to BYTES; supported types are [INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]"
        ));
        assert!(msg("int8,a:int16").contains("may only specify a single cast"));
        assert!(msg("a:b:c").ends_with("Invalid cast mapping: a:b:c"));
        assert!(matches!(
            Cast::new(Target::Value, &cfg(&[])).err().unwrap(),
            ConnectError::Config(_)
        ));
    }
}
