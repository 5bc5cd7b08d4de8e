//! In-memory status of connectors and tasks (and the topics each connector uses), fed by the
//! worker. The distributed herder mirrors it into the status topic.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use parking_lot::RwLock;

use crate::plugin::TaskId;
use crate::runtime::{State, Status, StatusListener};

/// Statuses reported by this worker (or read from the status topic).
#[derive(Default)]
pub struct MemoryStatusStore {
    worker_id: String,
    connectors: RwLock<HashMap<String, Status>>,
    tasks: RwLock<BTreeMap<TaskId, Status>>,
    topics: RwLock<HashMap<String, BTreeSet<String>>>,
}

impl MemoryStatusStore {
    pub fn new(worker_id: impl Into<String>) -> Self {
        MemoryStatusStore {
            worker_id: worker_id.into(),
            ..Default::default()
        }
    }

    pub fn connector(&self, name: &str) -> Option<Status> {
        self.connectors.read().get(name).cloned()
    }

    pub fn task(&self, id: &TaskId) -> Option<Status> {
        self.tasks.read().get(id).cloned()
    }

    pub fn put_connector(&self, name: &str, status: Status) {
        self.connectors.write().insert(name.to_string(), status);
    }

    pub fn put_task(&self, id: &TaskId, status: Status) {
        self.tasks.write().insert(id.clone(), status);
    }

    pub fn remove_connector(&self, name: &str) {
        self.connectors.write().remove(name);
        self.tasks.write().retain(|id, _| id.connector != name);
        self.topics.write().remove(name);
    }

    /// Forgets tasks `>= count` of a connector (after it was given fewer tasks).
    pub fn retain_tasks(&self, connector: &str, count: usize) {
        self.tasks
            .write()
            .retain(|id, _| id.connector != connector || (id.task as usize) < count);
    }

    pub fn connector_topics(&self, name: &str) -> Vec<String> {
        self.topics
            .read()
            .get(name)
            .map(|s| s.iter().cloned().collect())
            .unwrap_or_default()
    }

    pub fn reset_topics(&self, name: &str) {
        self.topics.write().remove(name);
    }

    pub fn status(&self, state: State, trace: Option<String>) -> Status {
        Status {
            state,
            trace,
            worker_id: self.worker_id.clone(),
            generation: 0,
        }
    }
}

impl StatusListener for MemoryStatusStore {
    fn connector_status(&self, connector: &str, state: State, trace: Option<String>) {
        let s = self.status(state, trace);
        self.put_connector(connector, s);
    }

    fn task_status(&self, id: &TaskId, state: State, trace: Option<String>) {
        let s = self.status(state, trace);
        self.put_task(id, s);
    }

    fn topic_used(&self, connector: &str, topic: &str) {
        let mut topics = self.topics.write();
        let set = topics.entry(connector.to_string()).or_default();
        if !set.contains(topic) {
            set.insert(topic.to_string());
        }
    }
}
