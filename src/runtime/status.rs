//! Status reporting from running connectors and tasks to the herder's status store.

use serde::{Deserialize, Serialize};

use super::state::State;
use crate::plugin::TaskId;

/// One connector's or task's status (the value format of Connect's status topic).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Status {
    pub state: State,
    pub trace: Option<String>,
    pub worker_id: String,
    pub generation: i32,
}

/// Receives state changes (Connect's `ConnectorStatus.Listener` / `TaskStatus.Listener`).
pub trait StatusListener: Send + Sync {
    fn connector_status(&self, connector: &str, state: State, trace: Option<String>);
    fn task_status(&self, id: &TaskId, state: State, trace: Option<String>);

    /// A connector produced to or consumed from `topic` (KIP-558 topic tracking).
    fn topic_used(&self, _connector: &str, _topic: &str) {}
}
