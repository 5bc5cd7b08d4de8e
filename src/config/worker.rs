//! Worker configuration (Kafka Connect's `WorkerConfig`, `StandaloneConfig`,
//! `DistributedConfig` and `RestServerConfig` keys).

use std::sync::Arc;
use std::time::Duration;

use super::def::{
    with_prefix, ConfigDef, ConfigErrors, ConfigKey, ConfigType, ConfigValue, Importance, Validator,
};
use super::provider::ConfigProviders;
use super::ConfigMap;

/// The JsonConverter, Connect's usual choice and Conveyor's default converter.
pub const JSON_CONVERTER: &str = "org.apache.kafka.connect.json.JsonConverter";
/// The default header converter.
pub const SIMPLE_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// `rest.advertised.listener`.
pub const REST_ADVERTISED_LISTENER: &str = "rest.advertised.listener";
/// `rest.idle.timeout.ms` (Conveyor only).
pub const REST_IDLE_TIMEOUT_MS: &str = "rest.idle.timeout.ms";
/// `rest.max.connections` (Conveyor only).
pub const REST_MAX_CONNECTIONS: &str = "rest.max.connections";
/// `rest.extension.classes`.
pub const REST_EXTENSION_CLASSES: &str = "rest.extension.classes";
/// The worker key that names the JAAS login file (the JVM system property's name).
pub const JAAS_LOGIN_CONFIG: &str = "java.security.auth.login.config";
/// The prefix of the HTTPS listeners' settings (`listeners.https.ssl.keystore.location`).
pub const LISTENERS_HTTPS_PREFIX: &str = "listeners.https.";

/// `exactly.once.source.support` (distributed workers only).
pub const EXACTLY_ONCE_SOURCE_SUPPORT: &str = "exactly.once.source.support";

/// Connect's refusal of exactly-once source support in standalone mode.
pub const STANDALONE_EXACTLY_ONCE_REFUSED: &str =
    "Kafka Connect in standalone mode does not support exactly-once source connectors.";

/// `exactly.once.source.support`: whether source tasks write through transactions (KIP-618).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExactlyOnceSourceSupport {
    /// At-least-once delivery; no fencing.
    #[default]
    Disabled,
    /// The rolling-upgrade step: tasks still write without transactions, but the connector
    /// owners already fence zombies and write task-count records, so that workers switched
    /// to `enabled` next can trust them.
    Preparing,
    /// Source tasks produce through transactional producers, offsets in the same transaction.
    Enabled,
}

impl ExactlyOnceSourceSupport {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disabled" => Some(Self::Disabled),
            "preparing" => Some(Self::Preparing),
            "enabled" => Some(Self::Enabled),
            _ => None,
        }
    }

    /// Whether zombie fencing and task-count records are done (`preparing` and `enabled`).
    pub fn fences(self) -> bool {
        self != Self::Disabled
    }
}

/// Which worker flavour a config is for; decides which keys are required.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WorkerMode {
    Standalone,
    Distributed,
}

/// A converter class with its own settings (`value.converter.schemas.enable` → `schemas.enable`).
#[derive(Clone, Debug, PartialEq)]
pub struct ConverterSpec {
    pub class: String,
    pub config: ConfigMap,
}

/// Settings for the distributed herder.
#[derive(Clone, Debug)]
pub struct DistributedSettings {
    pub group_id: String,
    pub config_topic: String,
    pub offset_topic: String,
    pub status_topic: String,
    pub config_replication_factor: i16,
    pub offset_replication_factor: i16,
    pub status_replication_factor: i16,
    pub offset_partitions: i32,
    pub status_partitions: i32,
    pub session_timeout: Duration,
    pub heartbeat_interval: Duration,
    pub rebalance_timeout: Duration,
    pub scheduled_rebalance_max_delay: Duration,
    pub connect_protocol: String,
    pub worker_sync_timeout: Duration,
}

/// A parsed worker config.
#[derive(Clone, Debug)]
pub struct WorkerConfig {
    pub mode: WorkerMode,
    pub bootstrap_servers: String,
    pub key_converter: ConverterSpec,
    pub value_converter: ConverterSpec,
    pub header_converter: ConverterSpec,
    pub offset_storage_file: Option<String>,
    pub offset_flush_interval: Duration,
    pub offset_flush_timeout: Duration,
    pub task_shutdown_graceful_timeout: Duration,
    pub listeners: Vec<String>,
    pub rest_advertised_host_name: Option<String>,
    pub rest_advertised_port: Option<u16>,
    /// `rest.idle.timeout.ms`: how long a REST connection may wait without a complete
    /// request head.
    pub rest_idle_timeout: Duration,
    /// `rest.max.connections`: REST connections open at once, all listeners together.
    pub rest_max_connections: usize,
    /// `rest.advertised.listener` (`http` or `https`), lower-cased; None picks as Connect does.
    pub rest_advertised_listener: Option<String>,
    /// `rest.extension.classes`: REST extensions to enable (only Kafka Connect's basic auth
    /// extension is known).
    pub rest_extension_classes: Vec<String>,
    /// The JAAS login file for basic authentication, when set in the worker config (the JVM
    /// system property's name, `java.security.auth.login.config`).
    pub jaas_login_config: Option<String>,
    pub plugin_path: Vec<String>,
    /// `plugin.path.allow.world.writable`: start even when `plugin.path` is world-writable.
    pub plugin_path_allow_world_writable: bool,
    pub config_providers: Vec<String>,
    pub topic_tracking_enable: bool,
    pub topic_tracking_allow_reset: bool,
    /// `worker.tasks.max`: the most tasks this worker runs, and so the highest `tasks.max` a
    /// connector may ask for.
    pub worker_tasks_max: usize,
    /// The top-level Kafka security keys (`security.protocol`, `ssl.*`, `sasl.*`): the
    /// worker's own connections (group membership, internal topics) use them.
    pub security: ConfigMap,
    /// `producer.*` with the prefix removed, over the top-level security keys.
    pub producer: ConfigMap,
    /// `consumer.*` with the prefix removed, over the top-level security keys.
    pub consumer: ConfigMap,
    /// `admin.*` with the prefix removed, over the top-level security keys.
    pub admin: ConfigMap,
    pub distributed: Option<DistributedSettings>,
    /// `exactly.once.source.support`; always `Disabled` in standalone mode.
    pub exactly_once_source_support: ExactlyOnceSourceSupport,
    /// Everything the user wrote, for config providers and plugins.
    pub raw: ConfigMap,
    /// Keys Conveyor does not know; reported as a warning.
    pub unknown_keys: Vec<String>,
}

/// Whether a key is one of Kafka's client security settings.
pub fn is_kafka_security_key(key: &str) -> bool {
    key == "security.protocol" || key.starts_with("ssl.") || key.starts_with("sasl.")
}

/// Prefixes whose keys are passed on to someone else and so are never "unknown".
const PASSTHROUGH_PREFIXES: &[&str] = &[
    "producer.",
    "consumer.",
    "admin.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
    "config.providers.",
    "listeners.https.",
    "admin.listeners.https.",
    "config.storage.",
    "offset.storage.",
    "status.storage.",
    "inter.worker.",
    "ssl.",
    "sasl.",
    "metrics.",
    "schema.registry.",
];

/// Keys that Kafka Connect knows but that do not change what Conveyor does; accepted silently.
const ACCEPTED_CONNECT_KEYS: &[&str] = &[
    // Read (and refused unless `disabled`) in standalone mode, defined in distributed mode.
    EXACTLY_ONCE_SOURCE_SUPPORT,
    "plugin.discovery",
    "connector.client.config.override.policy",
    "topic.creation.enable",
    "client.dns.lookup",
    "security.protocol",
    "metric.reporters",
    "auto.include.jmx.reporter",
    "client.id",
    "admin.listeners",
    "access.control.allow.origin",
    "access.control.allow.methods",
    "response.http.headers.config",
    "worker.unsync.backoff.ms",
    "exactly.once.source.support",
    "header.converter",
    "internal.key.converter",
    "internal.value.converter",
    "request.timeout.ms",
    "retry.backoff.ms",
    "reconnect.backoff.ms",
    "reconnect.backoff.max.ms",
    "receive.buffer.bytes",
    "send.buffer.bytes",
    "connections.max.idle.ms",
    "task.revocation.timeout.ms",
];

/// The worker setting that caps the tasks one worker runs.
pub const WORKER_TASKS_MAX: &str = "worker.tasks.max";
/// Its default. An idle sink task costs about 2-4 MB and 5 OS threads today (measured with 100
/// and 300 tasks of one connector on a worker), so 1000 tasks are 2-4 GB and 5,000 threads: what
/// a worker on a 4-8 GB node can hold, with room for the 500-task case of issue 12. A connector
/// that asks for 100,000 tasks is refused instead of taking the machine down.
const DEFAULT_WORKER_TASKS_MAX: &str = "1000";

fn worker_def(mode: WorkerMode) -> ConfigDef {
    let mut def = ConfigDef::new()
        .define(
            ConfigKey::new("bootstrap.servers", ConfigType::List)
                .default_value("localhost:9092")
                .importance(Importance::High)
                .doc("Kafka brokers to connect to, `host:port,...`. The value `embedded` starts \
                      librdkafka's in-process mock cluster (development only: data lives in \
                      memory and is gone when the worker stops)."),
        )
        .define(
            ConfigKey::new("key.converter", ConfigType::Class)
                .default_value(JSON_CONVERTER)
                .importance(Importance::High)
                .doc("Converter for record keys. Kafka Connect requires this key; Conveyor \
                      defaults to the JsonConverter."),
        )
        .define(
            ConfigKey::new("value.converter", ConfigType::Class)
                .default_value(JSON_CONVERTER)
                .importance(Importance::High)
                .doc("Converter for record values (defaults to the JsonConverter)."),
        )
        .define(
            ConfigKey::new("header.converter", ConfigType::Class)
                .default_value(SIMPLE_HEADER_CONVERTER)
                .importance(Importance::Low)
                .doc("Converter for record headers."),
        )
        .define(
            ConfigKey::new("offset.flush.interval.ms", ConfigType::Long)
                .default_value("60000")
                .validator(Validator::at_least(0.0))
                .importance(Importance::Low)
                .doc("How often source offsets and sink consumer offsets are committed."),
        )
        .define(
            ConfigKey::new("offset.flush.timeout.ms", ConfigType::Long)
                .default_value("5000")
                .validator(Validator::at_least(0.0))
                .importance(Importance::Low)
                .doc("How long an offset flush waits for outstanding records to be acknowledged."),
        )
        .define(
            ConfigKey::new("task.shutdown.graceful.timeout.ms", ConfigType::Long)
                .default_value("5000")
                .validator(Validator::at_least(0.0))
                .importance(Importance::Low)
                .doc("How long a stopping task may take to finish before it is abandoned."),
        )
        .define(
            ConfigKey::new("listeners", ConfigType::List)
                .default_value("http://:8083")
                .importance(Importance::Low)
                .doc("REST listeners, `http://host:port` or `https://host:port`, comma-separated; \
                      every one is served. An empty host binds all interfaces. HTTPS listeners \
                      take their TLS settings from `listeners.https.ssl.*`, or from the \
                      top-level `ssl.*` when no `listeners.https.` key is set."),
        )
        .define(
            ConfigKey::new(REST_IDLE_TIMEOUT_MS, ConfigType::Long)
                .default_value("30000")
                .validator(Validator::at_least(1.0))
                .importance(Importance::Low)
                .doc("How long a REST connection may stay open without a complete request \
                      head, in ms: a connection that sends nothing, a keep-alive connection \
                      that goes quiet after a response, and a client that sends its headers \
                      too slowly are closed after this. 30000 is the idle timeout of Kafka \
                      Connect's Jetty. Conveyor only."),
        )
        .define(
            ConfigKey::new(REST_MAX_CONNECTIONS, ConfigType::Int)
                .default_value("256")
                .validator(Validator::at_least(1.0))
                .importance(Importance::Low)
                .doc("How many REST connections (all listeners together) may be open at once; \
                      a connection beyond this is closed as soon as it is accepted and logged, \
                      so that clients cannot take the file descriptors the Kafka clients need. \
                      Conveyor only."),
        )
        .define(
            ConfigKey::new("rest.advertised.host.name", ConfigType::String)
                .default_null()
                .importance(Importance::Low)
                .doc("Host name other workers and the status API use for this worker."),
        )
        .define(
            ConfigKey::new("rest.advertised.port", ConfigType::Int)
                .default_null()
                .importance(Importance::Low)
                .doc("Port other workers and the status API use for this worker."),
        )
        .define(
            ConfigKey::new(REST_ADVERTISED_LISTENER, ConfigType::String)
                .default_null()
                .validator(Validator::one_of_ignore_case(["http", "https"]))
                .importance(Importance::Low)
                .doc("Which listener (`http` or `https`) other workers use to reach this one. \
                      Unset: `http` when there is an `http://` listener, else `https`."),
        )
        .define(
            ConfigKey::new(REST_EXTENSION_CLASSES, ConfigType::List)
                .default_value("")
                .importance(Importance::Low)
                .doc("REST extensions. Conveyor knows one: Kafka Connect's \
                      `org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension` \
                      (HTTP basic authentication against the JAAS `KafkaConnect` login section); \
                      any other class stops the worker at start."),
        )
        .define(
            ConfigKey::new(JAAS_LOGIN_CONFIG, ConfigType::String)
                .default_null()
                .importance(Importance::Low)
                .doc("The JAAS login file that holds the `KafkaConnect` section for basic \
                      authentication. Kafka Connect reads it from the JVM system property of \
                      the same name (`KAFKA_OPTS=-Djava.security.auth.login.config=...`), which \
                      Conveyor also reads; this setting wins over the environment."),
        )
        .define(
            ConfigKey::new("plugin.path", ConfigType::List)
                .default_value("")
                .importance(Importance::Low)
                .doc("Directories added to Python's import path to find connector, converter \
                      and transform plugins. Whoever can write to one runs code in the worker: \
                      a world-writable directory (or a module in it, or a parent that anyone \
                      can rename entries in) stops the worker, see \
                      `plugin.path.allow.world.writable`."),
        )
        .define(
            ConfigKey::new(crate::plugin::path_check::ALLOW_WORLD_WRITABLE, ConfigType::Boolean)
                .default_value("false")
                .importance(Importance::Low)
                .doc("Start even when a `plugin.path` directory is world-writable (with a \
                      warning). Conveyor only."),
        )
        .define(
            ConfigKey::new("config.providers", ConfigType::List)
                .default_value("")
                .importance(Importance::Low)
                .doc("Config providers (`file`, `env`, `directory`) that resolve `${provider:path:key}`."),
        )
        .define(
            ConfigKey::new("topic.tracking.enable", ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Low)
                .doc("Track the topics each connector uses (`GET /connectors/{c}/topics`)."),
        )
        .define(
            ConfigKey::new("topic.tracking.allow.reset", ConfigType::Boolean)
                .default_value("true")
                .importance(Importance::Low)
                .doc("Allow `PUT /connectors/{c}/topics/reset`."),
        )
        .define(
            ConfigKey::new(WORKER_TASKS_MAX, ConfigType::Int)
                .default_value(DEFAULT_WORKER_TASKS_MAX)
                .validator(Validator::at_least(1.0))
                .importance(Importance::Medium)
                .doc("The most tasks this worker runs. A connector whose tasks.max is higher is \
                      refused when it is created (400), and a task that would go past the \
                      limit is not started (FAILED, with the reason in its status). Kafka \
                      Connect has no such limit: one connector with an absurd tasks.max can \
                      exhaust the worker's memory and threads."),
        );
    match mode {
        WorkerMode::Standalone => {
            def.add(
                ConfigKey::new("offset.storage.file.filename", ConfigType::String)
                    .importance(Importance::High)
                    .doc("File where source connector offsets are stored."),
            );
        }
        WorkerMode::Distributed => {
            for (key, doc) in [
                (
                    "group.id",
                    "Group of the Connect cluster this worker belongs to.",
                ),
                (
                    "config.storage.topic",
                    "Compacted topic holding connector configs.",
                ),
                (
                    "offset.storage.topic",
                    "Compacted topic holding source offsets.",
                ),
                (
                    "status.storage.topic",
                    "Compacted topic holding connector and task status.",
                ),
            ] {
                def.add(
                    ConfigKey::new(key, ConfigType::String)
                        .importance(Importance::High)
                        .doc(doc),
                );
            }
            for (key, default) in [
                ("config.storage.replication.factor", "3"),
                ("offset.storage.replication.factor", "3"),
                ("status.storage.replication.factor", "3"),
            ] {
                def.add(
                    ConfigKey::new(key, ConfigType::Short)
                        .default_value(default)
                        .importance(Importance::Low)
                        .doc(
                            "Replication factor of the internal topic; -1 uses the broker default.",
                        ),
                );
            }
            for (key, default, doc) in [
                ("offset.storage.partitions", "25", "Partitions of the offsets topic."),
                ("status.storage.partitions", "5", "Partitions of the status topic."),
                ("session.timeout.ms", "10000", "Time without heartbeats before a worker is considered gone."),
                ("heartbeat.interval.ms", "1000", "Interval between heartbeats to the group coordinator (Kafka Connect: 3000; a shorter one lets workers notice rebalances sooner)."),
                ("rebalance.timeout.ms", "60000", "How long members have to rejoin during a rebalance."),
                ("worker.sync.timeout.ms", "3000", "How long the leader waits to catch up with the config topic."),
                (
                    "scheduled.rebalance.max.delay.ms",
                    "0",
                    "How long the tasks of a departed worker wait for it to come back before \
                     they are reassigned. Kafka Connect defaults to 300000 (5 minutes); Conveyor \
                     defaults to 0: a crashed worker's tasks run elsewhere as soon as the group notices (after session.timeout.ms). Set it to a few seconds more than a restart takes to keep tasks in place through rolling restarts.",
                ),
            ] {
                def.add(
                    ConfigKey::new(key, ConfigType::Int)
                        .default_value(default)
                        .importance(Importance::Low)
                        .doc(doc),
                );
            }
            def.add(
                ConfigKey::new(EXACTLY_ONCE_SOURCE_SUPPORT, ConfigType::String)
                    .default_value("disabled")
                    .validator(Validator::one_of_ignore_case([
                        "disabled",
                        "enabled",
                        "preparing",
                    ]))
                    .importance(Importance::High)
                    .doc(
                        "Whether to enable exactly-once support for source connectors in the \
                         cluster by using transactions to write source records and their source \
                         offsets, and by proactively fencing out old task generations before \
                         bringing up new ones. To enable exactly-once source support on a new \
                         cluster, set this property to 'enabled'. To enable support on an \
                         existing cluster, first set to 'preparing' on every worker in the \
                         cluster, then set to 'enabled'. A rolling upgrade may be used for both \
                         changes.",
                    ),
            );
            def.add(
                ConfigKey::new("connect.protocol", ConfigType::String)
                    .default_value("sessioned")
                    .validator(Validator::Custom(Arc::new(|v| match v {
                        ConfigValue::String(s)
                            if !["eager", "compatible", "sessioned"]
                                .iter()
                                .any(|p| p.eq_ignore_ascii_case(s)) =>
                        {
                            Err("Invalid Connect protocol compatibility".into())
                        }
                        _ => Ok(()),
                    })))
                    .importance(Importance::Low)
                    .doc("Rebalance protocol: eager, compatible or sessioned (incremental cooperative)."),
            );
        }
    }
    def
}

impl WorkerConfig {
    /// The config definition for `mode`, for docs and validation.
    pub fn definition(mode: WorkerMode) -> ConfigDef {
        worker_def(mode)
    }

    /// Parses a worker config; errors name every bad key. References to the worker's config
    /// providers (`sasl.jaas.config=${file:/etc/kafka/secrets.properties:jaas}`) are resolved
    /// first, as Kafka Connect does, so secrets need not sit in the worker file.
    pub fn parse(raw: &ConfigMap, mode: WorkerMode) -> Result<WorkerConfig, ConfigErrors> {
        let providers = ConfigProviders::from_worker_config(raw)
            .map_err(|e| ConfigErrors(vec![e.to_string()]))?;
        let resolved = providers
            .resolve(raw)
            .map_err(|e| ConfigErrors(vec![e.to_string()]))?;
        let raw = &resolved;
        let def = worker_def(mode);
        if mode == WorkerMode::Standalone
            && raw
                .get(EXACTLY_ONCE_SOURCE_SUPPORT)
                .and_then(|v| ExactlyOnceSourceSupport::parse(v))
                .is_some_and(|s| s != ExactlyOnceSourceSupport::Disabled)
        {
            return Err(ConfigErrors(vec![
                STANDALONE_EXACTLY_ONCE_REFUSED.to_string()
            ]));
        }
        let p = def.parse(raw)?;
        let unknown_keys = raw
            .keys()
            .filter(|k| {
                def.key(k).is_none()
                    && !ACCEPTED_CONNECT_KEYS.contains(&k.as_str())
                    && !PASSTHROUGH_PREFIXES.iter().any(|p| k.starts_with(p))
            })
            .cloned()
            .collect();
        let converter = |key: &str| ConverterSpec {
            class: p.string(key).unwrap_or_default().to_string(),
            config: with_prefix(raw, &format!("{key}.")),
        };
        let ms = |key: &str| Duration::from_millis(p.long(key).unwrap_or(0).max(0) as u64);
        let security: ConfigMap = raw
            .iter()
            .filter(|(k, _)| is_kafka_security_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        // Connect applies top-level security settings to the worker's own clients only and
        // wants them repeated under producer./consumer./admin.; Conveyor applies them to every
        // client, and the prefixed keys still win.
        let client = |prefix: &str| {
            let mut map = security.clone();
            map.extend(with_prefix(raw, prefix));
            map
        };
        let rest_advertised_port = match p.int("rest.advertised.port") {
            Some(port) => Some(u16::try_from(port).map_err(|_| {
                ConfigErrors(vec![format!(
                    "Invalid value {port} for configuration rest.advertised.port: not a TCP port"
                )])
            })?),
            None => None,
        };
        let distributed = match mode {
            WorkerMode::Standalone => None,
            WorkerMode::Distributed => {
                let s = |k: &str| p.string(k).unwrap_or_default().to_string();
                let short = |k: &str| p.int(k).unwrap_or(3) as i16;
                let int_ms = |k: &str| Duration::from_millis(p.int(k).unwrap_or(0).max(0) as u64);
                Some(DistributedSettings {
                    group_id: s("group.id"),
                    config_topic: s("config.storage.topic"),
                    offset_topic: s("offset.storage.topic"),
                    status_topic: s("status.storage.topic"),
                    config_replication_factor: short("config.storage.replication.factor"),
                    offset_replication_factor: short("offset.storage.replication.factor"),
                    status_replication_factor: short("status.storage.replication.factor"),
                    offset_partitions: p.int("offset.storage.partitions").unwrap_or(25),
                    status_partitions: p.int("status.storage.partitions").unwrap_or(5),
                    session_timeout: int_ms("session.timeout.ms"),
                    heartbeat_interval: int_ms("heartbeat.interval.ms"),
                    rebalance_timeout: int_ms("rebalance.timeout.ms"),
                    scheduled_rebalance_max_delay: int_ms("scheduled.rebalance.max.delay.ms"),
                    connect_protocol: s("connect.protocol").to_ascii_lowercase(),
                    worker_sync_timeout: int_ms("worker.sync.timeout.ms"),
                })
            }
        };
        Ok(WorkerConfig {
            mode,
            bootstrap_servers: p.list("bootstrap.servers").join(","),
            key_converter: converter("key.converter"),
            value_converter: converter("value.converter"),
            header_converter: converter("header.converter"),
            offset_storage_file: p
                .non_empty_string("offset.storage.file.filename")
                .map(String::from),
            offset_flush_interval: ms("offset.flush.interval.ms"),
            offset_flush_timeout: ms("offset.flush.timeout.ms"),
            task_shutdown_graceful_timeout: ms("task.shutdown.graceful.timeout.ms"),
            listeners: p.list("listeners"),
            rest_advertised_host_name: p
                .non_empty_string("rest.advertised.host.name")
                .map(String::from),
            rest_advertised_port,
            rest_idle_timeout: ms(REST_IDLE_TIMEOUT_MS),
            rest_max_connections: p.int(REST_MAX_CONNECTIONS).unwrap_or(1).max(1) as usize,
            rest_advertised_listener: p
                .non_empty_string(REST_ADVERTISED_LISTENER)
                .map(str::to_ascii_lowercase),
            rest_extension_classes: p.list(REST_EXTENSION_CLASSES),
            jaas_login_config: p.non_empty_string(JAAS_LOGIN_CONFIG).map(String::from),
            plugin_path: p.list("plugin.path"),
            plugin_path_allow_world_writable: p
                .boolean(crate::plugin::path_check::ALLOW_WORLD_WRITABLE)
                .unwrap_or(false),
            config_providers: p.list("config.providers"),
            topic_tracking_enable: p.boolean("topic.tracking.enable").unwrap_or(true),
            topic_tracking_allow_reset: p.boolean("topic.tracking.allow.reset").unwrap_or(true),
            worker_tasks_max: p.int(WORKER_TASKS_MAX).unwrap_or(1).max(1) as usize,
            producer: client("producer."),
            consumer: client("consumer."),
            admin: client("admin."),
            security,
            distributed,
            exactly_once_source_support: p
                .string(EXACTLY_ONCE_SOURCE_SUPPORT)
                .and_then(ExactlyOnceSourceSupport::parse)
                .unwrap_or_default(),
            raw: raw.clone(),
            unknown_keys,
        })
    }

    /// The prefix of the REST server's TLS settings, as Kafka Connect picks it: the
    /// `listeners.https.ssl.*` keys when any `listeners.https.` key is set (all or nothing:
    /// the others are not read then), else the top-level `ssl.*` keys.
    pub fn rest_ssl_prefix(&self) -> String {
        if self
            .raw
            .keys()
            .any(|k| k.starts_with(LISTENERS_HTTPS_PREFIX))
        {
            format!("{LISTENERS_HTTPS_PREFIX}ssl.")
        } else {
            "ssl.".to_string()
        }
    }

    /// True for `bootstrap.servers=embedded`.
    pub fn uses_embedded_broker(&self) -> bool {
        self.bootstrap_servers.trim() == "embedded"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::config::test_support::map;

    #[test]
    fn standalone_requires_offset_file_and_reports_unknown_keys() {
        let err = WorkerConfig::parse(&map(&[]), WorkerMode::Standalone).unwrap_err();
        assert!(err.0[0].contains("offset.storage.file.filename"), "{err}");
        let cfg = WorkerConfig::parse(
            &map(&[
                ("offset.storage.file.filename", "/tmp/o"),
                (
                    "value.converter",
                    "org.apache.kafka.connect.storage.StringConverter",
                ),
                ("value.converter.schemas.enable", "false"),
                ("producer.linger.ms", "7"),
                ("bogus.key", "1"),
            ]),
            WorkerMode::Standalone,
        )
        .unwrap();
        assert_eq!(cfg.bootstrap_servers, "localhost:9092");
        assert_eq!(cfg.key_converter.class, JSON_CONVERTER);
        assert_eq!(
            cfg.value_converter.config,
            map(&[("schemas.enable", "false")])
        );
        assert_eq!(cfg.producer, map(&[("linger.ms", "7")]));
        assert_eq!(cfg.offset_flush_interval, Duration::from_secs(60));
        assert_eq!(cfg.listeners, vec!["http://:8083"]);
        assert_eq!(cfg.unknown_keys, vec!["bogus.key"]);
    }

    #[test]
    fn provider_references_are_resolved_and_security_reaches_every_client() {
        std::env::set_var("CONVEYOR_WORKER_TEST_JAAS", "secret jaas");
        let cfg = WorkerConfig::parse(
            &map(&[
                ("offset.storage.file.filename", "/tmp/o"),
                ("config.providers", "env"),
                ("security.protocol", "SASL_SSL"),
                ("sasl.jaas.config", "${env:CONVEYOR_WORKER_TEST_JAAS}"),
                ("consumer.security.protocol", "SSL"),
            ]),
            WorkerMode::Standalone,
        )
        .unwrap();
        assert_eq!(cfg.security["sasl.jaas.config"], "secret jaas");
        assert_eq!(cfg.producer["security.protocol"], "SASL_SSL");
        assert_eq!(cfg.consumer["security.protocol"], "SSL");
        assert_eq!(cfg.admin["sasl.jaas.config"], "secret jaas");
        let err = WorkerConfig::parse(
            &map(&[
                ("offset.storage.file.filename", "/tmp/o"),
                ("config.providers", "env"),
                ("sasl.jaas.config", "${env:CONVEYOR_WORKER_TEST_MISSING}"),
            ]),
            WorkerMode::Standalone,
        )
        .unwrap_err();
        assert!(err.to_string().contains("sasl.jaas.config"), "{err}");
    }

    #[test]
    fn rest_security_settings() {
        let base = [("offset.storage.file.filename", "/tmp/o")];
        let parse = |extra: &[(&str, &str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            WorkerConfig::parse(&map(&pairs), WorkerMode::Standalone)
        };
        let cfg = parse(&[]).unwrap();
        assert_eq!(cfg.rest_ssl_prefix(), "ssl.");
        assert_eq!(cfg.rest_advertised_listener, None);
        assert!(cfg.rest_extension_classes.is_empty());
        // Any listeners.https. key switches to the prefixed set, as Connect's
        // valuesWithPrefixAllOrNothing does.
        let cfg = parse(&[
            ("listeners.https.ssl.client.auth", "required"),
            ("ssl.keystore.location", "/k"),
            ("rest.advertised.listener", "HTTPS"),
            (
                "rest.extension.classes",
                "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension",
            ),
            ("java.security.auth.login.config", "/etc/jaas.conf"),
        ])
        .unwrap();
        assert_eq!(cfg.rest_ssl_prefix(), "listeners.https.ssl.");
        assert_eq!(cfg.rest_advertised_listener.as_deref(), Some("https"));
        assert_eq!(cfg.rest_extension_classes.len(), 1);
        assert_eq!(cfg.jaas_login_config.as_deref(), Some("/etc/jaas.conf"));
        assert!(cfg.unknown_keys.is_empty(), "{:?}", cfg.unknown_keys);
        let err = parse(&[("rest.advertised.listener", "ftp")]).unwrap_err();
        assert!(
            err.to_string().contains("rest.advertised.listener"),
            "{err}"
        );
    }

    #[test]
    fn exactly_once_source_support_is_distributed_only() {
        let err = WorkerConfig::parse(
            &map(&[("exactly.once.source.support", "enabled")]),
            WorkerMode::Standalone,
        )
        .unwrap_err();
        assert_eq!(err.0, vec![STANDALONE_EXACTLY_ONCE_REFUSED.to_string()]);
        // `disabled` is what standalone does anyway: accepted.
        let ok = WorkerConfig::parse(
            &map(&[
                ("exactly.once.source.support", "disabled"),
                ("offset.storage.file.filename", "/tmp/offsets"),
            ]),
            WorkerMode::Standalone,
        )
        .unwrap();
        assert_eq!(
            ok.exactly_once_source_support,
            ExactlyOnceSourceSupport::Disabled
        );
        let distributed = [
            ("group.id", "g"),
            ("config.storage.topic", "c"),
            ("offset.storage.topic", "o"),
            ("status.storage.topic", "s"),
        ];
        for (value, expected) in [
            ("PREPARING", ExactlyOnceSourceSupport::Preparing),
            ("enabled", ExactlyOnceSourceSupport::Enabled),
        ] {
            let mut pairs = distributed.to_vec();
            pairs.push(("exactly.once.source.support", value));
            let cfg = WorkerConfig::parse(&map(&pairs), WorkerMode::Distributed).unwrap();
            assert_eq!(cfg.exactly_once_source_support, expected);
            assert!(cfg.unknown_keys.is_empty());
        }
        let mut pairs = distributed.to_vec();
        pairs.push(("exactly.once.source.support", "on"));
        let err = WorkerConfig::parse(&map(&pairs), WorkerMode::Distributed).unwrap_err();
        assert!(
            err.0[0].starts_with(
                "Invalid value on for configuration exactly.once.source.support: String must be one of (case insensitive): "
            ),
            "{err}"
        );
    }

    #[test]
    fn distributed_requires_group_and_topics() {
        let err = WorkerConfig::parse(&map(&[]), WorkerMode::Distributed).unwrap_err();
        assert_eq!(err.0.len(), 4, "{err}");
        let err = WorkerConfig::parse(&map(&[("connect.protocol", "x")]), WorkerMode::Distributed)
            .unwrap_err();
        assert!(
            err.0.contains(
                &"Invalid value x for configuration connect.protocol: Invalid Connect protocol compatibility"
                    .to_string()
            ),
            "{err}"
        );
    }
}
