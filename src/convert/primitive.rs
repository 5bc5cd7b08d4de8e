//! StringConverter, ByteArrayConverter and the numeric converters (Kafka's big-endian
//! serializers).

use super::{Converter, HeaderConverter, SchemaAndValue};
use crate::config::ConfigMap;
use crate::data::{Header, Schema, SchemaRef, SchemaType, Value};
use crate::errors::ConnectError;

/// `org.apache.kafka.connect.storage.StringConverter`: UTF-8 text. Non-string values are
/// written as their text form, as Connect's `toString()` does.
#[derive(Clone, Debug, Default)]
pub struct StringConverter;

impl StringConverter {
    pub fn from_config(config: &ConfigMap) -> Result<Self, ConnectError> {
        let encoding = config
            .get("converter.encoding")
            .or_else(|| config.get("serializer.encoding"))
            .or_else(|| config.get("deserializer.encoding"));
        match encoding.map(|e| e.trim().to_ascii_uppercase()) {
            None => Ok(StringConverter),
            Some(e) if e == "UTF8" || e == "UTF-8" => Ok(StringConverter),
            Some(e) => Err(ConnectError::Config(format!(
                "Invalid value {e} for configuration converter.encoding: only UTF-8 is supported"
            ))),
        }
    }
}

/// Text form of a value for StringConverter and headers.
pub fn value_to_text(value: &Value) -> Option<String> {
    Some(match value {
        Value::Null => return None,
        Value::String(s) => s.clone(),
        Value::Boolean(b) => b.to_string(),
        Value::Int8(v) => v.to_string(),
        Value::Int16(v) => v.to_string(),
        Value::Int32(v) => v.to_string(),
        Value::Int64(v) => v.to_string(),
        Value::Float32(v) => format_float(*v as f64),
        Value::Float64(v) => format_float(*v),
        Value::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
        other => {
            let mut out = Vec::new();
            let conv = super::JsonConverter::schemaless();
            let schema = match other {
                Value::Struct(s) => Some(s.schema().clone()),
                _ => None,
            };
            if conv.write(&mut out, schema.as_ref(), other).is_err() {
                return Some(format!("{other:?}"));
            }
            String::from_utf8_lossy(&out).into_owned()
        }
    })
}

/// Java's `Double.toString` shape for ordinary values: always a decimal point.
fn format_float(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e7 {
        format!("{v:.1}")
    } else {
        v.to_string()
    }
}

impl Converter for StringConverter {
    fn to_bytes_owned(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: Value,
    ) -> Result<Option<Vec<u8>>, (ConnectError, Value)> {
        match value {
            Value::String(s) => Ok(Some(s.into_bytes())),
            other => self.to_bytes(topic, schema, &other).map_err(|e| (e, other)),
        }
    }

    fn to_bytes(
        &self,
        _topic: &str,
        _schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        Ok(match value {
            Value::String(s) => Some(s.as_bytes().to_vec()),
            other => value_to_text(other).map(String::into_bytes),
        })
    }

    fn to_connect(
        &self,
        _topic: &str,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConnectError> {
        Ok(match data {
            None => SchemaAndValue::new(Some(Schema::optional_string()), Value::Null),
            Some(bytes) => SchemaAndValue::new(
                Some(Schema::optional_string()),
                Value::String(match std::str::from_utf8(bytes) {
                    Ok(s) => s.to_string(),
                    Err(_) => String::from_utf8_lossy(bytes).into_owned(),
                }),
            ),
        })
    }
}

impl HeaderConverter for StringConverter {
    fn to_connect_header(
        &self,
        topic: &str,
        key: &str,
        data: Option<&[u8]>,
    ) -> Result<Header, ConnectError> {
        let sv = self.to_connect(topic, data)?;
        Ok(Header {
            key: key.to_string(),
            schema: sv.schema,
            value: sv.value,
        })
    }

    fn header_to_bytes(
        &self,
        topic: &str,
        header: &Header,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        self.to_bytes(topic, header.schema.as_ref(), &header.value)
    }
}

/// `org.apache.kafka.connect.converters.ByteArrayConverter`: bytes pass through untouched.
#[derive(Clone, Debug, Default)]
pub struct ByteArrayConverter;

impl Converter for ByteArrayConverter {
    fn to_bytes_owned(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: Value,
    ) -> Result<Option<Vec<u8>>, (ConnectError, Value)> {
        match value {
            Value::Bytes(b) if schema.is_none_or(|s| s.schema_type == SchemaType::Bytes) => {
                Ok(Some(b))
            }
            other => self.to_bytes(topic, schema, &other).map_err(|e| (e, other)),
        }
    }

    fn to_bytes(
        &self,
        _topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        if let Some(s) = schema {
            if s.schema_type != SchemaType::Bytes {
                return Err(ConnectError::Data(format!(
                    "Invalid schema type for ByteArrayConverter: {}",
                    s.schema_type
                )));
            }
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(b) => Ok(Some(b.clone())),
            other => Err(ConnectError::Data(format!(
                "ByteArrayConverter is not compatible with objects of type {}",
                other.type_name()
            ))),
        }
    }

    fn to_connect(
        &self,
        _topic: &str,
        data: Option<&[u8]>,
    ) -> Result<SchemaAndValue, ConnectError> {
        Ok(SchemaAndValue::new(
            Some(Schema::optional_bytes()),
            data.map(|d| Value::Bytes(d.to_vec()))
                .unwrap_or(Value::Null),
        ))
    }
}

impl HeaderConverter for ByteArrayConverter {
    fn to_connect_header(
        &self,
        topic: &str,
        key: &str,
        data: Option<&[u8]>,
    ) -> Result<Header, ConnectError> {
        let sv = self.to_connect(topic, data)?;
        Ok(Header {
            key: key.to_string(),
            schema: sv.schema,
            value: sv.value,
        })
    }

    fn header_to_bytes(
        &self,
        topic: &str,
        header: &Header,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        self.to_bytes(topic, header.schema.as_ref(), &header.value)
    }
}

/// The numeric and boolean converters: `ShortConverter`, `IntegerConverter`, `LongConverter`,
/// `FloatConverter`, `DoubleConverter`, `BooleanConverter`.
#[derive(Clone, Debug)]
pub struct NumberConverter {
    schema_type: SchemaType,
}

impl NumberConverter {
    pub fn new(schema_type: SchemaType) -> Self {
        NumberConverter { schema_type }
    }

    fn width(&self) -> usize {
        match self.schema_type {
            SchemaType::Boolean => 1,
            SchemaType::Int16 => 2,
            SchemaType::Int32 | SchemaType::Float32 => 4,
            _ => 8,
        }
    }

    fn schema(&self) -> SchemaRef {
        match self.schema_type {
            SchemaType::Boolean => Schema::optional_boolean(),
            SchemaType::Int16 => Schema::optional_int16(),
            SchemaType::Int32 => Schema::optional_int32(),
            SchemaType::Int64 => Schema::optional_int64(),
            SchemaType::Float32 => Schema::optional_float32(),
            _ => Schema::optional_float64(),
        }
    }
}

impl Converter for NumberConverter {
    fn to_bytes(
        &self,
        topic: &str,
        _schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError> {
        let bytes = match (self.schema_type, value) {
            (_, Value::Null) => return Ok(None),
            (SchemaType::Boolean, Value::Boolean(b)) => vec![*b as u8],
            (SchemaType::Int16, v) if v.as_i64().is_some() => {
                (v.as_i64().unwrap_or(0) as i16).to_be_bytes().to_vec()
            }
            (SchemaType::Int32, v) if v.as_i64().is_some() => {
                (v.as_i64().unwrap_or(0) as i32).to_be_bytes().to_vec()
            }
            (SchemaType::Int64, v) if v.as_i64().is_some() => {
                v.as_i64().unwrap_or(0).to_be_bytes().to_vec()
            }
            (SchemaType::Float32, v) if v.as_f64().is_some() => {
                (v.as_f64().unwrap_or(0.0) as f32).to_be_bytes().to_vec()
            }
            (SchemaType::Float64, v) if v.as_f64().is_some() => {
                v.as_f64().unwrap_or(0.0).to_be_bytes().to_vec()
            }
            (_, other) => {
                return Err(ConnectError::Data(format!(
                    "Failed to serialize to {} (was {}) for topic {topic}",
                    self.schema_type,
                    other.type_name()
                )))
            }
        };
        Ok(Some(bytes))
    }

    fn to_connect(&self, topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, ConnectError> {
        let Some(d) = data else {
            return Ok(SchemaAndValue::new(Some(self.schema()), Value::Null));
        };
        if d.len() != self.width() {
            return Err(ConnectError::Data(format!(
                "Failed to deserialize {} for topic {topic}: size of data received is {}, expected {}",
                self.schema_type,
                d.len(),
                self.width()
            )));
        }
        let mut buf = [0u8; 8];
        buf[..d.len()].copy_from_slice(d);
        let value = match self.schema_type {
            SchemaType::Boolean => Value::Boolean(d[0] != 0),
            SchemaType::Int16 => Value::Int16(i16::from_be_bytes([d[0], d[1]])),
            SchemaType::Int32 => Value::Int32(i32::from_be_bytes([d[0], d[1], d[2], d[3]])),
            SchemaType::Int64 => Value::Int64(i64::from_be_bytes(buf)),
            SchemaType::Float32 => Value::Float32(f32::from_be_bytes([d[0], d[1], d[2], d[3]])),
            _ => Value::Float64(f64::from_be_bytes(buf)),
        };
        Ok(SchemaAndValue::new(Some(self.schema()), value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_converter_round_trip() {
        let c = StringConverter;
        assert_eq!(
            c.to_bytes("t", None, &"héllo".into()).unwrap(),
            Some("héllo".as_bytes().to_vec())
        );
        assert_eq!(
            c.to_bytes("t", None, &Value::Int32(5)).unwrap(),
            Some(b"5".to_vec())
        );
        assert_eq!(c.to_bytes("t", None, &Value::Null).unwrap(), None);
        let sv = c.to_connect("t", Some(b"abc")).unwrap();
        assert_eq!(sv.value, Value::String("abc".into()));
        assert!(sv.schema.unwrap().optional);
    }

    #[test]
    fn byte_array_converter_rejects_other_types() {
        let c = ByteArrayConverter;
        assert_eq!(
            c.to_bytes("t", None, &Value::Bytes(vec![1, 2])).unwrap(),
            Some(vec![1, 2])
        );
        let err = c.to_bytes("t", None, &"x".into()).unwrap_err();
        assert!(err
            .to_string()
            .contains("not compatible with objects of type String"));
    }

    #[test]
    fn numbers_are_big_endian() {
        let c = NumberConverter::new(SchemaType::Int32);
        assert_eq!(
            c.to_bytes("t", None, &Value::Int32(258)).unwrap(),
            Some(vec![0, 0, 1, 2])
        );
        assert_eq!(
            c.to_connect("t", Some(&[0, 0, 1, 2])).unwrap().value,
            Value::Int32(258)
        );
        assert!(c.to_connect("t", Some(&[1])).is_err());
        let d = NumberConverter::new(SchemaType::Float64);
        let bytes = d
            .to_bytes("t", None, &Value::Float64(1.5))
            .unwrap()
            .unwrap();
        assert_eq!(
            d.to_connect("t", Some(&bytes)).unwrap().value,
            Value::Float64(1.5)
        );
    }
}
