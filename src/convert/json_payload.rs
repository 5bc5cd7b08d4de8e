//! Reading a JsonConverter payload straight into Connect values, guided by the schema, without
//! an intermediate `serde_json::Value` tree (the sink hot path).

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::data::{logical, Schema, SchemaRef, SchemaType, Struct, Value};

/// Reads one value: schemaless when `schema` is `None`.
pub(crate) struct PayloadSeed<'a> {
    pub schema: Option<&'a SchemaRef>,
    pub replace_null_with_default: bool,
}

impl<'de> DeserializeSeed<'de> for PayloadSeed<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        match self.schema {
            None => d.deserialize_any(SchemalessVisitor),
            Some(schema) if schema.is_logical(logical::DECIMAL) => {
                // Decimals keep every digit: read the number's text, not an f64.
                let raw = <&RawValue>::deserialize(d)?;
                decimal_from_raw(schema, raw.get(), self.replace_null_with_default)
                    .map_err(de::Error::custom)
            }
            Some(schema) => d.deserialize_any(SchemaVisitor {
                schema,
                replace_null_with_default: self.replace_null_with_default,
            }),
        }
    }
}

fn decimal_scale(schema: &Schema) -> i32 {
    schema
        .parameters
        .get(logical::DECIMAL_SCALE)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn decimal_from_raw(schema: &SchemaRef, text: &str, replace_null: bool) -> Result<Value, String> {
    let text = text.trim();
    if text == "null" {
        return null_for(schema, replace_null);
    }
    if let Some(quoted) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        return BASE64
            .decode(quoted)
            .map(Value::Bytes)
            .map_err(|e| format!("Invalid bytes field: {e}"));
    }
    crate::data::decimal::parse_unscaled(text, decimal_scale(schema))
        .map(|u| Value::Bytes(crate::data::decimal::to_bytes(u)))
        .ok_or_else(|| format!("Invalid JSON for DECIMAL schema: {text}"))
}

fn null_for(schema: &Schema, replace_null: bool) -> Result<Value, String> {
    if let (Some(d), true) = (&schema.default, replace_null) {
        return Ok(d.clone());
    }
    if schema.optional {
        return Ok(Value::Null);
    }
    Err(format!(
        "Invalid null value for required {} field",
        schema.schema_type
    ))
}

struct SchemalessVisitor;

impl<'de> Visitor<'de> for SchemalessVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Boolean(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int64(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v)
            .map(Value::Int64)
            .unwrap_or(Value::Float64(v as f64)))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float64(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_string()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(PayloadSeed {
            schema: None,
            replace_null_with_default: true,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(k) = map.next_key::<String>()? {
            let v = map.next_value_seed(PayloadSeed {
                schema: None,
                replace_null_with_default: true,
            })?;
            out.push((Value::String(k), v));
        }
        Ok(Value::Map(out))
    }
}

struct SchemaVisitor<'a> {
    schema: &'a SchemaRef,
    replace_null_with_default: bool,
}

impl SchemaVisitor<'_> {
    fn mismatch<E: de::Error>(&self, what: &str) -> E {
        E::custom(format!(
            "Invalid JSON for {} schema: {what}",
            self.schema.schema_type
        ))
    }

    fn child<'b>(&self, schema: Option<&'b SchemaRef>) -> PayloadSeed<'b> {
        PayloadSeed {
            schema,
            replace_null_with_default: self.replace_null_with_default,
        }
    }

    fn int<E: de::Error>(&self, v: i64) -> Result<Value, E> {
        let out_of_range = || self.mismatch::<E>(&v.to_string());
        Ok(match self.schema.schema_type {
            SchemaType::Int8 => Value::Int8(i8::try_from(v).map_err(|_| out_of_range())?),
            SchemaType::Int16 => Value::Int16(i16::try_from(v).map_err(|_| out_of_range())?),
            SchemaType::Int32 => Value::Int32(i32::try_from(v).map_err(|_| out_of_range())?),
            SchemaType::Int64 => Value::Int64(v),
            SchemaType::Float32 => Value::Float32(v as f32),
            SchemaType::Float64 => Value::Float64(v as f64),
            _ => return Err(out_of_range()),
        })
    }
}

impl<'de> Visitor<'de> for SchemaVisitor<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "JSON for a {} schema", self.schema.schema_type)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        null_for(self.schema, self.replace_null_with_default).map_err(E::custom)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        match self.schema.schema_type {
            SchemaType::Boolean => Ok(Value::Boolean(v)),
            _ => Err(self.mismatch(&v.to_string())),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.int(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        match i64::try_from(v) {
            Ok(v) => self.int(v),
            Err(_) if self.schema.schema_type == SchemaType::Float64 => {
                Ok(Value::Float64(v as f64))
            }
            Err(_) => Err(self.mismatch(&v.to_string())),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        match self.schema.schema_type {
            SchemaType::Float32 => Ok(Value::Float32(v as f32)),
            SchemaType::Float64 => Ok(Value::Float64(v)),
            _ => Err(self.mismatch(&v.to_string())),
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        match self.schema.schema_type {
            SchemaType::String => Ok(Value::String(v.to_string())),
            SchemaType::Bytes => BASE64
                .decode(v)
                .map(Value::Bytes)
                .map_err(|e| E::custom(format!("Invalid bytes field: {e}"))),
            _ => Err(self.mismatch(&format!("\"{v}\""))),
        }
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        match self.schema.schema_type {
            SchemaType::String => Ok(Value::String(v)),
            _ => self.visit_str(&v),
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        match self.schema.schema_type {
            SchemaType::Array => {
                let items = self
                    .schema
                    .value_schema
                    .as_ref()
                    .ok_or_else(|| self.mismatch::<A::Error>("array"))?;
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(v) = seq.next_element_seed(self.child(Some(items)))? {
                    out.push(v);
                }
                Ok(Value::Array(out))
            }
            SchemaType::Map => {
                // Maps with non-string keys are written as [[key, value], ...].
                let (ks, vs) = match (&self.schema.key_schema, &self.schema.value_schema) {
                    (Some(k), Some(v)) => (k, v),
                    _ => return Err(self.mismatch("map")),
                };
                let mut out = Vec::new();
                while let Some(pair) = seq.next_element_seed(PairSeed {
                    key: self.child(Some(ks)),
                    value: self.child(Some(vs)),
                })? {
                    out.push(pair);
                }
                Ok(Value::Map(out))
            }
            _ => Err(self.mismatch("array")),
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        match self.schema.schema_type {
            SchemaType::Struct => {
                let mut s = Struct::new(self.schema.clone());
                let mut seen = vec![false; self.schema.fields.len()];
                while let Some(k) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                    match self.schema.field(&k) {
                        Some(f) => {
                            let v =
                                map.next_value_seed(self.child(Some(&f.schema)))
                                    .map_err(|e| {
                                        de::Error::custom(format!("field \"{}\": {e}", f.name))
                                    })?;
                            seen[f.index] = true;
                            s.put_unchecked(f.index, v);
                        }
                        None => {
                            map.next_value::<de::IgnoredAny>()?;
                        }
                    }
                }
                for f in &self.schema.fields {
                    if !seen[f.index] {
                        let v = null_for(&f.schema, self.replace_null_with_default)
                            .map_err(|e| de::Error::custom(format!("field \"{}\": {e}", f.name)))?;
                        s.put_unchecked(f.index, v);
                    }
                }
                Ok(Value::Struct(s))
            }
            SchemaType::Map => {
                let vs = self
                    .schema
                    .value_schema
                    .as_ref()
                    .ok_or_else(|| self.mismatch::<A::Error>("map"))?;
                if self
                    .schema
                    .key_schema
                    .as_ref()
                    .is_none_or(|k| k.schema_type != SchemaType::String)
                {
                    return Err(self.mismatch("object"));
                }
                let mut out = Vec::with_capacity(map.size_hint().unwrap_or(0));
                while let Some(k) = map.next_key::<String>()? {
                    out.push((Value::String(k), map.next_value_seed(self.child(Some(vs)))?));
                }
                Ok(Value::Map(out))
            }
            _ => Err(self.mismatch("object")),
        }
    }
}

struct PairSeed<'a> {
    key: PayloadSeed<'a>,
    value: PayloadSeed<'a>,
}

impl<'de> DeserializeSeed<'de> for PairSeed<'_> {
    type Value = (Value, Value);

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(Value, Value), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PairSeed<'_> {
    type Value = (Value, Value);

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a [key, value] pair")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(Value, Value), A::Error> {
        let invalid = || de::Error::custom("Found invalid map entry instead of array tuple");
        let k = seq.next_element_seed(self.key)?.ok_or_else(invalid)?;
        let v = seq.next_element_seed(self.value)?.ok_or_else(invalid)?;
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(invalid());
        }
        Ok((k, v))
    }
}
