//! Built-in predicates (`org.apache.kafka.connect.transforms.predicates.*`), for
//! `transforms.<alias>.predicate` and `negate`:
//!
//! ```properties
//! predicates=isAudit,hasTrace,isTombstone
//! predicates.isAudit.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches
//! predicates.isAudit.pattern=audit-.*
//! predicates.hasTrace.type=org.apache.kafka.connect.transforms.predicates.HasHeaderKey
//! predicates.hasTrace.name=trace-id
//! predicates.isTombstone.type=org.apache.kafka.connect.transforms.predicates.RecordIsTombstone
//! ```

use std::sync::Arc;

use super::config_keys::{check_regex, parse};
use super::Predicate;
use crate::config::{
    ConfigDef, ConfigKey, ConfigMap, ConfigType, ConfigValue, Importance, Validator,
};
use crate::data::Record;
use crate::errors::{ConnectError, Result};

/// `TopicNameMatches`' class name.
pub const TOPIC_NAME_MATCHES: &str =
    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches";
/// `HasHeaderKey`'s class name.
pub const HAS_HEADER_KEY: &str = "org.apache.kafka.connect.transforms.predicates.HasHeaderKey";
/// `RecordIsTombstone`'s class name.
pub const RECORD_IS_TOMBSTONE: &str =
    "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone";

const PATTERN: &str = "pattern";
const NAME: &str = "name";

/// True when the whole topic name matches `pattern`.
pub struct TopicNameMatches {
    pattern: regex::Regex,
}

impl TopicNameMatches {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(PATTERN, ConfigType::String)
                .validator(non_empty_regex())
                .importance(Importance::Medium)
                .doc(
                    "A Java regular expression for matching against the name of a record's topic.",
                ),
        )
    }

    pub fn new(config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        let pattern = p.string(PATTERN).unwrap_or_default();
        let compiled = regex::Regex::new(&format!("^(?:{pattern})$")).map_err(|e| {
            ConnectError::Config(format!(
                "Invalid value {pattern} for configuration {PATTERN}: entry must be a Java-compatible regular expression: {e}"
            ))
        })?;
        Ok(TopicNameMatches { pattern: compiled })
    }
}

impl Predicate for TopicNameMatches {
    fn test(&mut self, record: &Record) -> Result<bool> {
        Ok(self.pattern.is_match(&record.topic))
    }
}

/// True when the record has at least one header called `name`.
pub struct HasHeaderKey {
    name: String,
}

impl HasHeaderKey {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(NAME, ConfigType::String)
                .validator(Validator::NonEmptyString)
                .importance(Importance::Medium)
                .doc("The header name."),
        )
    }

    pub fn new(config: &ConfigMap) -> Result<Self> {
        let p = parse(&Self::config_def(), config)?;
        Ok(HasHeaderKey {
            name: p.string(NAME).unwrap_or_default().to_string(),
        })
    }
}

impl Predicate for HasHeaderKey {
    fn test(&mut self, record: &Record) -> Result<bool> {
        Ok(record.headers.iter().any(|h| h.key == self.name))
    }
}

/// True when the record's value is null (a tombstone).
pub struct RecordIsTombstone;

impl RecordIsTombstone {
    pub fn config_def() -> ConfigDef {
        ConfigDef::new()
    }

    pub fn new(config: &ConfigMap) -> Result<Self> {
        parse(&Self::config_def(), config)?;
        Ok(RecordIsTombstone)
    }
}

impl Predicate for RecordIsTombstone {
    fn test(&mut self, record: &Record) -> Result<bool> {
        Ok(record.value.is_null())
    }
}

/// Connect's `CompositeValidator.of(NonEmptyString, RegexValidator)`.
fn non_empty_regex() -> Validator {
    Validator::Custom(Arc::new(|v| match v {
        ConfigValue::String(s) if !s.is_empty() => check_regex(s),
        _ => Err("String must be non-empty".into()),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Value;
    use crate::transform::test_support::*;

    fn on_topic(topic: &str) -> Record {
        let mut r = value_record(None, Value::from("v"));
        r.topic = topic.into();
        r
    }

    #[test]
    fn topic_name_matches_the_whole_name() {
        let mut p = TopicNameMatches::new(&cfg(&[("pattern", "audit-.*")])).unwrap();
        assert!(p.test(&on_topic("audit-log")).unwrap());
        assert!(!p.test(&on_topic("my-audit-log")).unwrap());
        let mut p = TopicNameMatches::new(&cfg(&[("pattern", "a|b")])).unwrap();
        assert!(p.test(&on_topic("b")).unwrap());
        assert!(!p.test(&on_topic("ab")).unwrap());
    }

    #[test]
    fn topic_name_matches_bad_configs() {
        let msg = |pairs: &[(&str, &str)]| {
            TopicNameMatches::new(&cfg(pairs))
                .err()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            msg(&[]),
            "Missing required configuration \"pattern\" which has no default value."
        );
        assert_eq!(
            msg(&[("pattern", "")]),
            "Invalid value  for configuration pattern: String must be non-empty"
        );
        assert!(msg(&[("pattern", "[a")])
            .starts_with("Invalid value [a for configuration pattern: Invalid regex:"));
    }

    #[test]
    fn has_header_key() {
        let mut p = HasHeaderKey::new(&cfg(&[("name", "trace")])).unwrap();
        let mut r = on_topic("t");
        assert!(!p.test(&r).unwrap());
        r.headers.push("trace", None, Value::Null);
        assert!(
            p.test(&r).unwrap(),
            "a header with a null value still counts"
        );
        assert_eq!(
            HasHeaderKey::new(&cfg(&[])).err().unwrap().to_string(),
            "Missing required configuration \"name\" which has no default value."
        );
        assert!(HasHeaderKey::new(&cfg(&[("name", " ")])).is_err());
    }

    #[test]
    fn record_is_tombstone() {
        let mut p = RecordIsTombstone::new(&cfg(&[])).unwrap();
        assert!(p.test(&value_record(None, Value::Null)).unwrap());
        assert!(!p.test(&on_topic("t")).unwrap());
        let mut keyed = sink_record(None, Value::from("k"), None, Value::Null);
        keyed.topic = "t".into();
        assert!(p.test(&keyed).unwrap(), "only the value decides");
    }
}
