//! Connector configs, task configs and target states in the config topic, in Kafka Connect's
//! record format (`KafkaConfigBackingStore`), so either runtime can read the other's topic.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::RwLock;
use serde_json::{json, Value as Json};
use tokio::sync::{mpsc, watch};

use super::topic_log::{LogClients, LogRecord, TopicLog};
use crate::config::ConfigMap;
use crate::errors::{ConnectError, Result};
use crate::runtime::TargetState;

/// A `restart-connector-<name>` request (KIP-745).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RestartRecord {
    pub connector: String,
    pub include_tasks: bool,
    pub only_failed: bool,
}

/// Everything the config topic says, as of `offset`.
#[derive(Clone, Debug, Default)]
pub struct ConfigSnapshot {
    /// The offset after the last record applied.
    pub offset: i64,
    pub connectors: BTreeMap<String, ConfigMap>,
    pub targets: BTreeMap<String, TargetState>,
    /// Committed task configs of each connector.
    pub tasks: BTreeMap<String, Vec<ConfigMap>>,
    /// Task configs written but not yet committed.
    pending: BTreeMap<String, BTreeMap<i32, ConfigMap>>,
    /// The task count of each connector's last fenced generation (`tasks-fencing-<name>`,
    /// Connect's task-count record for exactly-once sources).
    pub fenced_task_counts: BTreeMap<String, usize>,
    /// Connectors whose latest task configs were committed after their last task-count
    /// record: their old generation may still have zombies, so no task of theirs starts
    /// with exactly-once support until the fencing is done.
    pub fencing_pending: std::collections::BTreeSet<String>,
    /// The offset of each connector's last task config commit: its task generation.
    pub task_generations: BTreeMap<String, i64>,
}

impl ConfigSnapshot {
    pub fn target(&self, connector: &str) -> TargetState {
        self.targets.get(connector).copied().unwrap_or_default()
    }

    pub fn task_count(&self, connector: &str) -> usize {
        self.tasks.get(connector).map(Vec::len).unwrap_or(0)
    }

    /// Each configured connector and its committed task count.
    pub fn task_counts(&self) -> BTreeMap<String, usize> {
        self.connectors
            .keys()
            .map(|c| (c.clone(), self.task_count(c)))
            .collect()
    }

    /// Applies one record; returns a restart request when the record is one.
    pub fn apply(&mut self, key: &str, value: Option<&[u8]>, offset: i64) -> Option<RestartRecord> {
        self.offset = offset + 1;
        let parsed: Option<Json> = value.and_then(|v| match serde_json::from_slice(v) {
            Ok(j) => Some(j),
            Err(e) => {
                tracing::error!(key, error = %e, "ignoring a config topic record that is not JSON");
                None
            }
        });
        if value.is_some() && parsed.is_none() {
            return None;
        }
        if let Some(name) = key.strip_prefix("connector-") {
            match parsed.as_ref().and_then(properties) {
                Some(config) => {
                    self.connectors.insert(name.to_string(), config);
                }
                None => {
                    self.connectors.remove(name);
                    self.tasks.remove(name);
                    self.pending.remove(name);
                    self.fencing_pending.remove(name);
                }
            }
        } else if let Some(name) = key.strip_prefix("target-state-") {
            match parsed.as_ref().and_then(target_state) {
                Some(t) => {
                    self.targets.insert(name.to_string(), t);
                }
                None => {
                    self.targets.remove(name);
                }
            }
        } else if let Some(rest) = key.strip_prefix("task-") {
            let (name, task) = rest.rsplit_once('-')?;
            let (Ok(task), Some(config)) =
                (task.parse::<i32>(), parsed.as_ref().and_then(properties))
            else {
                return None;
            };
            self.pending
                .entry(name.to_string())
                .or_default()
                .insert(task, config);
        } else if let Some(name) = key.strip_prefix("commit-") {
            let count = parsed
                .as_ref()
                .and_then(|j| j.get("tasks"))
                .and_then(Json::as_u64)
                .unwrap_or(0) as usize;
            let pending = self.pending.remove(name).unwrap_or_default();
            let previous = self.tasks.get(name);
            let configs: Option<Vec<ConfigMap>> = (0..count as i32)
                .map(|t| {
                    pending
                        .get(&t)
                        .or_else(|| previous.and_then(|p| p.get(t as usize)))
                        .cloned()
                })
                .collect();
            match configs {
                Some(c) => {
                    self.tasks.insert(name.to_string(), c);
                    self.fencing_pending.insert(name.to_string());
                    self.task_generations.insert(name.to_string(), offset);
                }
                None => tracing::error!(
                    connector = name,
                    count,
                    "task config commit without all its task configs; keeping the previous ones"
                ),
            }
        } else if let Some(name) = key.strip_prefix("tasks-fencing-") {
            match parsed
                .as_ref()
                .and_then(|j| j.get("task-count"))
                .and_then(Json::as_u64)
            {
                Some(count) => {
                    self.fenced_task_counts
                        .insert(name.to_string(), count as usize);
                    self.fencing_pending.remove(name);
                }
                None => {
                    self.fenced_task_counts.remove(name);
                }
            }
        } else if let Some(name) = key.strip_prefix("restart-connector-") {
            let j = parsed?;
            return Some(RestartRecord {
                connector: name.to_string(),
                include_tasks: j
                    .get("include-tasks")
                    .and_then(Json::as_bool)
                    .unwrap_or(false),
                only_failed: j
                    .get("only-failed")
                    .and_then(Json::as_bool)
                    .unwrap_or(false),
            });
        }
        None
    }
}

fn properties(j: &Json) -> Option<ConfigMap> {
    let props = j.get("properties")?.as_object()?;
    Some(
        props
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Json::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect(),
    )
}

fn target_state(j: &Json) -> Option<TargetState> {
    j.get("state.v2")
        .or_else(|| j.get("state"))
        .and_then(Json::as_str)
        .and_then(TargetState::parse)
}

fn properties_value(config: &ConfigMap) -> Vec<u8> {
    serde_json::to_vec(&json!({ "properties": config })).expect("maps serialize")
}

/// Reads and writes the config topic.
pub struct ConfigStore {
    log: TopicLog,
    snapshot: Arc<RwLock<ConfigSnapshot>>,
    version: watch::Receiver<i64>,
}

/// How long a write waits to read itself back.
const READ_BACK_TIMEOUT: Duration = Duration::from_secs(30);

impl ConfigStore {
    /// Starts reading `topic`; restart requests are sent to `restarts` as they are read.
    pub fn start(
        clients: &LogClients<'_>,
        topic: &str,
        restarts: mpsc::UnboundedSender<(i64, RestartRecord)>,
    ) -> Result<ConfigStore> {
        let snapshot = Arc::new(RwLock::new(ConfigSnapshot::default()));
        let (version_tx, version) = watch::channel(0i64);
        let apply = {
            let snapshot = snapshot.clone();
            Box::new(move |r: LogRecord<'_>| {
                let key = String::from_utf8_lossy(r.key);
                let restart = snapshot.write().apply(&key, r.value, r.offset);
                if let Some(restart) = restart {
                    let _ = restarts.send((r.offset, restart));
                }
                version_tx.send_replace(r.offset + 1);
            })
        };
        let log = TopicLog::start(clients, topic, apply)?;
        Ok(ConfigStore {
            log,
            snapshot,
            version,
        })
    }

    pub fn snapshot(&self) -> ConfigSnapshot {
        self.snapshot.read().clone()
    }

    /// Reads a value of the current snapshot without copying it.
    pub fn with<T>(&self, f: impl FnOnce(&ConfigSnapshot) -> T) -> T {
        f(&self.snapshot.read())
    }

    /// Notified whenever a record has been applied.
    pub fn changes(&self) -> watch::Receiver<i64> {
        self.version.clone()
    }

    pub async fn read_to_end(&self) -> Result<()> {
        self.log.read_to_end(READ_BACK_TIMEOUT).await
    }

    /// Waits until records up to `offset` have been applied.
    pub async fn wait_for_offset(&self, offset: i64, timeout: Duration) -> bool {
        let mut v = self.version.clone();
        tokio::time::timeout(timeout, v.wait_for(|o| *o >= offset))
            .await
            .map(|r| r.is_ok())
            .unwrap_or(false)
    }

    async fn write(&self, key: &str, value: Option<Vec<u8>>) -> Result<()> {
        let offset = self.log.send(key, value.as_deref()).await?;
        if !self.wait_for_offset(offset + 1, READ_BACK_TIMEOUT).await {
            return Err(ConnectError::Retriable(format!(
                "wrote {key} to {} but could not read it back",
                self.log.topic()
            )));
        }
        Ok(())
    }

    pub async fn put_connector_config(&self, name: &str, config: &ConfigMap) -> Result<()> {
        self.write(&format!("connector-{name}"), Some(properties_value(config)))
            .await
    }

    pub async fn put_target_state(&self, name: &str, target: TargetState) -> Result<()> {
        // Older Kafka Connect workers know only STARTED and PAUSED.
        let legacy = match target {
            TargetState::Stopped => "PAUSED",
            t => t.as_str(),
        };
        let value = json!({"state": legacy, "state.v2": target.as_str()});
        self.write(
            &format!("target-state-{name}"),
            Some(serde_json::to_vec(&value)?),
        )
        .await
    }

    /// Writes task configs and the commit record that makes them visible together.
    pub async fn put_task_configs(&self, name: &str, configs: &[ConfigMap]) -> Result<()> {
        for (i, config) in configs.iter().enumerate() {
            self.log
                .send(&format!("task-{name}-{i}"), Some(&properties_value(config)))
                .await?;
        }
        let commit = serde_json::to_vec(&json!({"tasks": configs.len()}))?;
        self.write(&format!("commit-{name}"), Some(commit)).await
    }

    /// Writes Connect's task-count record (`tasks-fencing-<name>` = `{"task-count": N}`): the
    /// generation of `count` tasks may start, every earlier one has been fenced out.
    pub async fn put_task_count(&self, name: &str, count: usize) -> Result<()> {
        let value = serde_json::to_vec(&json!({ "task-count": count }))?;
        self.write(&format!("tasks-fencing-{name}"), Some(value))
            .await
    }

    pub async fn remove_connector(&self, name: &str) -> Result<()> {
        self.write(&format!("connector-{name}"), None).await?;
        self.write(&format!("target-state-{name}"), None).await
    }

    pub async fn request_restart(&self, request: &RestartRecord) -> Result<()> {
        let value =
            json!({"include-tasks": request.include_tasks, "only-failed": request.only_failed});
        self.write(
            &format!("restart-connector-{}", request.connector),
            Some(serde_json::to_vec(&value)?),
        )
        .await
    }

    pub fn stop(&self) {
        self.log.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(s: &mut ConfigSnapshot, offset: i64, key: &str, value: Option<&str>) {
        s.apply(key, value.map(str::as_bytes), offset);
    }

    #[test]
    fn reads_kafka_connect_records() {
        let mut s = ConfigSnapshot::default();
        apply(
            &mut s,
            0,
            "connector-src",
            Some(r#"{"properties":{"connector.class":"FileStreamSource","tasks.max":"2"}}"#),
        );
        apply(
            &mut s,
            1,
            "task-src-0",
            Some(r#"{"properties":{"file":"a"}}"#),
        );
        assert_eq!(s.task_count("src"), 0, "tasks wait for their commit");
        apply(
            &mut s,
            2,
            "task-src-1",
            Some(r#"{"properties":{"file":"b"}}"#),
        );
        apply(&mut s, 3, "commit-src", Some(r#"{"tasks":2}"#));
        assert_eq!(s.task_count("src"), 2);
        assert_eq!(s.tasks["src"][1]["file"], "b");
        apply(
            &mut s,
            4,
            "target-state-src",
            Some(r#"{"state":"PAUSED","state.v2":"STOPPED"}"#),
        );
        assert_eq!(s.target("src"), TargetState::Stopped);
        apply(&mut s, 5, "target-state-src", Some(r#"{"state":"PAUSED"}"#));
        assert_eq!(s.target("src"), TargetState::Paused);
        apply(&mut s, 6, "commit-src", Some(r#"{"tasks":0}"#));
        assert_eq!(s.task_count("src"), 0);
        let restart = s.apply(
            "restart-connector-src",
            Some(br#"{"include-tasks":true,"only-failed":false}"#),
            7,
        );
        assert_eq!(
            restart,
            Some(RestartRecord {
                connector: "src".into(),
                include_tasks: true,
                only_failed: false
            })
        );
        apply(&mut s, 8, "connector-src", None);
        assert!(s.connectors.is_empty());
        assert_eq!(s.offset, 9);
        apply(&mut s, 9, "session-key", Some(r#"{"key":"x"}"#));
        apply(&mut s, 10, "connector-bad", Some("not json"));
        assert!(s.connectors.is_empty());
    }

    #[test]
    fn task_count_records_end_a_pending_fencing() {
        let mut s = ConfigSnapshot::default();
        apply(&mut s, 0, "task-src-0", Some(r#"{"properties":{"a":"1"}}"#));
        apply(&mut s, 1, "commit-src", Some(r#"{"tasks":1}"#));
        assert!(s.fencing_pending.contains("src"));
        apply(&mut s, 2, "tasks-fencing-src", Some(r#"{"task-count":1}"#));
        assert!(!s.fencing_pending.contains("src"));
        assert_eq!(s.fenced_task_counts["src"], 1);
        apply(&mut s, 3, "commit-src", Some(r#"{"tasks":1}"#));
        assert!(
            s.fencing_pending.contains("src"),
            "a new generation needs fencing"
        );
    }

    #[test]
    fn writes_records_connect_reads() {
        let mut cfg = ConfigMap::new();
        cfg.insert("tasks.max".into(), "1".into());
        let v: Json = serde_json::from_slice(&properties_value(&cfg)).unwrap();
        assert_eq!(v, json!({"properties": {"tasks.max": "1"}}));
    }
}
