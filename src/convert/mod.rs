//! Converters between Connect data and the bytes stored in Kafka.

pub mod avro;
pub mod confluent;
pub mod header;
pub mod json;
mod json_payload;
pub mod json_schema;
pub mod primitive;
pub mod protobuf;

use std::sync::Arc;

use crate::config::ConfigMap;
use crate::data::{Header, SchemaRef, Value};
use crate::errors::ConnectError;

pub use header::SimpleHeaderConverter;
pub use json::JsonConverter;
pub use primitive::{ByteArrayConverter, NumberConverter, StringConverter};

/// A schema with a value (Connect's `SchemaAndValue`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SchemaAndValue {
    pub schema: Option<SchemaRef>,
    pub value: Value,
}

impl SchemaAndValue {
    pub fn new(schema: Option<SchemaRef>, value: Value) -> Self {
        SchemaAndValue { schema, value }
    }
}

/// Converts record keys or values (Connect's `Converter`). Implementations are configured
/// once, when constructed, for keys or for values.
pub trait Converter: Send + Sync {
    /// Serializes a value; `None` is a Kafka null (a tombstone when it is the value).
    fn to_bytes(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>, ConnectError>;

    /// Serializes a value the caller no longer needs. Converters that can reuse its buffer
    /// (strings, bytes) override this to avoid a copy; on failure the value is handed back.
    fn to_bytes_owned(
        &self,
        topic: &str,
        schema: Option<&SchemaRef>,
        value: Value,
    ) -> Result<Option<Vec<u8>>, (ConnectError, Value)> {
        self.to_bytes(topic, schema, &value).map_err(|e| (e, value))
    }

    /// Deserializes Kafka bytes; `None` is a Kafka null.
    fn to_connect(&self, topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue, ConnectError>;
}

/// Converts header values (Connect's `HeaderConverter`).
pub trait HeaderConverter: Send + Sync {
    fn to_connect_header(
        &self,
        topic: &str,
        key: &str,
        data: Option<&[u8]>,
    ) -> Result<Header, ConnectError>;

    fn header_to_bytes(
        &self,
        topic: &str,
        header: &Header,
    ) -> Result<Option<Vec<u8>>, ConnectError>;
}

/// Builds a converter from its config (with the `key.converter.`-style prefix removed).
pub type ConverterFactory =
    Arc<dyn Fn(&ConfigMap, bool) -> Result<Arc<dyn Converter>, ConnectError> + Send + Sync>;

/// Builds a header converter from its config.
pub type HeaderConverterFactory =
    Arc<dyn Fn(&ConfigMap) -> Result<Arc<dyn HeaderConverter>, ConnectError> + Send + Sync>;

/// Reads a boolean converter setting, naming the key when it is not `true`/`false`.
pub(crate) fn bool_setting(
    config: &ConfigMap,
    key: &str,
    default: bool,
) -> Result<bool, ConnectError> {
    match config.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(ConnectError::Config(format!(
            "Invalid value {v} for configuration {key}: Expected value to be either true or false"
        ))),
    }
}
