//! Record and config builders for the SMT tests.

use crate::config::ConfigMap;
use crate::convert::{Converter, JsonConverter};
use crate::data::{
    Headers, KafkaPosition, OffsetMap, Origin, Record, SchemaRef, TimestampType, Value,
};

/// 2024-03-05T07:08:09.012Z, the timestamp of test records.
pub const TS: i64 = 1_709_622_489_012;

pub fn cfg(pairs: &[(&str, &str)]) -> ConfigMap {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// A sink record on `test`/partition 0 at offset 42, with timestamp [`TS`].
pub fn sink_record(
    key_schema: Option<SchemaRef>,
    key: Value,
    value_schema: Option<SchemaRef>,
    value: Value,
) -> Record {
    Record {
        topic: "test".into(),
        kafka_partition: Some(0),
        key_schema,
        key,
        value_schema,
        value,
        timestamp: Some(TS),
        headers: Headers::new(),
        origin: Origin::Sink(KafkaPosition {
            offset: 42,
            timestamp_type: TimestampType::CreateTime,
            original_topic: "test".into(),
            original_partition: 0,
            original_offset: 42,
        }),
    }
}

/// A sink record with only a value.
pub fn value_record(schema: Option<SchemaRef>, value: Value) -> Record {
    sink_record(None, Value::Null, schema, value)
}

/// A source record (no partition, no timestamp) with only a value.
pub fn source_record(schema: Option<SchemaRef>, value: Value) -> Record {
    Record::source("test", OffsetMap::new(), OffsetMap::new(), schema, value)
}

/// The bytes Connect's JsonConverter (schemas.enable=true) writes for a schema and value.
pub fn envelope(schema: Option<&SchemaRef>, value: &Value) -> String {
    let bytes = JsonConverter::default()
        .to_bytes("test", schema, value)
        .expect("serializable")
        .expect("not a tombstone");
    String::from_utf8(bytes).expect("utf-8")
}

/// The bytes of a schemaless JsonConverter.
pub fn plain_json(value: &Value) -> String {
    let bytes = JsonConverter::schemaless()
        .to_bytes("test", None, value)
        .expect("serializable")
        .expect("not a tombstone");
    String::from_utf8(bytes).expect("utf-8")
}
