//! The registry's settings: `conveyor schema-registry registry.properties`, or the
//! `schema.registry.*` keys of a worker config.

use crate::config::def::with_prefix;
use crate::config::worker::is_kafka_security_key;
use crate::config::{ConfigMap, WorkerConfig};
use crate::errors::{ConnectError, Result};

use super::service::RegistrySettings;
use super::types::Compatibility;

/// Confluent's default topic.
pub const DEFAULT_TOPIC: &str = "_schemas";
/// Confluent's default listener.
pub const DEFAULT_LISTENER: &str = "http://0.0.0.0:8081";
/// The prefix of a worker's registry settings.
pub const WORKER_PREFIX: &str = "schema.registry.";

/// How to run a registry.
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    pub listeners: Vec<String>,
    pub bootstrap: String,
    /// Settings for the Kafka clients (security included), without prefix.
    pub producer: ConfigMap,
    pub consumer: ConfigMap,
    pub admin: ConfigMap,
    pub topic: String,
    /// -1: the broker's `default.replication.factor`.
    pub replication_factor: i16,
    pub settings: RegistrySettings,
    /// The Kafka group registries on one topic join to elect the one that writes.
    pub group_id: String,
    /// Whether this registry may be elected to write.
    pub leader_eligibility: bool,
    /// The host other registries forward writes to (`host.name`).
    pub host_name: Option<String>,
}

fn list(value: Option<&String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// `PLAINTEXT://host:9092` (Confluent's `kafkastore.bootstrap.servers` form) → `host:9092`.
fn strip_protocols(servers: &[String]) -> String {
    servers
        .iter()
        .map(|s| s.split_once("://").map_or(s.as_str(), |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join(",")
}

impl RegistryConfig {
    /// Reads a `registry.properties`: `listeners`, `bootstrap.servers` (or Confluent's
    /// `kafkastore.bootstrap.servers`), the Kafka security keys (top-level, or under
    /// `kafkastore.`, which win), `kafkastore.topic`, `kafkastore.topic.replication.factor`,
    /// `schema.compatibility.level`, `mode.mutability`, `schema.registry.group.id`,
    /// `leader.eligibility`, `host.name`.
    pub fn parse(raw: &ConfigMap) -> Result<RegistryConfig> {
        let mut listeners = list(raw.get("listeners"));
        if listeners.is_empty() {
            listeners.push(DEFAULT_LISTENER.to_string());
        }
        let servers = list(
            raw.get("kafkastore.bootstrap.servers")
                .or_else(|| raw.get("bootstrap.servers")),
        );
        if servers.is_empty() {
            return Err(ConnectError::Config(
                "bootstrap.servers is missing: name the Kafka cluster that holds the schemas topic (Confluent's kafkastore.bootstrap.servers works too)".into(),
            ));
        }
        let mut kafka: ConfigMap = raw
            .iter()
            .filter(|(k, _)| is_kafka_security_key(k))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        kafka.extend(
            with_prefix(raw, "kafkastore.")
                .into_iter()
                .filter(|(k, _)| is_kafka_security_key(k)),
        );
        let mut config = RegistryConfig::base(strip_protocols(&servers), kafka.clone(), raw)?;
        config.listeners = listeners;
        for (prefix, map) in [
            ("producer.", &mut config.producer),
            ("consumer.", &mut config.consumer),
            ("admin.", &mut config.admin),
        ] {
            map.extend(with_prefix(raw, &format!("kafkastore.{prefix}")));
        }
        Ok(config)
    }

    /// The registry a worker serves when `schema.registry.listeners` is set: the worker's
    /// brokers and client settings, the other settings under `schema.registry.`.
    pub fn from_worker(worker: &WorkerConfig) -> Result<Option<RegistryConfig>> {
        let raw = with_prefix(&worker.raw, WORKER_PREFIX);
        let listeners = list(raw.get("listeners"));
        if listeners.is_empty() {
            return Ok(None);
        }
        let mut config = RegistryConfig::base(
            worker.bootstrap_servers.clone(),
            worker.security.clone(),
            &raw,
        )?;
        config.listeners = listeners;
        config.producer = worker.producer.clone();
        config.consumer = worker.consumer.clone();
        config.admin = worker.admin.clone();
        Ok(Some(config))
    }

    fn base(bootstrap: String, kafka: ConfigMap, raw: &ConfigMap) -> Result<RegistryConfig> {
        let get = |k: &str| raw.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let replication_factor = match get("kafkastore.topic.replication.factor") {
            None => -1,
            Some(v) => v.parse::<i16>().map_err(|_| {
                ConnectError::Config(format!(
                    "Invalid value {v} for configuration kafkastore.topic.replication.factor: not a number"
                ))
            })?,
        };
        let level_key = if raw.contains_key("schema.compatibility.level") {
            "schema.compatibility.level"
        } else {
            "avro.compatibility.level"
        };
        let default_compatibility = match get(level_key) {
            None => Compatibility::Backward,
            Some(v) => Compatibility::parse(v).ok_or_else(|| {
                ConnectError::Config(format!(
                    "Invalid value {v} for configuration {level_key}: not one of none, backward, backward_transitive, forward, forward_transitive, full, full_transitive"
                ))
            })?,
        };
        let boolean = |k: &str, default: bool| -> Result<bool> {
            match get(k).map(str::to_ascii_lowercase).as_deref() {
                None => Ok(default),
                Some("true") => Ok(true),
                Some("false") => Ok(false),
                Some(v) => Err(ConnectError::Config(format!(
                    "Invalid value {v} for configuration {k}: Expected value to be either true or false"
                ))),
            }
        };
        Ok(RegistryConfig {
            listeners: Vec::new(),
            bootstrap,
            producer: kafka.clone(),
            consumer: kafka.clone(),
            admin: kafka,
            topic: get("kafkastore.topic").unwrap_or(DEFAULT_TOPIC).to_string(),
            replication_factor,
            settings: RegistrySettings {
                default_compatibility,
                mode_mutability: boolean("mode.mutability", true)?,
            },
            group_id: get("schema.registry.group.id")
                .unwrap_or("schema-registry")
                .to_string(),
            leader_eligibility: boolean("leader.eligibility", true)?
                && boolean("master.eligibility", true)?,
            host_name: get("host.name").map(String::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::map;

    #[test]
    fn registry_properties() {
        let c = RegistryConfig::parse(&map(&[
            (
                "kafkastore.bootstrap.servers",
                "PLAINTEXT://b1:9092,SSL://b2:9093",
            ),
            ("security.protocol", "SSL"),
            ("kafkastore.security.protocol", "SASL_SSL"),
            ("kafkastore.topic", "_my_schemas"),
            ("schema.compatibility.level", "full_transitive"),
        ]))
        .unwrap();
        assert_eq!(c.bootstrap, "b1:9092,b2:9093");
        assert_eq!(c.producer["security.protocol"], "SASL_SSL");
        assert_eq!(c.topic, "_my_schemas");
        assert_eq!(c.listeners, vec![DEFAULT_LISTENER]);
        assert_eq!(
            c.settings.default_compatibility,
            Compatibility::FullTransitive
        );
        assert!(RegistryConfig::parse(&map(&[("listeners", "http://:1")])).is_err());
        let e = RegistryConfig::parse(&map(&[
            ("bootstrap.servers", "b:1"),
            ("schema.compatibility.level", "sideways"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("schema.compatibility.level"), "{e}");
    }
}
