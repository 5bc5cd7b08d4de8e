//! Records as connectors, SMTs and converters see them (Kafka Connect's `SourceRecord` and
//! `SinkRecord`, one type with an [`Origin`]).

use super::schema::SchemaRef;
use super::value::Value;

/// A source partition or offset: a JSON object of primitive values, owned by the connector.
pub type OffsetMap = serde_json::Map<String, serde_json::Value>;

/// A source partition shared by all records read from it (cloning one is a reference count).
pub type SourcePartition = std::sync::Arc<OffsetMap>;

/// A record header.
#[derive(Clone, Debug, PartialEq)]
pub struct Header {
    pub key: String,
    pub schema: Option<SchemaRef>,
    pub value: Value,
}

/// Ordered headers; keys may repeat (Connect's `ConnectHeaders`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    pub fn push(&mut self, key: impl Into<String>, schema: Option<SchemaRef>, value: Value) {
        self.0.push(Header {
            key: key.into(),
            schema,
            value,
        });
    }

    /// The last header with this key, as Connect's `lastWithName`.
    pub fn last_with_name(&self, key: &str) -> Option<&Header> {
        self.0.iter().rev().find(|h| h.key == key)
    }

    pub fn remove_all(&mut self, key: &str) {
        self.0.retain(|h| h.key != key);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// How a consumed record's timestamp was set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimestampType {
    NoTimestampType,
    CreateTime,
    LogAppendTime,
}

impl TimestampType {
    pub fn connect_name(self) -> &'static str {
        match self {
            TimestampType::NoTimestampType => "NoTimestampType",
            TimestampType::CreateTime => "CreateTime",
            TimestampType::LogAppendTime => "LogAppendTime",
        }
    }
}

/// Where a record came from: a source connector's position, or a Kafka offset for sinks.
#[derive(Clone, Debug, PartialEq)]
pub enum Origin {
    /// Produced by a source task: its own partition and offset (Connect's
    /// `sourcePartition`/`sourceOffset`).
    Source {
        partition: SourcePartition,
        offset: OffsetMap,
    },
    /// Consumed from Kafka for a sink task.
    Sink(KafkaPosition),
}

/// A sink record's Kafka coordinates, including those before any SMT changed the topic or
/// partition (KIP-793).
#[derive(Clone, Debug, PartialEq)]
pub struct KafkaPosition {
    pub offset: i64,
    pub timestamp_type: TimestampType,
    pub original_topic: String,
    pub original_partition: i32,
    pub original_offset: i64,
}

/// A record flowing through Conveyor. Source tasks create them; sink tasks receive them.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub topic: String,
    pub kafka_partition: Option<i32>,
    pub key_schema: Option<SchemaRef>,
    pub key: Value,
    pub value_schema: Option<SchemaRef>,
    pub value: Value,
    /// Epoch milliseconds.
    pub timestamp: Option<i64>,
    pub headers: Headers,
    pub origin: Origin,
}

impl Record {
    /// A source record with a value and no key.
    pub fn source(
        topic: impl Into<String>,
        partition: impl Into<SourcePartition>,
        offset: OffsetMap,
        value_schema: Option<SchemaRef>,
        value: Value,
    ) -> Self {
        Record {
            topic: topic.into(),
            kafka_partition: None,
            key_schema: None,
            key: Value::Null,
            value_schema,
            value,
            timestamp: None,
            headers: Headers::new(),
            origin: Origin::Source {
                partition: partition.into(),
                offset,
            },
        }
    }

    /// The Kafka offset of a sink record.
    pub fn kafka_offset(&self) -> Option<i64> {
        match &self.origin {
            Origin::Sink(p) => Some(p.offset),
            Origin::Source { .. } => None,
        }
    }

    pub fn is_sink(&self) -> bool {
        matches!(self.origin, Origin::Sink(_))
    }
}

/// A Kafka topic partition.
#[derive(
    Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: i32,
}

impl TopicPartition {
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        TopicPartition {
            topic: topic.into(),
            partition,
        }
    }
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}
