//! Pieces both herders share (Kafka Connect's `AbstractHerder`).

use crate::config::connector::{ConnectorConfig, ConnectorType};
use crate::config::{ConfigKeyInfo, ConfigMap, HIDDEN};
use crate::data::{OffsetMap, TopicPartition};
use crate::errors::{ConnectError, Result};
use crate::kafka::group_offsets;
use crate::plugin::{PluginRegistry, TaskId};
use crate::runtime::{State, Worker};

use super::status_store::MemoryStatusStore;
use super::types::{
    ConnectorOffset, ConnectorOffsets, ConnectorStateInfo, InstanceState, RestartRequest, TaskInfo,
    TaskState,
};
use super::validation::password_keys;

pub fn not_found(name: &str) -> ConnectError {
    ConnectError::NotFound(format!("Connector {name} not found"))
}

pub fn task_not_found(id: &TaskId) -> ConnectError {
    ConnectError::NotFound(format!("Task {} not found", id))
}

/// The status of a connector and its `task_count` tasks; missing entries are UNASSIGNED.
pub fn state_info(
    name: &str,
    connector_type: Option<ConnectorType>,
    statuses: &MemoryStatusStore,
    task_count: usize,
    worker_id: &str,
) -> ConnectorStateInfo {
    let connector = match statuses.connector(name) {
        Some(s) => InstanceState {
            state: s.state,
            worker_id: s.worker_id,
            trace: s.trace,
        },
        None => InstanceState {
            state: State::Unassigned,
            worker_id: worker_id.to_string(),
            trace: None,
        },
    };
    let tasks = (0..task_count as i32)
        .map(|t| task_state(statuses, &TaskId::new(name, t), worker_id))
        .collect();
    ConnectorStateInfo {
        name: name.to_string(),
        connector,
        tasks,
        connector_type: connector_type
            .map(|t| t.as_str())
            .unwrap_or("unknown")
            .to_string(),
    }
}

pub fn task_state(statuses: &MemoryStatusStore, id: &TaskId, worker_id: &str) -> TaskState {
    match statuses.task(id) {
        Some(s) => TaskState {
            id: id.task,
            state: s.state,
            worker_id: s.worker_id,
            trace: s.trace,
        },
        None => TaskState {
            id: id.task,
            state: State::Unassigned,
            worker_id: worker_id.to_string(),
            trace: None,
        },
    }
}

/// A connector's tasks as `GET /connectors/{c}/tasks` shows them (configs masked).
pub fn task_infos(registry: &PluginRegistry, name: &str, configs: &[ConfigMap]) -> Vec<TaskInfo> {
    configs
        .iter()
        .enumerate()
        .map(|(i, cfg)| TaskInfo {
            id: TaskId::new(name, i as i32),
            config: mask_config(registry, cfg),
        })
        .collect()
}

/// A config as REST shows it: PASSWORD values replaced by `[hidden]`.
pub fn mask_config(registry: &PluginRegistry, config: &ConfigMap) -> ConfigMap {
    let secrets = password_keys(registry, config);
    config
        .iter()
        .map(|(k, v)| {
            let masked = secrets.contains(k) && !v.is_empty() && !is_provider_reference(v);
            (
                k.clone(),
                if masked {
                    HIDDEN.to_string()
                } else {
                    v.clone()
                },
            )
        })
        .collect()
}

/// `${provider:path:key}` references are not secrets themselves; they are shown as written.
fn is_provider_reference(v: &str) -> bool {
    v.trim_start().starts_with("${") && v.trim_end().ends_with('}')
}

/// A config written back by a client that read a masked one: `[hidden]` keeps the stored value,
/// but only while nothing that decides where that secret goes changed
/// ([`crate::config::is_destination_key`]: URLs, hosts, users, bootstrap servers, ...).
/// Otherwise a client that can read the masked config could send the stored secret to a host
/// of its choosing; it must send the secret again instead (400).
pub fn unmask_config(new: ConfigMap, previous: Option<&ConfigMap>) -> Result<ConfigMap> {
    let Some(prev) = previous else { return Ok(new) };
    let kept: Vec<&str> = new
        .iter()
        .filter(|(k, v)| *v == HIDDEN && prev.get(*k).is_some_and(|old| old != HIDDEN))
        .map(|(k, _)| k.as_str())
        .collect();
    if !kept.is_empty() {
        let mut moved: Vec<&str> = new
            .keys()
            .chain(prev.keys())
            .filter(|k| crate::config::is_destination_key(k))
            .filter(|k| new.get(*k).is_none_or(|v| v != HIDDEN))
            .filter(|k| new.get(*k) != prev.get(*k))
            .map(String::as_str)
            .collect();
        moved.sort_unstable();
        moved.dedup();
        if !moved.is_empty() {
            return Err(ConnectError::BadRequest(format!(
                "The config keeps the stored secret of {} ({HIDDEN}) but changes {}, which \
                 decides where that secret is sent. Send the secret again with its value in the \
                 same request, or leave {} as stored.",
                kept.join(", "),
                moved.join(", "),
                if moved.len() == 1 { "it" } else { "them" },
            )));
        }
    }
    Ok(new
        .into_iter()
        .map(|(k, v)| {
            if v == HIDDEN {
                if let Some(old) = prev.get(&k) {
                    return (k, old.clone());
                }
            }
            (k, v)
        })
        .collect())
}

/// Keys of every defined config for `GET /connector-plugins/{p}/config`.
pub fn plugin_config(registry: &PluginRegistry, name: &str) -> Result<Vec<ConfigKeyInfo>> {
    if let Ok(plugin) = registry.connector(name) {
        let c = (plugin.new_connector)()?;
        return Ok(c.config_def().keys().iter().map(|k| k.info()).collect());
    }
    if let Ok(t) = registry.transform(name) {
        return Ok(t.config_def.keys().iter().map(|k| k.info()).collect());
    }
    if let Ok(p) = registry.predicate(name) {
        return Ok(p.config_def.keys().iter().map(|k| k.info()).collect());
    }
    if registry.converter(name).is_ok() {
        return Ok(Vec::new());
    }
    Err(ConnectError::NotFound(format!("Unknown plugin {name}.")))
}

fn sink_topics(worker: &Worker, connector: &ConnectorConfig) -> Result<Vec<String>> {
    match &connector.topics_regex {
        Some(re) => {
            group_offsets::matching_topics(worker.bootstrap(), &worker.config().consumer, re)
        }
        None => Ok(connector.topics.clone()),
    }
}

fn sink_partition(tp: &TopicPartition) -> OffsetMap {
    let mut m = OffsetMap::new();
    m.insert("kafka_topic".into(), serde_json::json!(tp.topic));
    m.insert("kafka_partition".into(), serde_json::json!(tp.partition));
    m
}

/// Current offsets of a connector: source offsets from the offset store, sink offsets from
/// its consumer group.
pub async fn connector_offsets(
    worker: &Worker,
    config: &ConfigMap,
    connector_type: ConnectorType,
) -> Result<ConnectorOffsets> {
    let parsed = ConnectorConfig::parse(config, Some(connector_type))?;
    let offsets = match connector_type {
        ConnectorType::Unknown => Vec::new(),
        ConnectorType::Source => worker
            .source_offsets(config)
            .await?
            .connector_offsets(&parsed.name)
            .into_iter()
            .map(|(partition, offset)| ConnectorOffset {
                partition,
                offset: Some(offset),
            })
            .collect(),
        ConnectorType::Sink => {
            let topics = sink_topics(worker, &parsed)?;
            let bootstrap = worker.bootstrap().to_string();
            let consumer = worker.config().consumer.clone();
            let group = format!("connect-{}", parsed.name);
            let committed = tokio::task::spawn_blocking(move || {
                group_offsets::committed_offsets(&bootstrap, &consumer, &group, &topics)
            })
            .await
            .map_err(|e| ConnectError::Other(e.to_string()))??;
            committed
                .into_iter()
                .map(|(tp, o)| {
                    let mut offset = OffsetMap::new();
                    offset.insert("kafka_offset".into(), serde_json::json!(o));
                    ConnectorOffset {
                        partition: sink_partition(&tp),
                        offset: Some(offset),
                    }
                })
                .collect()
        }
    };
    Ok(ConnectorOffsets { offsets })
}

fn unknown_type(name: &str) -> ConnectError {
    ConnectError::BadRequest(format!(
        "The offsets of connector {name} cannot be changed: its class could not be loaded"
    ))
}

/// Connect's text when offsets are changed on a connector that is not STOPPED.
pub fn must_be_stopped(name: &str) -> ConnectError {
    ConnectError::BadRequest(format!(
        "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
    ))
}

/// Applies `PATCH /connectors/{c}/offsets`.
pub async fn alter_offsets(
    worker: &Worker,
    config: &ConfigMap,
    connector_type: ConnectorType,
    offsets: ConnectorOffsets,
) -> Result<String> {
    if offsets.offsets.is_empty() {
        return Err(ConnectError::BadRequest(
            "Partitions / offsets need to be provided for an alter offsets request".into(),
        ));
    }
    let parsed = ConnectorConfig::parse(config, Some(connector_type))?;
    match connector_type {
        ConnectorType::Unknown => return Err(unknown_type(&parsed.name)),
        ConnectorType::Source => {
            let entries = offsets
                .offsets
                .into_iter()
                .map(|o| (o.partition, o.offset))
                .collect();
            let store = worker.source_offsets(config).await?;
            store.put(&parsed.name, entries).await?;
        }
        ConnectorType::Sink => {
            let mut commits = Vec::new();
            for o in offsets.offsets {
                let topic = o
                    .partition
                    .get("kafka_topic")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| {
                        ConnectError::BadRequest(
                            "Sink connector offsets need a string 'kafka_topic' in each partition"
                                .into(),
                        )
                    })?;
                let partition = o.partition.get("kafka_partition").and_then(|v| v.as_i64()).ok_or_else(|| {
                    ConnectError::BadRequest("Sink connector offsets need an integer 'kafka_partition' in each partition".into())
                })?;
                let offset = match &o.offset {
                    None => {
                        return Err(ConnectError::BadRequest(
                            "Resetting single sink partitions (null offsets) is not supported; use DELETE /connectors/{c}/offsets".into(),
                        ))
                    }
                    Some(off) => off.get("kafka_offset").and_then(|v| v.as_i64()).ok_or_else(|| {
                        ConnectError::BadRequest("Sink connector offsets need an integer 'kafka_offset'".into())
                    })?,
                };
                commits.push((TopicPartition::new(topic, partition as i32), offset));
            }
            let bootstrap = worker.bootstrap().to_string();
            let consumer = worker.config().consumer.clone();
            let group = format!("connect-{}", parsed.name);
            tokio::task::spawn_blocking(move || {
                group_offsets::alter_offsets(&bootstrap, &consumer, &group, &commits)
            })
            .await
            .map_err(|e| ConnectError::Other(e.to_string()))??;
        }
    }
    Ok("The offsets for this connector have been altered successfully".into())
}

/// Applies `DELETE /connectors/{c}/offsets`.
pub async fn reset_offsets(
    worker: &Worker,
    config: &ConfigMap,
    connector_type: ConnectorType,
) -> Result<String> {
    let parsed = ConnectorConfig::parse(config, Some(connector_type))?;
    match connector_type {
        ConnectorType::Unknown => return Err(unknown_type(&parsed.name)),
        ConnectorType::Source => {
            // With a connector's own topic, the store writes the tombstones to the worker's
            // too, so its offsets cannot show through again.
            let store = worker.source_offsets(config).await?;
            let entries: Vec<_> = store
                .connector_offsets(&parsed.name)
                .into_iter()
                .map(|(p, _)| (p, None))
                .collect();
            store.put(&parsed.name, entries).await?;
        }
        ConnectorType::Sink => {
            group_offsets::delete_group(
                worker.bootstrap(),
                &worker.config().admin,
                &format!("connect-{}", parsed.name),
            )
            .await?;
        }
    }
    Ok("The offsets for this connector have been reset successfully".into())
}

/// Whether two task config lists differ (to decide if tasks must restart).
/// Which parts of a connector a restart request restarts (KIP-745), judged by `reported`,
/// which is then marked RESTARTING where it applies (unless the request is connector-only,
/// whose response carries no state). Returns (restart the connector?, task numbers).
pub fn mark_restarting(
    reported: &mut ConnectorStateInfo,
    request: &RestartRequest,
) -> (bool, Vec<i32>) {
    let restart_connector = request.restarts_connector(Some(reported.connector.state));
    let tasks: Vec<i32> = reported
        .tasks
        .iter()
        .filter(|t| request.restarts_task(Some(t.state)))
        .map(|t| t.id)
        .collect();
    if !request.connector_only() {
        if restart_connector {
            reported.connector.state = State::Restarting;
            reported.connector.trace = None;
        }
        for t in &mut reported.tasks {
            if tasks.contains(&t.id) {
                t.state = State::Restarting;
                t.trace = None;
            }
        }
    }
    (restart_connector, tasks)
}

/// Whether `name` names the same connector class as `class` (for validate's 400 check).
pub fn same_connector_class(registry: &PluginRegistry, name: &str, class: &str) -> bool {
    match (registry.connector(name), registry.connector(class)) {
        (Ok(a), Ok(b)) => a.class == b.class,
        _ => false,
    }
}

pub fn task_configs_changed(old: &[ConfigMap], new: &[ConfigMap]) -> bool {
    old != new
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_round_trip_keeps_stored_secret() {
        let mut prev = ConfigMap::new();
        prev.insert("connection.password".into(), "s3cret".into());
        let mut new = ConfigMap::new();
        new.insert("connection.password".into(), HIDDEN.into());
        new.insert("other".into(), "v".into());
        let merged = unmask_config(new, Some(&prev)).unwrap();
        assert_eq!(merged["connection.password"], "s3cret");
        assert_eq!(merged["other"], "v");
    }

    fn config(pairs: &[(&str, &str)]) -> ConfigMap {
        crate::config::test_support::map(pairs)
    }

    #[test]
    fn a_kept_secret_never_follows_a_new_destination() {
        let prev = config(&[
            ("connection.url", "jdbc:postgresql://db/x"),
            ("connection.user", "app"),
            ("connection.password", "s3cret"),
            ("topic", "t"),
        ]);
        let keep = |changes: &[(&str, &str)]| {
            let mut new = prev.clone();
            new.insert("connection.password".into(), HIDDEN.into());
            for (k, v) in changes {
                new.insert(k.to_string(), v.to_string());
            }
            unmask_config(new, Some(&prev))
        };
        assert_eq!(
            keep(&[("topic", "u")]).unwrap()["connection.password"],
            "s3cret"
        );
        for (key, value) in [
            ("connection.url", "jdbc:postgresql://attacker/x"),
            ("connection.user", "other"),
            ("producer.override.bootstrap.servers", "attacker:9092"),
        ] {
            let err = keep(&[(key, value)]).unwrap_err().to_string();
            assert!(
                err.contains("keeps the stored secret of connection.password ([hidden])")
                    && err.contains(&format!("but changes {key},")),
                "{err}"
            );
            assert!(!err.contains("s3cret"), "{err}");
        }
        // Removing a destination key changes where the secret goes too.
        let mut new = prev.clone();
        new.insert("connection.password".into(), HIDDEN.into());
        new.remove("connection.user");
        assert!(unmask_config(new, Some(&prev)).is_err());
        // A secret given again may go anywhere.
        let mut new = prev.clone();
        new.insert("connection.url".into(), "jdbc:postgresql://db2/x".into());
        new.insert("connection.password".into(), "other".into());
        assert_eq!(
            unmask_config(new, Some(&prev)).unwrap()["connection.password"],
            "other"
        );
    }
}
