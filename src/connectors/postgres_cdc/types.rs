//! PostgreSQL column types as Debezium's PostgreSQL connector maps them to Connect schemas
//! (`decimal.handling.mode`, `time.precision.mode`, `io.debezium.time.*`,
//! `io.debezium.data.*`), and the conversion of a column's text form (what pgoutput and a
//! text-format `SELECT` send) into the Connect value.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

use crate::data::decimal;
use crate::data::{logical_schemas, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};

/// `decimal.handling.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecimalMode {
    Precise,
    Double,
    String,
}

/// `time.precision.mode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimePrecision {
    Adaptive,
    AdaptiveTimeMicroseconds,
    Connect,
}

/// The two modes that shape schemas.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Modes {
    pub decimal: DecimalMode,
    pub time: TimePrecision,
}

/// What a column holds, as far as the event format cares.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// `numeric(p, s)`; None when declared without precision.
    Numeric(Option<(i32, i32)>),
    Money,
    Text,
    Json,
    Xml,
    Uuid,
    Date,
    /// `time(p)`, p = 6 when not declared.
    Time(i32),
    /// `timetz(p)`: Debezium writes `p` fraction digits.
    TimeTz(i32),
    Timestamp(i32),
    /// `timestamptz(p)`: Debezium writes `p` fraction digits.
    TimestampTz(i32),
    Interval,
    Bytea,
    /// Labels in declaration order.
    Enum(Vec<String>),
    Array(Box<Kind>),
    /// Anything else (inet, point, ...): its text.
    Other,
}

pub use crate::connectors::postgres::types::oid;

/// The kind of a built-in scalar type, from its OID and `atttypmod`; None for types that need
/// the catalog (enums, arrays, domains) or are unknown.
pub fn builtin_kind(type_oid: u32, modifier: i32) -> Option<Kind> {
    use oid::*;
    let precision = |m: i32| if m < 0 { 6 } else { m.min(6) };
    Some(match type_oid {
        BOOL => Kind::Bool,
        INT2 => Kind::Int16,
        INT4 => Kind::Int32,
        INT8 | OID => Kind::Int64,
        FLOAT4 => Kind::Float32,
        FLOAT8 => Kind::Float64,
        NUMERIC => Kind::Numeric(if modifier >= 4 {
            let m = modifier - 4;
            Some(((m >> 16) & 0xffff, m & 0xffff))
        } else {
            None
        }),
        MONEY => Kind::Money,
        TEXT | VARCHAR | BPCHAR | NAME => Kind::Text,
        JSON | JSONB => Kind::Json,
        XML => Kind::Xml,
        UUID => Kind::Uuid,
        DATE => Kind::Date,
        TIME => Kind::Time(precision(modifier)),
        TIMETZ => Kind::TimeTz(precision(modifier)),
        TIMESTAMP => Kind::Timestamp(precision(modifier)),
        TIMESTAMPTZ => Kind::TimestampTz(precision(modifier)),
        INTERVAL => Kind::Interval,
        BYTEA => Kind::Bytea,
        _ => return None,
    })
}

/// The Connect schema Debezium gives a column of `kind`.
pub fn schema_for(kind: &Kind, optional: bool, modes: Modes) -> SchemaRef {
    builder_for(kind, modes).set_optional(optional).build()
}

fn named(t: SchemaType, name: &str) -> SchemaBuilder {
    SchemaBuilder::new(t).name(name).version(1)
}

fn builder_for(kind: &Kind, modes: Modes) -> SchemaBuilder {
    let connect = modes.time == TimePrecision::Connect;
    match kind {
        Kind::Bool => SchemaBuilder::new(SchemaType::Boolean),
        Kind::Int16 => SchemaBuilder::new(SchemaType::Int16),
        Kind::Int32 => SchemaBuilder::new(SchemaType::Int32),
        Kind::Int64 => SchemaBuilder::new(SchemaType::Int64),
        Kind::Float32 => SchemaBuilder::new(SchemaType::Float32),
        Kind::Float64 => SchemaBuilder::new(SchemaType::Float64),
        Kind::Numeric(_) | Kind::Money => match modes.decimal {
            DecimalMode::Double => SchemaBuilder::new(SchemaType::Float64),
            DecimalMode::String => SchemaBuilder::new(SchemaType::String),
            DecimalMode::Precise => match kind {
                Kind::Numeric(Some((p, s))) => logical_schemas::decimal(*s)
                    .parameter("connect.decimal.precision", p.to_string()),
                Kind::Money => logical_schemas::decimal(2),
                _ => variable_scale_decimal(),
            },
        },
        Kind::Text | Kind::Other => SchemaBuilder::new(SchemaType::String),
        Kind::Json => named(SchemaType::String, "io.debezium.data.Json"),
        Kind::Xml => named(SchemaType::String, "io.debezium.data.Xml"),
        Kind::Uuid => named(SchemaType::String, "io.debezium.data.Uuid"),
        Kind::Date if connect => logical_schemas::date(),
        Kind::Date => named(SchemaType::Int32, "io.debezium.time.Date"),
        Kind::Time(_) if connect => logical_schemas::time(),
        Kind::Time(p) if *p <= 3 && modes.time == TimePrecision::Adaptive => {
            named(SchemaType::Int32, "io.debezium.time.Time")
        }
        Kind::Time(_) => named(SchemaType::Int64, "io.debezium.time.MicroTime"),
        Kind::TimeTz(_) => named(SchemaType::String, "io.debezium.time.ZonedTime"),
        Kind::Timestamp(_) if connect => logical_schemas::timestamp(),
        Kind::Timestamp(p) if *p <= 3 => named(SchemaType::Int64, "io.debezium.time.Timestamp"),
        Kind::Timestamp(_) => named(SchemaType::Int64, "io.debezium.time.MicroTimestamp"),
        Kind::TimestampTz(_) => named(SchemaType::String, "io.debezium.time.ZonedTimestamp"),
        Kind::Interval => named(SchemaType::Int64, "io.debezium.time.MicroDuration"),
        Kind::Bytea => SchemaBuilder::new(SchemaType::Bytes),
        Kind::Enum(labels) => named(SchemaType::String, "io.debezium.data.Enum")
            .parameter("allowed", labels.join(",")),
        Kind::Array(item) => SchemaBuilder::array(builder_for(item, modes).optional().build()),
    }
}

fn variable_scale_decimal() -> SchemaBuilder {
    SchemaBuilder::struct_()
        .name("io.debezium.data.VariableScaleDecimal")
        .version(1)
        .doc("Variable scaled decimal")
        .field("scale", Schema::int32())
        .field("value", Schema::bytes())
}

/// The Connect value of a column's text form, for `schema` built by [`schema_for`].
pub fn convert(kind: &Kind, text: &str, schema: &SchemaRef, modes: Modes) -> Result<Value, String> {
    let connect = modes.time == TimePrecision::Connect;
    let bad = |what: &str| format!("'{text}' is not a valid {what}");
    Ok(match kind {
        Kind::Bool => Value::Boolean(text == "t" || text == "true"),
        Kind::Int16 => Value::Int16(text.parse().map_err(|_| bad("smallint"))?),
        Kind::Int32 => Value::Int32(text.parse().map_err(|_| bad("integer"))?),
        Kind::Int64 => Value::Int64(text.parse().map_err(|_| bad("bigint"))?),
        Kind::Float32 => Value::Float32(parse_float(text).ok_or_else(|| bad("real"))? as f32),
        Kind::Float64 => Value::Float64(parse_float(text).ok_or_else(|| bad("double"))?),
        Kind::Numeric(_) | Kind::Money => {
            let plain = if matches!(kind, Kind::Money) {
                text.replace(['$', ','], "")
            } else {
                text.to_string()
            };
            if plain == "NaN" {
                // Debezium has no NaN in Decimal or VariableScaleDecimal: null.
                return Ok(match modes.decimal {
                    DecimalMode::Double => Value::Float64(f64::NAN),
                    DecimalMode::String => Value::String(plain),
                    DecimalMode::Precise => Value::Null,
                });
            }
            match modes.decimal {
                DecimalMode::Double => Value::Float64(plain.parse().map_err(|_| bad("numeric"))?),
                DecimalMode::String => Value::String(plain),
                DecimalMode::Precise => match kind {
                    Kind::Numeric(Some((_, s))) => Value::Bytes(decimal::to_bytes(
                        decimal::parse_unscaled(&plain, *s).ok_or_else(|| bad("numeric"))?,
                    )),
                    Kind::Money => Value::Bytes(decimal::to_bytes(
                        decimal::parse_unscaled(&plain, 2).ok_or_else(|| bad("money"))?,
                    )),
                    _ => {
                        let scale = plain.split_once('.').map_or(0, |(_, f)| f.len()) as i32;
                        let unscaled = decimal::parse_unscaled(&plain, scale)
                            .ok_or_else(|| bad("numeric of at most 38 digits"))?;
                        let mut s = Struct::new(schema.clone());
                        s.put("scale", Value::Int32(scale))?;
                        s.put("value", Value::Bytes(decimal::to_bytes(unscaled)))?;
                        Value::Struct(s)
                    }
                },
            }
        }
        Kind::Text | Kind::Other | Kind::Json | Kind::Xml | Kind::Uuid | Kind::Enum(_) => {
            Value::String(text.to_string())
        }
        Kind::Date => {
            let d = parse_date(text).ok_or_else(|| bad("date"))?;
            Value::Int32((d - epoch_date()).num_days() as i32)
        }
        Kind::Time(p) => {
            let t = NaiveTime::parse_from_str(text, "%H:%M:%S%.f")
                .or_else(|_| {
                    if text == "24:00:00" {
                        Ok(NaiveTime::MIN)
                    } else {
                        Err(())
                    }
                })
                .map_err(|_| bad("time"))?;
            let micros = if text == "24:00:00" {
                86_400_000_000
            } else {
                t.num_seconds_from_midnight() as i64 * 1_000_000 + t.nanosecond() as i64 / 1000
            };
            if connect || (*p <= 3 && modes.time == TimePrecision::Adaptive) {
                Value::Int32((micros / 1000) as i32)
            } else {
                Value::Int64(micros)
            }
        }
        Kind::TimeTz(p) => {
            Value::String(zoned_time(text, *p).ok_or_else(|| bad("time with time zone"))?)
        }
        Kind::Timestamp(p) => {
            let ts = parse_timestamp(text).ok_or_else(|| bad("timestamp"))?;
            let micros = ts.and_utc().timestamp_micros();
            if connect || *p <= 3 {
                Value::Int64(micros.div_euclid(1000))
            } else {
                Value::Int64(micros)
            }
        }
        Kind::TimestampTz(p) => {
            Value::String(zoned_timestamp(text, *p).ok_or_else(|| bad("timestamp with time zone"))?)
        }
        Kind::Interval => Value::Int64(interval_micros(text).ok_or_else(|| bad("interval"))?),
        Kind::Bytea => Value::Bytes(parse_bytea(text).ok_or_else(|| bad("bytea"))?),
        Kind::Array(item) => {
            let items = schema
                .value_schema
                .clone()
                .ok_or_else(|| "array schema without items".to_string())?;
            let elements = parse_array(text).ok_or_else(|| bad("one-dimensional array"))?;
            let mut out = Vec::with_capacity(elements.len());
            for e in elements {
                out.push(match e {
                    None => Value::Null,
                    Some(t) => convert(item, &t, &items, modes)?,
                });
            }
            Value::Array(out)
        }
    })
}

fn parse_float(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => text.parse().ok(),
    }
}

fn epoch_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
}

/// `2024-01-02`, or `0044-03-15 BC`.
fn parse_date(text: &str) -> Option<NaiveDate> {
    if let Some(d) = text.strip_suffix(" BC") {
        let parsed = NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()?;
        // Year 1 BC is year 0 in ISO (proleptic Gregorian) numbering.
        use chrono::Datelike;
        return parsed.with_year(1 - parsed.year());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
}

fn parse_timestamp(text: &str) -> Option<NaiveDateTime> {
    let (body, bc) = match text.strip_suffix(" BC") {
        Some(b) => (b, true),
        None => (text, false),
    };
    let ts = NaiveDateTime::parse_from_str(body, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    if bc {
        use chrono::Datelike;
        return ts.with_year(1 - ts.year());
    }
    Some(ts)
}

/// Splits a trailing `+HH`, `-HH:MM` or `+HH:MM:SS` UTC offset off; returns the offset in
/// seconds east of UTC.
fn split_offset(text: &str) -> Option<(&str, i64)> {
    let at = text.rfind(['+', '-'])?;
    let (body, offset) = text.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let mut secs = 0i64;
    for (i, part) in offset[1..].split(':').enumerate() {
        let n: i64 = part.parse().ok()?;
        secs += n * [3600, 60, 1].get(i)?;
    }
    Some((body, sign * secs))
}

/// The fraction of a second as Debezium writes it for a column of precision `width`:
/// exactly `width` digits, none for precision 0.
fn fraction(nanos: u32, width: i32) -> String {
    if width <= 0 {
        return String::new();
    }
    let digits = format!("{nanos:09}");
    format!(".{}", &digits[..(width as usize).min(9)])
}

/// A `timestamptz(width)` as Debezium's `ZonedTimestamp`: ISO-8601 in UTC
/// (`2024-01-02T03:04:05.500000Z`).
pub fn zoned_timestamp(text: &str, width: i32) -> Option<String> {
    let (body, bc) = match text.strip_suffix(" BC") {
        Some(b) => (b, true),
        None => (text, false),
    };
    let (local, offset) = split_offset(body)?;
    let mut ts = NaiveDateTime::parse_from_str(local, "%Y-%m-%d %H:%M:%S%.f").ok()?;
    if bc {
        use chrono::Datelike;
        ts = ts.with_year(1 - ts.year())?;
    }
    let utc = ts - chrono::Duration::seconds(offset);
    Some(format!(
        "{}{}Z",
        utc.format("%Y-%m-%dT%H:%M:%S"),
        fraction(utc.nanosecond(), width)
    ))
}

/// A `timetz(width)` as Debezium's `ZonedTime`: ISO-8601 time in UTC (`10:15:30.500000Z`).
pub fn zoned_time(text: &str, width: i32) -> Option<String> {
    let (local, offset) = split_offset(text)?;
    let t = NaiveTime::parse_from_str(local, "%H:%M:%S%.f").ok()?;
    let (utc, _) = t.overflowing_sub_signed(chrono::Duration::seconds(offset));
    Some(format!(
        "{}{}Z",
        utc.format("%H:%M:%S"),
        fraction(utc.nanosecond(), width)
    ))
}

/// An interval in PostgreSQL's default `IntervalStyle` (`1 year 2 mons -3 days 04:05:06.5`)
/// as Debezium's `MicroDuration`: a month counts 30.4375 days, as in Debezium.
pub fn interval_micros(text: &str) -> Option<i64> {
    const DAY: f64 = 86_400_000_000.0;
    let mut total = 0f64;
    let words: Vec<&str> = text.split_whitespace().collect();
    let mut i = 0;
    while i < words.len() {
        let w = words[i];
        if w.contains(':') {
            let (sign, hms) = match w.strip_prefix('-') {
                Some(rest) => (-1.0, rest),
                None => (1.0, w.trim_start_matches('+')),
            };
            let parts: Vec<&str> = hms.split(':').collect();
            let h: f64 = parts.first()?.parse().ok()?;
            let m: f64 = parts.get(1)?.parse().ok()?;
            let s: f64 = parts.get(2).map_or(Some(0.0), |s| s.parse().ok())?;
            total += sign * ((h * 3600.0 + m * 60.0 + s) * 1_000_000.0);
            i += 1;
            continue;
        }
        let n: f64 = w.parse().ok()?;
        let unit = words.get(i + 1)?;
        let factor = match unit.trim_end_matches('s') {
            "year" => 12.0 * 30.4375 * DAY,
            "mon" => 30.4375 * DAY,
            "day" => DAY,
            _ => return None,
        };
        total += n * factor;
        i += 2;
    }
    Some(total.round() as i64)
}

/// `\x0a0b` (the default `bytea_output=hex`).
fn parse_bytea(text: &str) -> Option<Vec<u8>> {
    let hex = text.strip_prefix("\\x")?;
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect()
}

/// The elements of a one-dimensional array literal (`{1,NULL,"a,b"}`); None for a malformed
/// or multi-dimensional one.
pub fn parse_array(text: &str) -> Option<Vec<Option<String>>> {
    // A lower bound other than 1 is written first: `[0:2]={1,2,3}`.
    let body = match text.find('=') {
        Some(i) if text.starts_with('[') => &text[i + 1..],
        _ => text,
    };
    let inner = body.strip_prefix('{')?.strip_suffix('}')?;
    let mut out = Vec::new();
    if inner.is_empty() {
        return Some(out);
    }
    let mut chars = inner.chars().peekable();
    loop {
        match chars.peek() {
            Some('{') => return None,
            Some('"') => {
                chars.next();
                let mut s = String::new();
                loop {
                    match chars.next()? {
                        '\\' => s.push(chars.next()?),
                        '"' => break,
                        c => s.push(c),
                    }
                }
                out.push(Some(s));
            }
            _ => {
                let mut s = String::new();
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    s.push(c);
                    chars.next();
                }
                let s = s.trim().to_string();
                out.push(if s == "NULL" { None } else { Some(s) });
            }
        }
        match chars.next() {
            None => return Some(out),
            Some(',') => continue,
            Some(_) => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADAPTIVE: Modes = Modes {
        decimal: DecimalMode::Precise,
        time: TimePrecision::Adaptive,
    };

    fn conv(kind: Kind, text: &str) -> Value {
        let s = schema_for(&kind, true, ADAPTIVE);
        convert(&kind, text, &s, ADAPTIVE).unwrap()
    }

    #[test]
    fn schemas_follow_debezium_names() {
        let name = |k: Kind| schema_for(&k, true, ADAPTIVE).name.clone();
        assert_eq!(name(Kind::Date).as_deref(), Some("io.debezium.time.Date"));
        assert_eq!(
            name(Kind::Time(6)).as_deref(),
            Some("io.debezium.time.MicroTime")
        );
        assert_eq!(
            name(Kind::Time(3)).as_deref(),
            Some("io.debezium.time.Time")
        );
        assert_eq!(
            name(Kind::Timestamp(6)).as_deref(),
            Some("io.debezium.time.MicroTimestamp")
        );
        assert_eq!(
            name(Kind::TimestampTz(6)).as_deref(),
            Some("io.debezium.time.ZonedTimestamp")
        );
        assert_eq!(
            name(Kind::Numeric(None)).as_deref(),
            Some("io.debezium.data.VariableScaleDecimal")
        );
        let d = schema_for(&Kind::Numeric(Some((10, 2))), false, ADAPTIVE);
        assert_eq!(
            d.name.as_deref(),
            Some("org.apache.kafka.connect.data.Decimal")
        );
        assert_eq!(d.parameters["scale"], "2");
        assert_eq!(d.parameters["connect.decimal.precision"], "10");
        let e = schema_for(&Kind::Enum(vec!["a".into(), "b".into()]), true, ADAPTIVE);
        assert_eq!(e.parameters["allowed"], "a,b");
        let connect = Modes {
            decimal: DecimalMode::String,
            time: TimePrecision::Connect,
        };
        assert_eq!(
            schema_for(&Kind::Timestamp(6), true, connect)
                .name
                .as_deref(),
            Some("org.apache.kafka.connect.data.Timestamp")
        );
        assert_eq!(
            schema_for(&Kind::Numeric(None), true, connect).schema_type,
            SchemaType::String
        );
    }

    #[test]
    fn converts_text_forms() {
        assert_eq!(conv(Kind::Date, "1970-01-02"), Value::Int32(1));
        assert_eq!(conv(Kind::Date, "1969-12-31"), Value::Int32(-1));
        assert_eq!(
            conv(Kind::Timestamp(6), "1970-01-01 00:00:01.000002"),
            Value::Int64(1_000_002)
        );
        assert_eq!(
            conv(Kind::Timestamp(3), "1970-01-01 00:00:01.5"),
            Value::Int64(1500)
        );
        assert_eq!(
            conv(Kind::TimestampTz(6), "2024-01-02 05:04:05.25+02"),
            Value::String("2024-01-02T03:04:05.250000Z".into())
        );
        assert_eq!(
            conv(Kind::TimestampTz(0), "2024-01-02 03:04:05+00"),
            Value::String("2024-01-02T03:04:05Z".into())
        );
        assert_eq!(
            conv(Kind::TimeTz(3), "10:00:00-05:30"),
            Value::String("15:30:00.000Z".into())
        );
        assert_eq!(conv(Kind::Time(6), "00:00:01.5"), Value::Int64(1_500_000));
        assert_eq!(
            conv(Kind::Interval, "1 day 01:00:00"),
            Value::Int64(90_000_000_000)
        );
        assert_eq!(conv(Kind::Bytea, "\\x00ff"), Value::Bytes(vec![0, 255]));
        assert_eq!(
            conv(Kind::Numeric(Some((10, 2))), "-1.5"),
            Value::Bytes(decimal::to_bytes(-150))
        );
        let Value::Struct(v) = conv(Kind::Numeric(None), "12.345") else {
            panic!()
        };
        assert_eq!(v.get("scale"), Some(&Value::Int32(3)));
        assert_eq!(
            v.get("value"),
            Some(&Value::Bytes(decimal::to_bytes(12345)))
        );
        assert_eq!(
            conv(Kind::Array(Box::new(Kind::Int32)), "{1,NULL,3}"),
            Value::Array(vec![Value::Int32(1), Value::Null, Value::Int32(3)])
        );
        assert_eq!(
            conv(Kind::Array(Box::new(Kind::Text)), r#"{"a,b",c,"d\"e"}"#),
            Value::Array(vec![
                Value::String("a,b".into()),
                Value::String("c".into()),
                Value::String("d\"e".into())
            ])
        );
        let s = schema_for(&Kind::Int32, true, ADAPTIVE);
        let err = convert(&Kind::Int32, "x", &s, ADAPTIVE).unwrap_err();
        assert!(err.contains("'x' is not a valid integer"), "{err}");
    }
}
