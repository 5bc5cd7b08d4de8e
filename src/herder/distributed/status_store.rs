//! Connector and task status in the status topic (`KafkaStatusBackingStore`): each worker
//! writes the status of what it runs and reads everyone's, so any worker answers status calls.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;

use serde_json::json;
use tokio::sync::mpsc;

use super::topic_log::{LogClients, LogRecord, TopicLog};
use crate::errors::Result;
use crate::herder::status_store::MemoryStatusStore;
use crate::plugin::TaskId;
use crate::runtime::{State, Status, StatusListener};

/// What a status-topic key names.
enum StatusKey<'a> {
    Connector(&'a str),
    Task(TaskId),
    Topic { connector: &'a str, topic: &'a str },
}

fn parse_key(key: &str) -> Option<StatusKey<'_>> {
    if let Some(name) = key.strip_prefix("status-connector-") {
        return Some(StatusKey::Connector(name));
    }
    if let Some(rest) = key.strip_prefix("status-task-") {
        let (name, task) = rest.rsplit_once('-')?;
        return Some(StatusKey::Task(TaskId::new(name, task.parse().ok()?)));
    }
    let rest = key.strip_prefix("status-topic-")?;
    let (topic, connector) = rest.split_once(":connector-")?;
    Some(StatusKey::Topic { connector, topic })
}

/// Kafka Connect's `putSafe`: another worker's entry is only replaced by a newer generation.
fn should_replace(existing: Option<&Status>, incoming: &Status) -> bool {
    match existing {
        None => true,
        Some(e) => e.worker_id == incoming.worker_id || incoming.generation >= e.generation,
    }
}

/// The status topic plus this worker's view of every status.
pub struct KafkaStatusStore {
    worker_id: String,
    generation: Arc<AtomicI32>,
    memory: Arc<MemoryStatusStore>,
    log: Arc<TopicLog>,
    writes: mpsc::UnboundedSender<(String, Option<Vec<u8>>)>,
    /// The last status this worker wrote for each connector and task.
    own: parking_lot::Mutex<std::collections::HashMap<String, Status>>,
}

impl KafkaStatusStore {
    pub fn start(
        clients: &LogClients<'_>,
        topic: &str,
        worker_id: &str,
        memory: Arc<MemoryStatusStore>,
    ) -> Result<KafkaStatusStore> {
        let apply = {
            let memory = memory.clone();
            let me = worker_id.to_string();
            Box::new(move |r: LogRecord<'_>| apply_record(&memory, &me, r))
        };
        let log = Arc::new(TopicLog::start(clients, topic, apply)?);
        // One writer in order, so a later status never lands before an earlier one.
        let (writes, mut queue) = mpsc::unbounded_channel::<(String, Option<Vec<u8>>)>();
        {
            let log = log.clone();
            tokio::spawn(async move {
                while let Some((key, value)) = queue.recv().await {
                    if let Err(e) = log.send(&key, value.as_deref()).await {
                        tracing::warn!(key = %key, error = %e, "could not write a status");
                    }
                }
            });
        }
        Ok(KafkaStatusStore {
            worker_id: worker_id.to_string(),
            generation: Arc::new(AtomicI32::new(0)),
            memory,
            log,
            writes,
            own: Default::default(),
        })
    }

    pub fn memory(&self) -> &Arc<MemoryStatusStore> {
        &self.memory
    }

    /// The group generation written with each status.
    pub fn set_generation(&self, generation: i32) {
        self.generation.store(generation, Ordering::Release);
    }

    fn status(&self, state: State, trace: Option<String>) -> Status {
        Status {
            state,
            trace,
            worker_id: self.worker_id.clone(),
            generation: self.generation.load(Ordering::Acquire),
        }
    }

    fn write(&self, key: String, status: &Status) {
        let value = serde_json::to_vec(status).expect("status serializes");
        self.own.lock().insert(key.clone(), status.clone());
        let _ = self.writes.send((key, Some(value)));
    }

    /// Writes again the status of what this worker runs where the status topic now names
    /// another worker (one that stopped a duplicate of it during a rebalance). The rewrite
    /// carries a generation above the other worker's, so every reader takes it.
    pub fn reassert(&self, connectors: &[String], tasks: &[TaskId]) {
        let keys = connectors
            .iter()
            .map(|name| {
                (
                    format!("status-connector-{name}"),
                    self.memory.connector(name),
                )
            })
            .chain(tasks.iter().map(|id| {
                (
                    format!("status-task-{}-{}", id.connector, id.task),
                    self.memory.task(id),
                )
            }));
        let mut again = Vec::new();
        {
            let own = self.own.lock();
            for (key, current) in keys {
                let (Some(current), Some(mine)) = (current, own.get(&key)) else {
                    continue;
                };
                if current.worker_id != self.worker_id && mine.state != State::Unassigned {
                    let mut s = mine.clone();
                    s.generation = s
                        .generation
                        .max(self.generation.load(Ordering::Acquire))
                        .max(current.generation + 1);
                    again.push((key, s));
                }
            }
        }
        for (key, s) in again {
            if let Some(name) = key.strip_prefix("status-connector-") {
                self.memory.put_connector(name, s.clone());
            } else if let Some(StatusKey::Task(id)) = parse_key(&key) {
                self.memory.put_task(&id, s.clone());
            }
            self.write(key, &s);
        }
    }

    /// Removes a deleted connector's statuses everywhere.
    pub fn remove_connector(&self, connector: &str, task_count: usize) {
        self.memory.remove_connector(connector);
        let _ = self
            .writes
            .send((format!("status-connector-{connector}"), None));
        for t in 0..task_count {
            let _ = self
                .writes
                .send((format!("status-task-{connector}-{t}"), None));
        }
    }

    /// Forgets the topics a connector used (`PUT /connectors/{c}/topics/reset`).
    pub fn reset_topics(&self, connector: &str) {
        for topic in self.memory.connector_topics(connector) {
            let _ = self
                .writes
                .send((format!("status-topic-{topic}:connector-{connector}"), None));
        }
        self.memory.reset_topics(connector);
    }

    pub async fn read_to_end(&self) -> Result<()> {
        self.log
            .read_to_end(std::time::Duration::from_secs(30))
            .await
    }

    pub fn stop(&self) {
        self.log.stop();
    }
}

fn apply_record(memory: &MemoryStatusStore, me: &str, r: LogRecord<'_>) {
    let key = String::from_utf8_lossy(r.key);
    let Some(parsed) = parse_key(&key) else {
        return;
    };
    let status: Option<Status> = r.value.and_then(|v| serde_json::from_slice(v).ok());
    match parsed {
        StatusKey::Connector(name) => match status {
            // This worker's own statuses are already in memory, and may be newer.
            Some(s) if s.worker_id == me => {}
            Some(s) => {
                if should_replace(memory.connector(name).as_ref(), &s) {
                    memory.put_connector(name, s);
                }
            }
            None => memory.remove_connector(name),
        },
        StatusKey::Task(id) => match status {
            Some(s) if s.worker_id == me => {}
            Some(s) => {
                if should_replace(memory.task(&id).as_ref(), &s) {
                    memory.put_task(&id, s);
                }
            }
            None => memory.retain_tasks(&id.connector, id.task.max(0) as usize),
        },
        StatusKey::Topic { connector, topic } => {
            if r.value.is_some() {
                memory.topic_used(connector, topic);
            }
        }
    }
}

impl StatusListener for KafkaStatusStore {
    // Local reports follow the same putSafe rule as everyone else's, so this worker's view
    // matches the others' (and `reassert` sees when another worker's entry is shown).
    fn connector_status(&self, connector: &str, state: State, trace: Option<String>) {
        let s = self.status(state, trace);
        if should_replace(self.memory.connector(connector).as_ref(), &s) {
            self.memory.put_connector(connector, s.clone());
        }
        self.write(format!("status-connector-{connector}"), &s);
    }

    fn task_status(&self, id: &TaskId, state: State, trace: Option<String>) {
        let s = self.status(state, trace);
        if should_replace(self.memory.task(id).as_ref(), &s) {
            self.memory.put_task(id, s.clone());
        }
        self.write(format!("status-task-{}-{}", id.connector, id.task), &s);
    }

    fn topic_used(&self, connector: &str, topic: &str) {
        if self
            .memory
            .connector_topics(connector)
            .iter()
            .any(|t| t == topic)
        {
            return;
        }
        self.memory.topic_used(connector, topic);
        let value = json!({"topic": {
            "name": topic,
            "connector": connector,
            "task": 0,
            "discoverTimestamp": chrono::Utc::now().timestamp_millis(),
        }});
        let _ = self.writes.send((
            format!("status-topic-{topic}:connector-{connector}"),
            Some(value.to_string().into_bytes()),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_put_safe() {
        assert!(matches!(
            parse_key("status-task-my-conn-3"),
            Some(StatusKey::Task(t)) if t == TaskId::new("my-conn", 3)
        ));
        assert!(matches!(
            parse_key("status-topic-orders:connector-sink"),
            Some(StatusKey::Topic {
                connector: "sink",
                topic: "orders"
            })
        ));
        let old = Status {
            state: State::Running,
            trace: None,
            worker_id: "a:1".into(),
            generation: 5,
        };
        let stale = Status {
            state: State::Unassigned,
            worker_id: "b:1".into(),
            generation: 4,
            trace: None,
        };
        assert!(!should_replace(Some(&old), &stale));
        assert!(should_replace(
            Some(&old),
            &Status {
                generation: 6,
                ..stale.clone()
            }
        ));
    }
}
