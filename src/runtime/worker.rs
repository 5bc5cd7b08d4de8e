//! The worker runs connectors and tasks (Kafka Connect's `Worker`). It does not decide what
//! runs where: a herder tells it.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::Handle;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::offsets::OffsetStore;
use super::shared_producer::SourceProducers;
use super::sink_task::SinkTaskLoop;
use super::source_task::SourceTaskLoop;
use super::state::{State, TargetState};
use super::status::StatusListener;
use super::topic_creation::TopicCreator;
use crate::config::connector::{ConnectorConfig, ConnectorType, TASK_CLASS};
use crate::config::provider::ConfigProviders;
use crate::config::worker::WORKER_TASKS_MAX;
use crate::config::{ConfigMap, WorkerConfig};
use crate::errors::{ConnectError, Result};
use crate::kafka::ClientHealth;
use crate::metrics::{metrics, TaskLabels, TaskMetrics};
use crate::plugin::{Connector, ConnectorContext, ConnectorRequest, PluginRegistry, Task, TaskId};

/// Puts `${...}` references back into task configs where the connector copied a resolved
/// value, so secrets are not stored or shown (Connect's `AbstractHerder.reverseTransform`).
fn reverse_transform(mut task: ConfigMap, raw: &ConfigMap, resolved: &ConfigMap) -> ConfigMap {
    for (key, value) in task.iter_mut() {
        if let (Some(r), Some(res)) = (raw.get(key), resolved.get(key)) {
            if r != res && value == res {
                *value = r.clone();
            }
        }
    }
    task
}

/// The name of a task's thread: `task-<connector>-<n>`, with control characters (which a
/// thread name cannot hold, NUL above all) replaced.
fn thread_name(id: &TaskId) -> String {
    format!("task-{id}")
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// What a task thread needs from the worker.
pub(crate) struct TaskEnv {
    pub id: TaskId,
    pub worker: Arc<WorkerConfig>,
    pub bootstrap: String,
    pub registry: Arc<PluginRegistry>,
    pub offsets: Arc<dyn OffsetStore>,
    pub connector: ConnectorConfig,
    pub task_config: ConfigMap,
    pub control: TaskControl,
    pub rt: Handle,
    pub health: Arc<ClientHealth>,
    pub topics: Arc<TopicCreator>,
    pub producers: Arc<SourceProducers>,
    pub metrics: TaskMetrics,
    status: Arc<dyn StatusListener>,
    superseded: Arc<AtomicBool>,
}

impl TaskEnv {
    /// Records that this task's connector uses `topic` (KIP-558).
    pub fn topic_used(&self, topic: &str) {
        if !self.superseded.load(Ordering::Acquire) {
            self.status.topic_used(&self.id.connector, topic);
        }
    }

    /// Reports this task's state, unless the worker has given up on this instance.
    pub fn report(&self, state: State, trace: Option<String>) {
        if !self.superseded.load(Ordering::Acquire) {
            self.status.task_status(&self.id, state, trace);
        }
    }
}

/// How the worker steers a running task.
#[derive(Clone)]
pub(crate) struct TaskControl {
    pub cancel: CancellationToken,
    pub target: watch::Receiver<TargetState>,
}

struct RunningTask {
    cancel: CancellationToken,
    target: watch::Sender<TargetState>,
    done: Option<oneshot::Receiver<()>>,
    superseded: Arc<AtomicBool>,
    /// Set by the task's thread when it ends, so that an abandoned task can be told apart
    /// from one that finished late.
    finished: Arc<AtomicBool>,
}

/// Work that did not stop within the graceful timeouts and was left behind.
#[derive(Default)]
struct Abandoned {
    tasks: Vec<(TaskId, Arc<AtomicBool>)>,
    connectors: Vec<(String, Arc<AtomicBool>)>,
}

struct RunningConnector {
    connector: Arc<tokio::sync::Mutex<Box<dyn Connector>>>,
    connector_type: ConnectorType,
    /// The config as stored (with `${...}` references) and as the connector saw it.
    raw_config: ConfigMap,
    resolved_config: ConfigMap,
}

/// Tasks and connectors that did not stop in time (see [`Worker::abandoned`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AbandonedWork {
    pub tasks: Vec<TaskId>,
    pub connectors: Vec<String>,
}

impl AbandonedWork {
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty() && self.connectors.is_empty()
    }
}

/// Identity and shared services of a worker.
pub struct WorkerServices {
    pub worker_id: String,
    pub config: Arc<WorkerConfig>,
    /// `bootstrap.servers` as clients use it (the embedded broker's address when embedded).
    pub bootstrap: String,
    pub registry: Arc<PluginRegistry>,
    pub offsets: Arc<dyn OffsetStore>,
    pub status: Arc<dyn StatusListener>,
    /// Topic creation on the embedded broker, when the worker runs on it.
    pub embedded_topics: Option<crate::kafka::EmbeddedTopics>,
    /// Resolves `${provider:path:key}` references when connectors and tasks start.
    pub providers: Arc<ConfigProviders>,
    /// Connector-specific offsets topics (`offsets.storage.topic`), in distributed mode.
    pub offset_topics: Option<Arc<dyn super::offsets::ConnectorOffsetTopics>>,
}

/// Runs connectors and tasks.
pub struct Worker {
    services: WorkerServices,
    rt: Handle,
    topics: Arc<TopicCreator>,
    /// Producers shared by at-least-once source tasks.
    producers: Arc<SourceProducers>,
    connectors: Mutex<HashMap<String, RunningConnector>>,
    tasks: Mutex<HashMap<TaskId, RunningTask>>,
    requests: mpsc::UnboundedSender<ConnectorRequest>,
    abandoned: Mutex<Abandoned>,
}

impl Worker {
    /// A worker; requests connectors make (reconfigure, fail) arrive on the returned receiver.
    pub fn new(
        services: WorkerServices,
        rt: Handle,
    ) -> (Worker, mpsc::UnboundedReceiver<ConnectorRequest>) {
        let (tx, rx) = mpsc::unbounded_channel();
        // The embedded mock broker would give new topics 4 partitions: one keeps a quickstart's
        // lines in order.
        let default_partitions = if services.config.uses_embedded_broker() {
            1
        } else {
            -1
        };
        let topics = Arc::new(TopicCreator::new(
            services.bootstrap.clone(),
            services.config.admin.clone(),
            default_partitions,
            services.embedded_topics.clone(),
        ));
        (
            Worker {
                services,
                rt,
                topics,
                producers: Arc::default(),
                connectors: Mutex::new(HashMap::new()),
                tasks: Mutex::new(HashMap::new()),
                requests: tx,
                abandoned: Mutex::default(),
            },
            rx,
        )
    }

    pub fn worker_id(&self) -> &str {
        &self.services.worker_id
    }

    pub fn config(&self) -> &Arc<WorkerConfig> {
        &self.services.config
    }

    pub fn registry(&self) -> &Arc<PluginRegistry> {
        &self.services.registry
    }

    pub fn offsets(&self) -> &Arc<dyn OffsetStore> {
        &self.services.offsets
    }

    /// The offsets of a source connector with `config`: with a connector-specific offsets
    /// topic, that topic's (opened for the call) layered over the worker's; else the worker's.
    pub async fn source_offsets(&self, config: &ConfigMap) -> Result<Arc<dyn OffsetStore>> {
        let topic = super::offsets::connector_offsets_topic(&self.services.config, config);
        match (topic, &self.services.offset_topics) {
            (Some(topic), Some(topics)) => Ok(Arc::new(super::offsets::LayeredOffsetStore {
                connector: topics.open(&topic).await?,
                worker: self.services.offsets.clone(),
            })),
            _ => Ok(self.services.offsets.clone()),
        }
    }

    pub fn bootstrap(&self) -> &str {
        &self.services.bootstrap
    }

    /// Starts a connector instance under `target`. Failures become a FAILED status, and are
    /// also returned.
    pub async fn start_connector(
        &self,
        name: &str,
        config: &ConfigMap,
        target: TargetState,
    ) -> Result<()> {
        let status = self.services.status.clone();
        if target == TargetState::Stopped {
            status.connector_status(name, State::Stopped, None);
            return Ok(());
        }
        let span = tracing::info_span!("connector", connector = %name);
        metrics().connector_startup_attempts.inc();
        let result = async {
            // A name stored before names were checked (config topic, config dir) fails here,
            // as Connect's `ConnectorConfig` would fail it, and only this connector.
            crate::config::connector::check_name(name)?;
            let class = config
                .get(crate::config::connector::CONNECTOR_CLASS)
                .cloned()
                .unwrap_or_default();
            let plugin = self.services.registry.connector(&class)?;
            let resolved = self.services.providers.resolve(config)?;
            let mut connector = (plugin.new_connector)()?;
            let ctx = ConnectorContext::new(name, self.requests.clone());
            connector
                .start(resolved.clone(), ctx)
                .await
                .map_err(|e| e.context("error calling Connector.start"))?;
            tracing::info!(class = %plugin.class, "connector started");
            Ok::<_, ConnectError>(RunningConnector {
                connector: Arc::new(tokio::sync::Mutex::new(connector)),
                connector_type: plugin.connector_type,
                raw_config: config.clone(),
                resolved_config: resolved,
            })
        }
        .instrument(span)
        .await;
        match result {
            Ok(running) => {
                metrics().connector_startup_success.inc();
                if self
                    .connectors
                    .lock()
                    .insert(name.to_string(), running)
                    .is_none()
                {
                    metrics().connector_count.inc();
                }
                status.connector_status(name, target.running_state(), None);
                Ok(())
            }
            Err(e) => {
                metrics().connector_startup_failure.inc();
                tracing::error!(connector = %name, error = %e, "connector failed to start");
                status.connector_status(name, State::Failed, Some(e.trace()));
                Err(e)
            }
        }
    }

    pub fn is_connector_running(&self, name: &str) -> bool {
        self.connectors.lock().contains_key(name)
    }

    pub fn connector_type(&self, name: &str) -> Option<ConnectorType> {
        self.connectors.lock().get(name).map(|c| c.connector_type)
    }

    /// Asks a running connector for task configs, each with `task.class` added. A `max_tasks`
    /// above `worker.tasks.max` (a config that reached this worker without its validation, from
    /// the config topic or a worker with a higher limit) is an error: the connector fails with
    /// it rather than the worker running out of memory and threads.
    pub async fn task_configs(&self, name: &str, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        let limit = self.services.config.worker_tasks_max;
        if max_tasks > limit {
            return Err(ConnectError::Config(format!(
                "Connector {name} asks for {max_tasks} tasks (tasks.max), but this worker runs at most {limit} tasks ({WORKER_TASKS_MAX}). Lower tasks.max, or raise {WORKER_TASKS_MAX} in the worker config if the worker can hold that many tasks."
            )));
        }
        let (connector, raw, resolved) = self
            .connectors
            .lock()
            .get(name)
            .map(|c| {
                (
                    c.connector.clone(),
                    c.raw_config.clone(),
                    c.resolved_config.clone(),
                )
            })
            .ok_or_else(|| {
                ConnectError::NotFound(format!("Connector {name} is not running on this worker"))
            })?;
        let mut c = connector.lock().await;
        let task_class = c.task_class();
        let configs = c
            .task_configs(max_tasks)
            .await
            .map_err(|e| e.context("error calling Connector.task_configs"))?;
        if configs.len() > max_tasks {
            return Err(ConnectError::Config(format!(
                "The connector {name} has generated {} tasks, which is greater than {max_tasks}, the maximum number of tasks it is configured to create.",
                configs.len()
            )));
        }
        Ok(configs
            .into_iter()
            .map(|cfg| {
                let mut cfg = reverse_transform(cfg, &raw, &resolved);
                cfg.insert(TASK_CLASS.to_string(), task_class.clone());
                cfg
            })
            .collect())
    }

    /// Stops a connector instance (not its tasks), waiting at most
    /// `task.shutdown.graceful.timeout.ms` for it, as Connect does; one that takes longer is
    /// abandoned.
    pub async fn stop_connector(&self, name: &str) {
        let running = self.connectors.lock().remove(name);
        if let Some(r) = running {
            metrics().connector_count.dec();
            let timeout = self
                .services
                .config
                .task_shutdown_graceful_timeout
                .max(Duration::from_secs(1));
            let finished = Arc::new(AtomicBool::new(false));
            let flag = finished.clone();
            let connector = r.connector.clone();
            let stopping = tokio::spawn(async move {
                let stopped = connector.lock().await.stop().await;
                flag.store(true, Ordering::Release);
                stopped
            });
            match tokio::time::timeout(timeout, stopping).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => {
                    tracing::warn!(connector = %name, error = %e, "error calling Connector.stop")
                }
                Ok(Err(e)) => {
                    tracing::warn!(connector = %name, error = %e, "Connector.stop panicked")
                }
                Err(_) => {
                    tracing::error!(connector = %name, "connector did not stop in time; abandoning it");
                    self.abandoned
                        .lock()
                        .connectors
                        .push((name.to_string(), finished));
                }
            }
        }
    }

    /// Starts a task thread. Failures to build the task become its FAILED status.
    pub fn start_task(
        &self,
        id: TaskId,
        task_config: ConfigMap,
        connector_config: &ConfigMap,
        target: TargetState,
    ) {
        self.stop_task_now(&id);
        let limit = self.services.config.worker_tasks_max;
        let running = self.tasks.lock().len();
        if running >= limit {
            tracing::error!(task = %id, running, limit, "task not started: the worker runs as many tasks as {WORKER_TASKS_MAX} allows");
            self.services.status.task_status(
                &id,
                State::Failed,
                Some(ConnectError::Other(format!(
                    "Task {id} was not started: this worker already runs {running} tasks, the most {WORKER_TASKS_MAX}={limit} allows. Delete or stop connectors, lower their tasks.max, or raise {WORKER_TASKS_MAX} if the worker can hold more tasks; then restart the task."
                )).trace()),
            );
            return;
        }
        let (target_tx, target_rx) = watch::channel(target);
        let cancel = CancellationToken::new();
        let superseded = Arc::new(AtomicBool::new(false));
        let (done_tx, done_rx) = oneshot::channel();
        let status = self.services.status.clone();
        let registry = self.services.registry.clone();
        let connector_cfg = connector_config.clone();
        let providers = self.services.providers.clone();
        let env_parts = (
            self.services.config.clone(),
            self.services.bootstrap.clone(),
            self.services.offsets.clone(),
            self.rt.clone(),
            self.topics.clone(),
            self.producers.clone(),
            self.services.offset_topics.clone(),
        );
        let thread_id = id.clone();
        let control = TaskControl {
            cancel: cancel.clone(),
            target: target_rx,
        };
        let sup = superseded.clone();
        let finished = Arc::new(AtomicBool::new(false));
        let finished_in_thread = finished.clone();
        let spawn = std::thread::Builder::new().name(thread_name(&id)).spawn(move || {
            let id = thread_id;
            let (worker, bootstrap, offsets, rt, topics, producers, offset_topics) = env_parts;
            let span = tracing::info_span!("task", connector = %id.connector, task = id.task);
            let _entered = span.enter();
            tracing::info!("task starting");
            let report = |state: State, trace: Option<String>| {
                if !sup.load(Ordering::Acquire) {
                    status.task_status(&id, state, trace);
                }
            };
            metrics().task_startup_attempts.inc();
            let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<()> {
                let class = task_config.get(TASK_CLASS).cloned().unwrap_or_default();
                // Secrets are resolved here, at task start, and live only in the task.
                let task_config = providers.resolve(&task_config)?;
                let connector_cfg = providers.resolve(&connector_cfg)?;
                let task = (registry.task(&class)?.new_task)()?;
                let connector_type = match &task {
                    Task::Source(_) => ConnectorType::Source,
                    Task::Sink(_) => ConnectorType::Sink,
                };
                let connector = ConnectorConfig::parse(&connector_cfg, Some(connector_type))?;
                let offsets = match (
                    connector_type,
                    super::offsets::connector_offsets_topic(&worker, &connector.raw),
                    &offset_topics,
                ) {
                    (ConnectorType::Source, Some(topic), Some(topics)) => {
                        let own = rt.block_on(topics.open(&topic)).map_err(|e| {
                            e.context(format!("could not open the connector's offsets topic {topic}"))
                        })?;
                        Arc::new(super::offsets::LayeredOffsetStore {
                            connector: own,
                            worker: offsets,
                        }) as Arc<dyn OffsetStore>
                    }
                    _ => offsets,
                };
                let env = TaskEnv {
                    id: id.clone(),
                    worker,
                    bootstrap,
                    registry: registry.clone(),
                    offsets,
                    connector,
                    task_config,
                    control,
                    rt,
                    health: Arc::new(ClientHealth::default()),
                    topics,
                    producers,
                    metrics: TaskMetrics::new(&id.connector, id.task),
                    status: status.clone(),
                    superseded: sup.clone(),
                };
                match task {
                    Task::Source(task) => SourceTaskLoop::new(env, task)?.run(),
                    Task::Sink(task) => SinkTaskLoop::new(env, task)?.run(),
                }
            }));
            match outcome {
                // A deliberate stop leaves the status to the herder (deleted, restarting,
                // reassigned, ...): reporting here could overwrite what it set.
                Ok(Ok(())) => tracing::info!("task stopped"),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "task failed");
                    report(State::Failed, Some(e.trace()));
                }
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "unknown panic".into());
                    tracing::error!(panic = %msg, "task panicked");
                    report(State::Failed, Some(format!("org.apache.kafka.connect.errors.ConnectException: task panicked: {msg}")));
                }
            }
            finished_in_thread.store(true, Ordering::Release);
            let _ = done_tx.send(());
        });
        if let Err(e) = spawn {
            self.services.status.task_status(
                &id,
                State::Failed,
                Some(format!("could not start the task thread: {e}")),
            );
            return;
        }
        metrics().task_count.inc();
        self.tasks.lock().insert(
            id,
            RunningTask {
                cancel,
                target: target_tx,
                done: Some(done_rx),
                superseded,
                finished,
            },
        );
    }

    /// Signals a task to stop without waiting for it.
    fn stop_task_now(&self, id: &TaskId) -> Option<RunningTask> {
        let t = self.tasks.lock().remove(id)?;
        t.cancel.cancel();
        metrics().task_count.dec();
        metrics().forget_task(&TaskLabels {
            connector: id.connector.clone(),
            task: id.task.to_string(),
        });
        Some(t)
    }

    /// Stops tasks and waits for them, up to `task.shutdown.graceful.timeout.ms` in all
    /// (a stuck task is abandoned and its later status updates are ignored).
    pub async fn stop_tasks(&self, ids: &[TaskId]) {
        let mut waiting = Vec::new();
        for id in ids {
            if let Some(t) = self.stop_task_now(id) {
                waiting.push((id.clone(), t));
            }
        }
        // Tasks flush their producer and offsets on the way out; give them the flush timeout too.
        let timeout = self.services.config.task_shutdown_graceful_timeout
            + self.services.config.offset_flush_timeout;
        let deadline = tokio::time::Instant::now() + timeout.max(Duration::from_secs(1));
        let stopped_any = !waiting.is_empty();
        for (id, mut t) in waiting {
            if let Some(done) = t.done.take() {
                if tokio::time::timeout_at(deadline, done).await.is_err() {
                    tracing::error!(task = %id, "task did not stop in time; abandoning it");
                    t.superseded.store(true, Ordering::Release);
                    self.abandoned
                        .lock()
                        .tasks
                        .push((id.clone(), t.finished.clone()));
                }
            }
        }
        if stopped_any {
            if self.tasks.lock().is_empty() {
                self.topics.release_admin();
            }
            Self::release_free_memory();
        }
    }

    /// Returns memory freed by stopped clients to the OS. librdkafka allocates its buffers
    /// with the C allocator, which keeps freed memory in per-thread arenas otherwise.
    pub fn release_free_memory() {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        // SAFETY: malloc_trim only walks the allocator's own free lists.
        unsafe {
            libc::malloc_trim(0);
        }
    }

    /// Changes a task's target state (pause/resume).
    pub fn set_task_target(&self, id: &TaskId, target: TargetState) {
        if let Some(t) = self.tasks.lock().get(id) {
            let _ = t.target.send(target);
        }
    }

    pub fn task_ids(&self) -> Vec<TaskId> {
        let mut ids: Vec<_> = self.tasks.lock().keys().cloned().collect();
        ids.sort();
        ids
    }

    pub fn connector_names(&self) -> Vec<String> {
        self.connectors.lock().keys().cloned().collect()
    }

    /// What did not stop within the graceful timeouts and may still run: abandoned tasks
    /// whose thread has not ended, and abandoned connectors. Reported when the worker exits.
    pub fn abandoned(&self) -> AbandonedWork {
        let mut abandoned = self.abandoned.lock();
        let running = |finished: &Arc<AtomicBool>| !finished.load(Ordering::Acquire);
        abandoned.tasks.retain(|(_, f)| running(f));
        abandoned.connectors.retain(|(_, f)| running(f));
        let mut tasks: Vec<TaskId> = abandoned.tasks.iter().map(|(id, _)| id.clone()).collect();
        tasks.sort();
        tasks.dedup();
        let mut connectors: Vec<String> = abandoned
            .connectors
            .iter()
            .map(|(n, _)| n.clone())
            .collect();
        connectors.sort();
        connectors.dedup();
        AbandonedWork { tasks, connectors }
    }

    /// Stops every task and connector.
    pub async fn stop_all(&self) {
        let ids = self.task_ids();
        self.stop_tasks(&ids).await;
        for name in self.connector_names() {
            self.stop_connector(&name).await;
        }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::*;
    use crate::config::test_support::map;
    use crate::config::WorkerMode;
    use crate::runtime::offsets::MemoryOffsetStore;

    /// A standalone worker with the built-in plugins and memory offsets, whose brokers are
    /// unreachable: for tests of what happens before any client connects.
    pub(crate) fn worker(
        tasks_max: &str,
        status: Arc<dyn StatusListener>,
    ) -> (Worker, mpsc::UnboundedReceiver<ConnectorRequest>) {
        let config = WorkerConfig::parse(
            &map(&[
                ("offset.storage.file.filename", "/nonexistent/offsets"),
                ("bootstrap.servers", "127.0.0.1:1"),
                ("worker.tasks.max", tasks_max),
            ]),
            WorkerMode::Standalone,
        )
        .unwrap();
        let config = Arc::new(config);
        Worker::new(
            WorkerServices {
                worker_id: "127.0.0.1:8083".into(),
                bootstrap: config.bootstrap_servers.clone(),
                providers: Arc::new(ConfigProviders::from_worker_config(&config.raw).unwrap()),
                config,
                registry: Arc::new(crate::connectors::builtin_registry()),
                offsets: Arc::new(MemoryOffsetStore::default()),
                status,
                embedded_topics: None,
                offset_topics: None,
            },
            Handle::current(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::test_support::map;
    use crate::config::WorkerMode;

    /// Records the last status of each task and connector.
    #[derive(Default)]
    struct Statuses {
        tasks: Mutex<HashMap<TaskId, (State, Option<String>)>>,
        connectors: Mutex<HashMap<String, (State, Option<String>)>>,
    }

    impl StatusListener for Statuses {
        fn connector_status(&self, connector: &str, state: State, trace: Option<String>) {
            self.connectors
                .lock()
                .insert(connector.to_string(), (state, trace));
        }

        fn task_status(&self, id: &TaskId, state: State, trace: Option<String>) {
            self.tasks.lock().insert(id.clone(), (state, trace));
        }
    }

    fn worker(tasks_max: &str, statuses: Arc<Statuses>) -> Worker {
        test_support::worker(tasks_max, statuses).0
    }

    #[test]
    fn worker_tasks_max_defaults_to_1000() {
        let config = WorkerConfig::parse(
            &map(&[("offset.storage.file.filename", "/tmp/o")]),
            WorkerMode::Standalone,
        )
        .unwrap();
        assert_eq!(config.worker_tasks_max, 1000);
        let err = WorkerConfig::parse(
            &map(&[
                ("offset.storage.file.filename", "/tmp/o"),
                ("worker.tasks.max", "0"),
            ]),
            WorkerMode::Standalone,
        )
        .unwrap_err();
        assert!(err.to_string().contains("worker.tasks.max"), "{err}");
    }

    #[tokio::test]
    async fn a_connector_asking_for_more_tasks_than_the_worker_runs_fails_with_the_reason() {
        let statuses = Arc::new(Statuses::default());
        let worker = worker("4", statuses.clone());
        let config = map(&[
            ("name", "greedy"),
            ("connector.class", "FileStreamSink"),
            ("topics", "t"),
            ("file", "/dev/null"),
            ("tasks.max", "100000"),
        ]);
        worker
            .start_connector("greedy", &config, TargetState::Started)
            .await
            .unwrap();
        let err = worker.task_configs("greedy", 100_000).await.unwrap_err();
        assert_eq!(
            err.to_string(),
            "Connector greedy asks for 100000 tasks (tasks.max), but this worker runs at most 4 \
             tasks (worker.tasks.max). Lower tasks.max, or raise worker.tasks.max in the worker \
             config if the worker can hold that many tasks."
        );
        assert_eq!(worker.task_configs("greedy", 4).await.unwrap().len(), 4);
        worker.stop_connector("greedy").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_task_past_the_worker_limit_is_not_started_and_says_why() {
        let statuses = Arc::new(Statuses::default());
        let worker = worker("2", statuses.clone());
        // A task class that does not exist fails at once, but still holds its place.
        let task = map(&[("task.class", "NoSuchTask")]);
        let ids: Vec<TaskId> = (0..3).map(|t| TaskId::new("c", t)).collect();
        for id in &ids {
            worker.start_task(id.clone(), task.clone(), &map(&[]), TargetState::Started);
        }
        assert_eq!(worker.tasks.lock().len(), 2);
        let refused = statuses.tasks.lock().get(&ids[2]).cloned().unwrap();
        assert_eq!(refused.0, State::Failed);
        let trace = refused.1.unwrap();
        assert!(
            trace.starts_with(
                "org.apache.kafka.connect.errors.ConnectException: Task c-2 was not started: \
                 this worker already runs 2 tasks, the most worker.tasks.max=2 allows."
            ),
            "{trace}"
        );
        // Restarting a task that runs replaces it rather than counting twice.
        worker.start_task(
            ids[1].clone(),
            task.clone(),
            &map(&[]),
            TargetState::Started,
        );
        assert_eq!(worker.tasks.lock().len(), 2);
        worker.stop_tasks(&ids).await;
        assert!(worker.tasks.lock().is_empty());
    }

    #[test]
    fn thread_names_never_hold_control_characters() {
        assert_eq!(thread_name(&TaskId::new("src", 2)), "task-src-2");
        assert_eq!(thread_name(&TaskId::new("a\u{0}b\n", 0)), "task-a?b?-0");
        // std refuses a NUL in a thread name by panicking; this one spawns.
        std::thread::Builder::new()
            .name(thread_name(&TaskId::new("x\u{0}y", 0)))
            .spawn(|| {})
            .unwrap()
            .join()
            .unwrap();
    }
}
