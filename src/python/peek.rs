//! `conveyor.peek`: the first records of a topic, read with a throwaway consumer (no group,
//! nothing committed) and decoded for a human to look at.

use std::time::{Duration, Instant};

use pyo3::prelude::*;
use pyo3::types::PyList;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers as _, Message};
use rdkafka::{Offset, Timestamp, TopicPartitionList};

use super::errors::{to_py_err, ErrorClass};
use super::records::record_to_py;
use super::values::config_from_py;
use crate::config::ConfigMap;
use crate::convert::{Converter, JsonConverter, SchemaAndValue, StringConverter};
use crate::data::{Header, Headers, KafkaPosition, Origin, Record, TimestampType, Value};
use crate::errors::{ConnectError, Result};
use crate::kafka::{build_client_config, ClientRole, LoggingContext};

/// A consumed message, before decoding.
struct Raw {
    topic: String,
    partition: i32,
    offset: i64,
    timestamp: Timestamp,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Vec<(String, Option<Vec<u8>>)>,
}

/// How peek decodes keys and values.
enum Decoder {
    /// JSON (with or without the schema envelope), else UTF-8 text, else bytes.
    Auto,
    Converter(std::sync::Arc<dyn Converter>),
}

impl Decoder {
    fn from_name(name: Option<&str>, config: &ConfigMap, is_key: bool) -> Result<Decoder> {
        let Some(name) = name.filter(|n| !n.eq_ignore_ascii_case("auto")) else {
            return Ok(Decoder::Auto);
        };
        let registry = crate::connectors::builtin_registry();
        let plugin = registry.converter(name)?;
        let new = plugin
            .new
            .ok_or_else(|| ConnectError::Config(format!("{name} is not a Converter")))?;
        Ok(Decoder::Converter(new(config, is_key)?))
    }

    fn decode(&self, topic: &str, data: Option<&[u8]>) -> Result<SchemaAndValue> {
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

/// Reads up to `n` messages from the start of every partition of `topic`, stopping at the end
/// of the topic (as it was when peek started) or after `timeout`.
fn fetch(
    bootstrap: &str,
    topic: &str,
    n: usize,
    timeout: Duration,
    consumer_config: &ConfigMap,
) -> Result<Vec<Raw>> {
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
    // Read each partition up to its high watermark as of now.
    let mut remaining: std::collections::HashMap<i32, i64> = std::collections::HashMap::new();
    let mut tpl = TopicPartitionList::new();
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
            remaining.insert(*p, high);
            tpl.add_partition_offset(topic, *p, Offset::Offset(low))
                .map_err(|e| ConnectError::Kafka(e.to_string()))?;
        }
    }
    if remaining.is_empty() {
        return Ok(Vec::new());
    }
    consumer
        .assign(&tpl)
        .map_err(|e| ConnectError::Kafka(format!("could not assign {topic}: {e}")))?;
    let mut out = Vec::new();
    while out.len() < n && !remaining.is_empty() && Instant::now() < deadline {
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
                out.push(Raw {
                    topic: m.topic().to_string(),
                    partition: m.partition(),
                    offset: m.offset(),
                    timestamp: m.timestamp(),
                    key: m.key().map(<[u8]>::to_vec),
                    value: m.payload().map(<[u8]>::to_vec),
                    headers: m
                        .headers()
                        .map(|hs| {
                            hs.iter()
                                .map(|h| (h.key.to_string(), h.value.map(<[u8]>::to_vec)))
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
        }
    }
    Ok(out)
}

fn decode(raw: Raw, key: &Decoder, value: &Decoder) -> Result<Record> {
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
    let (timestamp, timestamp_type) = match raw.timestamp {
        Timestamp::NotAvailable => (None, TimestampType::NoTimestampType),
        Timestamp::CreateTime(t) => (Some(t), TimestampType::CreateTime),
        Timestamp::LogAppendTime(t) => (Some(t), TimestampType::LogAppendTime),
    };
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

/// The first `n` records of `topic` as `SinkRecord`s (see `conveyor.peek`).
#[pyfunction]
#[pyo3(signature = (bootstrap_servers, topic, n=10, *, timeout=10.0, key_converter=None, value_converter=None, converter_config=None, consumer_config=None))]
#[allow(clippy::too_many_arguments)]
pub fn peek<'py>(
    py: Python<'py>,
    bootstrap_servers: String,
    topic: String,
    n: usize,
    timeout: f64,
    key_converter: Option<String>,
    value_converter: Option<String>,
    converter_config: Option<&Bound<'py, PyAny>>,
    consumer_config: Option<&Bound<'py, PyAny>>,
) -> PyResult<Bound<'py, PyList>> {
    let converter_config = match converter_config {
        Some(c) => config_from_py(c, "converter_config")?,
        None => ConfigMap::new(),
    };
    let consumer_config = match consumer_config {
        Some(c) => config_from_py(c, "consumer_config")?,
        None => ConfigMap::new(),
    };
    if !timeout.is_finite() || timeout < 0.0 {
        return Err(ErrorClass::Config.err(py, "timeout must be a number of seconds >= 0"));
    }
    let key =
        Decoder::from_name(key_converter.as_deref(), &converter_config, true).map_err(to_py_err)?;
    let value = Decoder::from_name(value_converter.as_deref(), &converter_config, false)
        .map_err(to_py_err)?;
    let raw = py
        .detach(|| {
            fetch(
                &bootstrap_servers,
                &topic,
                n,
                Duration::from_secs_f64(timeout),
                &consumer_config,
            )
        })
        .map_err(to_py_err)?;
    let records = raw
        .into_iter()
        .map(|r| {
            decode(r, &key, &value)
                .map_err(to_py_err)
                .and_then(|r| record_to_py(py, r))
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, records)
}
