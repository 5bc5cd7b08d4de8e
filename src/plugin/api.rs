//! The interfaces a connector, task, transformation or predicate implements (Kafka Connect's
//! `connect-api`). Built-in Rust plugins implement them directly; Python plugins are wrapped
//! by `crate::python`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::config::{ConfigDef, ConfigInfo, ConfigMap};
use crate::data::{OffsetMap, Record, TopicPartition};
use crate::errors::{ConnectError, Result};

/// A task's identity: connector name and task number.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TaskId {
    pub connector: String,
    pub task: i32,
}

impl TaskId {
    pub fn new(connector: impl Into<String>, task: i32) -> Self {
        TaskId {
            connector: connector.into(),
            task,
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}

/// What a connector asks of the runtime.
#[derive(Debug)]
pub enum ConnectorRequest {
    /// Call `task_configs` again and restart the tasks if they changed.
    ReconfigureTasks { connector: String },
    /// Mark the connector FAILED.
    RaiseError {
        connector: String,
        error: ConnectError,
    },
}

/// Handed to a connector on start (Connect's `ConnectorContext`).
#[derive(Clone, Debug)]
pub struct ConnectorContext {
    pub connector: String,
    requests: mpsc::UnboundedSender<ConnectorRequest>,
}

impl ConnectorContext {
    pub fn new(
        connector: impl Into<String>,
        requests: mpsc::UnboundedSender<ConnectorRequest>,
    ) -> Self {
        ConnectorContext {
            connector: connector.into(),
            requests,
        }
    }

    /// Asks the runtime to regenerate task configs (for example, a new table appeared).
    pub fn request_task_reconfiguration(&self) {
        let _ = self.requests.send(ConnectorRequest::ReconfigureTasks {
            connector: self.connector.clone(),
        });
    }

    /// Marks the connector FAILED with `error`.
    pub fn raise_error(&self, error: ConnectError) {
        let _ = self.requests.send(ConnectorRequest::RaiseError {
            connector: self.connector.clone(),
            error,
        });
    }
}

/// Whether a source connector can deliver exactly once with a config (Connect's
/// `ExactlyOnceSupport`), asked when `exactly.once.support=required`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExactlyOnceSupport {
    Supported,
    Unsupported,
}

/// Whether a source connector's tasks can define their own transaction boundaries with a
/// config (Connect's `ConnectorTransactionBoundaries`), asked for `transaction.boundary=connector`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectorTransactionBoundaries {
    Supported,
    #[default]
    Unsupported,
}

/// A connector: validates its config and splits the work into task configs.
#[async_trait]
pub trait Connector: Send {
    /// The connector's own keys (the common ones are added by the runtime).
    fn config_def(&self) -> ConfigDef;

    /// Validates a config; the default checks it against [`Connector::config_def`].
    fn validate(&self, config: &ConfigMap) -> Vec<ConfigInfo> {
        self.config_def().validate(config)
    }

    async fn start(&mut self, config: ConfigMap, ctx: ConnectorContext) -> Result<()>;

    /// The class tasks are created from; stored in each task config as `task.class`.
    fn task_class(&self) -> String;

    /// Up to `max_tasks` task configs.
    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<ConfigMap>>;

    async fn stop(&mut self) -> Result<()>;

    /// A source connector's exactly-once support with `config`; `None` (the default) when
    /// it does not say, which `exactly.once.support=required` refuses.
    fn exactly_once_support(&self, _config: &ConfigMap) -> Result<Option<ExactlyOnceSupport>> {
        Ok(None)
    }

    /// Whether a source connector's tasks define transaction boundaries with `config`
    /// through [`SourceTaskContext::transaction_context`]; unsupported by default.
    fn can_define_transaction_boundaries(
        &self,
        _config: &ConfigMap,
    ) -> Result<ConnectorTransactionBoundaries> {
        Ok(ConnectorTransactionBoundaries::Unsupported)
    }
}

/// Reads committed source offsets (Connect's `OffsetStorageReader`).
pub trait OffsetReader: Send + Sync {
    /// The last committed offset of a source partition.
    fn offset(&self, partition: &OffsetMap) -> Result<Option<OffsetMap>>;

    /// Offsets of several partitions; absent ones are left out.
    fn offsets(&self, partitions: &[OffsetMap]) -> Result<Vec<(OffsetMap, OffsetMap)>> {
        let mut out = Vec::new();
        for p in partitions {
            if let Some(o) = self.offset(p)? {
                out.push((p.clone(), o));
            }
        }
        Ok(out)
    }
}

/// Handed to a source task on start (Connect's `SourceTaskContext`).
#[derive(Clone)]
pub struct SourceTaskContext {
    pub task_id: TaskId,
    pub offsets: Arc<dyn OffsetReader>,
    /// Present only with exactly-once support enabled and `transaction.boundary=connector`.
    pub transaction_context: Option<Arc<TransactionContext>>,
}

/// What a task asked of its transaction: commit or abort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionRequest {
    Commit,
    Abort,
}

/// Requests gathered during one `poll`, taken by the task loop after it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TransactionRequests {
    /// After the whole batch the next `poll` returns (or, if it returns none, at once).
    pub batch: Option<TransactionRequest>,
    /// After the record at this index of the batch being returned.
    pub records: Vec<(usize, TransactionRequest)>,
}

/// Connector-defined transaction boundaries (Connect's `TransactionContext`): a source task
/// with `transaction.boundary=connector` asks here to commit or abort its open transaction.
/// Records of an aborted transaction are discarded, but their offsets are still committed,
/// so they are not polled again (as in Connect).
#[derive(Debug, Default)]
pub struct TransactionContext {
    requests: Mutex<TransactionRequests>,
}

impl TransactionContext {
    /// Commits the transaction after the batch that the current `poll` returns.
    pub fn commit_transaction(&self) {
        self.requests.lock().batch = Some(TransactionRequest::Commit);
    }

    /// Aborts the transaction after the batch that the current `poll` returns.
    pub fn abort_transaction(&self) {
        self.requests.lock().batch = Some(TransactionRequest::Abort);
    }

    /// Commits the transaction right after the record at `index` of the batch that the
    /// current `poll` returns (Connect's `commitTransaction(record)`).
    pub fn commit_transaction_after(&self, index: usize) {
        self.requests
            .lock()
            .records
            .push((index, TransactionRequest::Commit));
    }

    /// Aborts the transaction right after the record at `index` of the batch that the
    /// current `poll` returns; that record is the last one of the aborted transaction.
    pub fn abort_transaction_after(&self, index: usize) {
        self.requests
            .lock()
            .records
            .push((index, TransactionRequest::Abort));
    }

    /// Takes what was asked since the last call.
    pub fn take(&self) -> TransactionRequests {
        std::mem::take(&mut *self.requests.lock())
    }
}

/// A source task: polls records from an external system.
#[async_trait]
pub trait SourceTask: Send {
    async fn start(&mut self, config: ConfigMap, ctx: SourceTaskContext) -> Result<()>;

    /// The next records; an empty list when there is nothing right now. The runtime may drop
    /// a pending `poll` when the task stops, so a poll must not lose state it has not returned.
    async fn poll(&mut self) -> Result<Vec<Record>>;

    /// Called after offsets have been committed.
    async fn commit(&mut self) -> Result<()> {
        Ok(())
    }

    async fn stop(&mut self) -> Result<()>;
}

/// Requests a sink task makes of the runtime through its context, drained by the task loop.
#[derive(Debug, Default)]
pub struct SinkContextState {
    pub assignment: Vec<TopicPartition>,
    pub pause: Vec<TopicPartition>,
    pub resume: Vec<TopicPartition>,
    pub offsets: HashMap<TopicPartition, i64>,
    pub commit_requested: bool,
    pub timeout_ms: Option<u64>,
}

/// Reports a record the sink task could not handle (KIP-610's `ErrantRecordReporter`).
pub trait ErrantRecordReporter: Send + Sync {
    fn report(&self, record: &Record, error: &ConnectError) -> Result<()>;
}

/// Handed to a sink task on start (Connect's `SinkTaskContext`).
#[derive(Clone)]
pub struct SinkTaskContext {
    pub task_id: TaskId,
    state: Arc<Mutex<SinkContextState>>,
    reporter: Option<Arc<dyn ErrantRecordReporter>>,
}

impl SinkTaskContext {
    pub fn new(
        task_id: TaskId,
        state: Arc<Mutex<SinkContextState>>,
        reporter: Option<Arc<dyn ErrantRecordReporter>>,
    ) -> Self {
        SinkTaskContext {
            task_id,
            state,
            reporter,
        }
    }

    /// Partitions currently assigned to this task.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.state.lock().assignment.clone()
    }

    /// Stops fetching from these partitions until resumed.
    pub fn pause(&self, partitions: &[TopicPartition]) {
        let mut s = self.state.lock();
        s.resume.retain(|p| !partitions.contains(p));
        s.pause.extend_from_slice(partitions);
    }

    pub fn resume(&self, partitions: &[TopicPartition]) {
        let mut s = self.state.lock();
        s.pause.retain(|p| !partitions.contains(p));
        s.resume.extend_from_slice(partitions);
    }

    /// Rewinds or skips: the next records of `partition` start at `offset`.
    pub fn offset(&self, partition: TopicPartition, offset: i64) {
        self.state.lock().offsets.insert(partition, offset);
    }

    /// Commits offsets as soon as possible.
    pub fn request_commit(&self) {
        self.state.lock().commit_requested = true;
    }

    /// How long to wait before redelivering a batch after a retriable `put` failure.
    pub fn timeout(&self, ms: u64) {
        self.state.lock().timeout_ms = Some(ms);
    }

    /// The reporter for records `put` cannot handle; `None` without a DLQ or error logging.
    pub fn errant_record_reporter(&self) -> Option<Arc<dyn ErrantRecordReporter>> {
        self.reporter.clone()
    }

    pub fn state(&self) -> &Arc<Mutex<SinkContextState>> {
        &self.state
    }
}

/// A sink task: writes records consumed from Kafka to an external system.
#[async_trait]
pub trait SinkTask: Send {
    async fn start(&mut self, config: ConfigMap, ctx: SinkTaskContext) -> Result<()>;

    /// Partitions were assigned to this task.
    async fn open(&mut self, _partitions: &[TopicPartition]) -> Result<()> {
        Ok(())
    }

    /// Writes a batch. A [`ConnectError::Retriable`] has the batch redelivered.
    async fn put(&mut self, records: Vec<Record>) -> Result<()>;

    /// Makes everything `put` so far durable.
    async fn flush(&mut self, _offsets: &HashMap<TopicPartition, i64>) -> Result<()> {
        Ok(())
    }

    /// The offsets (next offset to read) safe to commit; the default flushes and commits all.
    async fn pre_commit(
        &mut self,
        offsets: HashMap<TopicPartition, i64>,
    ) -> Result<HashMap<TopicPartition, i64>> {
        self.flush(&offsets).await?;
        Ok(offsets)
    }

    /// Partitions were revoked (after their offsets were committed).
    async fn close(&mut self, _partitions: &[TopicPartition]) -> Result<()> {
        Ok(())
    }

    async fn stop(&mut self) -> Result<()>;
}

/// A task instance of either kind.
pub enum Task {
    Source(Box<dyn SourceTask>),
    Sink(Box<dyn SinkTask>),
}
