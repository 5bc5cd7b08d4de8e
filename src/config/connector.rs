//! Connector-level configuration every connector accepts (Kafka Connect's `ConnectorConfig`,
//! `SinkConnectorConfig` and `SourceConnectorConfig`).

use super::def::{
    split_list, with_prefix, ConfigDef, ConfigErrors, ConfigKey, ConfigType, Importance,
    ParsedConfig, Validator,
};
use super::worker::ConverterSpec;
use super::ConfigMap;

pub const NAME: &str = "name";
pub const CONNECTOR_CLASS: &str = "connector.class";
pub const TASKS_MAX: &str = "tasks.max";
pub const TOPICS: &str = "topics";
pub const TOPICS_REGEX: &str = "topics.regex";
pub const TRANSFORMS: &str = "transforms";
pub const PREDICATES: &str = "predicates";
/// The key a task config carries to name its task class.
pub const TASK_CLASS: &str = "task.class";

pub const COMMON_GROUP: &str = "Common";
pub const TRANSFORMS_GROUP: &str = "Transforms";
pub const PREDICATES_GROUP: &str = "Predicates";
pub const ERROR_GROUP: &str = "Error Handling";

/// Refuses a connector name that Kafka Connect refuses (`name`'s validator): empty, or with
/// control characters, which would end up in thread names, log lines and file names.
pub fn check_name(name: &str) -> Result<(), super::ConfigErrors> {
    let why = if name.is_empty() {
        Err("String may not be empty".to_string())
    } else {
        super::def::check_no_control_chars(name)
    };
    why.map_err(|why| {
        super::ConfigErrors(vec![format!(
            "Invalid value {name} for configuration {NAME}: {why}"
        )])
    })
}

/// Whether a connector reads from or writes to Kafka.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectorType {
    Source,
    Sink,
    /// The class could not be loaded, so its kind is not known (REST shows `"unknown"`, as
    /// Kafka Connect does).
    Unknown,
}

impl ConnectorType {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorType::Source => "source",
            ConnectorType::Sink => "sink",
            ConnectorType::Unknown => "unknown",
        }
    }
}

/// `errors.*` settings (KIP-298).
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorHandlingConfig {
    /// Total time to retry a failed operation; 0 = no retries, -1 = forever.
    pub retry_timeout_ms: i64,
    pub retry_delay_max_ms: i64,
    /// `errors.tolerance=all`: skip records that fail instead of failing the task.
    pub tolerate_all: bool,
    pub log_enable: bool,
    pub log_include_messages: bool,
    pub dlq_topic: Option<String>,
    pub dlq_replication_factor: i16,
    pub dlq_context_headers: bool,
}

/// The parsed common part of a connector config.
#[derive(Clone, Debug)]
pub struct ConnectorConfig {
    pub name: String,
    pub class: String,
    pub tasks_max: usize,
    pub key_converter: Option<ConverterSpec>,
    pub value_converter: Option<ConverterSpec>,
    pub header_converter: Option<ConverterSpec>,
    pub transforms: Vec<String>,
    pub predicates: Vec<String>,
    pub errors: ErrorHandlingConfig,
    pub topics: Vec<String>,
    pub topics_regex: Option<String>,
    pub raw: ConfigMap,
}

/// The keys every connector has, plus the sink or source specific ones.
pub fn common_def(connector_type: Option<ConnectorType>) -> ConfigDef {
    let mut order = 0;
    let mut next = || {
        order += 1;
        order
    };
    let mut def = ConfigDef::new()
        .define(
            ConfigKey::new(NAME, ConfigType::String)
                .validator(Validator::NonEmptyStringWithoutControlChars)
                .importance(Importance::High)
                .doc("Globally unique name to use for this connector.")
                .group(COMMON_GROUP, next())
                .display_name("Connector name"),
        )
        .define(
            ConfigKey::new(CONNECTOR_CLASS, ConfigType::String)
                .importance(Importance::High)
                .doc(
                    "Name or alias of the class for this connector: a Kafka Connect class name \
                      (`org.apache.kafka.connect.file.FileStreamSinkConnector`), an alias \
                      (`FileStreamSink`), or a Python class (`package.module:Class`).",
                )
                .group(COMMON_GROUP, next())
                .display_name("Connector class"),
        )
        .define(
            ConfigKey::new(TASKS_MAX, ConfigType::Int)
                .default_value("1")
                .validator(Validator::at_least(1.0))
                .importance(Importance::High)
                .doc("Maximum number of tasks to use for this connector.")
                .group(COMMON_GROUP, next())
                .display_name("Tasks max"),
        );
    for (key, doc) in [
        (
            "key.converter",
            "Converter for record keys; overrides the worker's.",
        ),
        (
            "value.converter",
            "Converter for record values; overrides the worker's.",
        ),
        (
            "header.converter",
            "Converter for record headers; overrides the worker's.",
        ),
    ] {
        def.add(
            ConfigKey::new(key, ConfigType::Class)
                .default_null()
                .importance(Importance::Low)
                .doc(doc)
                .group(COMMON_GROUP, next()),
        );
    }
    def.add(
        ConfigKey::new("config.action.reload", ConfigType::String)
            .default_value("restart")
            .validator(Validator::one_of(["none", "restart"]))
            .importance(Importance::Low)
            .doc("What to do when config provider values change: restart the connector or nothing.")
            .group(COMMON_GROUP, next()),
    );
    if connector_type == Some(ConnectorType::Sink) {
        def.add(
            ConfigKey::new(TOPICS, ConfigType::List)
                .default_value("")
                .importance(Importance::High)
                .doc("Topics to consume, comma separated. Exactly one of `topics` and `topics.regex`.")
                .group(COMMON_GROUP, next())
                .display_name("Topics"),
        );
        def.add(
            ConfigKey::new(TOPICS_REGEX, ConfigType::String)
                .default_value("")
                .importance(Importance::High)
                .doc("Regular expression of topics to consume.")
                .group(COMMON_GROUP, next())
                .display_name("Topics regex"),
        );
    }
    if connector_type == Some(ConnectorType::Source) {
        add_exactly_once_keys(&mut def);
    }
    def.add(
        ConfigKey::new(TRANSFORMS, ConfigType::List)
            .default_value("")
            .importance(Importance::Low)
            .doc("Aliases of the transformations to apply to records, in order.")
            .group(TRANSFORMS_GROUP, 0)
            .display_name("Transforms"),
    );
    def.add(
        ConfigKey::new(PREDICATES, ConfigType::List)
            .default_value("")
            .importance(Importance::Low)
            .doc("Aliases of the predicates transformations can be made conditional on.")
            .group(PREDICATES_GROUP, 0)
            .display_name("Predicates"),
    );
    let mut eorder = 0;
    let mut enext = || {
        eorder += 1;
        eorder
    };
    def.add(
        ConfigKey::new("errors.retry.timeout", ConfigType::Long)
            .default_value("0")
            .importance(Importance::Medium)
            .doc("Total time a failed operation is retried, in ms; 0 = no retries, -1 = forever.")
            .group(ERROR_GROUP, enext()),
    );
    def.add(
        ConfigKey::new("errors.retry.delay.max.ms", ConfigType::Long)
            .default_value("60000")
            .validator(Validator::at_least(1.0))
            .importance(Importance::Medium)
            .doc("Maximum delay between consecutive retries (exponential back-off with jitter).")
            .group(ERROR_GROUP, enext()),
    );
    def.add(
        ConfigKey::new("errors.tolerance", ConfigType::String)
            .default_value("none")
            .validator(Validator::one_of(["none", "all"]))
            .importance(Importance::Medium)
            .doc("`none` fails the task on the first bad record; `all` skips bad records.")
            .group(ERROR_GROUP, enext()),
    );
    def.add(
        ConfigKey::new("errors.log.enable", ConfigType::Boolean)
            .default_value("false")
            .importance(Importance::Medium)
            .doc("Log each failed operation and problematic record.")
            .group(ERROR_GROUP, enext()),
    );
    def.add(
        ConfigKey::new("errors.log.include.messages", ConfigType::Boolean)
            .default_value("false")
            .importance(Importance::Medium)
            .doc("Include the record in error log lines.")
            .group(ERROR_GROUP, enext()),
    );
    def.add(
        ConfigKey::new("errors.deadletterqueue.topic.name", ConfigType::String)
            .default_value("")
            .importance(Importance::Medium)
            .doc(
                "Topic that records which failed are written to. Kafka Connect supports this \
                  for sinks only; Conveyor also supports it for sources.",
            )
            .group(ERROR_GROUP, enext()),
    );
    def.add(
        ConfigKey::new(
            "errors.deadletterqueue.topic.replication.factor",
            ConfigType::Short,
        )
        .default_value("3")
        .importance(Importance::Medium)
        .doc("Replication factor of the dead letter queue topic when it is created.")
        .group(ERROR_GROUP, enext()),
    );
    def.add(
        ConfigKey::new(
            "errors.deadletterqueue.context.headers.enable",
            ConfigType::Boolean,
        )
        .default_value("false")
        .importance(Importance::Medium)
        .doc("Add `__connect.errors.*` headers describing the failure to DLQ records.")
        .group(ERROR_GROUP, enext()),
    );
    def
}

/// `exactly.once.support` (source connectors).
pub const EXACTLY_ONCE_SUPPORT: &str = "exactly.once.support";
/// `transaction.boundary` (source connectors).
pub const TRANSACTION_BOUNDARY: &str = "transaction.boundary";
/// `transaction.boundary.interval.ms` (source connectors).
pub const TRANSACTION_BOUNDARY_INTERVAL_MS: &str = "transaction.boundary.interval.ms";
/// `offsets.storage.topic`: a connector-specific offsets topic (source connectors).
pub const OFFSETS_STORAGE_TOPIC: &str = "offsets.storage.topic";
const EXACTLY_ONCE_GROUP: &str = "Exactly Once Support";

/// When a source task's transaction is committed (`transaction.boundary`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TransactionBoundary {
    /// After every non-empty batch `poll` returns.
    #[default]
    Poll,
    /// Every `transaction.boundary.interval.ms`.
    Interval,
    /// When the task asks, through its transaction context.
    Connector,
}

impl TransactionBoundary {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "poll" => Some(Self::Poll),
            "interval" => Some(Self::Interval),
            "connector" => Some(Self::Connector),
            _ => None,
        }
    }

    /// The boundary a connector config asks for (`poll` when unset or invalid).
    pub fn of(config: &ConfigMap) -> Self {
        config
            .get(TRANSACTION_BOUNDARY)
            .and_then(|v| Self::parse(v))
            .unwrap_or_default()
    }
}

/// Whether `exactly.once.support=required` (else `requested`, the default).
pub fn exactly_once_required(config: &ConfigMap) -> bool {
    config
        .get(EXACTLY_ONCE_SUPPORT)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("required"))
}

/// Source connectors' exactly-once keys (Connect's `SourceConnectorConfig`).
fn add_exactly_once_keys(def: &mut ConfigDef) {
    def.add(
        ConfigKey::new(EXACTLY_ONCE_SUPPORT, ConfigType::String)
            .default_value("requested")
            .validator(Validator::one_of_ignore_case(["requested", "required"]))
            .importance(Importance::Medium)
            .doc(
                "Permitted values are requested, required. If set to \"required\", forces a \
                 preflight check for the connector to ensure that it can provide exactly-once \
                 semantics with the given configuration. Some connectors may be capable of \
                 providing exactly-once semantics but not signal to Connect that they support \
                 this; in that case, documentation for the connector should be consulted \
                 carefully before creating it, and the value for this property should be set \
                 to \"requested\". Additionally, if the value is set to \"required\" but the \
                 worker that performs preflight validation does not have exactly-once support \
                 enabled for source connectors, requests to create or validate the connector \
                 will fail.",
            )
            .group(EXACTLY_ONCE_GROUP, 1)
            .display_name("Exactly once support"),
    );
    def.add(
        ConfigKey::new(TRANSACTION_BOUNDARY, ConfigType::String)
            .default_value("poll")
            .validator(Validator::one_of_ignore_case([
                "poll",
                "interval",
                "connector",
            ]))
            .importance(Importance::Medium)
            .doc(
                "Permitted values are: poll, interval, connector. If set to 'poll', a new \
                 producer transaction will be started and committed for every batch of records \
                 that each task from this connector provides to Connect. If set to 'connector', \
                 relies on connector-defined transaction boundaries; note that not all \
                 connectors are capable of defining their own transaction boundaries, and in \
                 that case, attempts to instantiate a connector with this value will fail. \
                 Finally, if set to 'interval', commits transactions only after a user-defined \
                 time interval has passed.",
            )
            .group(EXACTLY_ONCE_GROUP, 2)
            .display_name("Transaction Boundary"),
    );
    def.add(
        ConfigKey::new(TRANSACTION_BOUNDARY_INTERVAL_MS, ConfigType::Long)
            .default_null()
            .validator(Validator::at_least(0.0))
            .importance(Importance::Low)
            .doc(
                "If 'transaction.boundary' is set to 'interval', determines the interval for \
                 producer transaction commits by connector tasks. If unset, defaults to the \
                 value of the worker-level 'offset.flush.interval.ms' property. It has no \
                 effect if a different transaction.boundary is specified.",
            )
            .group(EXACTLY_ONCE_GROUP, 3)
            .display_name("Transaction boundary interval"),
    );
    def.add(
        ConfigKey::new(OFFSETS_STORAGE_TOPIC, ConfigType::String)
            .default_null()
            .importance(Importance::Low)
            .doc(
                "The name of a separate offsets topic to use for this connector. If empty or \
                 not specified, the worker's global offsets topic name will be used. If \
                 specified, the offsets topic will be created if it does not already exist. \
                 Only applicable in distributed mode; in standalone mode, setting this property \
                 will have no effect.",
            )
            .group("offsets.topic", 1)
            .display_name("Offsets topic"),
    );
}

impl ConnectorConfig {
    /// Parses and cross-checks the common keys. `connector_type` adds the sink/source rules.
    pub fn parse(
        raw: &ConfigMap,
        connector_type: Option<ConnectorType>,
    ) -> Result<ConnectorConfig, ConfigErrors> {
        let def = common_def(connector_type);
        let p = def.parse(raw)?;
        let errors = cross_check(raw, connector_type);
        if !errors.is_empty() {
            return Err(ConfigErrors(errors.into_iter().map(|(_, e)| e).collect()));
        }
        Ok(Self::from_parsed(&p, raw))
    }

    fn from_parsed(p: &ParsedConfig, raw: &ConfigMap) -> ConnectorConfig {
        let converter = |key: &str| {
            p.non_empty_string(key).map(|class| ConverterSpec {
                class: class.to_string(),
                config: with_prefix(raw, &format!("{key}.")),
            })
        };
        ConnectorConfig {
            name: p.string(NAME).unwrap_or_default().to_string(),
            class: p.string(CONNECTOR_CLASS).unwrap_or_default().to_string(),
            tasks_max: p.int(TASKS_MAX).unwrap_or(1).max(1) as usize,
            key_converter: converter("key.converter"),
            value_converter: converter("value.converter"),
            header_converter: converter("header.converter"),
            transforms: p.list(TRANSFORMS),
            predicates: p.list(PREDICATES),
            errors: ErrorHandlingConfig {
                retry_timeout_ms: p.long("errors.retry.timeout").unwrap_or(0),
                retry_delay_max_ms: p.long("errors.retry.delay.max.ms").unwrap_or(60000),
                tolerate_all: p
                    .string("errors.tolerance")
                    .is_some_and(|s| s.eq_ignore_ascii_case("all")),
                log_enable: p.boolean("errors.log.enable").unwrap_or(false),
                log_include_messages: p.boolean("errors.log.include.messages").unwrap_or(false),
                dlq_topic: p
                    .non_empty_string("errors.deadletterqueue.topic.name")
                    .map(String::from),
                dlq_replication_factor: p
                    .int("errors.deadletterqueue.topic.replication.factor")
                    .unwrap_or(3) as i16,
                dlq_context_headers: p
                    .boolean("errors.deadletterqueue.context.headers.enable")
                    .unwrap_or(false),
            },
            topics: p.list(TOPICS),
            topics_regex: p.non_empty_string(TOPICS_REGEX).map(String::from),
            raw: raw.clone(),
        }
    }
}

/// Rules that involve more than one key, checked on the raw config so they are reported
/// even when other keys fail to parse; each error is reported against a key.
pub fn cross_check(
    raw: &ConfigMap,
    connector_type: Option<ConnectorType>,
) -> Vec<(String, String)> {
    let mut errors = Vec::new();
    if connector_type == Some(ConnectorType::Sink) {
        let topics = raw.get(TOPICS).map(|t| split_list(t)).unwrap_or_default();
        let regex = raw
            .get(TOPICS_REGEX)
            .map(|r| r.trim())
            .filter(|r| !r.is_empty());
        match (topics.is_empty(), regex) {
            (false, Some(_)) => errors.push((
                TOPICS.to_string(),
                "topics and topics.regex are mutually exclusive options, but both are set."
                    .to_string(),
            )),
            (true, None) => errors.push((
                TOPICS.to_string(),
                "Must configure one of topics or topics.regex".to_string(),
            )),
            (true, Some(r)) => {
                if let Err(e) = regex::Regex::new(r) {
                    errors.push((
                        TOPICS_REGEX.to_string(),
                        format!("Invalid value {r} for configuration topics.regex: {e}"),
                    ));
                }
            }
            _ => {}
        }
        let dlq = raw
            .get("errors.deadletterqueue.topic.name")
            .map(|d| d.trim())
            .filter(|d| !d.is_empty());
        if let Some(dlq) = dlq {
            if topics.iter().any(|t| t == dlq) {
                errors.push((
                    TOPICS.to_string(),
                    format!(
                        "The DLQ topic '{dlq}' may not be included in the list of topics ('topics={}') consumed by the connector",
                        topics.join(",")
                    ),
                ));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_support::map;

    #[test]
    fn sink_needs_exactly_one_of_topics_and_regex() {
        let base = [("name", "s"), ("connector.class", "FileStreamSink")];
        let err = ConnectorConfig::parse(&map(&base), Some(ConnectorType::Sink)).unwrap_err();
        assert_eq!(err.0, vec!["Must configure one of topics or topics.regex"]);
        let mut both = base.to_vec();
        both.extend([("topics", "a"), ("topics.regex", "a.*")]);
        assert!(ConnectorConfig::parse(&map(&both), Some(ConnectorType::Sink)).is_err());
        let mut ok = base.to_vec();
        ok.extend([
            ("topics", "a, b"),
            ("tasks.max", "3"),
            ("errors.tolerance", "all"),
        ]);
        let c = ConnectorConfig::parse(&map(&ok), Some(ConnectorType::Sink)).unwrap();
        assert_eq!(c.topics, vec!["a", "b"]);
        assert_eq!(c.tasks_max, 3);
        assert!(c.errors.tolerate_all);
    }

    #[test]
    fn validation_messages_match_connect() {
        let err = ConnectorConfig::parse(
            &map(&[
                ("name", ""),
                ("connector.class", "FileStreamSource"),
                ("errors.tolerance", "ALL"),
                ("config.action.reload", "Restart"),
            ]),
            Some(ConnectorType::Source),
        )
        .unwrap_err();
        assert_eq!(
            err.0,
            vec![
                "Invalid value  for configuration name: String may not be empty",
                "Invalid value Restart for configuration config.action.reload: String must be one of: none, restart",
                "Invalid value ALL for configuration errors.tolerance: String must be one of: none, all",
            ]
        );
    }

    #[test]
    fn name_and_class_are_required() {
        let err = ConnectorConfig::parse(&map(&[]), None).unwrap_err();
        assert_eq!(err.0.len(), 2);
        assert!(err.0[0].contains("\"name\""));
    }
}
