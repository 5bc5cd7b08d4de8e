//! One place that builds every librdkafka client config: runtime defaults, then the worker's
//! `producer.*`/`consumer.*`/`admin.*` (over its top-level security settings), then the
//! connector's `*.override.*`. Java client property names are translated or dropped, so worker
//! files written for Kafka Connect work; security settings go through [`KafkaSecurity`].

use rdkafka::ClientConfig;

use super::security::KafkaSecurity;
use crate::config::worker::is_kafka_security_key;
use crate::config::ConfigMap;
use crate::errors::Result;

/// Which client a config is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientRole {
    Producer,
    Consumer,
    Admin,
}

impl ClientRole {
    pub fn worker_prefix(self) -> &'static str {
        match self {
            ClientRole::Producer => "producer.",
            ClientRole::Consumer => "consumer.",
            ClientRole::Admin => "admin.",
        }
    }

    pub fn override_prefix(self) -> &'static str {
        match self {
            ClientRole::Producer => "producer.override.",
            ClientRole::Consumer => "consumer.override.",
            ClientRole::Admin => "admin.override.",
        }
    }
}

/// Java client properties with a different librdkafka name.
const RENAMED: &[(&str, &str)] = &[
    ("fetch.max.wait.ms", "fetch.wait.max.ms"),
    ("max.request.size", "message.max.bytes"),
    ("buffer.memory", "queue.buffering.max.kbytes"),
];

/// Java-only properties with no librdkafka equivalent; they are dropped (logged at debug).
const JAVA_ONLY: &[&str] = &[
    "key.serializer",
    "value.serializer",
    "key.deserializer",
    "value.deserializer",
    "max.block.ms",
    "interceptor.classes",
    "metric.reporters",
    "metrics.num.samples",
    "metrics.sample.window.ms",
    "metrics.recording.level",
    "partitioner.class",
    "partitioner.ignore.keys",
    "partitioner.adaptive.partitioning.enable",
    "client.dns.lookup",
    "auto.include.jmx.reporter",
    "exclude.internal.topics",
    "default.api.timeout.ms",
    "max.poll.interval.ms.java",
    "retry.backoff.max.ms",
    "send.buffer.bytes",
    "receive.buffer.bytes",
    "connections.max.idle.ms",
    "reconnect.backoff.max.ms",
    "metadata.max.idle.ms",
    "delivery.timeout.ms.java",
];

/// Properties Conveyor reads itself rather than passing to librdkafka.
pub const CONVEYOR_CONSUMER_KEYS: &[&str] = &["max.poll.records"];

/// Adds `props` to `cfg`, translating Java names. Returns the keys that were dropped.
/// Security keys are left to [`KafkaSecurity`].
fn apply(cfg: &mut ClientConfig, props: &ConfigMap, role: ClientRole) -> Vec<String> {
    let mut dropped = Vec::new();
    for (k, v) in props {
        if is_kafka_security_key(k) {
            continue;
        }
        if JAVA_ONLY.contains(&k.as_str()) || CONVEYOR_CONSUMER_KEYS.contains(&k.as_str()) {
            dropped.push(k.clone());
            continue;
        }
        // buffer.memory is bytes in Java and KiB in librdkafka.
        if k == "buffer.memory" {
            if let Ok(bytes) = v.trim().parse::<u64>() {
                cfg.set(
                    "queue.buffering.max.kbytes",
                    (bytes / 1024).max(1).to_string(),
                );
            }
            continue;
        }
        let key = RENAMED
            .iter()
            .find(|(java, _)| java == k)
            .map(|(_, rd)| *rd)
            .unwrap_or(k.as_str());
        // The Java admin and consumer know request.timeout.ms; librdkafka only has it on
        // producers (socket.timeout.ms is the closest for the others).
        if key == "request.timeout.ms" && role != ClientRole::Producer {
            cfg.set("socket.timeout.ms", v.trim());
            continue;
        }
        cfg.set(key, v.trim());
    }
    dropped
}

/// Builds a client config. `defaults` are the runtime's own settings for this client;
/// `worker` holds the worker's `producer.*`-style keys with the prefix removed (and the
/// top-level security keys under them); `overrides` the connector's `producer.override.*`-style
/// keys with the prefix removed. Security settings are merged first (an override of one key
/// keeps the others), then read as a whole: a store that cannot be read or a mechanism
/// Conveyor cannot use is an error naming the setting.
pub fn build_client_config(
    bootstrap_servers: &str,
    role: ClientRole,
    defaults: &[(&str, &str)],
    worker: &ConfigMap,
    overrides: &ConfigMap,
) -> Result<ClientConfig> {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap_servers);
    for (k, v) in defaults {
        cfg.set(*k, *v);
    }
    let mut dropped = apply(&mut cfg, worker, role);
    dropped.extend(apply(&mut cfg, overrides, role));
    if !dropped.is_empty() {
        tracing::debug!(?role, ?dropped, "Java-only client properties ignored");
    }
    let security: ConfigMap = worker
        .iter()
        .chain(overrides)
        .filter(|(k, _)| is_kafka_security_key(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    KafkaSecurity::from_config(&security)?.apply_to(&mut cfg);
    tracing::debug!(?role, config = ?redacted(&cfg), "Kafka client config");
    Ok(cfg)
}

/// The config as a loggable list, with secrets masked.
fn redacted(cfg: &ClientConfig) -> Vec<(String, String)> {
    cfg.config_map()
        .iter()
        .map(|(k, v)| {
            let secret = k.contains("password")
                || k.contains("secret")
                || k.ends_with(".key")
                || k.starts_with("ssl.key")
                || *k == "sasl.oauthbearer.config";
            (
                k.to_string(),
                if secret {
                    crate::config::HIDDEN.to_string()
                } else {
                    v.to_string()
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn translates_and_layers() {
        let mut worker = ConfigMap::new();
        worker.insert("linger.ms".into(), "10".into());
        worker.insert("key.serializer".into(), "x".into());
        worker.insert("fetch.max.wait.ms".into(), "1".into());
        let mut over = ConfigMap::new();
        over.insert("linger.ms".into(), "20".into());
        let cfg = build_client_config(
            "b:1",
            ClientRole::Consumer,
            &[("linger.ms", "5")],
            &worker,
            &over,
        )
        .unwrap();
        assert_eq!(cfg.get("linger.ms"), Some("20"));
        assert_eq!(cfg.get("fetch.wait.max.ms"), Some("1"));
        assert_eq!(cfg.get("key.serializer"), None);
        assert_eq!(cfg.get("bootstrap.servers"), Some("b:1"));
    }
}
