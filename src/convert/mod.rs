//! Converters between Connect data and the bytes stored in Kafka. [`builtins`] lists the
//! built-in ones, the one place to add a new one (the plugin registry takes them from there).

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
use crate::data::{Header, SchemaRef, SchemaType, Value};
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
    // Large because it hands the value back; failing is the cold path, and boxing would cost
    // an allocation per failure to save nothing on the hot one.
    #[allow(clippy::result_large_err)]
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

    /// Whether the runtime should hand this converter whole batches
    /// ([`Converter::to_bytes_batch`], [`Converter::to_connect_batch`]): true for converters
    /// that pay per call (a Python converter crosses the FFI boundary and takes the GIL).
    /// Others keep the per-record calls, and [`Converter::to_bytes_owned`]'s saved copy.
    fn batches(&self) -> bool {
        false
    }

    /// Serializes a batch of `(topic, schema, value)`, one result per item, in order.
    fn to_bytes_batch(
        &self,
        items: &[(&str, Option<&SchemaRef>, &Value)],
    ) -> Vec<Result<Option<Vec<u8>>, ConnectError>> {
        items
            .iter()
            .map(|(topic, schema, value)| self.to_bytes(topic, *schema, value))
            .collect()
    }

    /// Deserializes a batch of `(topic, bytes)`, one result per item, in order.
    fn to_connect_batch(
        &self,
        items: &[(&str, Option<&[u8]>)],
    ) -> Vec<Result<SchemaAndValue, ConnectError>> {
        items
            .iter()
            .map(|(topic, data)| self.to_connect(topic, *data))
            .collect()
    }
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

/// Makes the schema registry client a registry-backed converter (Avro, Protobuf, JSON Schema)
/// talks to, from the converter's settings. Passed in so that converters stay free of HTTP
/// (see [`confluent`]).
pub type RegistryClientFactory =
    fn(&ConfigMap) -> Result<Arc<dyn confluent::RegistryClient>, ConnectError>;

/// A built-in converter class: its Kafka Connect class name and how to build it as a
/// converter, a header converter, or both. The plugin registry adds the aliases and the
/// version.
pub struct BuiltinConverter {
    pub class: &'static str,
    pub new: Option<ConverterFactory>,
    pub new_header: Option<HeaderConverterFactory>,
}

/// Every built-in converter and header converter.
pub fn builtins(registry_client: RegistryClientFactory) -> Vec<BuiltinConverter> {
    let both =
        |class, new: ConverterFactory, new_header: HeaderConverterFactory| BuiltinConverter {
            class,
            new: Some(new),
            new_header: Some(new_header),
        };
    let mut out = vec![
        both(
            "org.apache.kafka.connect.json.JsonConverter",
            Arc::new(|cfg, _| Ok(Arc::new(JsonConverter::from_config(cfg)?) as Arc<dyn Converter>)),
            Arc::new(|cfg| {
                Ok(Arc::new(JsonConverter::from_config(cfg)?) as Arc<dyn HeaderConverter>)
            }),
        ),
        both(
            "org.apache.kafka.connect.storage.StringConverter",
            Arc::new(|cfg, _| {
                Ok(Arc::new(StringConverter::from_config(cfg)?) as Arc<dyn Converter>)
            }),
            Arc::new(|cfg| {
                Ok(Arc::new(StringConverter::from_config(cfg)?) as Arc<dyn HeaderConverter>)
            }),
        ),
        both(
            "org.apache.kafka.connect.converters.ByteArrayConverter",
            Arc::new(|_, _| Ok(Arc::new(ByteArrayConverter) as Arc<dyn Converter>)),
            Arc::new(|_| Ok(Arc::new(ByteArrayConverter) as Arc<dyn HeaderConverter>)),
        ),
        BuiltinConverter {
            class: "org.apache.kafka.connect.storage.SimpleHeaderConverter",
            new: None,
            new_header: Some(Arc::new(|_| {
                Ok(Arc::new(SimpleHeaderConverter) as Arc<dyn HeaderConverter>)
            })),
        },
        BuiltinConverter {
            class: avro::CLASS,
            new: Some(Arc::new(move |cfg, is_key| {
                let client = registry_client(cfg)?;
                Ok(Arc::new(avro::AvroConverter::new(client, cfg, is_key)?) as Arc<dyn Converter>)
            })),
            new_header: None,
        },
        BuiltinConverter {
            class: protobuf::CLASS,
            new: Some(Arc::new(move |cfg, is_key| {
                let client = registry_client(cfg)?;
                Ok(
                    Arc::new(protobuf::ProtobufConverter::new(client, cfg, is_key)?)
                        as Arc<dyn Converter>,
                )
            })),
            new_header: None,
        },
        BuiltinConverter {
            class: json_schema::CLASS,
            new: Some(Arc::new(move |cfg, is_key| {
                let client = registry_client(cfg)?;
                Ok(
                    Arc::new(json_schema::JsonSchemaConverter::new(client, cfg, is_key)?)
                        as Arc<dyn Converter>,
                )
            })),
            new_header: None,
        },
    ];
    for (class, ty) in [
        (
            "org.apache.kafka.connect.converters.ShortConverter",
            SchemaType::Int16,
        ),
        (
            "org.apache.kafka.connect.converters.IntegerConverter",
            SchemaType::Int32,
        ),
        (
            "org.apache.kafka.connect.converters.LongConverter",
            SchemaType::Int64,
        ),
        (
            "org.apache.kafka.connect.converters.FloatConverter",
            SchemaType::Float32,
        ),
        (
            "org.apache.kafka.connect.converters.DoubleConverter",
            SchemaType::Float64,
        ),
        (
            "org.apache.kafka.connect.converters.BooleanConverter",
            SchemaType::Boolean,
        ),
    ] {
        out.push(BuiltinConverter {
            class,
            new: Some(Arc::new(move |_, _| {
                Ok(Arc::new(NumberConverter::new(ty)) as Arc<dyn Converter>)
            })),
            new_header: None,
        });
    }
    out
}

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
