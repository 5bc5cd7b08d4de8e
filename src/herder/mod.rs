//! Herders decide what runs and keep connector configs, target states and statuses
//! (Kafka Connect's `Herder`). The REST API only talks to a [`Herder`].

pub mod common;
pub mod distributed;
pub mod standalone;
pub mod status_store;
pub mod types;
pub mod validation;

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{ConfigKeyInfo, ConfigMap};
use crate::errors::{ConnectError, Result};
use crate::plugin::{PluginInfo, PluginRegistry, TaskId};
use crate::runtime::supervise::FatalError;
use crate::runtime::TargetState;

pub use types::{
    ConfigInfos, ConnectorInfo, ConnectorOffset, ConnectorOffsets, ConnectorStateInfo,
    InstanceState, RestartRequest, TaskInfo, TaskState,
};

/// Whether a config write created the connector or replaced it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    Created,
    Updated,
}

/// The operations behind the REST API.
#[async_trait]
pub trait Herder: Send + Sync {
    /// This worker's advertised `host:port`.
    fn worker_id(&self) -> String;

    /// The Kafka cluster id, when known.
    fn kafka_cluster_id(&self) -> Option<String>;

    /// True once startup has finished (for `/health`).
    fn is_ready(&self) -> bool;

    /// Raised when the herder can no longer work (a supervised loop panicked, the group was
    /// lost for good): `/health` answers 500 and the CLI exits non-zero.
    fn fatal(&self) -> &Arc<FatalError>;

    /// Where writes must go: `None` to handle them here, or the leader's REST URL. Waits
    /// while the cluster is rebalancing.
    async fn leader_url(&self) -> Result<Option<String>> {
        Ok(None)
    }

    async fn connectors(&self) -> Vec<String>;

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo>;

    /// The stored config; PASSWORD values are masked.
    async fn connector_config(&self, name: &str) -> Result<ConfigMap>;

    /// Creates or replaces a connector. `initial_state` applies to new connectors only.
    async fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        allow_replace: bool,
        initial_state: Option<TargetState>,
    ) -> Result<(Created, ConnectorInfo)>;

    async fn delete_connector(&self, name: &str) -> Result<()>;

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo>;

    async fn task_status(&self, id: &TaskId) -> Result<TaskState>;

    async fn tasks(&self, name: &str) -> Result<Vec<TaskInfo>>;

    /// Sets a connector's target state (what pause, resume and stop do).
    async fn set_target_state(&self, name: &str, target: TargetState) -> Result<()>;

    async fn pause_connector(&self, name: &str) -> Result<()> {
        self.set_target_state(name, TargetState::Paused).await
    }

    async fn resume_connector(&self, name: &str) -> Result<()> {
        self.set_target_state(name, TargetState::Started).await
    }

    async fn stop_connector(&self, name: &str) -> Result<()> {
        self.set_target_state(name, TargetState::Stopped).await
    }

    /// Restarts per KIP-745; returns the state to report (with RESTARTING markers) unless
    /// the request is the connector-only form.
    async fn restart_connector(
        &self,
        name: &str,
        request: RestartRequest,
    ) -> Result<Option<ConnectorStateInfo>>;

    async fn restart_task(&self, id: &TaskId) -> Result<()>;

    /// `PUT /connectors/{c}/fence`, between workers only: the leader's round of zombie fencing
    /// for an exactly-once source connector's new task generation (KIP-618).
    async fn fence_zombies(&self, name: &str) -> Result<()> {
        Err(ConnectError::BadRequest(format!(
            "Cannot fence the tasks of connector {name}: zombie fencing is done by the leader of a distributed cluster only"
        )))
    }

    async fn connector_offsets(&self, name: &str) -> Result<ConnectorOffsets>;

    /// `PATCH /connectors/{c}/offsets` (connector must be STOPPED).
    async fn alter_connector_offsets(
        &self,
        name: &str,
        offsets: ConnectorOffsets,
    ) -> Result<String>;

    /// `DELETE /connectors/{c}/offsets` (connector must be STOPPED).
    async fn reset_connector_offsets(&self, name: &str) -> Result<String>;

    async fn connector_topics(&self, name: &str) -> Result<Vec<String>>;

    async fn reset_connector_topics(&self, name: &str) -> Result<()>;

    /// The plugins this herder's worker can run.
    fn registry(&self) -> &Arc<PluginRegistry>;

    /// The most tasks this herder's worker runs (`worker.tasks.max`).
    fn worker_tasks_max(&self) -> usize;

    /// Validates a config (`PUT /connector-plugins/{p}/config/validate`).
    async fn validate_connector_config(&self, config: &ConfigMap) -> Result<ConfigInfos> {
        validation::validate_off_runtime(
            self.registry().clone(),
            config.clone(),
            self.worker_tasks_max(),
            self.exactly_once_source_support(),
        )
        .await
    }

    /// The worker's `exactly.once.source.support`; `None` in standalone mode, which has none.
    fn exactly_once_source_support(
        &self,
    ) -> Option<crate::config::worker::ExactlyOnceSourceSupport> {
        None
    }

    fn plugins(&self) -> Vec<PluginInfo> {
        self.registry().list()
    }

    /// A plugin's own config keys (`GET /connector-plugins/{p}/config`).
    fn plugin_config(&self, name: &str) -> Result<Vec<ConfigKeyInfo>> {
        common::plugin_config(self.registry(), name)
    }

    /// Whether `name` names the same connector class as `class` (for validate's 400 check).
    fn same_connector_class(&self, name: &str, class: &str) -> bool {
        common::same_connector_class(self.registry(), name, class)
    }

    /// The workers of the cluster that this worker knows of, for the console. A standalone
    /// worker knows itself; a distributed leader knows the members of the last rebalance (a
    /// follower asks the leader through REST, see `GET /conveyor/workers`).
    fn workers(&self) -> Vec<WorkerInfo> {
        vec![WorkerInfo {
            worker_id: self.worker_id(),
            url: None,
        }]
    }

    /// Topics that only this cluster's workers may read (the config, offset and status
    /// topics of a distributed cluster): the console does not peek at them, since the config
    /// topic holds connector secrets in clear.
    fn internal_topics(&self) -> Vec<String> {
        Vec::new()
    }

    /// Stops every connector and task.
    async fn shutdown(&self);
}

/// A worker of the cluster: its id (`host:port`) and, when known, its advertised REST URL.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkerInfo {
    pub worker_id: String,
    pub url: Option<String>,
}
