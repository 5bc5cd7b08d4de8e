//! Peeking at a topic: the first or the last records of every partition, read with a
//! throwaway consumer (no group membership, nothing committed) and decoded for a human to look
//! at. `conveyor.peek` (Python) and the console's `GET /conveyor/peek` both use it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, Timestamp, TopicPartitionList};

use crate::config::ConfigMap;
use crate::convert::{Converter, JsonConverter, SchemaAndValue, StringConverter};
use crate::data::{Header, Headers, KafkaPosition, Origin, Record, TimestampType, Value};
use crate::errors::{ConnectError, Result};
use crate::kafka::{build_client_config, ClientRole, LoggingContext};
use crate::plugin::PluginRegistry;

/// A consumed message, before decoding.
pub struct RawMessage {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Timestamp,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// Which records of a topic to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The first `n` of the topic (from the start of every partition).
    First(usize),
    /// The last `n` of the topic, by timestamp across partitions, oldest first.
    Last(usize),
    /// The first `n` at or after this offset of every partition.
    FromOffset(i64, usize),
    /// The first `n` whose timestamp is at or after these epoch milliseconds, in every
    /// partition (Kafka's `ListOffsets` by time).
    FromTimestamp(i64, usize),
}

impl Window {
    fn count(self) -> usize {
        match self {
            Window::First(n)
            | Window::Last(n)
            | Window::FromOffset(_, n)
            | Window::FromTimestamp(_, n) => n,
        }
    }
}

/// How peek decodes keys and values.
pub enum Decoder {
    /// JSON (with or without the schema envelope), else UTF-8 text, else bytes.
    Auto,
    Converter(Arc<dyn Converter>),
}

impl Decoder {
    /// `auto` (or nothing) guesses; any other name is a converter of `registry`, configured
    /// with `config` (for example `schemas.enable`).
    pub fn from_name(
        registry: &PluginRegistry,
        name: Option<&str>,
        config: &ConfigMap,
        is_key: bool,
    ) -> Result<Decoder> {
        let Some(name) = name
            .map(str::trim)
            .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case("auto"))
        else {
            return Ok(Decoder::Auto);
        };
        let plugin = registry.converter(name)?;
        let new = plugin
            .new
            .ok_or_else(|| ConnectError::Config(format!("{name} is not a Converter")))?;
        Ok(Decoder::Converter(new(config, is_key)?))
    }

    pub fn decode(&self, topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue> {
        match self {
            Decoder::Converter(c) => c.to_connect(topic, data),
            Decoder::Auto => {
                let Some(bytes) = data else {
                    return Ok(SchemaAndValue::default());
                };
                if let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes) {
                    let enveloped = json.as_object().is_some_and(|o| {
                        o.len() == 2 && o.contains_key("schema") && o.contains_key("payload")
                    });
                    if enveloped {
                        if let Ok(sv) = JsonConverter::from_config(&ConfigMap::new())
                            .and_then(|c| c.to_connect(topic, Some(bytes)))
                        {
                            return Ok(sv);
                        }
                    }
                    return Ok(SchemaAndValue::new(
                        None,
                        crate::convert::json::schemaless_to_connect(json),
                    ));
                }
                match std::str::from_utf8(bytes) {
                    Ok(_) => StringConverter::from_config(&ConfigMap::new())?
                        .to_connect(topic, Some(bytes)),
                    Err(_) => Ok(SchemaAndValue::new(None, Value::Bytes(bytes.to_vec()))),
                }
            }
        }
    }
}

/// Reads the `window` of `topic`, stopping at the end of every partition (as it was when
/// peek started) or after `timeout`. Blocks: call it off the async runtime.
pub fn fetch(
    bootstrap: &str,
    topic: &str,
    window: Window,
    timeout: Duration,
    consumer_config: &ConfigMap,
) -> Result<Vec<RawMessage>> {
    let deadline = Instant::now() + timeout;
    let consumer: BaseConsumer<LoggingContext> = build_client_config(
        bootstrap,
        ClientRole::Consumer,
        &[
            ("enable.auto.commit", "false"),
            ("enable.partition.eof", "false"),
            ("fetch.wait.max.ms", "50"),
            ("group.id", "conveyor-peek"),
        ],
        consumer_config,
        &ConfigMap::new(),
    )?
    .create_with_context(LoggingContext::default())
    .map_err(|e| ConnectError::Kafka(format!("could not create a consumer: {e}")))?;
    // A topic that a connector is about to create appears within moments: wait for it.
    let not_found = || ConnectError::NotFound(format!("topic {topic} does not exist"));
    let mut reached = false;
    let partitions: Vec<i32> = loop {
        let wait = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(500));
        let metadata = match consumer.fetch_metadata(Some(topic), wait) {
            Ok(m) => m,
            // The brokers answered before: the time ran out waiting for the topic.
            Err(_) if reached && Instant::now() >= deadline => return Err(not_found()),
            Err(e) => {
                return Err(ConnectError::Kafka(format!(
                    "could not read the metadata of {topic}: {e}"
                )))
            }
        };
        reached = true;
        let found: Vec<i32> = metadata
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map(|t| t.partitions().iter().map(|p| p.id()).collect())
            .unwrap_or_default();
        if !found.is_empty() {
            break found;
        }
        if Instant::now() >= deadline {
            return Err(not_found());
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let n = window.count();
    // Read each partition up to its high watermark as of now: from its start, or from n
    // records before its end.
    let mut remaining: HashMap<i32, i64> = HashMap::new();
    let mut tpl = TopicPartitionList::new();
    let by_time = match window {
        Window::FromTimestamp(ms, _) => {
            offsets_for_time(&consumer, topic, &partitions, ms, deadline)?
        }
        _ => HashMap::new(),
    };
    for p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(
                topic,
                *p,
                deadline.saturating_duration_since(Instant::now()),
            )
            .map_err(|e| {
                ConnectError::Kafka(format!("could not read the offsets of {topic}: {e}"))
            })?;
        if high > low {
            let start = match window {
                Window::First(_) => low,
                Window::Last(_) => low.max(high - n as i64),
                Window::FromOffset(offset, _) => offset.max(low),
                // Where the broker says the time starts. When it has no answer (no record that
                // new, or a broker that cannot look offsets up by time, as the embedded one),
                // read from the start and skip older records below.
                Window::FromTimestamp(..) => by_time.get(p).copied().unwrap_or(low).max(low),
            };
            if start >= high {
                continue;
            }
            remaining.insert(*p, high);
            tpl.add_partition_offset(topic, *p, Offset::Offset(start))
                .map_err(|e| ConnectError::Kafka(e.to_string()))?;
        }
    }
    if remaining.is_empty() || n == 0 {
        return Ok(Vec::new());
    }
    consumer
        .assign(&tpl)
        .map_err(|e| ConnectError::Kafka(format!("could not assign {topic}: {e}")))?;
    let mut out = Vec::new();
    let enough = |out: &Vec<RawMessage>| !matches!(window, Window::Last(_)) && out.len() >= n;
    while !enough(&out) && !remaining.is_empty() && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Err(e)) => {
                tracing::debug!(error = %e, "peek: consumer error");
            }
            Some(Ok(m)) => {
                if remaining
                    .get(&m.partition())
                    .is_some_and(|high| m.offset() + 1 >= *high)
                {
                    remaining.remove(&m.partition());
                }
                if let Window::FromTimestamp(ms, _) = window {
                    if m.timestamp().to_millis().is_some_and(|t| t < ms) {
                        continue;
                    }
                }
                out.push(RawMessage {
                    topic: m.topic().to_string(),
                    partition: m.partition(),
                    offset: m.offset(),
                    timestamp: m.timestamp(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    headers: crate::kafka::copied_headers(&m),
                });
            }
        }
    }
    if let Window::Last(n) = window {
        keep_last(&mut out, n);
    }
    Ok(out)
}

/// The first offset of each partition whose timestamp is at or after `ms`; partitions with
/// no such record are left out.
fn offsets_for_time(
    consumer: &BaseConsumer<LoggingContext>,
    topic: &str,
    partitions: &[i32],
    ms: i64,
    deadline: Instant,
) -> Result<HashMap<i32, i64>> {
    let mut query = TopicPartitionList::new();
    for p in partitions {
        query
            .add_partition_offset(topic, *p, Offset::Offset(ms))
            .map_err(|e| ConnectError::Kafka(e.to_string()))?;
    }
    let answer = consumer
        .offsets_for_times(query, deadline.saturating_duration_since(Instant::now()))
        .map_err(|e| {
            ConnectError::Kafka(format!(
                "could not look up the offsets of {topic} by time: {e}"
            ))
        })?;
    Ok(answer
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), o)),
            _ => None,
        })
        .collect())
}

/// Keeps the `n` newest messages of several partitions, oldest first (by timestamp, then
/// partition and offset).
fn keep_last(messages: &mut Vec<RawMessage>, n: usize) {
    messages.sort_by_key(|m| (m.timestamp.to_millis().unwrap_or(0), m.partition, m.offset));
    let excess = messages.len().saturating_sub(n);
    messages.drain(..excess);
}

/// A message as a Connect record, its key and value decoded, its headers parsed as
/// `SimpleHeaderConverter` does.
pub fn decode(raw: RawMessage, key: &Decoder, value: &Decoder) -> Result<Record> {
    let k = key.decode(&raw.topic, raw.key.as_deref())?;
    let v = value.decode(&raw.topic, raw.value.as_deref())?;
    let mut headers = Headers::new();
    for (name, data) in raw.headers {
        let text = data
            .as_deref()
            .map(|d| String::from_utf8_lossy(d).into_owned());
        let (schema, value) = match text {
            Some(t) => crate::convert::header::parse_header_text(&t),
            None => (None, Value::Null),
        };
        headers.0.push(Header {
            key: name,
            schema,
            value,
        });
    }
    let (timestamp, timestamp_type) = timestamp_of(raw.timestamp);
    Ok(Record {
        topic: raw.topic.clone(),
        kafka_partition: Some(raw.partition),
        key_schema: k.schema,
        key: k.value,
        value_schema: v.schema,
        value: v.value,
        timestamp,
        headers,
        origin: Origin::Sink(KafkaPosition {
            offset: raw.offset,
            timestamp_type,
            original_topic: raw.topic,
            original_partition: raw.partition,
            original_offset: raw.offset,
        }),
    })
}

fn timestamp_of(t: Timestamp) -> (Option<i64>, TimestampType) {
    match t {
        Timestamp::NotAvailable => (None, TimestampType::NoTimestampType),
        Timestamp::CreateTime(t) => (Some(t), TimestampType::CreateTime),
        Timestamp::LogAppendTime(t) => (Some(t), TimestampType::LogAppendTime),
    }
}

/// A decoded key or value as JSON for display: its payload as `JsonConverter` writes it
/// without the envelope (decimals as numbers, bytes in base64) and its schema when it has one;
/// what cannot be decoded is shown as the decoding error beside the raw bytes as text.
fn shown(decoder: &Decoder, topic: &str, data: Option<&[u8]>) -> serde_json::Value {
    use serde_json::json;
    let display = JsonConverter::from_config(
        &[("schemas.enable", "false"), ("decimal.format", "NUMERIC")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
    .unwrap_or_else(|_| JsonConverter::schemaless());
    match decoder.decode(topic, data) {
        Ok(sv) => {
            let mut bytes = Vec::new();
            let payload = display
                .write(&mut bytes, sv.schema.as_ref(), &sv.value)
                .ok()
                .and_then(|()| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
                .unwrap_or(serde_json::Value::Null);
            let schema = sv.schema.as_ref().map(|s| display.schema_to_json(s));
            json!({"payload": payload, "schema": schema})
        }
        Err(e) => json!({
            "payload": data.map(|d| String::from_utf8_lossy(d).into_owned()),
            "error": e.to_string(),
        }),
    }
}

/// A message for the console: position, timestamp, key and value decoded (see [`shown`]),
/// headers as their text.
pub fn to_display_json(raw: &RawMessage, key: &Decoder, value: &Decoder) -> serde_json::Value {
    let (timestamp, timestamp_type) = timestamp_of(raw.timestamp);
    let headers: Vec<serde_json::Value> = raw
        .headers
        .iter()
        .map(|(k, v)| {
            serde_json::json!({
                "key": k,
                "value": v.as_deref().map(|d| String::from_utf8_lossy(d).into_owned()),
            })
        })
        .collect();
    serde_json::json!({
        "topic": raw.topic,
        "partition": raw.partition,
        "offset": raw.offset,
        "timestamp": timestamp,
        "timestamp_type": timestamp_type.connect_name(),
        "key": shown(key, &raw.topic, raw.key.as_deref()),
        "value": shown(value, &raw.topic, raw.value.as_deref()),
        "headers": headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(partition: i32, offset: i64, at: i64) -> RawMessage {
        RawMessage {
            topic: "t".into(),
            partition,
            offset,
            timestamp: Timestamp::CreateTime(at),
            key: None,
            value: Some(format!("{partition}/{offset}").into_bytes()),
            headers: vec![("__connect.errors.topic".into(), Some(b"in".to_vec()))],
        }
    }

    #[test]
    fn the_last_records_of_several_partitions_are_the_newest_oldest_first() {
        let mut all = vec![
            message(0, 7, 100),
            message(1, 3, 50),
            message(0, 8, 300),
            message(1, 4, 200),
        ];
        keep_last(&mut all, 3);
        let kept: Vec<(i32, i64)> = all.iter().map(|m| (m.partition, m.offset)).collect();
        assert_eq!(kept, vec![(0, 7), (1, 4), (0, 8)]);
    }

    #[test]
    fn records_are_shown_decoded_with_their_headers_as_text() {
        let raw = RawMessage {
            value: Some(br#"{"id": 7}"#.to_vec()),
            ..message(0, 1, 5)
        };
        let shown = to_display_json(&raw, &Decoder::Auto, &Decoder::Auto);
        assert_eq!(shown["value"]["payload"], serde_json::json!({"id": 7}));
        assert_eq!(shown["key"]["payload"], serde_json::Value::Null);
        assert_eq!(shown["headers"][0]["key"], "__connect.errors.topic");
        assert_eq!(shown["headers"][0]["value"], "in");
        assert_eq!(shown["timestamp_type"], "CreateTime");
        let bad = RawMessage {
            value: Some(b"not json".to_vec()),
            ..message(0, 2, 6)
        };
        let json = Decoder::Converter(Arc::new(JsonConverter::schemaless()));
        let shown = to_display_json(&bad, &Decoder::Auto, &json);
        assert_eq!(shown["value"]["payload"], "not json");
        assert!(shown["value"]["error"]
            .as_str()
            .unwrap()
            .contains("Converting byte[]"));
    }
}
