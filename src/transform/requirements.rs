//! Checks SMTs make on the data they are given, with Kafka Connect's error texts
//! (`org.apache.kafka.connect.transforms.util.Requirements`).

use crate::data::{Record, SchemaRef, Struct, Value};
use crate::errors::{ConnectError, Result};

/// The Java class Connect would report for a value, so that error texts match
/// (`found: java.lang.String`).
pub fn java_class_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "java.lang.Boolean",
        Value::Int8(_) => "java.lang.Byte",
        Value::Int16(_) => "java.lang.Short",
        Value::Int32(_) => "java.lang.Integer",
        Value::Int64(_) => "java.lang.Long",
        Value::Float32(_) => "java.lang.Float",
        Value::Float64(_) => "java.lang.Double",
        Value::String(_) => "java.lang.String",
        Value::Bytes(_) => "[B",
        Value::Array(_) => "java.util.ArrayList",
        Value::Map(_) => "java.util.HashMap",
        Value::Struct(_) => "org.apache.kafka.connect.data.Struct",
    }
}

/// A schemaless value must be a map: its entries.
pub fn require_map<'a>(value: &'a Value, purpose: &str) -> Result<&'a [(Value, Value)]> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(ConnectError::Data(format!(
            "Only Map objects supported in absence of schema for [{purpose}], found: {}",
            java_class_name(other)
        ))),
    }
}

/// A value with a schema must be a struct.
pub fn require_struct<'a>(value: &'a Value, purpose: &str) -> Result<&'a Struct> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(ConnectError::Data(format!(
            "Only Struct objects supported for [{purpose}], found: {}",
            java_class_name(other)
        ))),
    }
}

/// The schema must be present.
pub fn require_schema<'a>(schema: Option<&'a SchemaRef>, purpose: &str) -> Result<&'a SchemaRef> {
    schema.ok_or_else(|| ConnectError::Data(format!("Schema required for [{purpose}]")))
}

/// The record must come from Kafka (a sink record); returns its offset.
pub fn require_sink_offset(record: &Record, purpose: &str) -> Result<i64> {
    record.kafka_offset().ok_or_else(|| {
        ConnectError::Data(format!(
            "Only SinkRecord supported for [{purpose}], found: org.apache.kafka.connect.source.SourceRecord"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_connect() {
        let err = require_map(&Value::from("x"), "field insertion").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Only Map objects supported in absence of schema for [field insertion], found: java.lang.String"
        );
        let err = require_struct(&Value::Null, "flattening").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Only Struct objects supported for [flattening], found: null"
        );
        assert_eq!(
            require_schema(None, "updating schema metadata")
                .unwrap_err()
                .to_string(),
            "Schema required for [updating schema metadata]"
        );
    }
}
