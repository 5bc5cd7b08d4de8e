//! What Confluent's Schema Registry converters share: the wire format (magic byte 0, a
//! 4-byte big-endian schema id, then the payload), the registry client they talk to, subject
//! name strategies, and their common settings.
//!
//! The client is a trait here, implemented over HTTP (and in memory for `mock://` URLs) by
//! [`crate::schema_registry::client`]: converters stay free of HTTP.

pub mod access;

use std::sync::Arc;

use crate::config::ConfigMap;
use crate::errors::ConnectError;

use super::bool_setting;

/// The first byte of every framed record.
pub const MAGIC_BYTE: u8 = 0;

/// The schema types a registry knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegistrySchemaType {
    Avro,
    Protobuf,
    Json,
}

impl RegistrySchemaType {
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrySchemaType::Avro => "AVRO",
            RegistrySchemaType::Protobuf => "PROTOBUF",
            RegistrySchemaType::Json => "JSON",
        }
    }

    pub fn parse(name: Option<&str>) -> Option<RegistrySchemaType> {
        match name.map(|n| n.to_ascii_uppercase()).as_deref() {
            None | Some("AVRO") | Some("") => Some(RegistrySchemaType::Avro),
            Some("PROTOBUF") => Some(RegistrySchemaType::Protobuf),
            Some("JSON") => Some(RegistrySchemaType::Json),
            _ => None,
        }
    }
}

/// A reference from a schema to another registered one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct SchemaReference {
    pub name: String,
    pub subject: String,
    pub version: i32,
}

/// A schema as the registry holds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegistrySchema {
    pub schema_type: RegistrySchemaType,
    pub text: String,
    pub references: Vec<SchemaReference>,
}

/// A subject's version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectVersion {
    pub subject: String,
    pub version: i32,
    pub id: i32,
    pub schema: RegistrySchema,
}

/// Why a registry call failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryClientError {
    /// No registry answered (connection refused, timeout, 5xx from all of them): retriable.
    #[error("{0}")]
    Unavailable(String),
    /// The registry answered with an error (`error_code` 40403: unknown id, ...).
    #[error("{message} (HTTP {status}, error code {code})")]
    Refused {
        status: u16,
        code: i64,
        message: String,
    },
}

impl RegistryClientError {
    pub fn code(&self) -> Option<i64> {
        match self {
            RegistryClientError::Refused { code, .. } => Some(*code),
            RegistryClientError::Unavailable(_) => None,
        }
    }

    /// As a converter error: an unreachable registry is retriable, anything else is a data
    /// error, prefixed with what was being done.
    pub fn into_connect(self, what: impl std::fmt::Display) -> ConnectError {
        match self {
            RegistryClientError::Unavailable(m) => {
                ConnectError::Retriable(format!("{what}: the schema registry is unreachable: {m}"))
            }
            other => ConnectError::Data(format!("{what}: {other}")),
        }
    }
}

pub type ClientResult<T> = Result<T, RegistryClientError>;

/// A Schema Registry, as converters use it. Calls block; implementations cache nothing (the
/// converters keep their own caches).
pub trait RegistryClient: Send + Sync {
    fn schema_by_id(&self, id: i32) -> ClientResult<RegistrySchema>;
    /// Registers (or finds) a schema under `subject`; its id.
    fn register(&self, subject: &str, schema: &RegistrySchema) -> ClientResult<i32>;
    /// The id and version of a schema already registered under `subject`.
    fn lookup(&self, subject: &str, schema: &RegistrySchema) -> ClientResult<SubjectVersion>;
    fn latest(&self, subject: &str) -> ClientResult<SubjectVersion>;
    fn version(&self, subject: &str, version: i32) -> ClientResult<SubjectVersion>;
}

/// Makes registry clients from converter settings (`schema.registry.url`, auth, TLS).
pub type RegistryClientFactory =
    Arc<dyn Fn(&ConfigMap) -> Result<Arc<dyn RegistryClient>, ConnectError> + Send + Sync>;

/// Splits a framed record into its schema id and payload.
pub fn read_frame(data: &[u8]) -> Result<(i32, &[u8]), ConnectError> {
    match data {
        [MAGIC_BYTE, a, b, c, d, rest @ ..] => Ok((i32::from_be_bytes([*a, *b, *c, *d]), rest)),
        [MAGIC_BYTE, ..] => Err(ConnectError::Data(format!(
            "Error deserializing data: the record has {} bytes, fewer than the 5 of the magic byte and schema id",
            data.len()
        ))),
        [other, ..] => Err(ConnectError::Data(format!(
            "Error deserializing data: Unknown magic byte {other} (expected {MAGIC_BYTE}); the record was not written with a Schema Registry serializer"
        ))),
        [] => Err(ConnectError::Data(
            "Error deserializing data: the record is empty (no magic byte)".into(),
        )),
    }
}

/// Writes the magic byte and schema id in front of a payload.
pub fn write_frame(id: i32, out: &mut Vec<u8>) {
    out.push(MAGIC_BYTE);
    out.extend_from_slice(&id.to_be_bytes());
}

/// How the subject of a record's schema is named (`key.subject.name.strategy`,
/// `value.subject.name.strategy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubjectNameStrategy {
    /// `<topic>-key` / `<topic>-value`.
    TopicName,
    /// The record type's full name.
    RecordName,
    /// `<topic>-<record type's full name>`.
    TopicRecordName,
}

impl SubjectNameStrategy {
    pub fn parse(class: &str) -> Option<SubjectNameStrategy> {
        let simple = class.trim().rsplit('.').next().unwrap_or_default();
        match simple {
            "TopicNameStrategy" => Some(SubjectNameStrategy::TopicName),
            "RecordNameStrategy" => Some(SubjectNameStrategy::RecordName),
            "TopicRecordNameStrategy" => Some(SubjectNameStrategy::TopicRecordName),
            _ => None,
        }
    }

    /// The subject; `record_name` is the schema's full name (None when it has none).
    pub fn subject(
        self,
        topic: &str,
        is_key: bool,
        record_name: Option<&str>,
    ) -> Result<String, ConnectError> {
        let name = || {
            record_name.ok_or_else(|| {
                ConnectError::Data(format!(
                    "{self:?}Strategy needs a named record schema (a struct with a name) for topic {topic}; \
                     name the schema (SetSchemaMetadata) or use TopicNameStrategy"
                ))
            })
        };
        Ok(match self {
            SubjectNameStrategy::TopicName => {
                format!("{topic}-{}", if is_key { "key" } else { "value" })
            }
            SubjectNameStrategy::RecordName => name()?.to_string(),
            SubjectNameStrategy::TopicRecordName => format!("{topic}-{}", name()?),
        })
    }
}

/// Settings every Schema Registry converter reads.
#[derive(Clone, Debug)]
pub struct RegistryConverterConfig {
    pub auto_register: bool,
    pub use_latest_version: bool,
    pub latest_compatibility_strict: bool,
    pub subject_strategy: SubjectNameStrategy,
    /// `schemas.cache.config`: how many schemas each cache keeps.
    pub cache_size: usize,
    pub is_key: bool,
}

impl RegistryConverterConfig {
    /// "key" or "value": which part of a record this converter handles, for messages.
    pub fn what(&self) -> &'static str {
        if self.is_key {
            "key"
        } else {
            "value"
        }
    }

    pub fn from_config(config: &ConfigMap, is_key: bool) -> Result<Self, ConnectError> {
        if config
            .get("schema.registry.url")
            .is_none_or(|u| u.trim().is_empty())
        {
            return Err(ConnectError::Config(
                "Missing required configuration \"schema.registry.url\" which has no default value \
                 (set key.converter.schema.registry.url / value.converter.schema.registry.url to \
                 the registry's URL, for example http://localhost:8081)"
                    .into(),
            ));
        }
        let strategy_key = if is_key {
            "key.subject.name.strategy"
        } else {
            "value.subject.name.strategy"
        };
        let subject_strategy = match config.get(strategy_key) {
            None => SubjectNameStrategy::TopicName,
            Some(class) => SubjectNameStrategy::parse(class).ok_or_else(|| {
                ConnectError::Config(format!(
                    "Invalid value {class} for configuration {strategy_key}: not one of \
                     io.confluent.kafka.serializers.subject.TopicNameStrategy, RecordNameStrategy, \
                     TopicRecordNameStrategy"
                ))
            })?,
        };
        let cache_size = match config.get("schemas.cache.config") {
            None => 1000,
            Some(v) => v.trim().parse::<usize>().map_err(|_| {
                ConnectError::Config(format!(
                    "Invalid value {v} for configuration schemas.cache.config: not a number"
                ))
            })?,
        };
        Ok(RegistryConverterConfig {
            auto_register: bool_setting(config, "auto.register.schemas", true)?,
            use_latest_version: bool_setting(config, "use.latest.version", false)?,
            latest_compatibility_strict: bool_setting(config, "latest.compatibility.strict", true)?,
            subject_strategy,
            cache_size: cache_size.max(1),
            is_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames() {
        let mut out = Vec::new();
        write_frame(258, &mut out);
        out.extend_from_slice(b"xy");
        assert_eq!(out, vec![0, 0, 0, 1, 2, b'x', b'y']);
        assert_eq!(read_frame(&out).unwrap(), (258, &b"xy"[..]));
        let e = read_frame(b"{\"a\":1}").unwrap_err().to_string();
        assert!(e.contains("Unknown magic byte 123"), "{e}");
        assert!(read_frame(&[0, 0, 1])
            .unwrap_err()
            .to_string()
            .contains("fewer"));
        assert!(read_frame(&[]).is_err());
    }

    #[test]
    fn subject_strategies() {
        use SubjectNameStrategy::*;
        assert_eq!(
            SubjectNameStrategy::parse("io.confluent.kafka.serializers.subject.RecordNameStrategy"),
            Some(RecordName)
        );
        assert_eq!(TopicName.subject("t", true, None).unwrap(), "t-key");
        assert_eq!(
            TopicName.subject("t", false, Some("x.Y")).unwrap(),
            "t-value"
        );
        assert_eq!(RecordName.subject("t", false, Some("x.Y")).unwrap(), "x.Y");
        assert_eq!(
            TopicRecordName.subject("t", false, Some("x.Y")).unwrap(),
            "t-x.Y"
        );
        assert!(RecordName.subject("t", false, None).is_err());
    }

    #[test]
    fn settings() {
        let mut c = ConfigMap::new();
        assert!(RegistryConverterConfig::from_config(&c, false).is_err());
        c.insert("schema.registry.url".into(), "http://r:8081".into());
        c.insert(
            "value.subject.name.strategy".into(),
            "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy".into(),
        );
        let s = RegistryConverterConfig::from_config(&c, false).unwrap();
        assert_eq!(s.subject_strategy, SubjectNameStrategy::TopicRecordName);
        assert!(s.auto_register && !s.use_latest_version && s.latest_compatibility_strict);
        let k = RegistryConverterConfig::from_config(&c, true).unwrap();
        assert_eq!(k.subject_strategy, SubjectNameStrategy::TopicName);
    }
}
