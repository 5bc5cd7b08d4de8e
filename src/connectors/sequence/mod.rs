//! A sequence-number source for testing delivery guarantees: task `i` of `tasks.max` writes
//! `{"task": i, "seq": n}` for n = 0, 1, 2, ... to `topic`, one source partition per task, and
//! resumes after its committed offset. It declares exactly-once support and can define
//! transaction boundaries (`abort.every=N` aborts the transaction after every N-th record,
//! `commit.every=N` commits after every N-th record).
//!
//! Registered only when the environment variable `CONVEYOR_TEST_CONNECTORS` is set, so it
//! never shows among a user's plugins.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::config::connector::ConnectorType;
use crate::config::{ConfigDef, ConfigKey, ConfigMap, ConfigType, Importance};
use crate::data::{OffsetMap, Record, SchemaBuilder, SchemaRef, SchemaType, Struct, Value};
use crate::errors::{ConnectError, Result};
use crate::plugin::{
    Connector, ConnectorContext, ConnectorPlugin, ConnectorTransactionBoundaries,
    ExactlyOnceSupport, PluginRegistry, SourceTask, SourceTaskContext, Task, TaskPlugin,
    TransactionContext, VERSION,
};

/// The connector class.
pub const CONNECTOR_CLASS: &str = "conveyor.testing.SequenceSourceConnector";
/// The task class.
pub const TASK_CLASS: &str = "conveyor.testing.SequenceSourceTask";
/// The environment variable that registers this connector.
pub const ENABLE_ENV: &str = "CONVEYOR_TEST_CONNECTORS";

/// Registers the connector when [`ENABLE_ENV`] is set.
pub fn register(reg: &mut PluginRegistry) {
    if std::env::var_os(ENABLE_ENV).is_none() {
        return;
    }
    reg.add_connector(ConnectorPlugin {
        class: CONNECTOR_CLASS.into(),
        aliases: vec!["SequenceSource".into()],
        version: VERSION.into(),
        connector_type: ConnectorType::Source,
        new_connector: Arc::new(|| Ok(Box::new(SequenceSourceConnector::default()))),
    });
    reg.add_task(TaskPlugin {
        class: TASK_CLASS.into(),
        new_task: Arc::new(|| Ok(Task::Source(Box::new(SequenceSourceTask::default())))),
    });
}

fn config_def() -> ConfigDef {
    let int = |key: &str, default: &str, doc: &str| {
        ConfigKey::new(key, ConfigType::Long)
            .default_value(default)
            .importance(Importance::Low)
            .doc(doc)
    };
    ConfigDef::new()
        .define(
            ConfigKey::new("topic", ConfigType::String)
                .importance(Importance::High)
                .doc("Topic to write to."),
        )
        .define(int("batch.size", "10", "Records per poll."))
        .define(int("poll.interval.ms", "10", "Pause before each poll."))
        .define(int(
            "abort.every",
            "0",
            "Abort the transaction after every N-th record (0: never).",
        ))
        .define(int(
            "commit.every",
            "0",
            "Commit the transaction after every N-th record (0: never).",
        ))
}

#[derive(Default)]
pub struct SequenceSourceConnector {
    config: ConfigMap,
}

#[async_trait]
impl Connector for SequenceSourceConnector {
    fn config_def(&self) -> ConfigDef {
        config_def()
    }

    async fn start(&mut self, config: ConfigMap, _ctx: ConnectorContext) -> Result<()> {
        self.config = config;
        Ok(())
    }

    fn task_class(&self) -> String {
        TASK_CLASS.into()
    }

    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        Ok((0..max_tasks)
            .map(|i| {
                let mut c = self.config.clone();
                c.insert("task.number".into(), i.to_string());
                c
            })
            .collect())
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }

    fn exactly_once_support(&self, _config: &ConfigMap) -> Result<Option<ExactlyOnceSupport>> {
        Ok(Some(ExactlyOnceSupport::Supported))
    }

    fn can_define_transaction_boundaries(
        &self,
        _config: &ConfigMap,
    ) -> Result<ConnectorTransactionBoundaries> {
        Ok(ConnectorTransactionBoundaries::Supported)
    }
}

#[derive(Default)]
pub struct SequenceSourceTask {
    topic: String,
    task: i64,
    next: i64,
    batch: i64,
    interval: Duration,
    abort_every: i64,
    commit_every: i64,
    transactions: Option<Arc<TransactionContext>>,
}

fn long(config: &ConfigMap, key: &str, default: i64) -> Result<i64> {
    match config.get(key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| ConnectError::Config(format!("{key} must be an integer, got {v}"))),
    }
}

#[async_trait]
impl SourceTask for SequenceSourceTask {
    async fn start(&mut self, config: ConfigMap, ctx: SourceTaskContext) -> Result<()> {
        self.topic = config
            .get("topic")
            .cloned()
            .ok_or_else(|| ConnectError::Config("topic is required".into()))?;
        self.task = long(&config, "task.number", 0)?;
        self.batch = long(&config, "batch.size", 10)?.max(1);
        self.interval = Duration::from_millis(long(&config, "poll.interval.ms", 10)?.max(0) as u64);
        self.abort_every = long(&config, "abort.every", 0)?;
        self.commit_every = long(&config, "commit.every", 0)?;
        self.transactions = ctx.transaction_context.clone();
        let stored = ctx.offsets.offset(&self.partition())?;
        self.next = stored
            .and_then(|o| o.get("seq").and_then(|s| s.as_i64()))
            .map(|s| s + 1)
            .unwrap_or(0);
        tracing::info!(
            task = self.task,
            next = self.next,
            "sequence source resumes"
        );
        Ok(())
    }

    async fn poll(&mut self) -> Result<Vec<Record>> {
        // Even a zero sleep waits for the timer's next millisecond tick: with
        // `poll.interval.ms=0` the task is meant not to pause at all.
        if !self.interval.is_zero() {
            tokio::time::sleep(self.interval).await;
        }
        let mut records = Vec::with_capacity(self.batch as usize);
        for i in 0..self.batch {
            let seq = self.next;
            self.next += 1;
            let mut offset = OffsetMap::new();
            offset.insert("seq".into(), seq.into());
            let schema = value_schema();
            let mut value = Struct::new(schema.clone());
            value
                .put("task", self.task.into())
                .and_then(|v| v.put("seq", seq.into()))
                .map_err(ConnectError::Data)?;
            let mut record = Record::source(
                &self.topic,
                Arc::new(self.partition()),
                offset,
                Some(schema),
                Value::Struct(value),
            );
            record.key = Value::String(format!("task-{}", self.task));
            records.push(record);
            if let Some(ctx) = &self.transactions {
                if self.abort_every > 0 && (seq + 1) % self.abort_every == 0 {
                    ctx.abort_transaction_after(i as usize);
                } else if self.commit_every > 0 && (seq + 1) % self.commit_every == 0 {
                    ctx.commit_transaction_after(i as usize);
                }
            }
        }
        Ok(records)
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

/// `{task: int64, seq: int64}`, named `conveyor.testing.Sequence`.
fn value_schema() -> SchemaRef {
    static SCHEMA: std::sync::OnceLock<SchemaRef> = std::sync::OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let int64 = || SchemaBuilder::new(SchemaType::Int64).build();
            SchemaBuilder::struct_()
                .name("conveyor.testing.Sequence")
                .field("task", int64())
                .field("seq", int64())
                .build()
        })
        .clone()
}

impl SequenceSourceTask {
    fn partition(&self) -> OffsetMap {
        let mut p = OffsetMap::new();
        p.insert("task".into(), self.task.into());
        p
    }
}
