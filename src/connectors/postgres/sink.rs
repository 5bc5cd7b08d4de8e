//! `PostgresSink` (also `io.confluent.connect.jdbc.JdbcSinkConnector` for PostgreSQL URLs).
//!
//! The task pipelines: `put` hands records to a write running on the tokio runtime and
//! returns, so the next batch is fetched and converted while the database works; records
//! that arrive meanwhile are written together by the next write. `pre_commit` (and `flush`,
//! `close`, `stop`) wait for everything handed over to be written before offsets are
//! committed, so delivery is at least once (or exactly once with
//! `delivery.guarantee=exactly_once`).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::task::JoinHandle;

use crate::config::{ConfigDef, ConfigInfo, ConfigMap};
use crate::data::{Record, TopicPartition};
use crate::errors::{ConnectError, Result};
use crate::plugin::{Connector, ConnectorContext, SinkTask, SinkTaskContext};

use super::sink_config::{self, DeliveryGuarantee, SinkConfig};
use super::writer::{position, BatchWriter, WriteSummary};

/// The sink connector: checks the config and gives every task the same one.
#[derive(Default)]
pub struct PostgresSinkConnector {
    config: ConfigMap,
}

#[async_trait]
impl Connector for PostgresSinkConnector {
    fn config_def(&self) -> ConfigDef {
        sink_config::config_def()
    }

    fn validate(&self, config: &ConfigMap) -> Vec<ConfigInfo> {
        sink_config::validate(config)
    }

    async fn start(&mut self, config: ConfigMap, _ctx: ConnectorContext) -> Result<()> {
        SinkConfig::parse(&config)?;
        self.config = config;
        Ok(())
    }

    fn task_class(&self) -> String {
        super::SINK_TASK_CLASS.into()
    }

    async fn task_configs(&mut self, max_tasks: usize) -> Result<Vec<ConfigMap>> {
        Ok(vec![self.config.clone(); max_tasks.max(1)])
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

type WriteJob = JoinHandle<(Box<BatchWriter>, Result<WriteSummary>)>;

/// The writer, idle or lent to a write in progress.
enum WriterSlot {
    Idle(Box<BatchWriter>),
    Busy(WriteJob),
    /// Not started, or lost to a panicked write.
    Empty,
}

/// Writes records to PostgreSQL, one write in flight at a time.
pub struct PostgresSinkTask {
    config: Option<Arc<SinkConfig>>,
    ctx: Option<SinkTaskContext>,
    writer: WriterSlot,
    /// Records put but not yet handed to a write.
    pending: Vec<Record>,
    /// A write failed: every later call fails with this.
    failure: Option<ConnectError>,
    /// Exactly-once: records before these offsets are already in the database.
    skip_below: HashMap<TopicPartition, i64>,
}

impl Default for PostgresSinkTask {
    fn default() -> Self {
        PostgresSinkTask {
            config: None,
            ctx: None,
            writer: WriterSlot::Empty,
            pending: Vec::new(),
            failure: None,
            skip_below: HashMap::new(),
        }
    }
}

impl PostgresSinkTask {
    fn config(&self) -> Result<&Arc<SinkConfig>> {
        self.config
            .as_ref()
            .ok_or_else(|| ConnectError::Other("the PostgreSQL sink task was not started".into()))
    }

    fn failed(&self) -> Result<()> {
        match &self.failure {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    /// Waits for the write in flight, if any, and takes the writer back.
    async fn settle(&mut self) -> Result<&mut BatchWriter> {
        let slot = std::mem::replace(&mut self.writer, WriterSlot::Empty);
        self.writer = match slot {
            WriterSlot::Busy(job) => match job.await {
                Ok((writer, result)) => {
                    if let Err(e) = &result {
                        self.failure = Some(e.clone());
                    }
                    if let Ok(summary) = result {
                        tracing::debug!(
                            written = summary.written,
                            deleted = summary.deleted,
                            reported = summary.reported,
                            "write done"
                        );
                    }
                    WriterSlot::Idle(writer)
                }
                Err(e) => {
                    self.failure = Some(ConnectError::Other(format!(
                        "the PostgreSQL write task failed: {e}"
                    )));
                    WriterSlot::Empty
                }
            },
            other => other,
        };
        self.failed()?;
        match &mut self.writer {
            WriterSlot::Idle(w) => Ok(w),
            _ => Err(ConnectError::Other(
                "the PostgreSQL sink task was not started".into(),
            )),
        }
    }

    /// Hands the pending records to a new write (after the one in flight).
    async fn dispatch(&mut self) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.settle().await?;
        let WriterSlot::Idle(mut writer) = std::mem::replace(&mut self.writer, WriterSlot::Empty)
        else {
            return Err(ConnectError::Other(
                "the PostgreSQL sink task was not started".into(),
            ));
        };
        let records = std::mem::take(&mut self.pending);
        self.writer = WriterSlot::Busy(tokio::spawn(async move {
            let result = writer.write(&records).await;
            (writer, result)
        }));
        Ok(())
    }

    fn write_in_flight_done(&self) -> bool {
        match &self.writer {
            WriterSlot::Busy(job) => job.is_finished(),
            _ => true,
        }
    }

    /// Everything put so far is in the database.
    async fn flush_all(&mut self) -> Result<()> {
        self.failed()?;
        self.dispatch().await?;
        self.settle().await?;
        Ok(())
    }
}

#[async_trait]
impl SinkTask for PostgresSinkTask {
    async fn start(&mut self, config: ConfigMap, ctx: SinkTaskContext) -> Result<()> {
        let config = Arc::new(SinkConfig::parse(&config)?);
        let mut writer = BatchWriter::new(
            config.clone(),
            ctx.task_id.connector.clone(),
            ctx.errant_record_reporter(),
        )?;
        writer.start().await?;
        tracing::info!(
            task = %ctx.task_id, database = %config.connection.display,
            insert_mode = ?config.insert_mode, pk_mode = ?config.pk_mode,
            delivery = ?config.delivery, "PostgreSQL sink task started"
        );
        self.writer = WriterSlot::Idle(Box::new(writer));
        self.config = Some(config);
        self.ctx = Some(ctx);
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        if self.config()?.delivery != DeliveryGuarantee::ExactlyOnce {
            return Ok(());
        }
        let stored = self.settle().await?.load_offsets(partitions).await?;
        if let Some(ctx) = &self.ctx {
            for (tp, offset) in &stored {
                tracing::info!(partition = %tp, offset, "resuming from the offset stored in the database");
                ctx.offset(tp.clone(), *offset);
            }
        }
        for p in partitions {
            self.skip_below.remove(p);
        }
        self.skip_below.extend(stored);
        Ok(())
    }

    async fn put(&mut self, records: Vec<Record>) -> Result<()> {
        self.failed()?;
        if self.skip_below.is_empty() {
            self.pending.extend(records);
        } else {
            let skip = &self.skip_below;
            self.pending.extend(records.into_iter().filter(|r| {
                position(r).is_none_or(|(tp, offset)| skip.get(&tp).is_none_or(|s| offset >= *s))
            }));
        }
        let batch_size = self.config()?.batch_size;
        // Start a write when the last one is done (an empty put is the loop's idle tick), or
        // wait for it when enough records are waiting to fill a batch.
        if self.write_in_flight_done() || self.pending.len() >= batch_size {
            self.dispatch().await?;
        }
        Ok(())
    }

    async fn flush(&mut self, _offsets: &HashMap<TopicPartition, i64>) -> Result<()> {
        self.flush_all().await
    }

    async fn pre_commit(
        &mut self,
        offsets: HashMap<TopicPartition, i64>,
    ) -> Result<HashMap<TopicPartition, i64>> {
        self.flush_all().await?;
        Ok(offsets)
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let flushed = self.flush_all().await;
        for p in partitions {
            self.skip_below.remove(p);
        }
        if let WriterSlot::Idle(w) = &mut self.writer {
            w.forget(partitions);
        }
        flushed
    }

    async fn stop(&mut self) -> Result<()> {
        if let WriterSlot::Busy(job) = std::mem::replace(&mut self.writer, WriterSlot::Empty) {
            // The runtime committed what it could before stopping; finish the write in
            // flight so that the connection closes cleanly.
            let _ = job.await;
        }
        self.pending.clear();
        Ok(())
    }
}
