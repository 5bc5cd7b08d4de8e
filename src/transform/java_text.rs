//! Text forms of values as Java prints them (`Double.toString`, `Float.toString`,
//! `Values.dateFormatFor`, `String.valueOf` of a whole Connect value), for SMTs and
//! connectors whose output Connect defines through Java's `toString`.

use std::fmt::Write;

use chrono::{DateTime, Datelike, Timelike};

use crate::data::{decimal, logical, Schema, Value};
use crate::java;

const MILLIS_PER_DAY: i64 = 86_400_000;

/// `String.valueOf(value)` for a Connect value in Kafka Connect (what FileStreamSink writes):
/// maps as `{k=v, k2=v2}` in `HashMap` order, lists as `[a, b]`, structs as
/// `Struct{a=1,b=x}` (null fields left out), `null`, Java's number forms, Decimals as
/// `BigDecimal.toString`, Date, Time and Timestamp as `java.util.Date.toString` in the local
/// time zone, and bytes as `[B@` and a hash (Java prints an identity hash, which no one can
/// reproduce; Conveyor uses `Arrays.hashCode`, so equal bytes print alike).
pub fn value_to_java_string(schema: Option<&Schema>, value: &Value) -> String {
    let mut out = String::new();
    write_java(&mut out, schema, value);
    out
}

/// Epoch milliseconds of a Date, Time or Timestamp value (a `java.util.Date` in Kafka).
fn logical_millis(schema: Option<&Schema>, value: &Value) -> Option<i64> {
    let s = schema?;
    match value {
        Value::Int32(days) if s.is_logical(logical::DATE) => Some(*days as i64 * MILLIS_PER_DAY),
        Value::Int32(ms) if s.is_logical(logical::TIME) => Some(*ms as i64),
        Value::Int64(ms) if s.is_logical(logical::TIMESTAMP) => Some(*ms),
        _ => None,
    }
}

fn write_java(out: &mut String, schema: Option<&Schema>, value: &Value) {
    if let Some(ms) = logical_millis(schema, value) {
        out.push_str(&java_date_string(ms));
        return;
    }
    match value {
        Value::Null => out.push_str("null"),
        Value::Boolean(b) => {
            let _ = write!(out, "{b}");
        }
        Value::Int8(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int16(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int32(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Int64(v) => {
            let _ = write!(out, "{v}");
        }
        Value::Float32(v) => out.push_str(&float_to_string(*v)),
        Value::Float64(v) => out.push_str(&double_to_string(*v)),
        Value::String(s) => out.push_str(s),
        Value::Bytes(b) => match schema.filter(|s| s.is_logical(logical::DECIMAL)) {
            Some(s) => {
                let scale = s
                    .parameters
                    .get(logical::DECIMAL_SCALE)
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                out.push_str(&decimal::to_java_string(b, scale));
            }
            None => {
                let hash = b.iter().fold(1i32, |h, &x| {
                    h.wrapping_mul(31).wrapping_add(x as i8 as i32)
                });
                let _ = write!(out, "[B@{:x}", hash as u32);
            }
        },
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_java(out, item_schema, item);
            }
            out.push(']');
        }
        Value::Map(entries) => {
            let key_schema = schema.and_then(|s| s.key_schema.as_deref());
            let value_schema = schema.and_then(|s| s.value_schema.as_deref());
            out.push('{');
            for (n, i) in hash_map_order(key_schema, entries).into_iter().enumerate() {
                if n > 0 {
                    out.push_str(", ");
                }
                let (k, v) = &entries[i];
                write_java(out, key_schema, k);
                out.push('=');
                write_java(out, value_schema, v);
            }
            out.push('}');
        }
        Value::Struct(st) => {
            out.push_str("Struct{");
            let mut first = true;
            for (field, v) in st.schema().fields.iter().zip(st.values()) {
                if v.is_null() {
                    continue;
                }
                if !first {
                    out.push(',');
                }
                first = false;
                out.push_str(&field.name);
                out.push('=');
                write_java(out, Some(&field.schema), v);
            }
            out.push('}');
        }
    }
}

/// The `hashCode` a map key has in Kafka Connect, when Java's is known.
fn java_hash(schema: Option<&Schema>, key: &Value) -> Option<i32> {
    if let Some(ms) = logical_millis(schema, key) {
        return Some(java::long_hash(ms));
    }
    Some(match key {
        Value::Null => 0,
        Value::Boolean(b) => java::bool_hash(*b),
        Value::Int8(v) => *v as i32,
        Value::Int16(v) => *v as i32,
        Value::Int32(v) => *v,
        Value::Int64(v) => java::long_hash(*v),
        Value::Float32(v) => java::float_hash(*v),
        Value::Float64(v) => java::double_hash(*v),
        Value::String(s) => java::string_hash(s),
        _ => return None,
    })
}

/// The order a `HashMap` filled from these entries iterates them (Kafka's converters build
/// maps as `new HashMap<>()` and `put`s). A repeated key keeps its first place, as a `put`
/// of an existing key does; keys without a known Java hash keep their own order.
fn hash_map_order(key_schema: Option<&Schema>, entries: &[(Value, Value)]) -> Vec<usize> {
    let mut distinct: Vec<usize> = Vec::with_capacity(entries.len());
    let mut seen = std::collections::HashMap::new();
    let mut hashes = Vec::with_capacity(entries.len());
    for (i, (k, _)) in entries.iter().enumerate() {
        let Some(h) = java_hash(key_schema, k) else {
            return (0..entries.len()).collect();
        };
        if let Value::String(s) = k {
            if let Some(&first) = seen.get(s.as_str()) {
                // The later value replaces the earlier one in its place.
                distinct[first] = i;
                continue;
            }
            seen.insert(s.as_str(), distinct.len());
        }
        distinct.push(i);
        hashes.push(h);
    }
    java::hash_map_order(&hashes)
        .into_iter()
        .map(|i| distinct[i])
        .collect()
}

/// The fields of a `java.util.Date` as its `toString` prints them.
struct DateFields {
    year: i32,
    /// 0 = January.
    month0: u32,
    day: u32,
    /// 0 = Sunday.
    weekday0: u32,
    hour: u32,
    minute: u32,
    second: u32,
    zone: String,
}

/// `java.util.Date.toString`: `EEE MMM dd HH:mm:ss zzz yyyy`.
fn format_java_date(d: &DateFields) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{} {} {:02} {:02}:{:02}:{:02} {} {}",
        DAYS[d.weekday0 as usize % 7],
        MONTHS[d.month0 as usize % 12],
        d.day,
        d.hour,
        d.minute,
        d.second,
        d.zone,
        d.year
    )
}

fn utc_fields(epoch_ms: i64) -> DateFields {
    let t = DateTime::from_timestamp_millis(epoch_ms).unwrap_or_default();
    DateFields {
        year: t.year(),
        month0: t.month0(),
        day: t.day(),
        weekday0: t.weekday().num_days_from_sunday(),
        hour: t.hour(),
        minute: t.minute(),
        second: t.second(),
        zone: "UTC".into(),
    }
}

/// The local time (the JVM's default time zone is the system's) with the zone's short name.
#[cfg(unix)]
fn local_fields(epoch_ms: i64) -> DateFields {
    let secs = epoch_ms.div_euclid(1000) as libc::time_t;
    // SAFETY: localtime_r writes into `tm`, which we own; tm_zone then points to static
    // time zone data of the C library.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&secs, &mut tm).is_null() || tm.tm_zone.is_null() {
            return utc_fields(epoch_ms);
        }
        DateFields {
            year: tm.tm_year + 1900,
            month0: tm.tm_mon as u32,
            day: tm.tm_mday as u32,
            weekday0: tm.tm_wday as u32,
            hour: tm.tm_hour as u32,
            minute: tm.tm_min as u32,
            second: tm.tm_sec as u32,
            zone: std::ffi::CStr::from_ptr(tm.tm_zone as *const libc::c_char)
                .to_string_lossy()
                .into_owned(),
        }
    }
}

#[cfg(not(unix))]
fn local_fields(epoch_ms: i64) -> DateFields {
    utc_fields(epoch_ms)
}

/// `java.util.Date.toString` of epoch milliseconds, in the local time zone:
/// `Tue Mar 05 07:08:09 UTC 2024`.
pub fn java_date_string(epoch_ms: i64) -> String {
    format_java_date(&local_fields(epoch_ms))
}

/// Java's `Double.toString`.
pub fn double_to_string(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    // Rust's `{:e}` gives the shortest digits that round-trip, as Java (since JDK 19) does.
    java_layout(&format!("{v:e}"), v == 0.0, v.abs())
}

/// Java's `Float.toString`.
pub fn float_to_string(v: f32) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    java_layout(&format!("{v:e}"), v == 0.0, v.abs() as f64)
}

/// Lays out Rust's `d.ddde±x` shortest form the way Java does: plain decimal for
/// 10^-3 <= |v| < 10^7, otherwise `d.dddE±x`, always with a digit after the point.
fn java_layout(sci: &str, is_zero: bool, magnitude: f64) -> String {
    let (neg, sci) = match sci.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, sci),
    };
    let sign = if neg { "-" } else { "" };
    if is_zero {
        return format!("{sign}0.0");
    }
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    if (1e-3..1e7).contains(&magnitude) {
        if exp >= 0 {
            let int_len = exp as usize + 1;
            let (int, frac) = if digits.len() > int_len {
                (digits[..int_len].to_string(), digits[int_len..].to_string())
            } else {
                (
                    format!("{digits}{}", "0".repeat(int_len - digits.len())),
                    "0".to_string(),
                )
            };
            format!("{sign}{int}.{frac}")
        } else {
            format!("{sign}0.{}{digits}", "0".repeat((-exp - 1) as usize))
        }
    } else {
        let (first, rest) = digits.split_at(1);
        let rest = if rest.is_empty() { "0" } else { rest };
        format!("{sign}{first}.{rest}E{exp}")
    }
}

/// Connect's `Values.dateFormatFor(date).format(date)` for epoch milliseconds: a time of day
/// (`HH:mm:ss.SSS'Z'`) below one day, a date (`yyyy-MM-dd`) on whole days, otherwise a
/// timestamp (`yyyy-MM-dd'T'HH:mm:ss.SSS'Z'`), all in UTC.
pub fn iso_date_text(epoch_millis: i64) -> String {
    let Some(t) = DateTime::from_timestamp_millis(epoch_millis) else {
        return epoch_millis.to_string();
    };
    if epoch_millis < MILLIS_PER_DAY {
        t.format("%H:%M:%S%.3fZ").to_string()
    } else if epoch_millis % MILLIS_PER_DAY == 0 {
        t.format("%Y-%m-%d").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        let cases = [
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (1234567.0, "1234567.0"),
            (12345678.0, "1.2345678E7"),
            (1e10, "1.0E10"),
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (100.0, "100.0"),
            (2.71, "2.71"),
            (f64::NAN, "NaN"),
            (f64::NEG_INFINITY, "-Infinity"),
        ];
        for (v, want) in cases {
            assert_eq!(double_to_string(v), want, "{v}");
        }
        assert_eq!(float_to_string(1.1f32), "1.1");
        assert_eq!(float_to_string(1e10f32), "1.0E10");
    }

    #[test]
    fn dates_print_like_java_util_date() {
        assert_eq!(
            format_java_date(&utc_fields(1_709_622_489_012)),
            "Tue Mar 05 07:08:09 UTC 2024"
        );
        assert_eq!(
            format_java_date(&utc_fields(0)),
            "Thu Jan 01 00:00:00 UTC 1970"
        );
        assert_eq!(
            format_java_date(&utc_fields(-1)),
            "Wed Dec 31 23:59:59 UTC 1969"
        );
    }

    #[test]
    fn connect_values_print_like_java() {
        use crate::data::{Schema, SchemaBuilder, Struct};
        let key = |k: &str| Value::String(k.into());
        // Repeated keys keep the first place with the last value, as HashMap.put does.
        let map = Value::Map(vec![
            (key("b"), Value::Int64(1)),
            (key("a"), Value::Int64(2)),
            (key("b"), Value::Int64(3)),
        ]);
        assert_eq!(value_to_java_string(None, &map), "{a=2, b=3}");
        // Keys Java has no fixed hash for keep their order.
        let map = Value::Map(vec![
            (Value::Bytes(vec![2]), Value::Null),
            (Value::Bytes(vec![1]), Value::Null),
        ]);
        assert_eq!(value_to_java_string(None, &map), "{[B@21=null, [B@20=null}");
        let schema = SchemaBuilder::struct_()
            .field("n", Schema::optional_string())
            .build();
        let empty = Value::Struct(Struct::new(schema.clone()));
        assert_eq!(value_to_java_string(Some(&schema), &empty), "Struct{}");
        assert_eq!(value_to_java_string(None, &Value::Float32(1e10)), "1.0E10");
    }

    #[test]
    fn dates_use_connect_iso_forms() {
        assert_eq!(iso_date_text(0), "00:00:00.000Z");
        assert_eq!(iso_date_text(3_723_004), "01:02:03.004Z");
        assert_eq!(iso_date_text(19_723 * MILLIS_PER_DAY), "2024-01-01");
        assert_eq!(iso_date_text(1_704_067_200_123), "2024-01-01T00:00:00.123Z");
    }
}
