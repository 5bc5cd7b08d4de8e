//! The standalone herder (Kafka Connect's `StandaloneHerder`): one worker runs everything;
//! configs live in memory, or in a `--config-dir` when given.

mod config_dir;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{mpsc, Mutex};

pub use config_dir::{ConfigDir, StoredConnector};

use super::common::{self, not_found, task_not_found};
use super::status_store::MemoryStatusStore;
use super::types::*;
use super::validation::{connector_type_of, invalid_config_message, validate_off_runtime};
use super::{Created, Herder};
use crate::config::connector::{ConnectorType, NAME, TASKS_MAX};
use crate::config::ConfigMap;
use crate::errors::{ConnectError, Result};
use crate::plugin::{ConnectorRequest, PluginRegistry, TaskId};
use crate::runtime::supervise::{spawn_supervised, FatalError};
use crate::runtime::{State, StatusListener, TargetState, Worker};

struct ConnectorEntry {
    config: ConfigMap,
    target: TargetState,
    connector_type: ConnectorType,
    task_configs: Vec<ConfigMap>,
}

/// Runs every connector on this worker.
pub struct StandaloneHerder {
    worker: Arc<Worker>,
    statuses: Arc<MemoryStatusStore>,
    connectors: Mutex<BTreeMap<String, ConnectorEntry>>,
    config_dir: Option<ConfigDir>,
    ready: AtomicBool,
    cluster_id: Arc<parking_lot::RwLock<Option<String>>>,
    /// Raised when the worker cannot go on.
    fatal: Arc<FatalError>,
}

impl StandaloneHerder {
    /// A herder over `worker`, whose status listener must be `statuses`. Spawns the loop that
    /// serves connector requests (task reconfiguration, raised errors).
    pub fn new(
        worker: Arc<Worker>,
        statuses: Arc<MemoryStatusStore>,
        requests: mpsc::UnboundedReceiver<ConnectorRequest>,
        config_dir: Option<ConfigDir>,
        cluster_id: Arc<parking_lot::RwLock<Option<String>>>,
    ) -> Arc<StandaloneHerder> {
        let herder = Arc::new(StandaloneHerder {
            worker,
            statuses,
            connectors: Mutex::new(BTreeMap::new()),
            config_dir,
            ready: AtomicBool::new(false),
            cluster_id,
            fatal: Arc::new(FatalError::new()),
        });
        spawn_supervised(
            "the herder's request loop",
            herder.fatal.clone(),
            Self::serve_requests(Arc::downgrade(&herder), requests),
        );
        herder
    }

    async fn serve_requests(
        herder: std::sync::Weak<StandaloneHerder>,
        mut requests: mpsc::UnboundedReceiver<ConnectorRequest>,
    ) {
        while let Some(req) = requests.recv().await {
            let Some(h) = herder.upgrade() else { return };
            match req {
                ConnectorRequest::ReconfigureTasks { connector } => {
                    let mut connectors = h.connectors.lock().await;
                    if let Some(entry) = connectors.get_mut(&connector) {
                        if let Err(e) = h.reconfigure_tasks(&connector, entry, false).await {
                            tracing::error!(%connector, error = %e, "task reconfiguration failed");
                        }
                    }
                }
                ConnectorRequest::RaiseError { connector, error } => {
                    tracing::error!(%connector, error = %error, "connector raised an error");
                    h.statuses
                        .connector_status(&connector, State::Failed, Some(error.trace()));
                }
            }
        }
    }

    /// Loads stored connectors (from `--config-dir`) and then the given files, and starts them.
    pub async fn start(&self, initial: Vec<(String, ConfigMap)>) -> Result<()> {
        if let Some(dir) = &self.config_dir {
            for stored in dir.load()? {
                let name = stored.name.clone();
                if let Err(e) = self
                    .put_connector_config(
                        &name,
                        stored.config.clone(),
                        true,
                        Some(stored.target_state),
                    )
                    .await
                {
                    // One stored connector never stops the worker: it fails alone, saying why,
                    // and can be fixed or deleted through the API.
                    tracing::error!(connector = %name, error = %e, "could not start a stored connector");
                    self.add_failed(stored, &e).await;
                }
            }
        }
        for (name, config) in initial {
            self.put_connector_config(&name, config, true, None).await?;
        }
        self.ready.store(true, Ordering::Release);
        Ok(())
    }

    /// Lists a stored connector that cannot start as FAILED with `error` as its trace.
    async fn add_failed(&self, stored: StoredConnector, error: &ConnectError) {
        let connector_type = connector_type_of(self.worker.registry(), &stored.config)
            .unwrap_or(ConnectorType::Unknown);
        self.statuses
            .connector_status(&stored.name, State::Failed, Some(error.trace()));
        self.connectors.lock().await.insert(
            stored.name,
            ConnectorEntry {
                config: stored.config,
                target: stored.target_state,
                connector_type,
                task_configs: Vec::new(),
            },
        );
    }

    /// The worker that runs this herder's connectors and tasks.
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    fn persist(&self, name: &str, entry: &ConnectorEntry) {
        if let Some(dir) = &self.config_dir {
            let stored = StoredConnector {
                name: name.to_string(),
                config: entry.config.clone(),
                target_state: entry.target,
            };
            if let Err(e) = dir.save(&stored) {
                tracing::error!(connector = %name, error = %e, "could not save connector config");
            }
        }
    }

    fn task_ids(name: &str, count: usize) -> Vec<TaskId> {
        (0..count as i32).map(|t| TaskId::new(name, t)).collect()
    }

    async fn stop_tasks_of(&self, name: &str, entry: &ConnectorEntry) {
        self.worker
            .stop_tasks(&Self::task_ids(name, entry.task_configs.len()))
            .await;
    }

    fn start_tasks_of(&self, name: &str, entry: &ConnectorEntry) {
        for (i, cfg) in entry.task_configs.iter().enumerate() {
            self.worker.start_task(
                TaskId::new(name, i as i32),
                cfg.clone(),
                &entry.config,
                entry.target,
            );
        }
    }

    /// Starts the connector instance and its tasks as the entry's target state says.
    async fn start_connector_and_tasks(&self, name: &str, entry: &mut ConnectorEntry) {
        if entry.target == TargetState::Stopped {
            entry.task_configs.clear();
            self.statuses.connector_status(name, State::Stopped, None);
            return;
        }
        if self
            .worker
            .start_connector(name, &entry.config, entry.target)
            .await
            .is_err()
        {
            return;
        }
        if let Err(e) = self.reconfigure_tasks(name, entry, true).await {
            tracing::error!(connector = %name, error = %e, "could not generate task configs");
            self.statuses
                .connector_status(name, State::Failed, Some(e.trace()));
        }
    }

    /// Asks the connector for task configs; restarts tasks when they changed (or `force`).
    async fn reconfigure_tasks(
        &self,
        name: &str,
        entry: &mut ConnectorEntry,
        force: bool,
    ) -> Result<()> {
        if !self.worker.is_connector_running(name) {
            return Ok(());
        }
        let tasks_max = entry
            .config
            .get(TASKS_MAX)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let new_configs = self.worker.task_configs(name, tasks_max).await?;
        if !force && !common::task_configs_changed(&entry.task_configs, &new_configs) {
            return Ok(());
        }
        self.stop_tasks_of(name, entry).await;
        self.statuses.retain_tasks(name, new_configs.len());
        entry.task_configs = new_configs;
        self.start_tasks_of(name, entry);
        Ok(())
    }

    async fn remove_instances(&self, name: &str, entry: &ConnectorEntry) {
        self.stop_tasks_of(name, entry).await;
        self.worker.stop_connector(name).await;
    }

    fn info(&self, name: &str, entry: &ConnectorEntry) -> ConnectorInfo {
        ConnectorInfo {
            name: name.to_string(),
            config: common::mask_config(self.worker.registry(), &entry.config),
            tasks: Self::task_ids(name, entry.task_configs.len()),
            connector_type: entry.connector_type.as_str().to_string(),
        }
    }

    async fn set_target(&self, name: &str, target: TargetState) -> Result<()> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        let previous = entry.target;
        entry.target = target;
        self.persist(name, entry);
        match (previous, target) {
            (a, b) if a == b => {}
            (_, TargetState::Stopped) => {
                self.remove_instances(name, entry).await;
                entry.task_configs.clear();
                self.statuses.retain_tasks(name, 0);
                self.statuses.connector_status(name, State::Stopped, None);
            }
            (TargetState::Stopped, _) => self.start_connector_and_tasks(name, entry).await,
            (_, t) => {
                if self.worker.is_connector_running(name) {
                    self.statuses
                        .connector_status(name, t.running_state(), None);
                }
                for id in Self::task_ids(name, entry.task_configs.len()) {
                    self.worker.set_task_target(&id, t);
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Herder for StandaloneHerder {
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

    async fn connectors(&self) -> Vec<String> {
        self.connectors.lock().await.keys().cloned().collect()
    }

    async fn connector_info(&self, name: &str) -> Result<ConnectorInfo> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        Ok(self.info(name, entry))
    }

    async fn connector_config(&self, name: &str) -> Result<ConfigMap> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        Ok(common::mask_config(self.worker.registry(), &entry.config))
    }

    async fn put_connector_config(
        &self,
        name: &str,
        config: ConfigMap,
        allow_replace: bool,
        initial_state: Option<TargetState>,
    ) -> Result<(Created, ConnectorInfo)> {
        let mut connectors = self.connectors.lock().await;
        let existing = connectors.get(name);
        if existing.is_some() && !allow_replace {
            return Err(ConnectError::AlreadyExists(format!(
                "Connector {name} already exists"
            )));
        }
        let mut config = common::unmask_config(config, existing.map(|e| &e.config))?;
        config.insert(NAME.to_string(), name.to_string());
        let infos = validate_off_runtime(
            self.worker.registry().clone(),
            config.clone(),
            self.worker.config().worker_tasks_max,
            None,
        )
        .await?;
        if infos.error_count > 0 {
            return Err(ConnectError::BadRequest(invalid_config_message(&infos)));
        }
        let connector_type =
            connector_type_of(self.worker.registry(), &config).ok_or_else(|| {
                ConnectError::BadRequest(format!("Connector {name} has an unknown connector class"))
            })?;
        let (created, target) = match connectors.remove(name) {
            Some(old) => {
                tracing::info!(connector = %name, "reconfiguring connector");
                self.remove_instances(name, &old).await;
                (Created::Updated, initial_state.unwrap_or(old.target))
            }
            None => (Created::Created, initial_state.unwrap_or_default()),
        };
        let mut entry = ConnectorEntry {
            config,
            target,
            connector_type,
            task_configs: Vec::new(),
        };
        self.persist(name, &entry);
        self.start_connector_and_tasks(name, &mut entry).await;
        let info = self.info(name, &entry);
        connectors.insert(name.to_string(), entry);
        Ok((created, info))
    }

    async fn delete_connector(&self, name: &str) -> Result<()> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.remove(name).ok_or_else(|| not_found(name))?;
        self.remove_instances(name, &entry).await;
        self.statuses.remove_connector(name);
        if let Some(dir) = &self.config_dir {
            dir.remove(name)?;
        }
        tracing::info!(connector = %name, "connector deleted");
        Ok(())
    }

    async fn connector_status(&self, name: &str) -> Result<ConnectorStateInfo> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        Ok(common::state_info(
            name,
            Some(entry.connector_type),
            &self.statuses,
            entry.task_configs.len(),
            self.worker.worker_id(),
        ))
    }

    async fn task_status(&self, id: &TaskId) -> Result<TaskState> {
        let connectors = self.connectors.lock().await;
        let entry = connectors
            .get(&id.connector)
            .ok_or_else(|| not_found(&id.connector))?;
        if id.task < 0 || id.task as usize >= entry.task_configs.len() {
            return Err(task_not_found(id));
        }
        Ok(common::task_state(
            &self.statuses,
            id,
            self.worker.worker_id(),
        ))
    }

    async fn tasks(&self, name: &str) -> Result<Vec<TaskInfo>> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        Ok(common::task_infos(
            self.worker.registry(),
            name,
            &entry.task_configs,
        ))
    }

    async fn set_target_state(&self, name: &str, target: TargetState) -> Result<()> {
        self.set_target(name, target).await
    }

    async fn restart_connector(
        &self,
        name: &str,
        request: RestartRequest,
    ) -> Result<Option<ConnectorStateInfo>> {
        let mut connectors = self.connectors.lock().await;
        let entry = connectors.get_mut(name).ok_or_else(|| not_found(name))?;
        let worker_id = self.worker.worker_id().to_string();
        let mut reported = common::state_info(
            name,
            Some(entry.connector_type),
            &self.statuses,
            entry.task_configs.len(),
            &worker_id,
        );
        let (restart_connector, task_numbers) = common::mark_restarting(&mut reported, &request);
        let tasks_to_restart: Vec<TaskId> = task_numbers
            .into_iter()
            .map(|t| TaskId::new(name, t))
            .collect();
        if entry.target == TargetState::Stopped {
            // A stopped connector has no instances to restart.
            return Ok((!request.connector_only()).then_some(reported));
        }
        if restart_connector {
            self.statuses
                .connector_status(name, State::Restarting, None);
            self.worker.stop_connector(name).await;
            if self
                .worker
                .start_connector(name, &entry.config, entry.target)
                .await
                .is_ok()
                && !request.connector_only()
            {
                // Task configs may depend on the connector; refresh them without restarting
                // tasks that were not asked for.
                let tasks_max = entry
                    .config
                    .get(TASKS_MAX)
                    .and_then(|v| v.trim().parse::<usize>().ok())
                    .unwrap_or(1);
                if let Ok(new) = self.worker.task_configs(name, tasks_max).await {
                    if new != entry.task_configs {
                        self.stop_tasks_of(name, entry).await;
                        self.statuses.retain_tasks(name, new.len());
                        entry.task_configs = new;
                        self.start_tasks_of(name, entry);
                        return Ok(Some(reported));
                    }
                }
            }
        }
        if !tasks_to_restart.is_empty() {
            for id in &tasks_to_restart {
                self.statuses.task_status(id, State::Restarting, None);
            }
            self.worker.stop_tasks(&tasks_to_restart).await;
            for id in &tasks_to_restart {
                if let Some(cfg) = entry.task_configs.get(id.task as usize) {
                    self.worker
                        .start_task(id.clone(), cfg.clone(), &entry.config, entry.target);
                }
            }
        }
        Ok((!request.connector_only()).then_some(reported))
    }

    async fn restart_task(&self, id: &TaskId) -> Result<()> {
        let connectors = self.connectors.lock().await;
        let entry = connectors
            .get(&id.connector)
            .ok_or_else(|| not_found(&id.connector))?;
        let cfg = entry
            .task_configs
            .get(id.task.max(0) as usize)
            .filter(|_| id.task >= 0)
            .ok_or_else(|| task_not_found(id))?;
        self.statuses.task_status(id, State::Restarting, None);
        self.worker.stop_tasks(std::slice::from_ref(id)).await;
        self.worker
            .start_task(id.clone(), cfg.clone(), &entry.config, entry.target);
        Ok(())
    }

    async fn connector_offsets(&self, name: &str) -> Result<ConnectorOffsets> {
        let (config, connector_type) = {
            let connectors = self.connectors.lock().await;
            let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
            (entry.config.clone(), entry.connector_type)
        };
        common::connector_offsets(&self.worker, &config, connector_type).await
    }

    async fn alter_connector_offsets(
        &self,
        name: &str,
        offsets: ConnectorOffsets,
    ) -> Result<String> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        if entry.target != TargetState::Stopped {
            return Err(common::must_be_stopped(name));
        }
        common::alter_offsets(&self.worker, &entry.config, entry.connector_type, offsets).await
    }

    async fn reset_connector_offsets(&self, name: &str) -> Result<String> {
        let connectors = self.connectors.lock().await;
        let entry = connectors.get(name).ok_or_else(|| not_found(name))?;
        if entry.target != TargetState::Stopped {
            return Err(common::must_be_stopped(name));
        }
        common::reset_offsets(&self.worker, &entry.config, entry.connector_type).await
    }

    async fn connector_topics(&self, name: &str) -> Result<Vec<String>> {
        if !self.connectors.lock().await.contains_key(name) {
            return Err(not_found(name));
        }
        Ok(self.statuses.connector_topics(name))
    }

    async fn reset_connector_topics(&self, name: &str) -> Result<()> {
        if !self.connectors.lock().await.contains_key(name) {
            return Err(not_found(name));
        }
        self.statuses.reset_topics(name);
        Ok(())
    }

    fn worker_tasks_max(&self) -> usize {
        self.worker.config().worker_tasks_max
    }

    fn registry(&self) -> &Arc<PluginRegistry> {
        self.worker.registry()
    }

    async fn shutdown(&self) {
        let connectors = self.connectors.lock().await;
        tracing::info!(
            connectors = connectors.len(),
            "stopping all connectors and tasks"
        );
        self.worker.stop_all().await;
    }
}
