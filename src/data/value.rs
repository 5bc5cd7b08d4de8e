//! Connect values: what a schema describes (Kafka Connect's `Object` values and `Struct`).

use super::schema::{SchemaRef, SchemaType};

/// A Connect value. Schemaless data uses the same variants (a JSON object becomes a
/// [`Value::Map`] with string keys); logical types keep their physical representation.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Boolean(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    String(String),
    Bytes(Vec<u8>),
    Array(Vec<Value>),
    /// Entries in insertion order; keys may be any value, as in Connect.
    Map(Vec<(Value, Value)>),
    Struct(Struct),
}

impl Value {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The variant name, used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Boolean(_) => "Boolean",
            Value::Int8(_) => "Byte",
            Value::Int16(_) => "Short",
            Value::Int32(_) => "Integer",
            Value::Int64(_) => "Long",
            Value::Float32(_) => "Float",
            Value::Float64(_) => "Double",
            Value::String(_) => "String",
            Value::Bytes(_) => "byte[]",
            Value::Array(_) => "List",
            Value::Map(_) => "Map",
            Value::Struct(_) => "Struct",
        }
    }

    /// The schema type a schemaless value would have, if any (Connect's `ConnectSchema.schemaType`).
    pub fn inferred_type(&self) -> Option<SchemaType> {
        Some(match self {
            Value::Null => return None,
            Value::Boolean(_) => SchemaType::Boolean,
            Value::Int8(_) => SchemaType::Int8,
            Value::Int16(_) => SchemaType::Int16,
            Value::Int32(_) => SchemaType::Int32,
            Value::Int64(_) => SchemaType::Int64,
            Value::Float32(_) => SchemaType::Float32,
            Value::Float64(_) => SchemaType::Float64,
            Value::String(_) => SchemaType::String,
            Value::Bytes(_) => SchemaType::Bytes,
            Value::Array(_) => SchemaType::Array,
            Value::Map(_) => SchemaType::Map,
            Value::Struct(_) => SchemaType::Struct,
        })
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Integer variants widened to i64.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::Int8(v) => Some(v as i64),
            Value::Int16(v) => Some(v as i64),
            Value::Int32(v) => Some(v as i64),
            Value::Int64(v) => Some(v),
            _ => None,
        }
    }

    /// Numeric variants as f64.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Float32(v) => Some(v as f64),
            Value::Float64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }

    /// Looks up a string key in a map value.
    pub fn map_get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Builds a map value with string keys.
    pub fn string_map<I, K>(entries: I) -> Value
    where
        I: IntoIterator<Item = (K, Value)>,
        K: Into<String>,
    {
        Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (Value::String(k.into()), v))
                .collect(),
        )
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::String(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::String(s)
    }
}

impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Value::Int32(v)
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int64(v)
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Boolean(v)
    }
}

/// A structured value with a struct schema (Kafka Connect's `Struct`).
#[derive(Clone, Debug, PartialEq)]
pub struct Struct {
    schema: SchemaRef,
    values: Vec<Value>,
}

impl Struct {
    /// An empty struct: every field null until set.
    pub fn new(schema: SchemaRef) -> Self {
        let values = vec![Value::Null; schema.fields.len()];
        Struct { schema, values }
    }

    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// The field values, in field order.
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// The value of `field`, or its schema default when null. `None` when there is no such field.
    pub fn get(&self, field: &str) -> Option<&Value> {
        let f = self.schema.field(field)?;
        let v = &self.values[f.index];
        if v.is_null() {
            if let Some(d) = &f.schema.default {
                return Some(d);
            }
        }
        Some(v)
    }

    /// The value stored at `field` without applying defaults.
    pub fn get_without_default(&self, field: &str) -> Option<&Value> {
        let f = self.schema.field(field)?;
        Some(&self.values[f.index])
    }

    /// Sets a field, checking the value against the field's schema.
    pub fn put(&mut self, field: &str, value: Value) -> Result<&mut Self, String> {
        let f = self
            .schema
            .field(field)
            .ok_or_else(|| format!("{field} is not a valid field name"))?;
        f.schema
            .validate_value(&value)
            .map_err(|e| format!("{e} (field \"{field}\")"))?;
        let idx = f.index;
        self.values[idx] = value;
        Ok(self)
    }

    /// Sets a field by index without validation; for converters that already checked types.
    pub fn put_unchecked(&mut self, index: usize, value: Value) {
        self.values[index] = value;
    }

    /// Checks that every required field is set (Connect's `Struct.validate`).
    pub fn validate(&self) -> Result<(), String> {
        for f in &self.schema.fields {
            f.schema
                .validate_value(&self.values[f.index])
                .map_err(|e| format!("{e} (field \"{}\")", f.name))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::schema::{Schema, SchemaBuilder};

    #[test]
    fn struct_put_checks_types_and_defaults_apply() {
        let schema = SchemaBuilder::struct_()
            .field("id", Schema::int64())
            .field(
                "name",
                SchemaBuilder::new(SchemaType::String)
                    .optional()
                    .default_value("anon".into())
                    .build(),
            )
            .build();
        let mut s = Struct::new(schema);
        assert!(s.put("id", Value::String("x".into())).is_err());
        assert!(s.put("missing", Value::Null).is_err());
        s.put("id", Value::Int64(7)).unwrap();
        assert_eq!(s.get("name"), Some(&Value::String("anon".into())));
        assert_eq!(s.get_without_default("name"), Some(&Value::Null));
        s.validate().unwrap();
    }
}
