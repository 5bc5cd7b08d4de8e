//! The source task loop (Kafka Connect's `WorkerSourceTask`): poll the task, run the SMT
//! chain, convert, produce; commit the offsets of acknowledged records every
//! `offset.flush.interval.ms` and when the task stops.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, Producer};

use super::converters::ConverterSet;
use super::errors::{ErrorHandler, Failure, Stage};
use super::offsets::{partition_id, ConnectorOffsetReader};
use super::shared_producer::{
    DeliveryState, SourceProducer, TaskDeliveries, ACKED, FAILED, PENDING, SKIPPED,
};
use super::state::TargetState;
use super::transactions::{
    transaction_error, transactional_id, Transactions, TRANSACTION_CALL_TIMEOUT,
};
use super::transform_chain::TransformChain;
use super::worker::TaskEnv;
use crate::config::connector::TransactionBoundary;
use crate::convert::Converter;
use crate::data::{OffsetMap, Origin, Record, SchemaRef, SourcePartition, Value};
use crate::errors::{ConnectError, Result};
use crate::kafka::{build_client_config, ClientRole};
use crate::plugin::TransactionRequest;
use crate::plugin::{SourceTask, SourceTaskContext};

/// The `client.id` of the producer that at-least-once source tasks share (Kafka Connect's
/// per-task `connector-producer-<connector>-<task>` stays for transactional producers, and a
/// connector can set its own with `producer.override.client.id`).
pub(crate) const SHARED_PRODUCER_CLIENT_ID: &str = "conveyor-source-producer";

/// Counts a task start for `connect-worker-metrics`.
pub(crate) fn count_startup(ok: bool) {
    let m = crate::metrics::metrics();
    if ok {
        m.task_startup_success.inc();
    } else {
        m.task_startup_failure.inc();
    }
}

/// A record's source partition and offset; `None` for records without one (stdin).
type Position = Option<(SourcePartition, OffsetMap)>;

/// Takes a record's position out of it (it is tracked separately from here on).
fn take_position(record: &mut Record) -> Position {
    match &mut record.origin {
        Origin::Source { partition, offset } if !(partition.is_empty() && offset.is_empty()) => {
            Some((partition.clone(), std::mem::take(offset)))
        }
        _ => None,
    }
}

/// The positions of records about to go through a chain, committed whatever the chain does
/// to the records (as Kafka commits the record before its transformations). A chain that
/// reads source offsets sees the real ones, so they are copied; otherwise they are moved out.
fn positions_before_chain(records: &mut [Record], chain_reads_offsets: bool) -> Vec<Position> {
    if !chain_reads_offsets {
        return records.iter_mut().map(take_position).collect();
    }
    records
        .iter()
        .map(|record| match &record.origin {
            Origin::Source { partition, offset }
                if !(partition.is_empty() && offset.is_empty()) =>
            {
                Some((partition.clone(), offset.clone()))
            }
            _ => None,
        })
        .collect()
}

/// A record converted for the producer.
struct OutgoingRecord {
    topic: String,
    partition: Option<i32>,
    timestamp: Option<i64>,
    key: Option<Vec<u8>>,
    value: Option<Vec<u8>>,
    headers: Option<OwnedHeaders>,
}

impl OutgoingRecord {
    fn new(
        record: Record,
        key: Option<Vec<u8>>,
        value: Option<Vec<u8>>,
        headers: Option<OwnedHeaders>,
    ) -> Self {
        let Record {
            topic,
            kafka_partition,
            timestamp,
            ..
        } = record;
        OutgoingRecord {
            topic,
            partition: kafka_partition,
            timestamp,
            key,
            value,
            headers,
        }
    }
}

type Converted = Result<Option<Vec<u8>>>;

/// A batch's key and value bytes, converted at once (see [`Converter::batches`]); `None`
/// for a converter that is called per record.
struct FirstTries {
    keys: Option<std::vec::IntoIter<Converted>>,
    values: Option<std::vec::IntoIter<Converted>>,
}

impl FirstTries {
    /// The next record's results.
    fn next(&mut self) -> FirstTry {
        FirstTry {
            key: self.keys.as_mut().and_then(Iterator::next),
            value: self.values.as_mut().and_then(Iterator::next),
        }
    }
}

/// One record's first attempts at conversion, when its batch was converted at once.
struct FirstTry {
    key: Option<Converted>,
    value: Option<Converted>,
}

/// Records sent but not yet committed, per source partition, in send order. An offset is
/// committed only when it and every earlier record of its partition are acknowledged
/// (Connect's `SubmittedRecords`).
#[derive(Default)]
pub struct SubmittedRecords {
    partitions: HashMap<String, PartitionQueue>,
    last: Option<(SourcePartition, String)>,
    pending: usize,
}

struct PartitionQueue {
    partition: SourcePartition,
    records: VecDeque<(Arc<DeliveryState>, OffsetMap)>,
    /// The offset of the latest record that is acknowledged with every earlier one, not yet
    /// handed out for a commit. Records are folded into it as they are acknowledged, so a
    /// task keeps only its records in flight between two commits, not every record sent
    /// since the last one (at 200,000 records/s and a 10 s flush interval, that held
    /// hundreds of MB of offset maps).
    acknowledged: Option<OffsetMap>,
}

impl PartitionQueue {
    /// Pops the records at the front that are done, keeping the latest one's offset, and
    /// returns how many it popped. A failed record is done only when `skip_failed`.
    fn fold_done(&mut self, skip_failed: bool) -> usize {
        let mut popped = 0;
        while let Some((state, _)) = self.records.front() {
            let done = match state.get() {
                ACKED | SKIPPED => true,
                FAILED => skip_failed,
                _ => false,
            };
            if !done {
                break;
            }
            self.acknowledged = self.records.pop_front().map(|(_, o)| o);
            popped += 1;
        }
        popped
    }
}

impl SubmittedRecords {
    pub fn submit(
        &mut self,
        partition: &SourcePartition,
        offset: OffsetMap,
        state: Arc<DeliveryState>,
    ) {
        // Most tasks send long runs from one partition: skip re-serializing its id.
        let id = match &self.last {
            Some((p, id)) if Arc::ptr_eq(p, partition) || p == partition => id.clone(),
            _ => {
                let id = partition_id(partition);
                self.last = Some((partition.clone(), id.clone()));
                id
            }
        };
        let queue = self.partitions.entry(id).or_insert_with(|| PartitionQueue {
            partition: partition.clone(),
            records: VecDeque::new(),
            acknowledged: None,
        });
        // Failed records wait for the commit, which knows whether they may be passed over.
        self.pending -= queue.fold_done(false);
        queue.records.push_back((state, offset));
        self.pending += 1;
    }

    /// Pops the acknowledged prefix of each partition and returns its latest offset.
    /// Failed records are passed over only when `skip_failed` (errors.tolerance=all).
    pub fn committable(&mut self, skip_failed: bool) -> Vec<(OffsetMap, OffsetMap)> {
        let mut out = Vec::new();
        for q in self.partitions.values_mut() {
            self.pending -= q.fold_done(skip_failed);
            if let Some(o) = q.acknowledged.take() {
                out.push((q.partition.as_ref().clone(), o));
            }
        }
        self.partitions.retain(|_, q| !q.records.is_empty());
        out
    }

    /// Records sent and not yet committable.
    pub fn pending(&self) -> usize {
        self.pending
    }
}

/// One source task's loop, run on its own thread.
pub(crate) struct SourceTaskLoop {
    env: TaskEnv,
    task: Box<dyn SourceTask>,
    /// Shared with the worker's other at-least-once source tasks configured alike; the
    /// task's own when it is transactional.
    producer: Arc<SourceProducer>,
    /// This task's records in that producer.
    deliveries: Arc<TaskDeliveries>,
    converters: ConverterSet,
    chain: TransformChain,
    errors: ErrorHandler,
    submitted: SubmittedRecords,
    /// Offsets whose write failed, retried with the next commit.
    unwritten: HashMap<String, (OffsetMap, OffsetMap)>,
    last_commit: Instant,
    status_note: Option<String>,
    /// Topics this task has written to (for topic creation and tracking).
    seen_topics: std::collections::HashSet<String>,
    /// Exactly-once delivery: `Some` when the worker has `exactly.once.source.support=enabled`.
    transactions: Option<Transactions>,
}

impl SourceTaskLoop {
    pub(crate) fn new(mut env: TaskEnv, task: Box<dyn SourceTask>) -> Result<Self> {
        let converters = ConverterSet::build(&env.registry, &env.worker, &env.connector)?;
        let chain = TransformChain::build(&env.connector.raw, &env.registry)?;
        let transactions = Transactions::for_task(&env.worker, &env.connector.raw);
        // Connect's per-task name for a transactional producer; one name for the shared one.
        let client_id = if transactions.is_some() {
            format!("connector-producer-{}-{}", env.id.connector, env.id.task)
        } else {
            SHARED_PRODUCER_CLIENT_ID.to_string()
        };
        let txn_id = env
            .worker
            .distributed
            .as_ref()
            .map(|d| transactional_id(&d.group_id, &env.id.connector, env.id.task))
            .unwrap_or_default();
        let mut defaults = vec![
            ("client.id", client_id.as_str()),
            ("acks", "all"),
            // 16 MB, not librdkafka's 1 GB nor Java's 32 MB buffer.memory: librdkafka sends a
            // produce request per partition, at most batch.size (1 MB) each, one in flight per
            // broker for at-least-once tasks, so 16 MB keeps full batches ready for 16 busy
            // partitions a broker; more only lets tasks run further ahead of the broker, in
            // memory (at 32 MB it was a third of a CDC worker's peak RSS). Tasks wait for room
            // when it is full; producer.buffer.memory raises it.
            ("queue.buffering.max.kbytes", "16384"),
        ];
        if transactions.is_some() {
            defaults.extend([
                ("transactional.id", txn_id.as_str()),
                ("enable.idempotence", "true"),
                // Idempotence keeps each partition in order with up to 5 requests in flight.
                // Kafka Connect keeps 1, but the Java client puts every partition bound for a
                // broker in one produce request, where librdkafka sends one request per
                // partition: with 1, a transaction's offsets record waits a round trip for its
                // records' request before it is even sent.
                ("max.in.flight.requests.per.connection", "5"),
                // A transactional producer may not wait longer than its transaction lasts.
                ("message.timeout.ms", "60000"),
                // The Java producer's partitioner: offsets land where Connect's would.
                ("partitioner", "murmur2_random"),
                // Until the broker has written the previous commit's markers, a coordinator
                // answers CONCURRENT_TRANSACTIONS. librdkafka retries an AddPartitionsToTxn
                // so answered after a fixed 20 ms (as the Java producer does), but other
                // retried requests (an EndTxn so answered, produce retries) after
                // retry.backoff.ms, 100 ms by default: a tenth of a second per commit.
                ("retry.backoff.ms", "20"),
                // Each transaction ends with a few small requests (AddPartitionsToTxn, the
                // last produce, EndTxn) whose answers the task waits for: send them at once,
                // as the Java client does (TCP_NODELAY), rather than behind Nagle's algorithm.
                ("socket.nagle.disable", "true"),
            ]);
            if transactions
                .as_ref()
                .is_some_and(|t| t.boundary == TransactionBoundary::Poll)
            {
                // With a transaction per poll the batch is the poll's, and the commit waits
                // for every record: lingering would only add its delay to each commit.
                defaults.push(("linger.ms", "0"));
            }
        } else {
            defaults.extend([
                // Keep order under retries, as Kafka Connect does.
                ("max.in.flight.requests.per.connection", "1"),
                ("enable.idempotence", "false"),
                // Never give up on a record: Connect's delivery.timeout.ms=MAX.
                ("message.timeout.ms", "0"),
            ]);
        }
        let overrides = crate::config::def::with_prefix(
            &env.connector.raw,
            ClientRole::Producer.override_prefix(),
        );
        let config = build_client_config(
            &env.bootstrap,
            ClientRole::Producer,
            &defaults,
            &env.worker.producer,
            &overrides,
        )?;
        let producer = if transactions.is_some() {
            SourceProducer::create(&config)?
        } else {
            env.producers.get(&config)?
        };
        // The producer's connection troubles are this task's: they show in its status.
        env.health = producer.health.clone();
        let errors = super::dead_letter::error_handler(&env, &converters)?;
        Ok(SourceTaskLoop {
            env,
            task,
            producer,
            deliveries: Arc::default(),
            converters,
            chain,
            errors,
            submitted: SubmittedRecords::default(),
            unwritten: HashMap::new(),
            last_commit: Instant::now(),
            status_note: None,
            seen_topics: Default::default(),
            transactions,
        })
    }

    pub(crate) fn run(mut self) -> Result<()> {
        if self.transactions.is_some() {
            self.init_transactions()?;
        }
        let ctx = SourceTaskContext {
            task_id: self.env.id.clone(),
            offsets: Arc::new(ConnectorOffsetReader {
                store: self.env.offsets.clone(),
                connector: self.env.id.connector.clone(),
            }),
            transaction_context: self.transactions.as_ref().and_then(|t| t.context.clone()),
        };
        let config = self.env.task_config.clone();
        let started = self.env.rt.clone().block_on(self.task.start(config, ctx));
        count_startup(started.is_ok());
        started.map_err(|e| e.context("error calling SourceTask.start"))?;
        let result = self.execute();
        let shutdown = self.shutdown();
        self.chain.close();
        result.and(shutdown)
    }

    fn execute(&mut self) -> Result<()> {
        let mut target = *self.env.control.target.borrow();
        self.env.report(target.running_state(), None);
        loop {
            if self.env.control.cancel.is_cancelled() {
                return Ok(());
            }
            let new_target = *self.env.control.target.borrow();
            if new_target != target {
                target = new_target;
                self.env.report(target.running_state(), None);
            }
            self.check_producer()?;
            if target != TargetState::Started {
                self.maybe_commit();
                self.wait_while_paused();
                continue;
            }
            let cancel = self.env.control.cancel.clone();
            let poll_started = Instant::now();
            let polled = self.env.rt.clone().block_on(async {
                tokio::select! {
                    r = self.task.poll() => Some(r),
                    _ = cancel.cancelled() => None,
                }
            });
            let records = match polled {
                None => return Ok(()),
                Some(Ok(r)) => r,
                Some(Err(e)) if e.is_retriable() => {
                    tracing::warn!(error = %e, "retriable error in SourceTask.poll; polling again");
                    Vec::new()
                }
                Some(Err(e)) => return Err(e.context("error calling SourceTask.poll")),
            };
            if !records.is_empty() {
                self.env
                    .metrics
                    .source_record_poll
                    .inc_by(records.len() as u64);
                self.env
                    .metrics
                    .poll_batch_time_ms
                    .observe(poll_started.elapsed().as_secs_f64() * 1000.0);
                if self.transactions.is_some() {
                    self.send_transactional_batch(records)?;
                } else {
                    self.send_batch(records)?;
                }
            } else if self.transactions.is_some() {
                // A connector may ask for a boundary in a poll that returns nothing.
                self.apply_transaction_requests(0)?;
            }
            if self.transactions.is_some() {
                self.maybe_commit_transaction()?;
            } else {
                self.maybe_commit();
            }
            self.update_status_note();
        }
    }

    /// Creates the task's transactional identity, fencing out any earlier producer with the
    /// same `transactional.id` (aborting what it left open), then reads the offsets topic to
    /// the end so the task resumes from the last committed transaction.
    fn init_transactions(&mut self) -> Result<()> {
        let id = self.env.id.clone();
        self.producer
            .init_transactions(TRANSACTION_CALL_TIMEOUT)
            .map_err(|e| transaction_error(&id, "initialize", &e))?;
        self.env
            .rt
            .clone()
            .block_on(self.env.offsets.read_to_end(TRANSACTION_CALL_TIMEOUT))
            .map_err(|e| e.context("could not read the offsets topic before starting the task"))
    }

    fn begin_transaction_if_needed(&mut self) -> Result<()> {
        let Some(t) = self.transactions.as_mut() else {
            return Ok(());
        };
        if !t.open {
            self.producer
                .begin_transaction()
                .map_err(|e| transaction_error(&self.env.id, "begin", &e))?;
            t.open = true;
            t.opened_at = Instant::now();
        }
        Ok(())
    }

    /// Sends a batch inside the open transaction (beginning one), splitting it where the
    /// task asked for a boundary after a record, then applies the boundary of its mode.
    fn send_transactional_batch(&mut self, mut records: Vec<Record>) -> Result<()> {
        let requests = self
            .transactions
            .as_ref()
            .and_then(|t| t.context.as_ref())
            .map(|c| c.take())
            .unwrap_or_default();
        let mut per_record = requests.records;
        per_record.sort_by_key(|(i, _)| *i);
        let total = records.len();
        let mut done = 0usize;
        for (index, request) in per_record {
            if index >= total {
                tracing::warn!(index, total, "a transaction request names a record that poll did not return; applying it after the batch");
                continue;
            }
            if index < done {
                continue;
            }
            let rest = records.split_off(index + 1 - done);
            let chunk = std::mem::replace(&mut records, rest);
            done = index + 1;
            self.begin_transaction_if_needed()?;
            self.send_batch(chunk)?;
            self.finish_transaction(request)?;
        }
        if !records.is_empty() {
            self.begin_transaction_if_needed()?;
            self.send_batch(records)?;
        }
        match self.transactions.as_ref().map(|t| t.boundary) {
            Some(TransactionBoundary::Poll) => self.finish_transaction(TransactionRequest::Commit),
            Some(TransactionBoundary::Connector) => match requests.batch {
                Some(r) => self.finish_transaction(r),
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Applies a batch-level request made during a poll that returned `_count` records.
    fn apply_transaction_requests(&mut self, _count: usize) -> Result<()> {
        let requests = self
            .transactions
            .as_ref()
            .and_then(|t| t.context.as_ref())
            .map(|c| c.take())
            .unwrap_or_default();
        match requests.batch {
            Some(r) => self.finish_transaction(r),
            None => Ok(()),
        }
    }

    fn maybe_commit_transaction(&mut self) -> Result<()> {
        if self.transactions.as_ref().is_some_and(|t| t.interval_due()) {
            self.finish_transaction(TransactionRequest::Commit)?;
        }
        Ok(())
    }

    /// Ends the open transaction. A commit writes the offsets of its records first, in the
    /// transaction; an abort discards the records but commits their offsets in a transaction
    /// of their own, so they are not polled again (Connect's `abortTransaction`).
    fn finish_transaction(&mut self, request: TransactionRequest) -> Result<()> {
        let open = self.transactions.as_ref().is_some_and(|t| t.open);
        if !open {
            return Ok(());
        }
        self.check_producer()?;
        let id = self.env.id.clone();
        if request == TransactionRequest::Abort {
            self.flush_before_abort()?;
            self.producer
                .abort_transaction(TRANSACTION_CALL_TIMEOUT)
                .map_err(|e| transaction_error(&id, "abort", &e))?;
            if let Some(t) = self.transactions.as_mut() {
                t.open = false;
            }
            tracing::debug!("aborted a transaction as the task asked");
            if self
                .transactions
                .as_ref()
                .is_some_and(|t| t.offsets.is_empty())
            {
                return Ok(());
            }
            self.begin_transaction_if_needed()?;
        }
        let offsets: Vec<(OffsetMap, OffsetMap)> = self
            .transactions
            .as_mut()
            .map(|t| t.offsets.drain().map(|(_, v)| v).collect())
            .unwrap_or_default();
        let topic = self
            .transactions
            .as_ref()
            .map(|t| t.offsets_topic.clone())
            .unwrap_or_default();
        for (partition, offset) in &offsets {
            let key = super::offsets::offset_key(&id.connector, partition);
            let value = serde_json::to_vec(offset)?;
            let mut rec: BaseRecord<'_, [u8], [u8], Arc<DeliveryState>> =
                BaseRecord::with_opaque_to(&topic, DeliveryState::new(SKIPPED, &self.deliveries))
                    .key(key.as_slice())
                    .payload(value.as_slice());
            loop {
                // Counted before the send: the delivery report may come before it returns.
                self.deliveries.sent();
                match self.producer.send(rec) {
                    Ok(()) => break,
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                        self.deliveries.not_sent();
                        rec = back;
                        self.producer.poll(Duration::from_millis(10));
                    }
                    Err((e, _)) => {
                        self.deliveries.not_sent();
                        return Err(transaction_error(&id, "write offsets in", &e));
                    }
                }
            }
        }
        self.flush_transaction()?;
        self.producer
            .commit_transaction(TRANSACTION_CALL_TIMEOUT)
            .map_err(|e| transaction_error(&id, "commit", &e))?;
        if let Some(t) = self.transactions.as_mut() {
            t.open = false;
        }
        self.check_producer()?;
        self.env.metrics.offset_commit_success.inc();
        tracing::debug!(partitions = offsets.len(), "committed a transaction");
        let rt = self.env.rt.clone();
        rt.block_on(self.task.commit())
            .map_err(|e| e.context("error calling SourceTask.commit"))
    }

    fn wait_while_paused(&self) {
        let mut target = self.env.control.target.clone();
        let cancel = self.env.control.cancel.clone();
        let wait = self
            .env
            .worker
            .offset_flush_interval
            .min(Duration::from_secs(1));
        self.env.rt.block_on(async {
            tokio::select! {
                _ = target.changed() => {}
                _ = cancel.cancelled() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        });
    }

    fn check_producer(&self) -> Result<()> {
        // Refused credentials or certificates are not records to tolerate: nothing can be
        // delivered until the config changes.
        if let Some(fatal) = self.env.health.fatal_error() {
            return Err(ConnectError::Kafka(format!(
                "the producer cannot connect to Kafka ({}): {fatal}",
                self.env.bootstrap
            )));
        }
        if self.errors.tolerates_all() {
            return Ok(());
        }
        match self.deliveries.first_failure() {
            Some(f) => Err(ConnectError::Kafka(f)),
            None => Ok(()),
        }
    }

    /// For converters that pay per call (Python): the key and value bytes of `records`,
    /// converted a batch at a time, for each record to take as its first attempt.
    fn first_tries<'r>(&self, records: impl Iterator<Item = &'r Record> + Clone) -> FirstTries {
        let c = &self.converters;
        let convert = |conv: &dyn Converter, part: fn(&Record) -> (Option<&SchemaRef>, &Value)| {
            conv.batches().then(|| {
                let items: Vec<(&str, Option<&SchemaRef>, &Value)> = records
                    .clone()
                    .map(|r| {
                        let (schema, value) = part(r);
                        (r.topic.as_str(), schema, value)
                    })
                    .collect();
                conv.to_bytes_batch(&items).into_iter()
            })
        };
        FirstTries {
            keys: convert(&*c.key, |r| (r.key_schema.as_ref(), &r.key)),
            values: convert(&*c.value, |r| (r.value_schema.as_ref(), &r.value)),
        }
    }

    fn send_batch(&mut self, mut records: Vec<Record>) -> Result<()> {
        if self.chain.is_empty() {
            let mut first = self.first_tries(records.iter());
            for mut record in records {
                let position = take_position(&mut record);
                let tries = first.next();
                self.send(record, position, tries)?;
            }
            return Ok(());
        }
        // SMTs may drop or replace records: keep each one's position to commit it anyway.
        let positions = positions_before_chain(&mut records, self.chain.reads_source_offsets());
        // A record whose transformation fails can only be reported if a copy was kept.
        let originals: Vec<Record> = if self.errors.has_reporters() {
            records.clone()
        } else {
            Vec::new()
        };
        let results = self.chain.apply(records);
        let mut first = self.first_tries(results.iter().filter_map(|r| match r {
            Ok(Some(record)) => Some(record),
            _ => None,
        }));
        for (i, (position, result)) in positions.into_iter().zip(results).enumerate() {
            match result {
                Ok(Some(record)) => {
                    let tries = first.next();
                    self.send(record, position, tries)?
                }
                Ok(None) => self.skip(position),
                Err(f) => {
                    self.errors.handle(Failure {
                        stage: Stage::Transformation,
                        class: &f.class,
                        error: &f.error,
                        consumed: None,
                        record: originals.get(i),
                        source_position: position.as_ref().map(|(p, o)| (p.as_ref(), o)),
                    })?;
                    self.skip(position);
                }
            }
        }
        Ok(())
    }

    /// A record that will not be sent (dropped or tolerated): its offset is committable.
    fn skip(&mut self, position: Position) {
        if let Some((p, o)) = position {
            if let Some(t) = self.transactions.as_mut() {
                t.offsets.insert(partition_id(&p), (p.as_ref().clone(), o));
                return;
            }
            self.submitted
                .submit(&p, o, DeliveryState::new(SKIPPED, &self.deliveries));
        }
    }

    /// Key, value and headers as bytes; `None` when a converter failed and it was tolerated.
    /// `first` holds the first attempts' results when the batch was converted at once.
    fn convert(
        &self,
        mut record: Record,
        position: &Position,
        first: FirstTry,
    ) -> Result<Option<OutgoingRecord>> {
        let FirstTry {
            key: first_key,
            value: first_value,
        } = first;
        let c = &self.converters;
        let fail =
            |stage: Stage, class: &str, e: ConnectError, record: &Record| -> Result<Option<_>> {
                self.errors.handle(Failure {
                    stage,
                    class,
                    error: &e,
                    consumed: None,
                    record: Some(record),
                    source_position: position.as_ref().map(|(p, o)| (p.as_ref(), o)),
                })?;
                Ok(None)
            };
        let key = match self.retrying_after(first_key, || {
            c.key
                .to_bytes(&record.topic, record.key_schema.as_ref(), &record.key)
        }) {
            Ok(k) => k,
            Err(e) => return fail(Stage::KeyConverter, &c.key_class, e, &record),
        };
        let headers = if record.headers.is_empty() {
            None
        } else {
            let mut h = OwnedHeaders::new_with_capacity(record.headers.len());
            for header in record.headers.iter() {
                match c.header.header_to_bytes(&record.topic, header) {
                    Ok(bytes) => {
                        h = h.insert(KafkaHeader {
                            key: &header.key,
                            value: bytes.as_deref(),
                        });
                    }
                    Err(e) => return fail(Stage::HeaderConverter, &c.header_class, e, &record),
                }
            }
            Some(h)
        };
        // The value goes last and by value: string and byte converters can hand over its
        // buffer instead of copying it.
        if first_value.is_some() {
            let value = match self.retrying_after(first_value, || {
                c.value
                    .to_bytes(&record.topic, record.value_schema.as_ref(), &record.value)
            }) {
                Ok(v) => v,
                Err(e) => return fail(Stage::ValueConverter, &c.value_class, e, &record),
            };
            return Ok(Some(OutgoingRecord::new(record, key, value, headers)));
        }
        let value = std::mem::take(&mut record.value);
        let value = match c
            .value
            .to_bytes_owned(&record.topic, record.value_schema.as_ref(), value)
        {
            Ok(v) => v,
            Err((e, value)) if e.is_retriable() => {
                record.value = value;
                match self.retrying(|| {
                    c.value
                        .to_bytes(&record.topic, record.value_schema.as_ref(), &record.value)
                }) {
                    Ok(v) => v,
                    Err(e) => return fail(Stage::ValueConverter, &c.value_class, e, &record),
                }
            }
            Err((e, value)) => {
                record.value = value;
                return fail(Stage::ValueConverter, &c.value_class, e, &record);
            }
        };
        Ok(Some(OutgoingRecord::new(record, key, value, headers)))
    }

    /// [`Self::retrying`] a conversion whose first attempt, when `first` holds one, was made
    /// with the rest of its batch.
    fn retrying_after(
        &self,
        first: Option<Converted>,
        mut convert: impl FnMut() -> Converted,
    ) -> Converted {
        let mut first = first;
        self.retrying(|| first.take().unwrap_or_else(&mut convert))
    }

    /// Runs a conversion again while it fails with a retriable error (a schema registry that
    /// cannot be reached), with backoff, serving delivery reports meanwhile, until it
    /// succeeds, `errors.retry.timeout` (when > 0) runs out, or the task stops.
    fn retrying<T>(&self, op: impl FnMut() -> Result<T>) -> Result<T> {
        let cancel = &self.env.control.cancel;
        self.errors.retry_conversion(
            op,
            || cancel.is_cancelled(),
            |wait| {
                let deadline = Instant::now() + wait;
                while Instant::now() < deadline && !cancel.is_cancelled() {
                    self.producer
                        .poll(Duration::from_millis(50).min(deadline - Instant::now()));
                }
            },
        )
    }

    fn send(&mut self, record: Record, position: Position, first: FirstTry) -> Result<()> {
        if !self.seen_topics.contains(&record.topic) {
            self.first_use_of_topic(&record.topic);
        }
        let Some(OutgoingRecord {
            topic,
            partition: kafka_partition,
            timestamp,
            key,
            value,
            headers,
        }) = self.convert(record, &position, first)?
        else {
            self.skip(position);
            return Ok(());
        };
        let state = DeliveryState::new(PENDING, &self.deliveries);
        if let Some((p, o)) = position {
            match self.transactions.as_mut() {
                // Committed with the transaction, which delivers every record or none.
                Some(t) => {
                    t.offsets.insert(partition_id(&p), (p.as_ref().clone(), o));
                }
                None => self.submitted.submit(&p, o, state.clone()),
            }
        }
        let mut rec: BaseRecord<'_, [u8], [u8], Arc<DeliveryState>> =
            BaseRecord::with_opaque_to(&topic, state.clone());
        if let Some(k) = key.as_deref() {
            rec = rec.key(k);
        }
        if let Some(v) = value.as_deref() {
            rec = rec.payload(v);
        }
        if let Some(h) = headers {
            rec = rec.headers(h);
        }
        if let Some(ts) = timestamp {
            rec = rec.timestamp(ts);
        }
        if let Some(p) = kafka_partition {
            rec = rec.partition(p);
        }
        loop {
            // Counted before the send: the delivery report may come before it returns.
            self.deliveries.sent();
            match self.producer.send(rec) {
                Ok(()) => {
                    self.env.metrics.source_record_write.inc();
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // Back-pressure: the broker is slow or away. Wait for deliveries, keep the
                    // status honest, and give up only if the task is being stopped.
                    self.deliveries.not_sent();
                    rec = back;
                    if self.env.control.cancel.is_cancelled() {
                        state.set(FAILED);
                        return Err(ConnectError::Retriable(
                            "task stopped while the producer queue was full".into(),
                        ));
                    }
                    self.producer.poll(Duration::from_millis(10));
                    if let Err(e) = self.check_producer() {
                        state.set(FAILED);
                        return Err(e);
                    }
                    if self.transactions.is_none() {
                        self.maybe_commit();
                    }
                    self.update_status_note();
                }
                Err((e, _)) => {
                    self.deliveries.not_sent();
                    state.set(FAILED);
                    let err = ConnectError::Kafka(format!(
                        "failed to send a record to topic {topic}: {e}"
                    ));
                    self.errors.handle(Failure {
                        stage: Stage::KafkaProduce,
                        class: "org.apache.kafka.clients.producer.KafkaProducer",
                        error: &err,
                        consumed: None,
                        record: None,
                        source_position: None,
                    })?;
                    state.set(SKIPPED);
                    return Ok(());
                }
            }
        }
    }

    fn first_use_of_topic(&mut self, topic: &str) {
        if self
            .env
            .worker
            .raw
            .get("topic.creation.enable")
            .is_none_or(|v| !v.trim().eq_ignore_ascii_case("false"))
        {
            self.env
                .rt
                .block_on(self.env.topics.ensure(topic, &self.env.connector.raw));
        }
        self.env.topic_used(topic);
        self.seen_topics.insert(topic.to_string());
    }

    /// Shows on a RUNNING status why records are not being delivered, and clears it after.
    fn update_status_note(&mut self) {
        let note = if self.submitted.pending() > 0 || self.deliveries.in_flight() > 0 {
            self.env
                .health
                .recent_error(Duration::from_secs(30))
                .map(|e| {
                    format!(
                        "Records are waiting to be delivered to Kafka ({}); retrying. Last client error: {e}",
                        self.env.bootstrap
                    )
                })
        } else {
            None
        };
        if note != self.status_note {
            self.status_note = note.clone();
            let target = *self.env.control.target.borrow();
            self.env.report(target.running_state(), note);
        }
    }

    fn maybe_commit(&mut self) {
        if self.last_commit.elapsed() >= self.env.worker.offset_flush_interval {
            if let Err(e) = self.commit_offsets() {
                self.env.metrics.offset_commit_failure.inc();
                tracing::error!(error = %e, "failed to commit source offsets; will retry");
            }
        }
    }

    /// Writes the offsets of acknowledged records, then calls `SourceTask.commit`.
    fn commit_offsets(&mut self) -> Result<()> {
        self.last_commit = Instant::now();
        let tolerate = self.errors.tolerates_all();
        for (p, o) in self.submitted.committable(tolerate) {
            self.unwritten.insert(partition_id(&p), (p, o));
        }
        if self.unwritten.is_empty() {
            return Ok(());
        }
        // Records sent to the dead letter queue must be there before their offsets commit.
        self.errors.flush()?;
        let entries: Vec<(OffsetMap, Option<OffsetMap>)> = self
            .unwritten
            .values()
            .map(|(p, o)| (p.clone(), Some(o.clone())))
            .collect();
        let count = entries.len();
        let rt = self.env.rt.clone();
        rt.block_on(self.env.offsets.put(&self.env.id.connector, entries))?;
        self.unwritten.clear();
        self.env.metrics.offset_commit_success.inc();
        tracing::debug!(partitions = count, "committed source offsets");
        rt.block_on(self.task.commit())
            .map_err(|e| e.context("error calling SourceTask.commit"))
    }

    /// Delivers what was sent (bounded by `task.shutdown.graceful.timeout.ms`, as Kafka closes
    /// its producer), commits what was acknowledged, stops the task.
    fn shutdown(&mut self) -> Result<()> {
        if self.transactions.is_some() {
            return self.shutdown_transactional();
        }
        let timeout = self
            .env
            .worker
            .task_shutdown_graceful_timeout
            .max(self.env.worker.offset_flush_timeout);
        let deadline = Instant::now() + timeout;
        // Every record handed to the producer counts, with a source offset or without one:
        // the producer would drop what is still queued when it is closed. Only this task's
        // records are waited for: the producer may be shared, and its polling thread serves
        // the delivery reports.
        loop {
            if self.deliveries.in_flight() == 0 {
                // Every delivery report has been served: what is now committable is kept
                // for the final commit below, and nothing more will be acknowledged.
                for (p, o) in self.submitted.committable(self.errors.tolerates_all()) {
                    self.unwritten.insert(partition_id(&p), (p, o));
                }
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        let undelivered = self.deliveries.in_flight();
        if undelivered > 0 {
            tracing::warn!(
                undelivered,
                timeout_ms = timeout.as_millis() as u64,
                "stopping with {undelivered} records not delivered to Kafka after {} ms \
                 (task.shutdown.graceful.timeout.ms). Those with a source offset are not \
                 committed and will be sent again; those without one may be lost",
                timeout.as_millis()
            );
        } else if self.submitted.pending() > 0 {
            tracing::warn!(outstanding = self.submitted.pending(), "stopping with unacknowledged records; their offsets are not committed and they will be sent again");
        }
        // Even after a failure, acknowledged records are in Kafka: commit their offsets.
        let commit = self.commit_offsets();
        let stop = self
            .env
            .rt
            .clone()
            .block_on(self.task.stop())
            .map_err(|e| e.context("error calling SourceTask.stop"));
        commit.and(stop)
    }
}

impl SourceTaskLoop {
    /// Waits for the records of the open transaction to be delivered before it is aborted:
    /// librdkafka 2.12 can fail an abort with INVALID_TXN_STATE (a fatal error) while the
    /// transaction's partitions are still being added (confluentinc/librdkafka#4849).
    fn flush_before_abort(&self) -> Result<()> {
        self.flush_transaction()
    }

    /// Sends what is queued at once and waits until every record of the transaction is
    /// delivered. rdkafka's own flush (which `commit_transaction` calls first) polls the
    /// delivery reports in 100 ms steps, racing the producer's polling thread for them, so
    /// every commit would last 100 ms; librdkafka's `rd_kafka_flush` instead waits on a
    /// condition variable until the polling thread has served the last report, and the
    /// commit's own flush then has nothing left to wait for.
    fn flush_transaction(&self) -> Result<()> {
        let timeout_ms = TRANSACTION_CALL_TIMEOUT.as_millis() as std::os::raw::c_int;
        // SAFETY: the producer outlives the call, and rd_kafka_flush may be called from any
        // thread; with delivery reports as events (rdkafka's mode) it only waits.
        let code = unsafe {
            rdkafka::bindings::rd_kafka_flush(self.producer.client().native_ptr(), timeout_ms)
        };
        if code == rdkafka::bindings::rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
            return Ok(());
        }
        Err(transaction_error(
            &self.env.id,
            "deliver the records of",
            &KafkaError::Flush(code.into()),
        ))
    }

    /// Ends the open transaction (committed for `poll` and `interval` boundaries; aborted for
    /// connector-defined ones, whose records are polled again), then stops the task. A task
    /// that was fenced out writes nothing more.
    fn shutdown_transactional(&mut self) -> Result<()> {
        let boundary = self
            .transactions
            .as_ref()
            .map(|t| t.boundary)
            .unwrap_or_default();
        let request = if boundary == TransactionBoundary::Connector {
            TransactionRequest::Abort
        } else {
            TransactionRequest::Commit
        };
        let end = if request == TransactionRequest::Abort {
            let open = self.transactions.as_ref().is_some_and(|t| t.open);
            if open {
                let _ = self.flush_before_abort();
                self.producer
                    .abort_transaction(TRANSACTION_CALL_TIMEOUT)
                    .map(|_| ())
                    .map_err(|e| transaction_error(&self.env.id, "abort", &e))
            } else {
                Ok(())
            }
        } else {
            self.finish_transaction(request)
        };
        if let Err(e) = &end {
            tracing::warn!(error = %e, "could not end the open transaction on stop; its records and offsets are not committed");
        }
        let stop = self
            .env
            .rt
            .clone()
            .block_on(self.task.stop())
            .map_err(|e| e.context("error calling SourceTask.stop"));
        end.and(stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::{PluginRegistry, TransformPlugin};
    use crate::transform::Transformation;
    use parking_lot::Mutex;
    use serde_json::json;

    fn map(v: serde_json::Value) -> OffsetMap {
        v.as_object().unwrap().clone()
    }

    /// A transformation that reads source offsets, as a Python one may: notes what it sees.
    struct SeesOffsets(Arc<Mutex<Vec<OffsetMap>>>);

    impl Transformation for SeesOffsets {
        fn apply(&mut self, record: Record) -> Result<Option<Record>> {
            if let Origin::Source { offset, .. } = &record.origin {
                self.0.lock().push(offset.clone());
            }
            // Dropping the record must not lose its position.
            Ok(None)
        }

        fn reads_source_offset(&self) -> bool {
            true
        }
    }

    #[test]
    fn a_chain_sees_source_offsets_only_when_a_stage_reads_them() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let mut registry = PluginRegistry::new();
        crate::plugin::builtin::register_transforms(&mut registry);
        let sink = seen.clone();
        registry.add_transform(TransformPlugin {
            class: "test.SeesOffsets".into(),
            aliases: Vec::new(),
            version: "1".into(),
            config_def: Default::default(),
            new: Arc::new(move |_| Ok(Box::new(SeesOffsets(sink.clone())))),
        });
        let config = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let partition: SourcePartition = Arc::new(map(json!({"file": "a"})));
        let records = || {
            (1..=2)
                .map(|n| {
                    Record::source(
                        "t",
                        partition.clone(),
                        map(json!({ "line": n })),
                        None,
                        crate::data::Value::string_map([("n", n.into())]),
                    )
                })
                .collect::<Vec<_>>()
        };
        let expected: Vec<Position> = (1..=2)
            .map(|n| Some((partition.clone(), map(json!({ "line": n })))))
            .collect();

        let mut chain = TransformChain::build(
            &config(&[
                ("transforms", "flag,see"),
                ("transforms.flag.type", "InsertField$Value"),
                ("transforms.flag.static.field", "f"),
                ("transforms.flag.static.value", "v"),
                ("transforms.see.type", "test.SeesOffsets"),
            ]),
            &registry,
        )
        .unwrap();
        assert!(chain.reads_source_offsets());
        let mut batch = records();
        let positions = positions_before_chain(&mut batch, chain.reads_source_offsets());
        assert_eq!(positions, expected);
        assert!(chain.apply(batch).iter().all(|r| matches!(r, Ok(None))));
        assert_eq!(
            *seen.lock(),
            vec![map(json!({"line": 1})), map(json!({"line": 2}))]
        );

        // Kafka's SMTs do not read offsets: they are moved out, not copied.
        let chain = TransformChain::build(
            &config(&[
                ("transforms", "flag"),
                ("transforms.flag.type", "InsertField$Value"),
                ("transforms.flag.static.field", "f"),
                ("transforms.flag.static.value", "v"),
            ]),
            &registry,
        )
        .unwrap();
        assert!(!chain.reads_source_offsets());
        let mut batch = records();
        let positions = positions_before_chain(&mut batch, chain.reads_source_offsets());
        assert_eq!(positions, expected);
        assert!(batch.iter().all(|r| matches!(
            &r.origin,
            Origin::Source { offset, .. } if offset.is_empty()
        )));
    }

    #[test]
    fn commits_only_acknowledged_prefix_per_partition() {
        let mut s = SubmittedRecords::default();
        let a = Arc::new(map(json!({"f": "a"})));
        let b = Arc::new(map(json!({"f": "b"})));
        let task = Arc::new(TaskDeliveries::default());
        let states: Vec<_> = (0..3).map(|_| DeliveryState::new(PENDING, &task)).collect();
        s.submit(&a, map(json!({"p": 1})), states[0].clone());
        s.submit(&a, map(json!({"p": 2})), states[1].clone());
        s.submit(&b, map(json!({"p": 9})), states[2].clone());
        states[1].set(ACKED);
        states[2].set(ACKED);
        assert_eq!(
            s.committable(false),
            vec![(b.as_ref().clone(), map(json!({"p": 9})))]
        );
        assert_eq!(s.pending(), 2);
        states[0].set(FAILED);
        assert!(s.committable(false).is_empty());
        assert_eq!(
            s.committable(true),
            vec![(a.as_ref().clone(), map(json!({"p": 2})))]
        );
        assert_eq!(s.pending(), 0);
    }

    #[test]
    fn acknowledged_records_are_folded_as_more_are_sent() {
        let mut s = SubmittedRecords::default();
        let a = Arc::new(map(json!({"f": "a"})));
        let task = Arc::new(TaskDeliveries::default());
        let mut states = Vec::new();
        for p in 0..1000 {
            let state = DeliveryState::new(PENDING, &task);
            s.submit(&a, map(json!({"p": p})), state.clone());
            state.set(ACKED);
            states.push(state);
        }
        // Only the record sent last is still queued; the others are folded into one offset.
        assert_eq!(s.pending(), 1);
        let failed = DeliveryState::new(PENDING, &task);
        s.submit(&a, map(json!({"p": 1000})), failed.clone());
        failed.set(FAILED);
        s.submit(
            &a,
            map(json!({"p": 1001})),
            DeliveryState::new(PENDING, &task),
        );
        // A failed record is not folded without the commit's say, nor anything after it.
        assert_eq!(s.pending(), 2);
        assert_eq!(
            s.committable(false),
            vec![(a.as_ref().clone(), map(json!({"p": 999})))]
        );
        assert!(s.committable(false).is_empty());
    }
}
