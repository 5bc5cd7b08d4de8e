//! The shapes the herder answers with; they serialize to Kafka Connect's REST JSON.

use serde::{Deserialize, Serialize};

use crate::config::{ConfigInfo, ConfigMap};
use crate::data::OffsetMap;
use crate::plugin::TaskId;
use crate::runtime::State;

/// REST `ConnectorInfo`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnectorInfo {
    pub name: String,
    pub config: ConfigMap,
    pub tasks: Vec<TaskId>,
    #[serde(rename = "type")]
    pub connector_type: String,
}

/// The connector part of REST `ConnectorStateInfo`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct InstanceState {
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
}

/// A task in REST `ConnectorStateInfo`, and the body of `/tasks/{t}/status`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TaskState {
    pub id: i32,
    pub state: State,
    pub worker_id: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace: Option<String>,
}

/// REST `ConnectorStateInfo`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnectorStateInfo {
    pub name: String,
    pub connector: InstanceState,
    pub tasks: Vec<TaskState>,
    #[serde(rename = "type")]
    pub connector_type: String,
}

/// REST `TaskInfo`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct TaskInfo {
    pub id: TaskId,
    pub config: ConfigMap,
}

/// REST `ConfigInfos`.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct ConfigInfos {
    pub name: String,
    pub error_count: usize,
    pub groups: Vec<String>,
    pub configs: Vec<ConfigInfo>,
}

impl ConfigInfos {
    /// Every error message, for the 400 text.
    pub fn error_messages(&self) -> Vec<String> {
        self.configs
            .iter()
            .flat_map(|c| c.value.errors.iter().cloned())
            .collect()
    }
}

/// One entry of REST `ConnectorOffsets`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnectorOffset {
    pub partition: OffsetMap,
    pub offset: Option<OffsetMap>,
}

/// REST `ConnectorOffsets`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct ConnectorOffsets {
    pub offsets: Vec<ConnectorOffset>,
}

/// What `POST /connectors/{c}/restart` restarts (KIP-745).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartRequest {
    pub include_tasks: bool,
    pub only_failed: bool,
}

impl RestartRequest {
    /// Both flags false: Connect's original behaviour (connector only, 204).
    pub fn connector_only(&self) -> bool {
        !self.include_tasks && !self.only_failed
    }

    pub fn restarts_connector(&self, state: Option<State>) -> bool {
        !self.only_failed || state == Some(State::Failed)
    }

    pub fn restarts_task(&self, state: Option<State>) -> bool {
        self.include_tasks && (!self.only_failed || state == Some(State::Failed))
    }
}
