//! Connect schemas: the type of a key, value, field or header (Kafka Connect's `Schema`).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, LazyLock};

use super::value::Value;

/// A shared, immutable schema. Records, fields and converters hand these around cheaply.
pub type SchemaRef = Arc<Schema>;

/// The physical type of a schema, with Kafka Connect's JSON type names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SchemaType {
    Int8,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    Boolean,
    String,
    Bytes,
    Array,
    Map,
    Struct,
}

impl SchemaType {
    /// The name used in the JsonConverter envelope (`"int32"`, `"float"`, `"double"`, ...).
    pub fn json_name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "int8",
            SchemaType::Int16 => "int16",
            SchemaType::Int32 => "int32",
            SchemaType::Int64 => "int64",
            SchemaType::Float32 => "float",
            SchemaType::Float64 => "double",
            SchemaType::Boolean => "boolean",
            SchemaType::String => "string",
            SchemaType::Bytes => "bytes",
            SchemaType::Array => "array",
            SchemaType::Map => "map",
            SchemaType::Struct => "struct",
        }
    }

    /// Parses a JsonConverter type name; also accepts Connect's enum names (`FLOAT32`, ...).
    pub fn from_name(name: &str) -> Option<SchemaType> {
        Some(match name.to_ascii_lowercase().as_str() {
            "int8" => SchemaType::Int8,
            "int16" => SchemaType::Int16,
            "int32" => SchemaType::Int32,
            "int64" => SchemaType::Int64,
            "float" | "float32" => SchemaType::Float32,
            "double" | "float64" => SchemaType::Float64,
            "boolean" => SchemaType::Boolean,
            "string" => SchemaType::String,
            "bytes" => SchemaType::Bytes,
            "array" => SchemaType::Array,
            "map" => SchemaType::Map,
            "struct" => SchemaType::Struct,
            _ => return None,
        })
    }

    /// Connect's enum name (`INT32`, `FLOAT64`, ...), used in error messages.
    pub fn connect_name(self) -> &'static str {
        match self {
            SchemaType::Int8 => "INT8",
            SchemaType::Int16 => "INT16",
            SchemaType::Int32 => "INT32",
            SchemaType::Int64 => "INT64",
            SchemaType::Float32 => "FLOAT32",
            SchemaType::Float64 => "FLOAT64",
            SchemaType::Boolean => "BOOLEAN",
            SchemaType::String => "STRING",
            SchemaType::Bytes => "BYTES",
            SchemaType::Array => "ARRAY",
            SchemaType::Map => "MAP",
            SchemaType::Struct => "STRUCT",
        }
    }

    pub fn is_primitive(self) -> bool {
        !matches!(
            self,
            SchemaType::Array | SchemaType::Map | SchemaType::Struct
        )
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.connect_name())
    }
}

/// Names of Kafka Connect's logical types. Values keep their physical representation
/// (Decimal: big-endian two's-complement unscaled bytes; Date: INT32 days since the epoch;
/// Time: INT32 milliseconds since midnight; Timestamp: INT64 epoch milliseconds), exactly as
/// they travel in the JsonConverter envelope.
pub mod logical {
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    pub const DECIMAL_SCALE: &str = "scale";
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
}

/// A field of a struct schema.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    pub name: String,
    pub index: usize,
    pub schema: SchemaRef,
}

/// A Connect schema. Build one with [`SchemaBuilder`] or use the shared constants
/// ([`Schema::string`], [`Schema::optional_int64`], ...).
#[derive(Clone, Debug, PartialEq)]
pub struct Schema {
    pub schema_type: SchemaType,
    pub optional: bool,
    pub default: Option<Value>,
    pub name: Option<String>,
    pub version: Option<i32>,
    pub doc: Option<String>,
    pub parameters: BTreeMap<String, String>,
    /// Struct fields, in order.
    pub fields: Vec<Field>,
    /// Map key schema.
    pub key_schema: Option<SchemaRef>,
    /// Map value schema and array item schema.
    pub value_schema: Option<SchemaRef>,
}

macro_rules! shared_schemas {
    ($($name:ident, $opt_name:ident => $ty:ident;)*) => {
        impl Schema {
            $(
                #[doc = concat!("The shared required `", stringify!($ty), "` schema.")]
                pub fn $name() -> SchemaRef {
                    static S: LazyLock<SchemaRef> =
                        LazyLock::new(|| SchemaBuilder::new(SchemaType::$ty).build());
                    S.clone()
                }
                #[doc = concat!("The shared optional `", stringify!($ty), "` schema.")]
                pub fn $opt_name() -> SchemaRef {
                    static S: LazyLock<SchemaRef> =
                        LazyLock::new(|| SchemaBuilder::new(SchemaType::$ty).optional().build());
                    S.clone()
                }
            )*
        }
    };
}

shared_schemas! {
    int8, optional_int8 => Int8;
    int16, optional_int16 => Int16;
    int32, optional_int32 => Int32;
    int64, optional_int64 => Int64;
    float32, optional_float32 => Float32;
    float64, optional_float64 => Float64;
    boolean, optional_boolean => Boolean;
    string, optional_string => String;
    bytes, optional_bytes => Bytes;
}

impl Schema {
    pub fn builder(schema_type: SchemaType) -> SchemaBuilder {
        SchemaBuilder::new(schema_type)
    }

    /// The field called `name`, for struct schemas.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// True when this schema is the named logical type.
    pub fn is_logical(&self, logical_name: &str) -> bool {
        self.name.as_deref() == Some(logical_name)
    }

    /// A builder preloaded with this schema's attributes, for SMTs that derive schemas.
    pub fn to_builder(&self) -> SchemaBuilder {
        SchemaBuilder {
            schema: self.clone(),
        }
    }

    /// Checks that `value` conforms to this schema (Connect's `ConnectSchema.validateValue`).
    pub fn validate_value(&self, value: &Value) -> Result<(), String> {
        self.validate_at(value, None)
    }

    fn validate_at(&self, value: &Value, field: Option<&str>) -> Result<(), String> {
        let place = || {
            field
                .map(|f| format!(" for field \"{f}\""))
                .unwrap_or_default()
        };
        if value.is_null() {
            if self.optional || self.default.is_some() {
                return Ok(());
            }
            return Err(format!(
                "Invalid value: null used for required field{}, schema type: {}",
                place(),
                self.schema_type
            ));
        }
        let ok = matches!(
            (self.schema_type, value),
            (SchemaType::Int8, Value::Int8(_))
                | (SchemaType::Int16, Value::Int16(_))
                | (SchemaType::Int32, Value::Int32(_))
                | (SchemaType::Int64, Value::Int64(_))
                | (SchemaType::Float32, Value::Float32(_))
                | (SchemaType::Float64, Value::Float64(_))
                | (SchemaType::Boolean, Value::Boolean(_))
                | (SchemaType::String, Value::String(_))
                | (SchemaType::Bytes, Value::Bytes(_))
                | (SchemaType::Array, Value::Array(_))
                | (SchemaType::Map, Value::Map(_))
                | (SchemaType::Struct, Value::Struct(_))
        );
        if !ok {
            return Err(format!(
                "Invalid Java object for schema{} with type {}: {}",
                place(),
                self.schema_type,
                value.type_name()
            ));
        }
        match value {
            Value::Array(items) => {
                if let Some(item_schema) = &self.value_schema {
                    for item in items {
                        item_schema.validate_at(item, field)?;
                    }
                }
            }
            Value::Map(entries) => {
                for (k, v) in entries {
                    if let Some(ks) = &self.key_schema {
                        ks.validate_at(k, field)?;
                    }
                    if let Some(vs) = &self.value_schema {
                        vs.validate_at(v, field)?;
                    }
                }
            }
            Value::Struct(s) if s.schema().as_ref() != self => {
                return Err(format!(
                    "Struct schemas do not match{}: expected {}, got {}",
                    place(),
                    self.describe(),
                    s.schema().describe()
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// A short human description used in errors: `Schema{name:STRUCT}` like Connect.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(n) => format!("Schema{{{n}:{}}}", self.schema_type),
            None => format!("Schema{{{}}}", self.schema_type),
        }
    }
}

/// Builds a [`Schema`] (Connect's `SchemaBuilder`).
#[derive(Clone, Debug)]
pub struct SchemaBuilder {
    schema: Schema,
}

impl SchemaBuilder {
    /// The schema built so far.
    pub fn peek(&self) -> &Schema {
        &self.schema
    }

    pub fn new(schema_type: SchemaType) -> Self {
        SchemaBuilder {
            schema: Schema {
                schema_type,
                optional: false,
                default: None,
                name: None,
                version: None,
                doc: None,
                parameters: BTreeMap::new(),
                fields: Vec::new(),
                key_schema: None,
                value_schema: None,
            },
        }
    }

    pub fn struct_() -> Self {
        Self::new(SchemaType::Struct)
    }

    pub fn array(items: SchemaRef) -> Self {
        let mut b = Self::new(SchemaType::Array);
        b.schema.value_schema = Some(items);
        b
    }

    pub fn map(keys: SchemaRef, values: SchemaRef) -> Self {
        let mut b = Self::new(SchemaType::Map);
        b.schema.key_schema = Some(keys);
        b.schema.value_schema = Some(values);
        b
    }

    pub fn optional(mut self) -> Self {
        self.schema.optional = true;
        self
    }

    pub fn required(mut self) -> Self {
        self.schema.optional = false;
        self
    }

    pub fn set_optional(mut self, optional: bool) -> Self {
        self.schema.optional = optional;
        self
    }

    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.schema.name = Some(name.into());
        self
    }

    pub fn set_name(mut self, name: Option<String>) -> Self {
        self.schema.name = name;
        self
    }

    pub fn version(mut self, version: i32) -> Self {
        self.schema.version = Some(version);
        self
    }

    pub fn set_version(mut self, version: Option<i32>) -> Self {
        self.schema.version = version;
        self
    }

    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.schema.doc = Some(doc.into());
        self
    }

    pub fn default_value(mut self, value: Value) -> Self {
        self.schema.default = Some(value);
        self
    }

    pub fn set_default(mut self, value: Option<Value>) -> Self {
        self.schema.default = value;
        self
    }

    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.schema.parameters.insert(key.into(), value.into());
        self
    }

    /// Adds a struct field; fields keep the order they are added in.
    pub fn field(mut self, name: impl Into<String>, schema: SchemaRef) -> Self {
        let index = self.schema.fields.len();
        self.schema.fields.push(Field {
            name: name.into(),
            index,
            schema,
        });
        self
    }

    /// Replaces the struct fields (re-indexing them).
    pub fn clear_fields(mut self) -> Self {
        self.schema.fields.clear();
        self
    }

    pub fn build(self) -> SchemaRef {
        Arc::new(self.schema)
    }
}

/// Builders for the logical types.
pub mod logical_schemas {
    use super::*;

    pub fn decimal(scale: i32) -> SchemaBuilder {
        SchemaBuilder::new(SchemaType::Bytes)
            .name(logical::DECIMAL)
            .version(1)
            .parameter(logical::DECIMAL_SCALE, scale.to_string())
    }

    pub fn date() -> SchemaBuilder {
        SchemaBuilder::new(SchemaType::Int32)
            .name(logical::DATE)
            .version(1)
    }

    pub fn time() -> SchemaBuilder {
        SchemaBuilder::new(SchemaType::Int32)
            .name(logical::TIME)
            .version(1)
    }

    pub fn timestamp() -> SchemaBuilder {
        SchemaBuilder::new(SchemaType::Int64)
            .name(logical::TIMESTAMP)
            .version(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_required_and_optional_values() {
        assert!(Schema::string().validate_value(&Value::Null).is_err());
        assert!(Schema::optional_string()
            .validate_value(&Value::Null)
            .is_ok());
        assert!(Schema::int32().validate_value(&Value::Int64(1)).is_err());
        assert!(Schema::int32().validate_value(&Value::Int32(1)).is_ok());
        let arr = SchemaBuilder::array(Schema::string()).build();
        assert!(arr
            .validate_value(&Value::Array(vec![Value::Int8(1)]))
            .is_err());
    }

    #[test]
    fn type_names_round_trip() {
        for t in [
            SchemaType::Int8,
            SchemaType::Float32,
            SchemaType::Float64,
            SchemaType::Struct,
        ] {
            assert_eq!(SchemaType::from_name(t.json_name()), Some(t));
        }
        assert_eq!(SchemaType::from_name("FLOAT64"), Some(SchemaType::Float64));
    }
}
