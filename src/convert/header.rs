//! `org.apache.kafka.connect.storage.SimpleHeaderConverter`, the default header converter:
//! values are written as text and read back with their type inferred (`true` → BOOLEAN,
//! `42` → INT8, `3.5` → FLOAT64, `[1,2]` → ARRAY, anything else → STRING).

use super::primitive::value_to_text;
use super::HeaderConverter;
use crate::data::{Header, Schema, SchemaRef, Value};
use crate::errors::ConnectError;

#[derive(Clone, Debug, Default)]
pub struct SimpleHeaderConverter;

/// Infers a typed value from header text, as Connect's `Values.parseString` does for the
/// common cases.
pub fn parse_header_text(text: &str) -> (Option<SchemaRef>, Value) {
    let t = text.trim();
    if t.is_empty() {
        return (Some(Schema::string()), Value::String(text.to_string()));
    }
    match t {
        "true" => return (Some(Schema::boolean()), Value::Boolean(true)),
        "false" => return (Some(Schema::boolean()), Value::Boolean(false)),
        _ => {}
    }
    if let Ok(i) = t.parse::<i64>() {
        return if let Ok(v) = i8::try_from(i) {
            (Some(Schema::int8()), Value::Int8(v))
        } else if let Ok(v) = i16::try_from(i) {
            (Some(Schema::int16()), Value::Int16(v))
        } else if let Ok(v) = i32::try_from(i) {
            (Some(Schema::int32()), Value::Int32(v))
        } else {
            (Some(Schema::int64()), Value::Int64(i))
        };
    }
    let looks_numeric = t
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '-' || c == '.');
    if looks_numeric {
        if let Ok(f) = t.parse::<f64>() {
            if f.is_finite() {
                return (Some(Schema::float64()), Value::Float64(f));
            }
        }
    }
    if (t.starts_with('[') && t.ends_with(']')) || (t.starts_with('{') && t.ends_with('}')) {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(t) {
            return (None, super::json::schemaless_to_connect(json));
        }
    }
    (Some(Schema::string()), Value::String(text.to_string()))
}

impl HeaderConverter for SimpleHeaderConverter {
    fn to_connect_header(
        &self,
        _topic: &str,
        key: &str,
        data: Option<&[u8]>,
    ) -> Result<Header, ConnectError> {
        let (schema, value) = match data {
            None => (None, Value::Null),
            Some(bytes) => match std::str::from_utf8(bytes) {
                Ok(text) => parse_header_text(text),
                Err(_) => (Some(Schema::bytes()), Value::Bytes(bytes.to_vec())),
            },
        };
        Ok(Header {
            key: key.to_string(),
            schema,
            value,
        })
    }

    fn header_to_bytes(
        &self,
        _topic: &str,
        header: &Header,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        Ok(match &header.value {
            Value::Bytes(b) => Some(b.clone()),
            v => value_to_text(v).map(String::into_bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::SchemaType;

    #[test]
    fn infers_types_and_round_trips() {
        let c = SimpleHeaderConverter;
        let cases: [(&str, SchemaType); 5] = [
            ("true", SchemaType::Boolean),
            ("42", SchemaType::Int8),
            ("70000", SchemaType::Int32),
            ("2.5", SchemaType::Float64),
            ("hello world", SchemaType::String),
        ];
        for (text, ty) in cases {
            let h = c
                .to_connect_header("t", "k", Some(text.as_bytes()))
                .unwrap();
            assert_eq!(h.schema.unwrap().schema_type, ty, "{text}");
            let back = c
                .header_to_bytes(
                    "t",
                    &Header {
                        key: "k".into(),
                        schema: None,
                        value: h.value,
                    },
                )
                .unwrap();
            assert_eq!(back.as_deref(), Some(text.as_bytes()));
        }
        assert_eq!(
            c.to_connect_header("t", "k", None).unwrap().value,
            Value::Null
        );
    }
}
