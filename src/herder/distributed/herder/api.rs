//! The REST side of the distributed herder (the `Herder` trait): reads answer from the
//! config and status topics; writes go to the config topic, and the event loop reacts to what
//! it reads back.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{DistributedHerder, GroupView, GROUP_WAIT};
use crate::config::connector::{ConnectorType, NAME};
use crate::config::ConfigMap;
use crate::errors::{ConnectError, Result};
use crate::herder::common::{self, not_found, task_not_found};
use crate::herder::distributed::config_store::{ConfigSnapshot, RestartRecord};
use crate::herder::distributed::forward;
use crate::herder::types::*;
use crate::herder::validation::{connector_type_of, invalid_config_message, validate_off_runtime};
use crate::herder::{Created, Herder, WorkerInfo};
use crate::plugin::{PluginRegistry, TaskId};
use crate::runtime::supervise::FatalError;
use crate::runtime::TargetState;

impl DistributedHerder {
    /// Waits until the group is stable (a rebalance has finished), up to `GROUP_WAIT`.
    pub(super) async fn stable_group(&self) -> Result<GroupView> {
        let deadline = tokio::time::Instant::now() + GROUP_WAIT;
        loop {
            let notified = self.group_changed.notified();
            {
                let g = self.group.read();
                if g.stable && !g.leader_url.is_empty() {
                    return Ok(g.clone());
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return Err(ConnectError::Conflict(
                    "Cannot complete request because of a conflicting operation (e.g. worker rebalance)".into(),
                ));
            }
        }
    }

    pub(super) fn connector_type(&self, config: &ConfigMap) -> Option<ConnectorType> {
        connector_type_of(self.worker.registry(), config)
    }

    fn info(&self, name: &str, snap: &ConfigSnapshot) -> Result<ConnectorInfo> {
        let config = snap.connectors.get(name).ok_or_else(|| not_found(name))?;
        Ok(ConnectorInfo {
            name: name.to_string(),
            config: common::mask_config(self.worker.registry(), config),
            tasks: (0..snap.task_count(name) as i32)
                .map(|t| TaskId::new(name, t))
                .collect(),
            connector_type: self
                .connector_type(config)
                .map(|t| t.as_str())
                .unwrap_or("unknown")
                .to_string(),
        })
    }

    fn existing(&self, name: &str) -> Result<ConfigSnapshot> {
        let snap = self.configs.snapshot();
        if !snap.connectors.contains_key(name) {
            return Err(not_found(name));
        }
        Ok(snap)
    }

    fn known_type(&self, name: &str, config: &ConfigMap) -> Result<ConnectorType> {
        self.connector_type(config).ok_or_else(|| {
            ConnectError::BadRequest(format!("Connector {name} has an unknown connector class"))
        })
    }

    /// A connector's config and type, if it is STOPPED (offsets can only change then).
    fn stopped_connector(&self, name: &str) -> Result<(ConfigMap, ConnectorType)> {
        let snap = self.existing(name)?;
        if snap.target(name) != TargetState::Stopped {
            return Err(common::must_be_stopped(name));
        }
        let config = snap.connectors[name].clone();
        let kind = self.known_type(name, &config)?;
        Ok((config, kind))
    }

    async fn set_target(&self, name: &str, target: TargetState) -> Result<()> {
        let snap = self.existing(name)?;
        self.configs.put_target_state(name, target).await?;
        if target == TargetState::Stopped && snap.task_count(name) > 0 {
            // A stopped connector has no tasks: they are revoked in the next rebalance.
            self.configs.put_task_configs(name, &[]).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Herder for DistributedHerder {
    fn worker_id(&self) -> String {
        self.worker.worker_id().to_string()
    }

    fn kafka_cluster_id(&self) -> Option<String> {
        self.cluster_id.read().clone()
    }

    fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    fn fatal(&self) -> &Arc<FatalError> {
        &self.fatal
    }

    async fn leader_url(&self) -> Result<Option<String>> {
        let g = self.stable_group().await?;
        Ok((g.leader_id != g.member_id).then_some(g.leader_url))
    }

    async fn connectors(&self) -> Vec<String> {
        self.configs
            .with(|s| s.connectors.keys().cloned().collect())
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo> {
        self.info(name, &self.configs.snapshot())
    }

    async fn connector_config(&self, name: &str) -> Result<ConfigMap> {
        let snap = self.existing(name)?;
        Ok(common::mask_config(
            self.worker.registry(),
            &snap.connectors[name],
        ))
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        allow_replace: bool,
        initial_state: Option<TargetState>,
    ) -> Result<(Created, ConnectorInfo)> {
        let snap = self.configs.snapshot();
        let existing = snap.connectors.get(name);
        if existing.is_some() && !allow_replace {
            return Err(ConnectError::AlreadyExists(format!(
                "Connector {name} already exists"
            )));
        }
        let mut config = common::unmask_config(config, existing)?;
        config.insert(NAME.to_string(), name.to_string());
        let infos = validate_off_runtime(
            self.worker.registry().clone(),
            config.clone(),
            self.worker.config().worker_tasks_max,
            Some(self.worker.config().exactly_once_source_support),
        )
        .await?;
        if infos.error_count > 0 {
            return Err(ConnectError::BadRequest(invalid_config_message(&infos)));
        }
        if self.connector_type(&config).is_none() {
            return Err(ConnectError::BadRequest(format!(
                "Connector {name} has an unknown connector class"
            )));
        }
        let created = if existing.is_some() {
            Created::Updated
        } else {
            // The target state goes first, so no worker starts the connector in the wrong state.
            self.configs
                .put_target_state(name, initial_state.unwrap_or_default())
                .await?;
            Created::Created
        };
        self.configs.put_connector_config(name, &config).await?;
        Ok((created, self.info(name, &self.configs.snapshot())?))
    }

    async fn delete_connector(&self, name: &str) -> Result<()> {
        let snap = self.existing(name)?;
        self.configs.remove_connector(name).await?;
        self.statuses.remove_connector(name, snap.task_count(name));
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo> {
        let snap = self.existing(name)?;
        Ok(common::state_info(
            name,
            self.connector_type(&snap.connectors[name]),
            self.statuses.memory(),
            snap.task_count(name),
            self.worker.worker_id(),
        ))
    }

    async fn task_status(&self, id: &TaskId) -> Result<TaskState> {
        let snap = self.existing(&id.connector)?;
        if id.task < 0 || id.task as usize >= snap.task_count(&id.connector) {
            return Err(task_not_found(id));
        }
        Ok(common::task_state(
            self.statuses.memory(),
            id,
            self.worker.worker_id(),
        ))
    }

    async fn tasks(&self, name: &str) -> Result<Vec<TaskInfo>> {
        let snap = self.existing(name)?;
        let configs = snap
            .tasks
            .get(name)
            .map(|t| t.as_slice())
            .unwrap_or_default();
        Ok(common::task_infos(self.worker.registry(), name, configs))
    }

    async fn set_target_state(&self, name: &str, target: TargetState) -> Result<()> {
        self.set_target(name, target).await
    }

    async fn restart_connector(
        &self,
        name: &str,
        request: RestartRequest,
    ) -> Result<Option<ConnectorStateInfo>> {
        let snap = self.existing(name)?;
        let mut reported = common::state_info(
            name,
            self.connector_type(&snap.connectors[name]),
            self.statuses.memory(),
            snap.task_count(name),
            self.worker.worker_id(),
        );
        if !request.connector_only() {
            common::mark_restarting(&mut reported, &request);
        }
        if snap.target(name) != TargetState::Stopped {
            self.configs
                .request_restart(&RestartRecord {
                    connector: name.to_string(),
                    include_tasks: request.include_tasks,
                    only_failed: request.only_failed,
                })
                .await?;
        }
        Ok((!request.connector_only()).then_some(reported))
    }

    async fn restart_task(&self, id: &TaskId) -> Result<()> {
        let snap = self.existing(&id.connector)?;
        if id.task < 0 || id.task as usize >= snap.task_count(&id.connector) {
            return Err(task_not_found(id));
        }
        {
            let mut local = self.local.lock().await;
            if local.assignment.tasks.contains(id) {
                self.restart_task_locally(&mut local, id, &snap).await;
                return Ok(());
            }
        }
        let owner = self
            .statuses
            .memory()
            .task(id)
            .map(|s| s.worker_id)
            .filter(|w| w != self.worker.worker_id())
            .ok_or_else(|| {
                ConnectError::Conflict(format!(
                    "Cannot restart task {id}: it is not assigned to any worker yet (e.g. worker rebalance)"
                ))
            })?;
        // Workers of one cluster advertise the same scheme (`rest.advertised.listener`).
        let base_url = format!("{}://{owner}", forward::scheme_of(&self.url));
        forward::restart_task_on(&self.forwarder, &base_url, id).await
    }

    async fn fence_zombies(&self, name: &str) -> Result<()> {
        self.fence_zombies_as_leader(name).await
    }

    async fn connector_offsets(&self, name: &str) -> Result<ConnectorOffsets> {
        let snap = self.existing(name)?;
        let config = &snap.connectors[name];
        let kind = self.known_type(name, config)?;
        if let Err(e) = self.offsets.read_to_end(Duration::from_secs(10)).await {
            tracing::debug!(error = %e, "offsets topic not read to its end");
        }
        common::connector_offsets(&self.worker, config, kind).await
    }

    async fn alter_connector_offsets(
        &self,
        name: &str,
        offsets: ConnectorOffsets,
    ) -> Result<String> {
        let (config, kind) = self.stopped_connector(name)?;
        common::alter_offsets(&self.worker, &config, kind, offsets).await
    }

    async fn reset_connector_offsets(&self, name: &str) -> Result<String> {
        let (config, kind) = self.stopped_connector(name)?;
        common::reset_offsets(&self.worker, &config, kind).await
    }

    async fn connector_topics(&self, name: &str) -> Result<Vec<String>> {
        self.existing(name)?;
        Ok(self.statuses.memory().connector_topics(name))
    }

    async fn reset_connector_topics(&self, name: &str) -> Result<()> {
        self.existing(name)?;
        self.statuses.reset_topics(name);
        Ok(())
    }

    fn workers(&self) -> Vec<WorkerInfo> {
        let mut urls = self.members.lock().clone();
        if !urls.contains(&self.url) {
            urls.push(self.url.clone());
        }
        urls.sort();
        urls.into_iter()
            .map(|url| WorkerInfo {
                worker_id: forward::worker_id_of(&url).to_string(),
                url: Some(url),
            })
            .collect()
    }

    fn internal_topics(&self) -> Vec<String> {
        vec![
            self.topics.config.clone(),
            self.topics.offset.clone(),
            self.topics.status.clone(),
        ]
    }

    fn worker_tasks_max(&self) -> usize {
        self.worker.config().worker_tasks_max
    }

    fn exactly_once_source_support(
        &self,
    ) -> Option<crate::config::worker::ExactlyOnceSourceSupport> {
        Some(self.worker.config().exactly_once_source_support)
    }

    fn registry(&self) -> &Arc<PluginRegistry> {
        self.worker.registry()
    }

    async fn shutdown(&self) {
        tracing::info!("stopping all connectors and tasks, then leaving the group");
        self.stop.cancel();
        let mut local = self.local.lock().await;
        self.worker.stop_all().await;
        local.tasks.clear();
        local.connectors.clear();
        self.leave.cancel();
        let membership = self.membership_task.lock().take();
        if let Some(m) = membership {
            let _ = tokio::time::timeout(Duration::from_secs(10), m).await;
        }
        self.configs.stop();
        self.offsets.stop();
        self.statuses.stop();
    }
}
