//! `TimestampRouter`: sets the topic from the original topic and the record timestamp, for
//! sinks that name tables or indexes after topics.
//!
//! ```properties
//! transforms=daily
//! transforms.daily.type=org.apache.kafka.connect.transforms.TimestampRouter
//! transforms.daily.topic.format=${topic}-${timestamp}
//! transforms.daily.timestamp.format=yyyyMMdd
//! ```
//!
//! `timestamp.format` is a Java `SimpleDateFormat` pattern, applied in UTC. Records without a
//! timestamp fail.

use super::config_keys::parse;
use super::date_format::JavaDateFormat;
use super::Transformation;
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::Record;
use crate::errors::{ConnectError, Result};

/// Connect's class name.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.TimestampRouter";

const TOPIC_FORMAT: &str = "topic.format";
const TIMESTAMP_FORMAT: &str = "timestamp.format";

/// Routes records to time-bucketed topics.
pub struct TimestampRouter {
    topic_format: String,
    timestamp_format: JavaDateFormat,
}

impl TimestampRouter {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(TOPIC_FORMAT, ConfigType::String)
                    .default_value("${topic}-${timestamp}")
                    .importance(Importance::High)
                    .doc("Format string which can contain <code>${topic}</code> and <code>${timestamp}</code> as placeholders for the topic and timestamp, respectively."),
            )
            .define(
                ConfigKey::new(TIMESTAMP_FORMAT, ConfigType::String)
                    .default_value("yyyyMMdd")
                    .importance(Importance::High)
                    .doc("Format string for the timestamp that is compatible with <code>java.text.SimpleDateFormat</code>."),
            )
    }

    pub fn new(config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let pattern = p.string(TIMESTAMP_FORMAT).unwrap_or("yyyyMMdd");
        let timestamp_format = JavaDateFormat::new(pattern).map_err(|why| {
            ConnectError::Config(format!(
                "Invalid value {pattern} for configuration {TIMESTAMP_FORMAT}: {why}"
            ))
        })?;
        Ok(TimestampRouter {
            topic_format: p.string(TOPIC_FORMAT).unwrap_or_default().to_string(),
            timestamp_format,
        })
    }
}

impl Transformation for TimestampRouter {
    fn apply(&mut self, mut record: Record) -> Result<Option<Record>> {
        let ts = record.timestamp.ok_or_else(|| {
            ConnectError::Data(format!(
                "Timestamp missing on record: topic={}, partition={:?}",
                record.topic, record.kafka_partition
            ))
        })?;
        let formatted = self.timestamp_format.format_millis(ts);
        // Same order as Connect: the topic first, then the timestamp.
        record.topic = self
            .topic_format
            .replace("${topic}", &record.topic)
            .replace("${timestamp}", &formatted);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;
    use crate::transform::test_support::*;

    #[test]
    fn default_formats() {
        let mut t = TimestampRouter::new(&cfg(&[])).unwrap();
        let r = t.apply(value_record(None, Value::Null)).unwrap().unwrap();
        assert_eq!(r.topic, "test-20240305");
    }

    #[test]
    fn custom_formats() {
        let mut t = TimestampRouter::new(&cfg(&[
            ("topic.format", "${timestamp}_${topic}_${topic}"),
            ("timestamp.format", "yyyy.MM.dd-HH"),
        ]))
        .unwrap();
        let r = t.apply(value_record(None, Value::Null)).unwrap().unwrap();
        assert_eq!(r.topic, "2024.03.05-07_test_test");
    }

    #[test]
    fn records_without_timestamp_fail() {
        let mut t = TimestampRouter::new(&cfg(&[])).unwrap();
        let err = t.apply(source_record(None, Value::Null)).unwrap_err();
        assert!(
            err.to_string().starts_with("Timestamp missing on record"),
            "{err}"
        );
    }

    #[test]
    fn bad_timestamp_format() {
        let err = TimestampRouter::new(&cfg(&[("timestamp.format", "yyyyMMdd G")]))
            .err()
            .unwrap();
        assert!(matches!(err, ConnectError::Config(_)));
        assert!(err
            .to_string()
            .starts_with("Invalid value yyyyMMdd G for configuration timestamp.format:"));
    }
}
