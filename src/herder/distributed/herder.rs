//! The distributed herder (Kafka Connect's `DistributedHerder`): configs, target states and
//! statuses live in Kafka; the group's leader decides who runs what; this worker runs its
//! share and reacts to config changes.
//!
//! One loop owns what this worker runs: assignments from the group, config topic changes,
//! restart requests and connector requests are handled there one at a time, so they never
//! race. REST calls write to the config topic and the loop reacts to what it reads back.
//!
//! Its parts: `member` is this worker as a group member (join, sync, heartbeats and their
//! watchdog), `assignment` the leader's assignment of the work, `fencing` the zombie fencing of
//! exactly-once source tasks, `api` the REST side (the `Herder` trait); this file runs what is
//! assigned here.

mod api;
mod assignment;
mod fencing;
mod member;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::config_store::{ConfigSnapshot, ConfigStore, RestartRecord};
use super::forward::Forwarder;
use super::offset_store::KafkaOffsetStore;
use super::protocol::{self, Assignment, InternalTopicNames, Work, PROTOCOL_NAME};
use super::status_store::KafkaStatusStore;
use crate::config::connector::{ConnectorType, TASKS_MAX};
use crate::config::worker::DistributedSettings;
use crate::config::worker::ExactlyOnceSourceSupport;
use crate::config::ConfigMap;
use crate::errors::{ConnectError, Result};
use crate::herder::common;
use crate::kafka::group::GroupSettings;
use crate::kafka::security::KafkaSecurity;
use crate::plugin::{ConnectorRequest, TaskId};
use crate::runtime::supervise::{spawn_supervised, FatalError};
use crate::runtime::{State, StatusListener, TargetState, Worker};

/// Where this worker stands in the group.
#[derive(Clone, Debug, Default)]
struct GroupView {
    /// False while a rebalance is in progress.
    stable: bool,
    member_id: String,
    leader_id: String,
    leader_url: String,
}

/// What the loop knows about the work this worker runs.
#[derive(Default)]
struct LocalState {
    assignment: Work,
    /// Connectors this worker started (running, paused, stopped or failed), with the config
    /// and target state they reflect.
    connectors: BTreeMap<String, (ConfigMap, TargetState)>,
    /// Tasks this worker started, with what they were started from.
    tasks: BTreeMap<TaskId, StartedTask>,
    /// Task counts as of the last reconciliation (a change needs a rebalance).
    task_counts: BTreeMap<String, usize>,
}

/// What a task was started from.
#[derive(Clone, PartialEq)]
struct StartedTask {
    task: ConfigMap,
    connector: ConfigMap,
    target: TargetState,
    /// The connector's task generation (offset of its task config commit).
    generation: i64,
}

impl StartedTask {
    /// What `snap` says task `id` should run with; `None` when it should not run.
    fn wanted(snap: &ConfigSnapshot, id: &TaskId) -> Option<StartedTask> {
        let target = snap.target(&id.connector);
        if target == TargetState::Stopped {
            return None;
        }
        Some(StartedTask {
            task: snap
                .tasks
                .get(&id.connector)?
                .get(id.task as usize)?
                .clone(),
            connector: snap.connectors.get(&id.connector)?.clone(),
            target,
            generation: snap
                .task_generations
                .get(&id.connector)
                .copied()
                .unwrap_or(0),
        })
    }
}

/// What the loop is told.
enum Event {
    Assigned {
        assignment: Assignment,
        generation: i32,
    },
    Fatal(String),
    /// This worker dropped out of the group: its work may run elsewhere now.
    Lost,
}

/// Everything the distributed herder is built from.
pub struct DistributedParts {
    pub worker: Arc<Worker>,
    pub settings: DistributedSettings,
    pub bootstrap: String,
    /// TLS and SASL of the group membership connection (the top-level worker settings).
    pub security: KafkaSecurity,
    /// This worker's advertised REST URL, `http://host:port` or `https://host:port`.
    pub url: String,
    /// The client for requests to other workers.
    pub forwarder: Forwarder,
    pub topics: InternalTopicNames,
    pub configs: Arc<ConfigStore>,
    pub offsets: Arc<KafkaOffsetStore>,
    pub statuses: Arc<KafkaStatusStore>,
    pub cluster_id: Arc<RwLock<Option<String>>>,
}

/// Runs this worker's share of the cluster's connectors and tasks.
pub struct DistributedHerder {
    worker: Arc<Worker>,
    settings: DistributedSettings,
    url: String,
    topics: InternalTopicNames,
    configs: Arc<ConfigStore>,
    offsets: Arc<KafkaOffsetStore>,
    statuses: Arc<KafkaStatusStore>,
    cluster_id: Arc<RwLock<Option<String>>>,
    group: RwLock<GroupView>,
    group_changed: Notify,
    /// What this worker runs or is still stopping; sent in JoinGroup.
    owned: Mutex<Work>,
    rejoin: Arc<Notify>,
    ready: AtomicBool,
    local: tokio::sync::Mutex<LocalState>,
    /// Stops the event loop (first, on shutdown).
    stop: CancellationToken,
    /// Makes the membership loop leave the group (after the work has stopped).
    leave: CancellationToken,
    membership_task: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// Raised when the worker cannot go on.
    fatal: Arc<FatalError>,
    forwarder: Forwarder,
    /// Restart requests older than this were handled before this worker started.
    restarts_from: i64,
    started_ms: i64,
    /// The advertised REST URLs of the members of the last rebalance this worker led.
    members: Mutex<Vec<String>>,
    /// This herder, for the background work it spawns.
    me: Weak<DistributedHerder>,
    /// The leader's zombie fencing rounds in progress, by connector.
    fencings: Mutex<HashMap<String, FencingRound>>,
    /// Connectors whose fencing this worker has asked the leader for and still waits on.
    preflights: Mutex<BTreeSet<String>>,
}

/// A round of zombie fencing that every worker asking for it awaits.
type FencingRound = futures::future::Shared<futures::future::BoxFuture<'static, Result<()>>>;

/// Give up waiting for the group after this long and answer REST calls with an error.
const GROUP_WAIT: Duration = Duration::from_secs(60);

impl DistributedHerder {
    /// Starts the herder's loops. `requests` are the worker's connector requests; `restarts`
    /// the config store's restart records.
    pub fn start(
        parts: DistributedParts,
        requests: mpsc::UnboundedReceiver<ConnectorRequest>,
        restarts: mpsc::UnboundedReceiver<(i64, RestartRecord)>,
    ) -> Arc<DistributedHerder> {
        let restarts_from = parts.configs.with(|s| s.offset);
        let herder = Arc::new_cyclic(|me| DistributedHerder {
            worker: parts.worker,
            settings: parts.settings,
            url: parts.url,
            topics: parts.topics,
            configs: parts.configs,
            offsets: parts.offsets,
            statuses: parts.statuses,
            cluster_id: parts.cluster_id,
            group: RwLock::new(GroupView::default()),
            group_changed: Notify::new(),
            owned: Mutex::new(Work::default()),
            rejoin: Arc::new(Notify::new()),
            ready: AtomicBool::new(false),
            local: tokio::sync::Mutex::new(LocalState::default()),
            stop: CancellationToken::new(),
            leave: CancellationToken::new(),
            membership_task: Mutex::new(None),
            fatal: Arc::new(FatalError::new()),
            forwarder: parts.forwarder,
            restarts_from,
            started_ms: chrono::Utc::now().timestamp_millis(),
            members: Mutex::new(Vec::new()),
            me: me.clone(),
            fencings: Mutex::new(HashMap::new()),
            preflights: Mutex::new(BTreeSet::new()),
        });
        let (events_tx, events) = mpsc::unbounded_channel();
        let group_settings = GroupSettings {
            bootstrap: parts
                .bootstrap
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
            group_id: herder.settings.group_id.clone(),
            protocol_type: protocol::PROTOCOL_TYPE.to_string(),
            client_id: format!("{}{}", member::CLIENT_ID_PREFIX, herder.worker.worker_id()),
            session_timeout: herder.settings.session_timeout,
            rebalance_timeout: herder.settings.rebalance_timeout,
            request_timeout: Duration::from_secs(30),
            security: parts.security,
        };
        let membership = spawn_supervised(
            "the group membership loop",
            herder.fatal.clone(),
            Self::membership(herder.clone(), group_settings, events_tx),
        );
        *herder.membership_task.lock() = Some(membership);
        spawn_supervised(
            "the herder's event loop",
            herder.fatal.clone(),
            Self::event_loop(herder.clone(), events, requests, restarts),
        );
        herder
    }

    /// The worker that runs this herder's connectors and tasks.
    pub fn worker(&self) -> &Arc<Worker> {
        &self.worker
    }

    /// Resolves when the worker must exit because of an error; returns why.
    pub async fn fatal_error(&self) -> String {
        self.fatal.wait().await
    }

    fn fail(&self, reason: String) {
        self.fatal.raise(reason);
    }

    // ---------------------------------------------------------------- the event loop

    async fn event_loop(
        herder: Arc<DistributedHerder>,
        mut events: mpsc::UnboundedReceiver<Event>,
        mut requests: mpsc::UnboundedReceiver<ConnectorRequest>,
        mut restarts: mpsc::UnboundedReceiver<(i64, RestartRecord)>,
    ) {
        let mut config_changes = herder.configs.changes();
        let mut status_check = tokio::time::interval(herder.settings.heartbeat_interval);
        loop {
            tokio::select! {
                _ = status_check.tick() => herder.reassert_statuses().await,
                e = events.recv() => match e {
                    Some(Event::Assigned { assignment, generation }) => {
                        herder.apply_assignment(assignment, generation).await;
                    }
                    Some(Event::Lost) => herder.drop_all_work().await,
                    Some(Event::Fatal(reason)) => {
                        herder.fail(reason);
                        return;
                    }
                    None => return,
                },
                r = config_changes.changed() => {
                    if r.is_err() { return; }
                    herder.apply_config_changes().await;
                }
                Some((offset, restart)) = restarts.recv() => {
                    if offset >= herder.restarts_from {
                        herder.apply_restart(&restart).await;
                    }
                }
                Some(request) = requests.recv() => herder.apply_connector_request(request).await,
                _ = herder.stop.cancelled() => return,
            }
        }
    }

    async fn apply_assignment(&self, a: Assignment, generation: i32) {
        self.statuses.set_generation(generation);
        if !self
            .configs
            .wait_for_offset(a.config_offset, self.settings.worker_sync_timeout)
            .await
        {
            tracing::warn!(
                offset = a.config_offset,
                "not caught up with the config topic; starting work with what was read"
            );
        }
        tracing::info!(
            generation,
            assigned = %a.assigned,
            revoked = %a.revoked,
            "Joined group at generation {generation} with protocol version {PROTOCOL_NAME} and got assignment"
        );
        let snap = self.configs.snapshot();
        tracing::info!(
            "Starting connectors and tasks using config offset {}",
            snap.offset
        );
        let mut local = self.local.lock().await;
        let to_stop = local.assignment.minus(&a.assigned).union(&a.revoked);
        self.stop_work(&mut local, &to_stop, &snap).await;
        let new_tasks = !a.assigned.tasks.is_subset(&local.assignment.tasks);
        local.assignment = a.assigned.clone();
        *self.owned.lock() = a.assigned.clone();
        if new_tasks {
            // A task that moved here resumes from what its previous owner committed.
            if let Err(e) = self.offsets.read_to_end(Duration::from_secs(30)).await {
                tracing::warn!(error = %e, "could not read the offsets topic to its end");
            }
        }
        // Task counts the leader did not know of (the config moved on since its snapshot) need
        // another round; counts that change from here on are noticed by `reconcile`.
        let rebalance = snap.offset > a.config_offset;
        local.task_counts = snap.task_counts();
        self.reconcile(&mut local, &snap).await;
        drop(local);
        if !a.revoked.is_empty() || rebalance {
            // The revoked work can move now that it is stopped.
            self.rejoin.notify_one();
        }
        if a.delay_ms > 0 {
            let delay = Duration::from_millis(a.delay_ms);
            let rejoin = self.rejoin.clone();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                rejoin.notify_one();
            });
        }
        self.ready.store(true, Ordering::Release);
    }

    /// Repairs statuses of running work that another worker overwrote.
    async fn reassert_statuses(&self) {
        let local = self.local.lock().await;
        let connectors: Vec<String> = local.connectors.keys().cloned().collect();
        let tasks: Vec<TaskId> = local.tasks.keys().cloned().collect();
        drop(local);
        self.statuses.reassert(&connectors, &tasks);
    }

    /// Stops everything this worker runs (it is no longer part of the group).
    async fn drop_all_work(&self) {
        let snap = self.configs.snapshot();
        let mut local = self.local.lock().await;
        let all = local.assignment.clone();
        self.stop_work(&mut local, &all, &snap).await;
        local.assignment = Work::default();
        *self.owned.lock() = Work::default();
    }

    async fn stop_work(&self, local: &mut LocalState, work: &Work, snap: &ConfigSnapshot) {
        if work.is_empty() {
            return;
        }
        let tasks: Vec<TaskId> = work.tasks.iter().cloned().collect();
        self.worker.stop_tasks(&tasks).await;
        // UNASSIGNED only where the status still names this worker: another worker may
        // already run what was revoked here.
        let me = self.worker.worker_id();
        for id in &tasks {
            local.tasks.remove(id);
            let mine = self
                .statuses
                .memory()
                .task(id)
                .is_some_and(|s| s.worker_id == me);
            if mine && snap.connectors.contains_key(&id.connector) {
                self.statuses.task_status(id, State::Unassigned, None);
            }
        }
        for name in &work.connectors {
            self.worker.stop_connector(name).await;
            local.connectors.remove(name);
            let mine = self
                .statuses
                .memory()
                .connector(name)
                .is_some_and(|s| s.worker_id == me);
            if mine && snap.connectors.contains_key(name) {
                self.statuses
                    .connector_status(name, State::Unassigned, None);
            }
        }
    }

    /// Makes the connectors and tasks assigned here run as `snap` says: starts what is not
    /// running, restarts what changed, stops what was deleted, and applies target states.
    /// Returns true when task counts changed (the leader must rebalance).
    async fn reconcile(&self, local: &mut LocalState, snap: &ConfigSnapshot) -> bool {
        for name in local.assignment.connectors.clone() {
            let wanted = snap
                .connectors
                .get(&name)
                .map(|c| (c.clone(), snap.target(&name)));
            match (local.connectors.get(&name).cloned(), wanted) {
                (None, None) => {}
                (Some(_), None) => {
                    tracing::info!(connector = %name, "connector deleted");
                    self.worker.stop_connector(&name).await;
                    local.connectors.remove(&name);
                }
                (None, Some(w)) => {
                    self.start_connector(&name, snap).await;
                    local.connectors.insert(name.clone(), w);
                }
                (Some((config, _)), Some(w)) if config != w.0 => {
                    tracing::info!(connector = %name, "connector config changed; restarting it");
                    self.worker.stop_connector(&name).await;
                    self.start_connector(&name, snap).await;
                    local.connectors.insert(name.clone(), w);
                }
                (Some((_, old)), Some(w)) if old != w.1 => {
                    match (old, w.1) {
                        (_, TargetState::Stopped) => {
                            self.worker.stop_connector(&name).await;
                            self.statuses.connector_status(&name, State::Stopped, None);
                            // Task configs this worker wrote while the stop was on its way.
                            self.remove_task_configs(&name, snap).await;
                        }
                        (TargetState::Stopped, _) => self.start_connector(&name, snap).await,
                        (_, t) => {
                            if self.worker.is_connector_running(&name) {
                                self.statuses
                                    .connector_status(&name, t.running_state(), None);
                            }
                        }
                    }
                    local.connectors.insert(name.clone(), w);
                }
                (Some(_), Some(_)) => {}
            }
        }
        for id in local.assignment.tasks.clone() {
            let wanted = StartedTask::wanted(snap, &id);
            // Exactly-once source tasks: a new generation replaces every task of the old one,
            // and none starts before the old generation has been fenced out.
            let transactional = wanted
                .as_ref()
                .is_some_and(|w| self.is_transactional_source(&w.connector));
            let gated = transactional && snap.fencing_pending.contains(&id.connector);
            match (local.tasks.get(&id).cloned(), wanted) {
                (None, None) => {}
                (Some(_), None) => {
                    self.worker.stop_tasks(std::slice::from_ref(&id)).await;
                    local.tasks.remove(&id);
                }
                (None, Some(_)) if gated => {
                    tracing::debug!(task = %id, "waiting for the zombie fencing of the previous task generation");
                    self.request_zombie_fencing(&id.connector);
                }
                (None, Some(w)) => self.start_task(local, &id, w),
                (Some(old), Some(w)) => {
                    let new_generation = transactional && old.generation != w.generation;
                    if old.task != w.task || old.connector != w.connector || new_generation {
                        tracing::info!(task = %id, "task config changed; restarting the task");
                        self.statuses.task_status(&id, State::Restarting, None);
                        self.worker.stop_tasks(std::slice::from_ref(&id)).await;
                        local.tasks.remove(&id);
                        if gated {
                            self.request_zombie_fencing(&id.connector);
                            continue;
                        }
                        self.start_task(local, &id, w);
                    } else if old.target != w.target {
                        self.worker.set_task_target(&id, w.target);
                        local.tasks.insert(id.clone(), w);
                    }
                }
            }
        }
        let counts = snap.task_counts();
        let changed = counts != local.task_counts;
        local.task_counts = counts;
        changed
    }

    /// Starts a connector instance and, unless it is stopped, writes its task configs when
    /// they changed.
    async fn start_connector(&self, name: &str, snap: &ConfigSnapshot) {
        let Some(config) = snap.connectors.get(name) else {
            return;
        };
        let target = snap.target(name);
        if self
            .worker
            .start_connector(name, config, target)
            .await
            .is_err()
        {
            return;
        }
        if target == TargetState::Stopped {
            self.remove_task_configs(name, snap).await;
            return;
        }
        self.reconfigure_tasks(name, config, snap).await;
    }

    /// A stopped connector has no tasks.
    async fn remove_task_configs(&self, name: &str, snap: &ConfigSnapshot) {
        if snap.task_count(name) > 0 {
            if let Err(e) = self.configs.put_task_configs(name, &[]).await {
                tracing::error!(connector = %name, error = %e, "could not remove the task configs of a stopped connector");
            }
        }
    }

    /// Asks a running connector for task configs and writes them when they changed.
    async fn reconfigure_tasks(&self, name: &str, config: &ConfigMap, snap: &ConfigSnapshot) {
        if !self.worker.is_connector_running(name) {
            return;
        }
        let tasks_max = config
            .get(TASKS_MAX)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1)
            .max(1);
        let result = async {
            let new = self.worker.task_configs(name, tasks_max).await?;
            let old = snap.tasks.get(name).cloned().unwrap_or_default();
            // The connector may have been stopped since `snap` was taken.
            let stopped = self.configs.with(|s| s.target(name)) == TargetState::Stopped;
            if !stopped && common::task_configs_changed(&old, &new) {
                tracing::info!(connector = %name, tasks = new.len(), "writing new task configs");
                self.configs.put_task_configs(name, &new).await?;
            }
            Ok::<_, ConnectError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(connector = %name, error = %e, "could not generate task configs");
            self.statuses
                .connector_status(name, State::Failed, Some(e.trace()));
        }
    }

    /// Whether the tasks of a connector with `config` write through transactions here.
    fn is_transactional_source(&self, config: &ConfigMap) -> bool {
        self.worker.config().exactly_once_source_support == ExactlyOnceSourceSupport::Enabled
            && self.connector_type(config) == Some(ConnectorType::Source)
    }

    fn start_task(&self, local: &mut LocalState, id: &TaskId, from: StartedTask) {
        self.worker
            .start_task(id.clone(), from.task.clone(), &from.connector, from.target);
        local.tasks.insert(id.clone(), from);
    }

    async fn restart_task_locally(
        &self,
        local: &mut LocalState,
        id: &TaskId,
        snap: &ConfigSnapshot,
    ) {
        self.statuses.task_status(id, State::Restarting, None);
        self.worker.stop_tasks(std::slice::from_ref(id)).await;
        local.tasks.remove(id);
        if let Some(w) = StartedTask::wanted(snap, id) {
            if self.is_transactional_source(&w.connector)
                && snap.fencing_pending.contains(&id.connector)
            {
                self.request_zombie_fencing(&id.connector);
                return;
            }
            self.start_task(local, id, w);
        }
    }

    /// Reacts to what changed in the config topic for the work this worker runs.
    async fn apply_config_changes(&self) {
        if !self.ready.load(Ordering::Acquire) {
            return;
        }
        let snap = self.configs.snapshot();
        let mut local = self.local.lock().await;
        let rebalance = self.reconcile(&mut local, &snap).await;
        drop(local);
        if rebalance {
            self.rejoin.notify_one();
        }
    }

    async fn apply_restart(&self, r: &RestartRecord) {
        let snap = self.configs.snapshot();
        let mut local = self.local.lock().await;
        let failed = |s: Option<crate::runtime::Status>| {
            s.map(|s| s.state == State::Failed).unwrap_or(false)
        };
        if local.assignment.connectors.contains(&r.connector)
            && (!r.only_failed || failed(self.statuses.memory().connector(&r.connector)))
        {
            tracing::info!(connector = %r.connector, "restarting connector");
            self.statuses
                .connector_status(&r.connector, State::Restarting, None);
            self.worker.stop_connector(&r.connector).await;
            self.start_connector(&r.connector, &snap).await;
            if let Some(c) = snap.connectors.get(&r.connector) {
                local
                    .connectors
                    .insert(r.connector.clone(), (c.clone(), snap.target(&r.connector)));
            }
        }
        if r.include_tasks {
            let mine: Vec<TaskId> = local
                .assignment
                .tasks
                .iter()
                .filter(|t| t.connector == r.connector)
                .cloned()
                .collect();
            for id in mine {
                if !r.only_failed || failed(self.statuses.memory().task(&id)) {
                    self.restart_task_locally(&mut local, &id, &snap).await;
                }
            }
        }
    }

    async fn apply_connector_request(&self, request: ConnectorRequest) {
        match request {
            ConnectorRequest::ReconfigureTasks { connector } => {
                let snap = self.configs.snapshot();
                let owns = self
                    .local
                    .lock()
                    .await
                    .assignment
                    .connectors
                    .contains(&connector);
                if let (true, Some(config)) = (owns, snap.connectors.get(&connector)) {
                    self.reconfigure_tasks(&connector, config, &snap).await;
                }
            }
            ConnectorRequest::RaiseError { connector, error } => {
                tracing::error!(%connector, error = %error, "connector raised an error");
                self.statuses
                    .connector_status(&connector, State::Failed, Some(error.trace()));
            }
        }
    }
}
