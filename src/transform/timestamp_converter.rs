//! `TimestampConverter$Key` / `TimestampConverter$Value`: converts a timestamp field (or the
//! whole key/value) between Unix epoch numbers, formatted strings and Connect's `Date`,
//! `Time` and `Timestamp` types.
//!
//! ```properties
//! transforms=ts
//! transforms.ts.type=org.apache.kafka.connect.transforms.TimestampConverter$Value
//! transforms.ts.field=created_at
//! transforms.ts.target.type=string
//! transforms.ts.format=yyyy-MM-dd'T'HH:mm:ss.SSSXXX
//! ```
//!
//! `format` is a Java `SimpleDateFormat` pattern (see [`super::date_format`]), applied in UTC.
//! `unix.precision` (seconds, milliseconds, microseconds, nanoseconds) applies to Unix
//! numbers read or written. Without a schema, strings are read with `format` and 64-bit
//! integers as Unix times; `Date`, `Time` and `Timestamp` results are written as epoch
//! milliseconds (what a Java `Date` holds).

use super::config_keys::{parse, replace_null_with_default_key, REPLACE_NULL_WITH_DEFAULT};
use super::date_format::JavaDateFormat;
use super::requirements::{java_class_name, require_map, require_struct};
use super::schema_util::{copy_schema_basics, field_value, map_put, put_field, SchemaCache};
use super::{Target, Transformation};
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance, Validator};
use crate::data::{
    logical, logical_schemas, Record, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value,
};
use crate::errors::{ConnectError, Result};

/// Connect's class name, without the `$Key`/`$Value` suffix.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.TimestampConverter";

const FIELD: &str = "field";
const TARGET_TYPE: &str = "target.type";
const FORMAT: &str = "format";
const UNIX_PRECISION: &str = "unix.precision";
const PURPOSE: &str = "converting timestamp formats";
const MILLIS_PER_DAY: i64 = 86_400_000;

/// A timestamp representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    String,
    Unix,
    Date,
    Time,
    Timestamp,
}

impl Kind {
    fn named(name: &str) -> Option<Kind> {
        Some(match name {
            "string" => Kind::String,
            "unix" => Kind::Unix,
            "Date" => Kind::Date,
            "Time" => Kind::Time,
            "Timestamp" => Kind::Timestamp,
            _ => return None,
        })
    }

    /// Connect's `timestampTypeFromSchema`.
    fn of_schema(schema: &Schema) -> Result<Kind> {
        Ok(match schema.name.as_deref() {
            Some(logical::TIMESTAMP) => Kind::Timestamp,
            Some(logical::DATE) => Kind::Date,
            Some(logical::TIME) => Kind::Time,
            _ => match schema.schema_type {
                SchemaType::String => Kind::String,
                SchemaType::Int64 => Kind::Unix,
                _ => {
                    return Err(ConnectError::Other(format!(
                        "Schema {} does not correspond to a known timestamp type format",
                        schema.describe()
                    )))
                }
            },
        })
    }

    /// Connect's `inferTimestampType` for schemaless values.
    fn of_value(value: &Value) -> Result<Kind> {
        match value {
            Value::String(_) => Ok(Kind::String),
            Value::Int64(_) => Ok(Kind::Unix),
            other => Err(ConnectError::Data(format!(
                "TimestampConverter does not support class {} objects as timestamps",
                java_class_name(other)
            ))),
        }
    }

    fn schema(self, optional: bool) -> SchemaRef {
        let b = match self {
            Kind::String => SchemaBuilder::new(SchemaType::String),
            Kind::Unix => SchemaBuilder::new(SchemaType::Int64),
            Kind::Date => logical_schemas::date(),
            Kind::Time => logical_schemas::time(),
            Kind::Timestamp => logical_schemas::timestamp(),
        };
        b.set_optional(optional).build()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UnixPrecision {
    Seconds,
    Milliseconds,
    Microseconds,
    Nanoseconds,
}

/// Converts timestamps between representations.
pub struct TimestampConverter {
    target: Target,
    field: String,
    target_kind: Kind,
    format: Option<JavaDateFormat>,
    precision: UnixPrecision,
    replace_null_with_default: bool,
    schema_cache: SchemaCache,
}

/// The conversion settings, apart from the schema cache.
struct Converter<'a> {
    target_kind: Kind,
    format: Option<&'a JavaDateFormat>,
    precision: UnixPrecision,
}

impl Converter<'_> {
    fn missing_format() -> ConnectError {
        ConnectError::Data(
            "TimestampConverter requires format option to be specified when using string timestamps"
                .into(),
        )
    }

    /// The value as epoch milliseconds (Connect's `toRaw`).
    fn to_raw(&self, kind: Kind, value: &Value) -> Result<i64> {
        let found = || java_class_name(value);
        match kind {
            Kind::String => {
                let Value::String(s) = value else {
                    return Err(ConnectError::Data(format!(
                        "Expected string timestamp to be a String, but found class {}",
                        found()
                    )));
                };
                let format = self.format.ok_or_else(Self::missing_format)?;
                format.parse_millis(s).ok_or_else(|| {
                    ConnectError::Data(format!(
                        "Could not parse timestamp: value ({s}) does not match pattern ({})",
                        format.pattern()
                    ))
                })
            }
            Kind::Unix => {
                let Value::Int64(v) = *value else {
                    return Err(ConnectError::Data(format!(
                        "Expected Unix timestamp to be a Long, but found class {}",
                        found()
                    )));
                };
                Ok(match self.precision {
                    UnixPrecision::Seconds => v.saturating_mul(1000),
                    UnixPrecision::Milliseconds => v,
                    UnixPrecision::Microseconds => v / 1000,
                    UnixPrecision::Nanoseconds => v / 1_000_000,
                })
            }
            Kind::Date => match *value {
                Value::Int32(days) => Ok(days as i64 * MILLIS_PER_DAY),
                Value::Int64(ms) => Ok(ms),
                _ => Err(ConnectError::Data(format!(
                    "Expected Date to be a java.util.Date, but found class {}",
                    found()
                ))),
            },
            Kind::Time => match *value {
                Value::Int32(ms) => Ok(ms as i64),
                Value::Int64(ms) => Ok(ms),
                _ => Err(ConnectError::Data(format!(
                    "Expected Time to be a java.util.Date, but found class {}",
                    found()
                ))),
            },
            Kind::Timestamp => match *value {
                Value::Int64(ms) => Ok(ms),
                _ => Err(ConnectError::Data(format!(
                    "Expected Timestamp to be a java.util.Date, but found class {}",
                    found()
                ))),
            },
        }
    }

    /// Epoch milliseconds in the target representation; `with_schema` selects the physical
    /// value of logical types (schemaless results hold epoch milliseconds, as a Java `Date`).
    fn to_type(&self, millis: i64, with_schema: bool) -> Result<Value> {
        Ok(match self.target_kind {
            Kind::String => {
                let format = self.format.ok_or_else(Self::missing_format)?;
                Value::String(format.format_millis(millis))
            }
            Kind::Unix => Value::Int64(match self.precision {
                UnixPrecision::Seconds => millis / 1000,
                UnixPrecision::Milliseconds => millis,
                UnixPrecision::Microseconds => millis.saturating_mul(1000),
                UnixPrecision::Nanoseconds => millis.saturating_mul(1_000_000),
            }),
            Kind::Date => {
                let days = millis.div_euclid(MILLIS_PER_DAY);
                if with_schema {
                    Value::Int32(i32::try_from(days).map_err(|_| {
                        ConnectError::Data(format!("Date out of range: {days} days"))
                    })?)
                } else {
                    Value::Int64(days * MILLIS_PER_DAY)
                }
            }
            Kind::Time => {
                let ms = millis.rem_euclid(MILLIS_PER_DAY);
                if with_schema {
                    Value::Int32(ms as i32)
                } else {
                    Value::Int64(ms)
                }
            }
            Kind::Timestamp => Value::Int64(millis),
        })
    }

    fn convert(&self, value: &Value, kind: Option<Kind>, with_schema: bool) -> Result<Value> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        let kind = match kind {
            Some(k) => k,
            None => Kind::of_value(value)?,
        };
        let raw = self.to_raw(kind, value)?;
        self.to_type(raw, with_schema)
    }
}

impl TimestampConverter {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(FIELD, ConfigType::String)
                    .default_value("")
                    .importance(Importance::High)
                    .doc("The field containing the timestamp, or empty if the entire value is a timestamp"),
            )
            .define(
                ConfigKey::new(TARGET_TYPE, ConfigType::String)
                    .validator(Validator::one_of(["string", "unix", "Date", "Time", "Timestamp"]))
                    .importance(Importance::High)
                    .doc("The desired timestamp representation: string, unix, Date, Time, or Timestamp"),
            )
            .define(
                ConfigKey::new(FORMAT, ConfigType::String)
                    .default_value("")
                    .importance(Importance::Medium)
                    .doc("A SimpleDateFormat-compatible format for the timestamp. Used to generate the output when type=string or used to parse the input if the input is a string."),
            )
            .define(
                ConfigKey::new(UNIX_PRECISION, ConfigType::String)
                    .default_value("milliseconds")
                    .validator(Validator::one_of(["nanoseconds", "microseconds", "milliseconds", "seconds"]))
                    .importance(Importance::Low)
                    .doc("The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds. Used to generate the output when type=unix or used to parse the input if the input is a Long.Note: This SMT will cause precision loss during conversions from, and to, values with sub-millisecond components."),
            )
            .define(replace_null_with_default_key())
    }

    pub fn new(target: Target, config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let target_kind = p
            .string(TARGET_TYPE)
            .and_then(Kind::named)
            .unwrap_or(Kind::Timestamp);
        let pattern = p.string(FORMAT).unwrap_or_default();
        if target_kind == Kind::String && pattern.trim().is_empty() {
            return Err(ConnectError::Config(
                "TimestampConverter requires format option to be specified when using string timestamps"
                    .into(),
            ));
        }
        let format = if pattern.trim().is_empty() {
            None
        } else {
            Some(JavaDateFormat::new(pattern).map_err(|why| {
                ConnectError::Config(format!(
                    "TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: {pattern} ({why})"
                ))
            })?)
        };
        let precision = match p.string(UNIX_PRECISION).unwrap_or("milliseconds") {
            "seconds" => UnixPrecision::Seconds,
            "microseconds" => UnixPrecision::Microseconds,
            "nanoseconds" => UnixPrecision::Nanoseconds,
            _ => UnixPrecision::Milliseconds,
        };
        Ok(TimestampConverter {
            target,
            field: p.string(FIELD).unwrap_or_default().to_string(),
            target_kind,
            format,
            precision,
            replace_null_with_default: p.boolean(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
            schema_cache: SchemaCache::default(),
        })
    }
}

fn updated_struct_schema(field: &str, target_kind: Kind, schema: &SchemaRef) -> Result<SchemaRef> {
    let mut b = copy_schema_basics(schema, SchemaBuilder::struct_());
    for f in &schema.fields {
        if f.name == field {
            b = b.field(f.name.clone(), target_kind.schema(f.schema.optional));
        } else {
            b = b.field(f.name.clone(), f.schema.clone());
        }
    }
    Ok(b.set_optional(schema.optional).build())
}

impl Transformation for TimestampConverter {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let target = self.target;
        let conv = Converter {
            target_kind: self.target_kind,
            format: self.format.as_ref(),
            precision: self.precision,
        };
        match target.schema(&record).cloned() {
            None => {
                let value = target.value(&record);
                let updated = if value.is_null() || self.field.is_empty() {
                    conv.convert(value, None, false)?
                } else {
                    let mut entries = require_map(value, PURPOSE)?.to_vec();
                    let current = value.map_get(&self.field).cloned().unwrap_or(Value::Null);
                    map_put(
                        &mut entries,
                        &self.field,
                        conv.convert(&current, None, false)?,
                    );
                    Value::Map(entries)
                };
                target.set(&mut record, None, updated);
            }
            Some(schema) if self.field.is_empty() => {
                let kind = Kind::of_schema(&schema)?;
                let updated = conv.convert(target.value(&record), Some(kind), true)?;
                target.set(
                    &mut record,
                    Some(self.target_kind.schema(schema.optional)),
                    updated,
                );
            }
            Some(schema) => {
                let (field, kind) = (&self.field, self.target_kind);
                let updated_schema = self
                    .schema_cache
                    .get_or_build(&schema, || updated_struct_schema(field, kind, &schema))?;
                let value = target.value(&record);
                let updated = if value.is_null() {
                    Value::Null
                } else {
                    let s = require_struct(value, PURPOSE)?;
                    let mut out = Struct::new(updated_schema.clone());
                    for f in &s.schema().fields {
                        let v = field_value(s, &f.name, self.replace_null_with_default);
                        let v = if &f.name == field {
                            conv.convert(&v, Some(Kind::of_schema(&f.schema)?), true)?
                        } else {
                            v
                        };
                        put_field(&mut out, &f.name, v)?;
                    }
                    Value::Struct(out)
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
    use crate::transform::test_support::*;

    fn conv(pairs: &[(&str, &str)]) -> TimestampConverter {
        TimestampConverter::new(Target::Value, &cfg(pairs)).unwrap()
    }

    #[test]
    fn converts_a_struct_field_to_a_string_as_connect_json() {
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::int32())
            .field("ts", logical_schemas::timestamp().build())
            .build();
        let mut s = Struct::new(schema.clone());
        s.put("id", Value::Int32(1)).unwrap();
        s.put("ts", Value::Int64(TS)).unwrap();
        let mut t = conv(&[
            ("field", "ts"),
            ("target.type", "string"),
            ("format", "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"),
        ]);
        let r = t
            .apply(value_record(Some(schema), Value::Struct(s)))
            .unwrap()
            .unwrap();
        assert_eq!(
            envelope(r.value_schema.as_ref(), &r.value),
            r#"{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"ts"}],"optional":false},"payload":{"id":1,"ts":"2024-03-05T07:08:09.012Z"}}"#
        );
    }

    #[test]
    fn converts_whole_values_between_kinds_with_schema() {
        let mut t = conv(&[("target.type", "Date")]);
        let r = t
            .apply(value_record(
                Some(logical_schemas::timestamp().build()),
                Value::Int64(TS),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(
            envelope(r.value_schema.as_ref(), &r.value),
            r#"{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":19787}"#
        );
        let mut t = conv(&[("target.type", "Time")]);
        let r = t
            .apply(value_record(
                Some(logical_schemas::timestamp().build()),
                Value::Int64(TS),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(r.value, Value::Int32(25_689_012));
        let mut t = conv(&[("target.type", "Timestamp"), ("format", "yyyyMMdd")]);
        let r = t
            .apply(value_record(
                Some(Schema::optional_string()),
                Value::from("20240305"),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(r.value, Value::Int64(1_709_596_800_000));
        assert!(r.value_schema.unwrap().optional);
        let mut t = conv(&[("target.type", "unix"), ("unix.precision", "seconds")]);
        let r = t
            .apply(value_record(
                Some(logical_schemas::date().build()),
                Value::Int32(1),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(r.value, Value::Int64(86_400));
    }

    #[test]
    fn schemaless_values_infer_their_kind() {
        let mut t = conv(&[("target.type", "string"), ("format", "yyyy-MM-dd")]);
        let r = t
            .apply(value_record(None, Value::Int64(TS)))
            .unwrap()
            .unwrap();
        assert_eq!(r.value, Value::from("2024-03-05"));
        let mut t = conv(&[
            ("target.type", "unix"),
            ("unix.precision", "microseconds"),
            ("format", "yyyy-MM-dd HH:mm"),
        ]);
        let r = t
            .apply(value_record(None, Value::from("1970-01-01 00:01")))
            .unwrap()
            .unwrap();
        assert_eq!(r.value, Value::Int64(60_000_000));
        let mut t = conv(&[
            ("field", "at"),
            ("target.type", "Timestamp"),
            ("unix.precision", "nanoseconds"),
        ]);
        let r = t
            .apply(sink_record(
                None,
                Value::Null,
                None,
                Value::string_map([("at", Value::Int64(5_000_000)), ("x", Value::Int32(1))]),
            ))
            .unwrap()
            .unwrap();
        assert_eq!(plain_json(&r.value), r#"{"at":5,"x":1}"#);
        let err = t
            .apply(value_record(
                None,
                Value::string_map([("at", Value::Int32(1))]),
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "TimestampConverter does not support class java.lang.Integer objects as timestamps"
        );
    }

    #[test]
    fn key_variant_nulls_and_parse_errors() {
        let mut t = TimestampConverter::new(
            Target::Key,
            &cfg(&[("target.type", "unix"), ("format", "yyyy-MM-dd")]),
        )
        .unwrap();
        let r = t
            .apply(sink_record(
                Some(Schema::string()),
                Value::from("1970-01-02"),
                None,
                Value::Null,
            ))
            .unwrap()
            .unwrap();
        assert_eq!(r.key, Value::Int64(MILLIS_PER_DAY));
        let err = t
            .apply(sink_record(
                Some(Schema::string()),
                Value::from("02/01/1970"),
                None,
                Value::Null,
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Could not parse timestamp: value (02/01/1970) does not match pattern (yyyy-MM-dd)"
        );
        let r = t
            .apply(sink_record(
                Some(Schema::optional_string()),
                Value::Null,
                None,
                Value::Null,
            ))
            .unwrap()
            .unwrap();
        assert_eq!(r.key, Value::Null);
        let err = t
            .apply(sink_record(
                Some(Schema::int32()),
                Value::Int32(1),
                None,
                Value::Null,
            ))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Schema Schema{INT32} does not correspond to a known timestamp type format"
        );
    }

    #[test]
    fn bad_configs() {
        let msg = |pairs: &[(&str, &str)]| {
            TimestampConverter::new(Target::Value, &cfg(pairs))
                .err()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            msg(&[]),
            "Missing required configuration \"target.type\" which has no default value."
        );
        assert_eq!(
            msg(&[("target.type", "date")]),
            "Invalid value date for configuration target.type: String must be one of: string, unix, Date, Time, Timestamp"
        );
        assert_eq!(
            msg(&[("target.type", "string")]),
            "TimestampConverter requires format option to be specified when using string timestamps"
        );
        assert!(msg(&[("target.type", "string"), ("format", "yyyy G")])
            .starts_with("TimestampConverter requires a SimpleDateFormat-compatible pattern for string timestamps: yyyy G"));
        assert!(msg(&[("target.type", "unix"), ("unix.precision", "hours")])
            .starts_with("Invalid value hours for configuration unix.precision"));
    }
}
