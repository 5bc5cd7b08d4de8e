//! The distributed herder (Kafka Connect's `DistributedHerder`): configs, target states and
//! statuses live in Kafka; the group's leader decides who runs what; this worker runs its
//! share and reacts to config changes.
//!
//! One loop owns what this worker runs: assignments from the group, config topic changes,
//! restart requests and connector requests are handled there one at a time, so they never
//! race. REST calls write to the config topic and the loop reacts to what it reads back.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::{Mutex, RwLock};
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;

use super::assignor::{self, AssignorState};
use super::config_store::{ConfigSnapshot, ConfigStore, RestartRecord};
use super::forward::{self, Forwarder};
use super::offset_store::KafkaOffsetStore;
use super::protocol::{self, Assignment, InternalTopicNames, MemberMetadata, Work, PROTOCOL_NAME};
use super::status_store::KafkaStatusStore;
use crate::config::connector::{ConnectorType, NAME, TASKS_MAX};
use crate::config::worker::DistributedSettings;
use crate::config::worker::ExactlyOnceSourceSupport;
use crate::config::ConfigMap;
use crate::errors::{ConnectError, Result};
use crate::herder::common::{self, not_found, task_not_found};
use crate::herder::types::*;
use crate::herder::validation::{connector_type_of, invalid_config_message, validate_off_runtime};
use crate::herder::{Created, Herder, WorkerInfo};
use crate::kafka::group::{GroupMember, GroupSettings, HeartbeatOutcome, JoinedGroup};
use crate::kafka::security::KafkaSecurity;
use crate::plugin::{ConnectorRequest, PluginRegistry, TaskId};
use crate::runtime::supervise::{spawn_supervised, FatalError};
use crate::runtime::transactions::{fence_producers, transactional_id};
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

/// What became of an assignment.
enum Accepted {
    Applied,
    Unreadable,
    Fatal,
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
}

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
        let herder = Arc::new(DistributedHerder {
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
            client_id: format!("{CLIENT_ID_PREFIX}{}", herder.worker.worker_id()),
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

    // ---------------------------------------------------------------- group membership

    fn metadata(&self) -> MemberMetadata {
        MemberMetadata {
            version: 1,
            url: self.url.clone(),
            config_offset: self.configs.with(|s| s.offset),
            owned: self.owned.lock().clone(),
            topics: self.topics.clone(),
            started_ms: self.started_ms,
        }
    }

    fn set_unstable(&self) {
        self.group.write().stable = false;
    }

    /// Joins the group, assigns when leader, and heartbeats until the next rebalance.
    async fn membership(
        herder: Arc<DistributedHerder>,
        settings: GroupSettings,
        events: mpsc::UnboundedSender<Event>,
    ) {
        let mut member = GroupMember::new(settings);
        let mut assignor_state = AssignorState::default();
        let (mut failed_leader, mut failed_syncs) = (String::new(), 0u32);
        // When the coordinator last showed it still knew this member.
        let alive = Arc::new(Mutex::new(Instant::now()));
        loop {
            if herder.leave.is_cancelled() {
                break;
            }
            herder.set_unstable();
            let metadata = protocol::encode(&herder.metadata());
            // A member that cannot rejoin within its session has been dropped from the group
            // and its work given to others: stop it here rather than run it twice.
            let keep_alive = member.keep_alive(herder.settings.heartbeat_interval, alive.clone());
            let joined = {
                let join = member.join(PROTOCOL_NAME, metadata);
                tokio::pin!(join);
                let mut lost_sent = false;
                let joined = loop {
                    tokio::select! {
                        j = &mut join => break Some(j),
                        _ = tokio::time::sleep(Duration::from_millis(200)), if !lost_sent => {
                            if alive.lock().elapsed() < herder.settings.session_timeout {
                                continue;
                            }
                            lost_sent = true;
                            tracing::warn!("could not rejoin the group within session.timeout.ms; stopping this worker's connectors and tasks");
                            let _ = events.send(Event::Lost);
                        }
                        _ = herder.leave.cancelled() => break None,
                    }
                };
                joined
            };
            let Some(joined) = joined else { break };
            let joined = match joined {
                Ok(j) => j,
                Err(e) => {
                    let _ = events.send(Event::Fatal(format!(
                        "cannot join group {}: {e}",
                        herder.settings.group_id
                    )));
                    return;
                }
            };
            let assignments = if joined.is_leader() {
                herder.lead(&joined, &mut assignor_state).await
            } else {
                Vec::new()
            };
            let Ok(Some(bytes)) = member.sync(assignments).await else {
                tracing::debug!(generation = joined.generation, leader = %joined.leader_id, "SyncGroup asked for a rejoin");
                if !joined.is_leader() {
                    failed_syncs = if failed_leader == joined.leader_id {
                        failed_syncs + 1
                    } else {
                        1
                    };
                    failed_leader = joined.leader_id.clone();
                    if failed_syncs == 2 && leader_is_gone(&joined.leader_id).await {
                        tracing::warn!(
                            leader = %joined.leader_id,
                            "the broker keeps naming a dead worker as the group's leader; reviving its session so that it expires and a new leader is elected"
                        );
                        if let Err(e) = member
                            .revive_expired_member(&joined.leader_id, PROTOCOL_NAME)
                            .await
                        {
                            tracing::warn!(error = %e, "could not revive the dead leader's session");
                        }
                    }
                }
                continue;
            };
            failed_syncs = 0;
            match herder.accept(&bytes, &joined, &events) {
                Accepted::Applied => *alive.lock() = Instant::now(),
                Accepted::Unreadable => continue,
                Accepted::Fatal => {
                    member.leave().await;
                    return;
                }
            }
            drop(keep_alive);
            let mut current = bytes;

            // Heartbeat at once: tansu only counts heartbeats as signs of life, and a worker
            // that rebalances several times in a row would otherwise look dead.
            let mut last_ok = Instant::now();
            let mut wait = Duration::ZERO;
            loop {
                tokio::select! {
                    biased;
                    _ = tokio::time::sleep(wait) => {
                        wait = herder.settings.heartbeat_interval;
                        let stable = member.still_stable().await;
                        match member.heartbeat().await {
                            Ok(HeartbeatOutcome::Stable) => {
                                last_ok = Instant::now();
                                *alive.lock() = last_ok;
                            }
                            Ok(HeartbeatOutcome::Rejoin) => {
                                tracing::debug!("the group is rebalancing");
                                break;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "heartbeat failed");
                                if last_ok.elapsed() > herder.settings.session_timeout {
                                    member.reset_member();
                                    break;
                                }
                            }
                        }
                        if !stable {
                            tracing::debug!("the group is no longer stable");
                            break;
                        }
                        // The same generation can carry a newer assignment (tansu re-forms a
                        // group after a member expires without a new generation): fetch ours.
                        match member.sync(Vec::new()).await {
                            Ok(Some(bytes)) if bytes.is_empty() => break,
                            Ok(Some(bytes)) if bytes != current => {
                                match herder.accept(&bytes, &joined, &events) {
                                    Accepted::Applied => current = bytes,
                                    Accepted::Unreadable => break,
                                    Accepted::Fatal => {
                                        member.leave().await;
                                        return;
                                    }
                                }
                            }
                            Ok(Some(_)) => {}
                            Ok(None) | Err(_) => break,
                        }
                    }
                    _ = herder.rejoin.notified() => {
                        tracing::debug!("rejoining the group on request");
                        break;
                    }
                    _ = herder.leave.cancelled() => {
                        member.leave().await;
                        return;
                    }
                }
            }
        }
        member.leave().await;
    }

    /// Hands a SyncGroup assignment to the event loop.
    fn accept(
        &self,
        bytes: &[u8],
        joined: &JoinedGroup,
        events: &mpsc::UnboundedSender<Event>,
    ) -> Accepted {
        let assignment: Assignment = match protocol::decode(bytes, "assignment") {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "unreadable assignment; rejoining");
                return Accepted::Unreadable;
            }
        };
        if let Some(error) = &assignment.error {
            let _ = events.send(Event::Fatal(error.clone()));
            return Accepted::Fatal;
        }
        {
            let mut owned = self.owned.lock();
            *owned = owned.union(&assignment.assigned);
        }
        *self.group.write() = GroupView {
            stable: true,
            member_id: joined.member_id.clone(),
            leader_id: assignment.leader.clone(),
            leader_url: assignment.leader_url.clone(),
        };
        self.group_changed.notify_waiters();
        let _ = events.send(Event::Assigned {
            assignment,
            generation: joined.generation,
        });
        Accepted::Applied
    }

    /// The leader's part of a rebalance: one assignment per member.
    async fn lead(
        &self,
        joined: &JoinedGroup,
        state: &mut AssignorState,
    ) -> Vec<(String, bytes::Bytes)> {
        let mut members: Vec<(String, MemberMetadata)> = Vec::new();
        for (id, bytes) in &joined.members {
            match protocol::decode::<MemberMetadata>(bytes, "metadata") {
                Ok(m) => members.push((id.clone(), m)),
                Err(e) => {
                    tracing::error!(member = %id, error = %e, "ignoring a member with unreadable metadata")
                }
            }
        }
        let (accepted, refused) = split_by_topics(&members);
        *self.members.lock() = accepted.iter().map(|(_, m)| m.url.clone()).collect();
        let max_offset = accepted
            .iter()
            .map(|(_, m)| m.config_offset)
            .max()
            .unwrap_or(0);
        if !self
            .configs
            .wait_for_offset(max_offset, self.settings.worker_sync_timeout)
            .await
        {
            tracing::warn!(
                offset = max_offset,
                "leader is behind the config topic; assigning with what it has read"
            );
        }
        let snapshot = self.configs.snapshot();
        let configured = assignor::configured_work(&snapshot.task_counts());
        let reported: BTreeMap<String, Work> = accepted
            .iter()
            .map(|(id, m)| (id.clone(), m.owned.clone()))
            .collect();
        // A member's metadata can be older than what this leader last gave it (tansu hands
        // the leader the members' previous JoinGroup metadata before they rejoin).
        // And the status topic says where tasks run.
        let mut inferred: BTreeMap<String, Work> = accepted
            .iter()
            .filter_map(|(id, _)| state.previous(id).map(|w| (id.clone(), w.clone())))
            .collect();
        let members_by_worker: BTreeMap<&str, &String> = accepted
            .iter()
            .map(|(id, m)| (forward::worker_id_of(&m.url), id))
            .collect();
        for task in &configured.tasks {
            let Some(status) = self.statuses.memory().task(task) else {
                continue;
            };
            let active = matches!(
                status.state,
                State::Running | State::Paused | State::Failed | State::Restarting
            );
            if let (true, Some(member)) = (active, members_by_worker.get(status.worker_id.as_str()))
            {
                inferred
                    .entry((*member).clone())
                    .or_default()
                    .tasks
                    .insert(task.clone());
            }
        }
        let round = assignor::assign(
            state,
            &reported,
            &inferred,
            &configured,
            self.settings.scheduled_rebalance_max_delay,
            Instant::now(),
        );
        tracing::debug!(
            generation = joined.generation,
            members = reported.len(),
            configured = %configured,
            delay_ms = round.delay.as_millis() as u64,
            "leader computed the assignment"
        );
        let mut out = Vec::new();
        for (id, a) in round.members {
            out.push((
                id,
                protocol::encode(&Assignment {
                    error: None,
                    leader: joined.member_id.clone(),
                    leader_url: self.url.clone(),
                    config_offset: snapshot.offset,
                    assigned: a.assigned,
                    revoked: a.revoked,
                    delay_ms: round.delay.as_millis() as u64,
                }),
            ));
        }
        for (id, m, expected) in refused {
            out.push((
                id,
                protocol::encode(&Assignment {
                    error: Some(format!(
                        "this worker's internal topics ({}) differ from the rest of group {} ({expected}); \
                         every worker of a Connect cluster must use the same config, offset and status topics",
                        m.topics, self.settings.group_id
                    )),
                    leader: joined.member_id.clone(),
                    leader_url: self.url.clone(),
                    ..Default::default()
                }),
            ));
        }
        out
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
            if !stopped {
                self.fence_zombies_if_needed(name, config).await?;
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

    /// Zombie fencing (KIP-618): when a source connector's latest task generation has no
    /// task-count record yet, fences out the transactional ids of every earlier generation
    /// (so no zombie task can write again) and writes Connect's task-count record, which lets
    /// the new generation's tasks start. Done by the worker that runs the connector and writes
    /// its task configs, in `preparing` mode too.
    async fn fence_zombies_if_needed(&self, name: &str, config: &ConfigMap) -> Result<()> {
        let mode = self.worker.config().exactly_once_source_support;
        if !mode.fences() || self.connector_type(config) != Some(ConnectorType::Source) {
            return Ok(());
        }
        self.configs.read_to_end().await?;
        let (pending, previous, current) = self.configs.with(|s| {
            (
                s.fencing_pending.contains(name)
                    || (s.task_count(name) > 0 && !s.fenced_task_counts.contains_key(name)),
                s.fenced_task_counts.get(name).copied().unwrap_or(0),
                s.task_count(name),
            )
        });
        if !pending || current == 0 {
            return Ok(());
        }
        // Ids of the current generation too: its tasks have not started (they wait for the
        // task-count record), so any producer with those ids is a zombie of an older one.
        let count = previous.max(current);
        let ids: Vec<String> = (0..count as i32)
            .map(|t| transactional_id(&self.settings.group_id, name, t))
            .collect();
        tracing::info!(connector = %name, count, "Fencing out {count} task producers for source connector {name}");
        fence_producers(
            &self.worker.config().bootstrap_servers,
            &self.worker.config().producer,
            ids,
        )
        .await?;
        tracing::info!(connector = %name, "Finished fencing out {count} task producers for source connector {name}");
        self.configs.put_task_count(name, current).await
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

    // ---------------------------------------------------------------- REST helpers

    /// Waits until the group is stable (a rebalance has finished), up to `GROUP_WAIT`.
    async fn stable_group(&self) -> Result<GroupView> {
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

    fn connector_type(&self, config: &ConfigMap) -> Option<ConnectorType> {
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

/// Whether a leader that did not assign is dead: its REST port (from its member id, which
/// starts with its client id `conveyor-<host:port>`) refuses connections.
async fn leader_is_gone(leader_id: &str) -> bool {
    let Some(address) = worker_address_of(leader_id) else {
        return false;
    };
    matches!(
        tokio::time::timeout(
            Duration::from_secs(1),
            tokio::net::TcpStream::connect(address.as_str())
        )
        .await,
        Ok(Err(_))
    )
}

/// `host:port` from a member id `conveyor-<host:port>-<uuid>`.
fn worker_address_of(member_id: &str) -> Option<String> {
    let rest = member_id.strip_prefix(CLIENT_ID_PREFIX)?;
    // `-` and a 36-character UUID.
    let cut = rest.len().checked_sub(37)?;
    let (address, uuid) = (rest.get(..cut)?, rest.get(cut..)?);
    (uuid.starts_with('-') && address.contains(':')).then(|| address.to_string())
}

/// Members are named after their client id, which names the worker.
const CLIENT_ID_PREFIX: &str = "conveyor-";

/// Splits members into those using the group's internal topics and those that do not. The
/// topics most members use win; on a tie, those of the members running the most work, then
/// those of the oldest worker (a newcomer with other topics does not evict the cluster).
#[allow(clippy::type_complexity)]
fn split_by_topics(
    members: &[(String, MemberMetadata)],
) -> (
    Vec<(String, MemberMetadata)>,
    Vec<(String, MemberMetadata, InternalTopicNames)>,
) {
    let mut votes: BTreeMap<&InternalTopicNames, (usize, usize, i64)> = BTreeMap::new();
    for (_, m) in members {
        let v = votes.entry(&m.topics).or_insert((0, 0, i64::MIN));
        v.0 += 1;
        v.1 += m.owned.len();
        // Negated, so that the earliest start is the largest.
        v.2 = v.2.max(-m.started_ms);
    }
    let Some(winner) = votes
        .iter()
        .max_by_key(|(_, v)| **v)
        .map(|(t, _)| (*t).clone())
    else {
        return (Vec::new(), Vec::new());
    };
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for (id, m) in members {
        if m.topics == winner {
            accepted.push((id.clone(), m.clone()));
        } else {
            refused.push((id.clone(), m.clone(), winner.clone()));
        }
    }
    (accepted, refused)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_address_from_member_id() {
        assert_eq!(
            worker_address_of("conveyor-127.0.0.1:18081-eab13749-716a-46e2-9356-3b53542bf65d")
                .as_deref(),
            Some("127.0.0.1:18081")
        );
        assert_eq!(
            worker_address_of("conveyor-my-host:8083-eab13749-716a-46e2-9356-3b53542bf65d")
                .as_deref(),
            Some("my-host:8083")
        );
        assert_eq!(worker_address_of("consumer-1-abc"), None);
    }
}
