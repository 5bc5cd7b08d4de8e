//! The sink task loop (Kafka Connect's `WorkerSinkTask`): poll a batch from the consumer,
//! convert, run the SMT chain, `put` it, and commit consumer offsets after `pre_commit`
//! every `offset.flush.interval.ms`, on request, on partition revocation and on stop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, KafkaResult, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers as _, Message};
use rdkafka::{Offset, Timestamp, TopicPartitionList};
use tokio::runtime::Handle;

use super::converters::ConverterSet;
use super::dead_letter::error_handler;
use super::errors::{ErrantReporter, ErrorHandler, Failure, RawRecord, Stage};
use super::state::TargetState;
use super::transform_chain::TransformChain;
use super::worker::TaskEnv;
use crate::convert::{Converter, SchemaAndValue};
use crate::data::{Headers, KafkaPosition, Origin, Record, TimestampType, TopicPartition};
use crate::errors::{ConnectError, Result};
use crate::kafka::{build_client_config, ClientRole, LoggingContext};
use crate::plugin::{SinkContextState, SinkTask, SinkTaskContext, TaskId};

/// Per partition in a batch: first offset, and the offset after the last record.
type BatchOffsets = HashMap<TopicPartition, (i64, i64)>;

/// A converted batch: records, their consumed form (when kept), offsets, and the error that
/// stopped conversion early, if any.
type ConvertedBatch = (
    Vec<Record>,
    Vec<RawRecord>,
    BatchOffsets,
    Option<ConnectError>,
);

/// How often a sink task measures its consumer lag.
const LAG_INTERVAL: Duration = Duration::from_secs(1);

/// Default `consumer.max.poll.records`.
const DEFAULT_MAX_POLL_RECORDS: usize = 500;
const POLL_TIMEOUT: Duration = Duration::from_millis(200);

/// State shared between the loop and the consumer's rebalance callbacks, which run inside
/// `poll` on the same thread.
struct SinkShared {
    id: TaskId,
    task: Mutex<Box<dyn SinkTask>>,
    /// Next offset to commit per partition: one past the last record handed to `put`.
    current: Mutex<HashMap<TopicPartition, i64>>,
    /// What was last committed, to skip commits that would change nothing.
    last_committed: Mutex<HashMap<TopicPartition, i64>>,
    context: Arc<Mutex<SinkContextState>>,
    /// The connector is paused: newly assigned partitions are paused too.
    paused: AtomicBool,
    /// `start` has returned and `stop` has not been called: callbacks may call the task.
    live: AtomicBool,
    /// A failure inside a callback, raised by the loop.
    failure: Mutex<Option<ConnectError>>,
    /// Reported records must be durable before offsets move past them.
    errors: Arc<ErrorHandler>,
    metrics: crate::metrics::TaskMetrics,
    rt: Handle,
}

fn to_tpl(offsets: &HashMap<TopicPartition, i64>) -> TopicPartitionList {
    let mut tpl = TopicPartitionList::new();
    for (tp, o) in offsets {
        let _ = tpl.add_partition_offset(&tp.topic, tp.partition, Offset::Offset(*o));
    }
    tpl
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| TopicPartition::new(e.topic(), e.partition()))
        .collect()
}

impl SinkShared {
    /// `pre_commit` then commit the offsets of `partitions` (all when `None`).
    fn commit<C: ConsumerContext>(
        &self,
        consumer: &BaseConsumer<C>,
        partitions: Option<&[TopicPartition]>,
        mode: CommitMode,
    ) -> Result<()> {
        let offsets: HashMap<TopicPartition, i64> = {
            let current = self.current.lock();
            current
                .iter()
                .filter(|(tp, _)| partitions.is_none_or(|ps| ps.contains(tp)))
                .map(|(tp, o)| (tp.clone(), *o))
                .collect()
        };
        if offsets.is_empty() {
            return Ok(());
        }
        let committable = {
            let mut task = self.task.lock();
            self.rt
                .block_on(task.pre_commit(offsets))
                .map_err(|e| e.context("error calling SinkTask.pre_commit"))?
        };
        self.errors.flush()?;
        let unchanged = {
            let last = self.last_committed.lock();
            committable.iter().all(|(tp, o)| last.get(tp) == Some(o))
        };
        if committable.is_empty() || unchanged {
            return Ok(());
        }
        if let Err(e) = consumer.commit(&to_tpl(&committable), mode) {
            self.metrics.offset_commit_failure.inc();
            return Err(ConnectError::Kafka(format!(
                "commit of offsets failed: {e}"
            )));
        }
        self.metrics.offset_commit_success.inc();
        tracing::debug!(task = %self.id, partitions = committable.len(), "committed sink offsets");
        self.last_committed.lock().extend(committable);
        Ok(())
    }

    fn fail(&self, e: ConnectError) {
        let mut f = self.failure.lock();
        if f.is_none() {
            *f = Some(e);
        }
    }
}

/// Consumer context: rebalance callbacks commit and close revoked partitions, open assigned ones.
pub struct SinkConsumerContext {
    log: LoggingContext,
    shared: Arc<SinkShared>,
}

crate::delegate_client_context!(SinkConsumerContext, log);

impl ConsumerContext for SinkConsumerContext {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Revoke(tpl) = rebalance else {
            return;
        };
        let parts = partitions_of(tpl);
        tracing::debug!(task = %self.shared.id, partitions = ?parts, "partitions revoked");
        if self.shared.live.load(Ordering::Acquire) && !parts.is_empty() {
            if let Err(e) = self.shared.commit(consumer, Some(&parts), CommitMode::Sync) {
                tracing::error!(task = %self.shared.id, error = %e, "failed to commit offsets of revoked partitions");
            }
            let mut task = self.shared.task.lock();
            if let Err(e) = self.shared.rt.block_on(task.close(&parts)) {
                self.shared.fail(e.context("error calling SinkTask.close"));
            }
        }
        self.shared
            .current
            .lock()
            .retain(|tp, _| !parts.contains(tp));
        self.shared
            .context
            .lock()
            .assignment
            .retain(|tp| !parts.contains(tp));
    }

    fn post_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let Rebalance::Assign(tpl) = rebalance else {
            return;
        };
        let parts = partitions_of(tpl);
        tracing::info!(task = %self.shared.id, partitions = ?parts, "partitions assigned");
        {
            let mut ctx = self.shared.context.lock();
            for p in &parts {
                if !ctx.assignment.contains(p) {
                    ctx.assignment.push(p.clone());
                }
            }
        }
        if self.shared.paused.load(Ordering::Acquire) {
            let _ = consumer.pause(tpl);
        }
        if self.shared.live.load(Ordering::Acquire) && !parts.is_empty() {
            let mut task = self.shared.task.lock();
            if let Err(e) = self.shared.rt.block_on(task.open(&parts)) {
                self.shared.fail(e.context("error calling SinkTask.open"));
            }
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            tracing::warn!(task = %self.shared.id, error = %e, "offset commit failed; offsets will be committed again");
        }
    }
}

/// One sink task's loop, run on its own thread.
pub(crate) struct SinkTaskLoop {
    env: TaskEnv,
    consumer: BaseConsumer<SinkConsumerContext>,
    shared: Arc<SinkShared>,
    converters: ConverterSet,
    chain: TransformChain,
    errors: Arc<ErrorHandler>,
    max_poll_records: usize,
    /// When the current run of retriable `put` failures started, and how many there were.
    put_retries: Option<(Instant, u32)>,
    last_commit: Instant,
    /// The task itself failed (not a record): do not call it again.
    task_failed: bool,
    /// Topics this task has consumed from (topic tracking).
    seen_topics: std::collections::HashSet<String>,
    /// A subscribed topic was reported missing; its metadata is refreshed until it exists.
    missing_topics: AtomicBool,
    last_metadata_refresh: Instant,
    /// When `records_lag` was last measured.
    last_lag: Instant,
}

impl SinkTaskLoop {
    pub(crate) fn new(env: TaskEnv, task: Box<dyn SinkTask>) -> Result<Self> {
        let converters = ConverterSet::build(&env.registry, &env.worker, &env.connector)?;
        let chain = TransformChain::build(&env.connector.raw, &env.registry)?;
        let overrides = crate::config::def::with_prefix(
            &env.connector.raw,
            ClientRole::Consumer.override_prefix(),
        );
        let max_poll_records = overrides
            .get("max.poll.records")
            .or_else(|| env.worker.consumer.get("max.poll.records"))
            .map(|v| {
                v.trim().parse::<usize>().map_err(|_| {
                    ConnectError::Config(format!("Invalid value {v} for configuration max.poll.records: Not a number of type INT"))
                })
            })
            .transpose()?
            .unwrap_or(DEFAULT_MAX_POLL_RECORDS)
            .max(1);
        let group = format!("connect-{}", env.id.connector);
        let client_id = format!("connector-consumer-{}-{}", env.id.connector, env.id.task);
        let defaults = [
            ("group.id", group.as_str()),
            ("client.id", client_id.as_str()),
            ("enable.auto.commit", "false"),
            ("enable.auto.offset.store", "false"),
            ("auto.offset.reset", "earliest"),
            ("enable.partition.eof", "false"),
            // Only committed transactions: records an exactly-once source aborted, or has not
            // committed yet, never reach a sink (so the PostgreSQL sink's
            // delivery.guarantee=exactly_once is exactly once end to end). Java's consumer
            // defaults to read_uncommitted; `consumer.override.isolation.level` still wins.
            ("isolation.level", "read_committed"),
            // Prefetch per consumer; librdkafka's default (64 MB) dominates a worker's memory.
            ("queued.max.messages.kbytes", "16384"),
            // When the prefetch queue is full librdkafka waits this long before fetching
            // again (default 1 s): a task that drains the queue faster than that then sits
            // idle. Fetch again soon after the queue has room.
            ("fetch.queue.backoff.ms", "10"),
            // A task whose worker died holds its partitions until this expires (librdkafka
            // and Kafka Connect default to 45 s); 10 s lets a sink resume sooner.
            ("session.timeout.ms", "10000"),
        ];
        let errors = Arc::new(error_handler(&env, &converters)?);
        let shared = Arc::new(SinkShared {
            id: env.id.clone(),
            task: Mutex::new(task),
            current: Mutex::new(HashMap::new()),
            last_committed: Mutex::new(HashMap::new()),
            context: Arc::new(Mutex::new(SinkContextState::default())),
            paused: AtomicBool::new(false),
            live: AtomicBool::new(false),
            failure: Mutex::new(None),
            errors: errors.clone(),
            metrics: env.metrics.clone(),
            rt: env.rt.clone(),
        });
        let consumer: BaseConsumer<SinkConsumerContext> = build_client_config(
            &env.bootstrap,
            ClientRole::Consumer,
            &defaults,
            &env.worker.consumer,
            &overrides,
        )?
        .create_with_context(SinkConsumerContext {
            log: LoggingContext::new(env.health.clone()),
            shared: shared.clone(),
        })
        .map_err(|e| ConnectError::Kafka(format!("could not create the consumer: {e}")))?;
        Ok(SinkTaskLoop {
            env,
            consumer,
            shared,
            converters,
            chain,
            errors,
            max_poll_records,
            put_retries: None,
            last_commit: Instant::now(),
            task_failed: false,
            seen_topics: Default::default(),
            missing_topics: AtomicBool::new(false),
            last_metadata_refresh: Instant::now(),
            last_lag: Instant::now(),
        })
    }

    pub(crate) fn run(mut self) -> Result<()> {
        let reporter = Arc::new(ErrantReporter {
            handler: self.errors.clone(),
            class: self.env.connector.class.clone(),
        });
        let ctx = SinkTaskContext::new(
            self.env.id.clone(),
            self.shared.context.clone(),
            Some(reporter),
        );
        let config = self.env.task_config.clone();
        {
            let mut task = self.shared.task.lock();
            let started = self.env.rt.block_on(task.start(config, ctx));
            super::source_task::count_startup(started.is_ok());
            started.map_err(|e| e.context("error calling SinkTask.start"))?;
        }
        self.shared.live.store(true, Ordering::Release);
        self.subscribe()?;
        let result = self.execute();
        let shutdown = self.shutdown(result.is_ok());
        self.chain.close();
        result.and(shutdown)
    }

    fn subscribe(&self) -> Result<()> {
        let connector = &self.env.connector;
        let subscription = match &connector.topics_regex {
            // librdkafka treats a leading ^ as a regex and searches; anchor both ends to match
            // Java's full-match semantics.
            Some(regex) => vec![format!("^({regex})$")],
            None => connector.topics.clone(),
        };
        let refs: Vec<&str> = subscription.iter().map(String::as_str).collect();
        self.consumer.subscribe(&refs).map_err(|e| {
            ConnectError::Kafka(format!("could not subscribe to {subscription:?}: {e}"))
        })
    }

    fn execute(&mut self) -> Result<()> {
        let mut target = *self.env.control.target.borrow();
        self.apply_target(target);
        self.env.report(target.running_state(), None);
        let mut note: Option<String> = None;
        loop {
            if self.env.control.cancel.is_cancelled() {
                return Ok(());
            }
            if let Some(e) = self.shared.failure.lock().take() {
                self.task_failed = true;
                return Err(e);
            }
            let new_target = *self.env.control.target.borrow();
            if new_target != target {
                target = new_target;
                self.apply_target(target);
                self.env.report(target.running_state(), None);
                note = None;
            }
            // Records that arrive just as the connector pauses are delivered anyway: dropping
            // them would move the consumer position past records that were never put.
            let (records, raws, offsets, failure) = {
                let batch = self.poll_batch();
                self.convert_batch(&batch)
            };
            let polled_any = !offsets.is_empty() || failure.is_some();
            self.env
                .metrics
                .sink_record_read
                .inc_by(records.len() as u64 + failure.is_some() as u64);
            if polled_any || target == TargetState::Started {
                // Records before an intolerable one are still delivered, so the committed
                // offset ends up pointing exactly at the record that failed.
                self.deliver(records, raws, offsets)?;
            }
            if let Some(e) = failure {
                return Err(e);
            }
            if let Some(fatal) = self.env.health.fatal_error() {
                return Err(ConnectError::Kafka(format!(
                    "the consumer cannot connect to Kafka ({}): {fatal}",
                    self.env.bootstrap
                )));
            }
            self.apply_context_requests();
            self.maybe_commit(false);
            self.refresh_missing_topics();
            self.measure_lag();
            // Say on the status why nothing arrives when the brokers cannot be reached.
            let new_note = if polled_any {
                None
            } else {
                self.env
                    .health
                    .recent_error(Duration::from_secs(30))
                    .map(|e| {
                        format!("Cannot fetch records from Kafka ({}); retrying. Last client error: {e}", self.env.bootstrap)
                    })
            };
            if polled_any {
                self.env.health.clear();
            }
            if new_note != note {
                note = new_note;
                self.env.report(target.running_state(), note.clone());
            }
        }
    }

    fn apply_target(&self, target: TargetState) {
        let paused = target != TargetState::Started;
        self.shared.paused.store(paused, Ordering::Release);
        if let Ok(assignment) = self.consumer.assignment() {
            if assignment.count() > 0 {
                let r = if paused {
                    self.consumer.pause(&assignment)
                } else {
                    self.consumer.resume(&assignment)
                };
                if let Err(e) = r {
                    tracing::warn!(error = %e, "could not pause/resume partitions");
                }
            }
        }
    }

    /// Up to `max_poll_records` messages: waits for the first, then takes what is buffered.
    fn poll_batch(&self) -> Vec<BorrowedMessage<'_>> {
        let mut batch = Vec::new();
        let mut timeout = POLL_TIMEOUT;
        while batch.len() < self.max_poll_records {
            match self.consumer.poll(timeout) {
                Some(Ok(m)) => batch.push(m),
                Some(Err(e)) => {
                    if matches!(
                        e,
                        KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition)
                    ) {
                        self.missing_topics.store(true, Ordering::Release);
                        tracing::debug!(error = %e, "a subscribed topic does not exist yet");
                    } else {
                        tracing::warn!(error = %e, "consumer error");
                    }
                    // The client context already recorded transport errors with the broker
                    // address; keep that more useful text.
                    if self
                        .env
                        .health
                        .recent_error(Duration::from_secs(5))
                        .is_none()
                    {
                        self.env.health.record_error(e.to_string());
                    }
                    break;
                }
                None => break,
            }
            timeout = Duration::ZERO;
        }
        batch
    }

    /// Updates the `records_lag` metric, at most once a second (it reads librdkafka's
    /// cached watermarks, no request).
    fn measure_lag(&mut self) {
        if self.last_lag.elapsed() < LAG_INTERVAL {
            return;
        }
        self.last_lag = Instant::now();
        let lag = crate::kafka::consumer_lag(&self.consumer).unwrap_or(0);
        self.env.metrics.records_lag.set(lag);
    }

    /// While a subscribed topic is missing, asks for its metadata every second: librdkafka
    /// would otherwise only notice it at the next periodic refresh (minutes later).
    fn refresh_missing_topics(&mut self) {
        if !self.missing_topics.load(Ordering::Acquire)
            || self.last_metadata_refresh.elapsed() < Duration::from_secs(1)
        {
            return;
        }
        self.last_metadata_refresh = Instant::now();
        let mut all_present = true;
        for topic in &self.env.connector.topics {
            let present = self
                .consumer
                .fetch_metadata(Some(topic), Duration::from_secs(1))
                .map(|md| {
                    md.topics()
                        .iter()
                        .any(|t| t.error().is_none() && !t.partitions().is_empty())
                })
                .unwrap_or(false);
            all_present &= present;
        }
        if all_present {
            self.missing_topics.store(false, Ordering::Release);
        }
    }

    /// Converts a polled batch. Also returns, per partition, the batch's first offset and the
    /// next offset after it.
    /// Stops at the first record whose failure is not tolerated and returns that error with
    /// the records and offsets before it.
    fn convert_batch(&self, batch: &[BorrowedMessage<'_>]) -> ConvertedBatch {
        // Batches are long runs of one partition: compare with the last entry before hashing.
        let mut runs: Vec<(TopicPartition, i64, i64)> = Vec::new();
        let mut records = Vec::with_capacity(batch.len());
        // Only kept when failed records are reported somewhere (a transformation may fail later).
        let keep_raw = self.errors.has_reporters() && !self.chain.is_empty();
        let mut raws = Vec::new();
        let mut failure = None;
        // Converters that pay per call (Python) convert the whole batch first; each record
        // then takes its result as its first attempt.
        let c = &self.converters;
        let first_tries =
            |conv: &dyn Converter,
             data: for<'m, 'c> fn(&'m BorrowedMessage<'c>) -> Option<&'m [u8]>| {
                conv.batches().then(|| {
                    let items: Vec<(&str, Option<&[u8]>)> =
                        batch.iter().map(|m| (m.topic(), data(m))).collect();
                    conv.to_connect_batch(&items).into_iter()
                })
            };
        let mut keys = first_tries(&*c.key, |m| m.key());
        let mut values = first_tries(&*c.value, |m| m.payload());
        for msg in batch {
            let key = keys.as_mut().and_then(Iterator::next);
            let value = values.as_mut().and_then(Iterator::next);
            match self.convert(msg, key, value) {
                Ok(Some(r)) => {
                    records.push(r);
                    if keep_raw {
                        raws.push(Self::raw(msg));
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    failure = Some(e);
                    break;
                }
            }
            let (topic, partition, offset) = (msg.topic(), msg.partition(), msg.offset());
            match runs
                .iter_mut()
                .rev()
                .find(|(tp, _, _)| tp.partition == partition && tp.topic == topic)
            {
                Some(run) => run.2 = offset + 1,
                None => runs.push((TopicPartition::new(topic, partition), offset, offset + 1)),
            }
        }
        let mut offsets = BatchOffsets::new();
        for (tp, first, next) in runs {
            offsets
                .entry(tp)
                .and_modify(|e| e.1 = e.1.max(next))
                .or_insert((first, next));
        }
        (records, raws, offsets, failure)
    }

    /// Transforms and puts a batch; then advances the offsets to commit.
    fn deliver(
        &mut self,
        records: Vec<Record>,
        raws: Vec<RawRecord>,
        offsets: BatchOffsets,
    ) -> Result<()> {
        let records = if self.chain.is_empty() {
            records
        } else {
            let mut out = Vec::with_capacity(records.len());
            for (i, result) in self.chain.apply(records).into_iter().enumerate() {
                match result {
                    Ok(Some(r)) => out.push(r),
                    Ok(None) => {}
                    Err(f) => self.errors.handle(Failure {
                        stage: Stage::Transformation,
                        class: &f.class,
                        error: &f.error,
                        consumed: raws.get(i),
                        record: None,
                        source_position: None,
                    })?,
                }
            }
            out
        };
        for tp in offsets.keys() {
            if !self.seen_topics.contains(&tp.topic) {
                self.env.topic_used(&tp.topic);
                self.seen_topics.insert(tp.topic.clone());
            }
        }
        if self.put(records, &offsets)? {
            let mut current = self.shared.current.lock();
            for (tp, (_, next)) in offsets {
                current.insert(tp, next);
            }
        }
        Ok(())
    }

    /// Calls `put`. On a retriable failure, waits (`SinkTaskContext.timeout`, default 1 s)
    /// and rewinds to the start of the batch so it is delivered again; returns `false`.
    fn put(&mut self, records: Vec<Record>, offsets: &BatchOffsets) -> Result<bool> {
        let count = records.len() as u64;
        let started = Instant::now();
        let result = {
            let mut task = self.shared.task.lock();
            self.env.rt.block_on(task.put(records))
        };
        self.env
            .metrics
            .put_batch_time_ms
            .observe(started.elapsed().as_secs_f64() * 1000.0);
        match result {
            Ok(()) => {
                self.put_retries = None;
                self.env.metrics.sink_record_send.inc_by(count);
                Ok(true)
            }
            Err(e) if e.is_retriable() => {
                let (since, attempt) = *self.put_retries.get_or_insert((Instant::now(), 0));
                // Kafka Connect redelivers a batch after a retriable put failure forever;
                // errors.retry.timeout > 0 bounds that, so a target that stays away fails the
                // task with a clear trace instead of hiding behind RUNNING.
                if !self.errors.may_retry(since.elapsed(), true) {
                    self.task_failed = true;
                    return Err(e.context(format!(
                        "SinkTask.put kept failing with retriable errors for {} ms (errors.retry.timeout={} ms); last error",
                        since.elapsed().as_millis(),
                        self.env.connector.errors.retry_timeout_ms
                    )));
                }
                let requested = self.shared.context.lock().timeout_ms.take();
                let wait = requested
                    .map(Duration::from_millis)
                    .unwrap_or_else(|| self.errors.retry_delay(attempt));
                self.put_retries = Some((since, attempt + 1));
                self.errors.count_retry();
                tracing::warn!(error = %e, wait_ms = wait.as_millis() as u64, attempt, "retriable error in SinkTask.put; the batch will be delivered again");
                let assignment = self.consumer.assignment().ok();
                if let Some(a) = &assignment {
                    let _ = self.consumer.pause(a);
                }
                let deadline = Instant::now() + wait;
                // Keep group membership alive while waiting; paused partitions return nothing.
                while Instant::now() < deadline && !self.env.control.cancel.is_cancelled() {
                    if let Some(Ok(m)) = self
                        .consumer
                        .poll(Duration::from_millis(50).min(deadline - Instant::now()))
                    {
                        let _ = self.consumer.seek(
                            m.topic(),
                            m.partition(),
                            Offset::Offset(m.offset()),
                            Duration::from_secs(1),
                        );
                    }
                }
                for (tp, (first, _)) in offsets {
                    if let Err(e) = self.consumer.seek(
                        &tp.topic,
                        tp.partition,
                        Offset::Offset(*first),
                        Duration::from_secs(5),
                    ) {
                        return Err(ConnectError::Kafka(format!(
                            "could not rewind {tp} to offset {first} to redeliver a batch: {e}"
                        )));
                    }
                }
                if let (Some(a), false) = (&assignment, self.shared.paused.load(Ordering::Acquire))
                {
                    let _ = self.consumer.resume(a);
                }
                Ok(false)
            }
            Err(e) => {
                self.task_failed = true;
                Err(e.context("error calling SinkTask.put"))
            }
        }
    }

    fn raw(msg: &BorrowedMessage<'_>) -> RawRecord {
        RawRecord {
            topic: msg.topic().to_string(),
            partition: msg.partition(),
            offset: msg.offset(),
            timestamp: msg.timestamp().to_millis(),
            key: msg.key().map(<[u8]>::to_vec),
            value: msg.payload().map(<[u8]>::to_vec),
            headers: crate::kafka::copied_headers(msg),
        }
    }

    /// A consumed message as a record, or `None` when it failed and was tolerated. `key` and
    /// `value` are the first attempts' results when the batch was converted at once.
    fn convert(
        &self,
        msg: &BorrowedMessage<'_>,
        mut key: Option<Result<SchemaAndValue>>,
        mut value: Option<Result<SchemaAndValue>>,
    ) -> Result<Option<Record>> {
        let c = &self.converters;
        let topic = msg.topic();
        let fail = |stage: Stage, class: &str, e: ConnectError| -> Result<Option<Record>> {
            let raw = Self::raw(msg);
            self.errors.handle(Failure {
                stage,
                class,
                error: &e,
                consumed: Some(&raw),
                record: None,
                source_position: None,
            })?;
            Ok(None)
        };
        let key = match self.retrying(|| {
            key.take()
                .unwrap_or_else(|| c.key.to_connect(topic, msg.key()))
        }) {
            Ok(k) => k,
            Err(e) => return fail(Stage::KeyConverter, &c.key_class, e),
        };
        let value = match self.retrying(|| {
            value
                .take()
                .unwrap_or_else(|| c.value.to_connect(topic, msg.payload()))
        }) {
            Ok(v) => v,
            Err(e) => return fail(Stage::ValueConverter, &c.value_class, e),
        };
        let mut headers = Headers::new();
        if let Some(hs) = msg.headers() {
            for h in hs.iter() {
                match c.header.to_connect_header(topic, h.key, h.value) {
                    Ok(h) => headers.0.push(h),
                    Err(e) => return fail(Stage::HeaderConverter, &c.header_class, e),
                }
            }
        }
        let (timestamp, timestamp_type) = match msg.timestamp() {
            Timestamp::NotAvailable => (None, TimestampType::NoTimestampType),
            Timestamp::CreateTime(t) => (Some(t), TimestampType::CreateTime),
            Timestamp::LogAppendTime(t) => (Some(t), TimestampType::LogAppendTime),
        };
        Ok(Some(Record {
            topic: topic.to_string(),
            kafka_partition: Some(msg.partition()),
            key_schema: key.schema,
            key: key.value,
            value_schema: value.schema,
            value: value.value,
            timestamp,
            headers,
            origin: Origin::Sink(KafkaPosition {
                offset: msg.offset(),
                timestamp_type,
                original_topic: topic.to_string(),
                original_partition: msg.partition(),
                original_offset: msg.offset(),
            }),
        }))
    }

    /// Runs a conversion again while it fails with a retriable error (a schema registry that
    /// cannot be reached), waiting with backoff (`errors.retry.delay.max.ms`) and keeping the
    /// consumer in its group, until it succeeds, `errors.retry.timeout` (when > 0) runs out,
    /// or the task stops. Kafka Connect retries converters only within
    /// `errors.retry.timeout`; waiting for the registry to come back is what keeps records
    /// out of the dead letter queue while it is away.
    fn retrying<T>(&self, op: impl FnMut() -> Result<T>) -> Result<T> {
        let cancel = &self.env.control.cancel;
        self.errors.retry_conversion(
            op,
            || cancel.is_cancelled(),
            |wait| self.wait_in_group(wait),
        )
    }

    /// Waits with the assignment paused, polling so that the consumer stays in its group;
    /// a record that arrives anyway is sought back to.
    fn wait_in_group(&self, wait: Duration) {
        let assignment = self.consumer.assignment().ok();
        if let Some(a) = &assignment {
            let _ = self.consumer.pause(a);
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline && !self.env.control.cancel.is_cancelled() {
            if let Some(Ok(m)) = self
                .consumer
                .poll(Duration::from_millis(50).min(deadline - Instant::now()))
            {
                let _ = self.consumer.seek(
                    m.topic(),
                    m.partition(),
                    Offset::Offset(m.offset()),
                    Duration::from_secs(1),
                );
            }
        }
        if let (Some(a), false) = (&assignment, self.shared.paused.load(Ordering::Acquire)) {
            let _ = self.consumer.resume(a);
        }
    }

    /// Pause/resume/rewind/commit requests the task made through its context.
    fn apply_context_requests(&mut self) {
        let (pause, resume, offsets, commit) = {
            let mut ctx = self.shared.context.lock();
            (
                std::mem::take(&mut ctx.pause),
                std::mem::take(&mut ctx.resume),
                std::mem::take(&mut ctx.offsets),
                std::mem::take(&mut ctx.commit_requested),
            )
        };
        let tpl = |parts: &[TopicPartition]| {
            let mut t = TopicPartitionList::new();
            for p in parts {
                t.add_partition(&p.topic, p.partition);
            }
            t
        };
        if !pause.is_empty() {
            let _ = self.consumer.pause(&tpl(&pause));
        }
        if !resume.is_empty() && !self.shared.paused.load(Ordering::Acquire) {
            let _ = self.consumer.resume(&tpl(&resume));
        }
        for (tp, offset) in offsets {
            match self.consumer.seek(
                &tp.topic,
                tp.partition,
                Offset::Offset(offset),
                Duration::from_secs(5),
            ) {
                Ok(()) => {
                    self.shared.current.lock().insert(tp, offset);
                }
                Err(e) => tracing::warn!(partition = %tp, offset, error = %e, "could not rewind"),
            }
        }
        if commit {
            self.maybe_commit(true);
        }
    }

    fn maybe_commit(&mut self, now: bool) {
        if now || self.last_commit.elapsed() >= self.env.worker.offset_flush_interval {
            self.last_commit = Instant::now();
            if let Err(e) = self.shared.commit(&self.consumer, None, CommitMode::Async) {
                tracing::error!(error = %e, "offset commit failed");
                if matches!(e, ConnectError::Plugin { .. }) && !e.is_retriable() {
                    self.shared.fail(e);
                }
            }
        }
    }

    fn shutdown(&mut self, clean: bool) -> Result<()> {
        let mut result = Ok(());
        if !self.task_failed {
            // Records already handed to `put` are committed even when a later record failed
            // conversion: the failed one and everything after it are not.
            if let Err(e) = self.shared.commit(&self.consumer, None, CommitMode::Sync) {
                tracing::error!(error = %e, "final offset commit failed");
                if clean {
                    result = Err(e);
                }
            }
            let assignment = self.shared.context.lock().assignment.clone();
            let mut task = self.shared.task.lock();
            if !assignment.is_empty() {
                if let Err(e) = self.env.rt.block_on(task.close(&assignment)) {
                    tracing::warn!(error = %e, "error calling SinkTask.close");
                }
            }
        }
        self.shared.live.store(false, Ordering::Release);
        let stop = {
            let mut task = self.shared.task.lock();
            self.env
                .rt
                .block_on(task.stop())
                .map_err(|e| e.context("error calling SinkTask.stop"))
        };
        result.and(stop)
    }
}
