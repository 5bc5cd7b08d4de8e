//! Exactly-once source delivery (KIP-618): a source task's transactional producer, its
//! transaction boundaries, and the zombie fencing a connector's new task generation needs.
//!
//! Each task produces through a producer whose `transactional.id` is Connect's
//! `<group.id>-<connector>-<task>`; the offsets of the records of a transaction are written to
//! the offsets topic in that same transaction, so records and offsets commit together or not
//! at all. A consumer with `isolation.level=read_committed` (the internal offsets reader is
//! one) sees neither until the commit.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{FutureProducer, Producer};

use crate::config::connector::{TransactionBoundary, TRANSACTION_BOUNDARY_INTERVAL_MS};
use crate::config::{ConfigMap, WorkerConfig};
use crate::data::OffsetMap;
use crate::errors::{ConnectError, Result};
use crate::kafka::{build_client_config, ClientRole, LoggingContext};
use crate::plugin::{TaskId, TransactionContext};

/// The Java client's text for a fenced producer (`Errors.PRODUCER_FENCED`), which Connect
/// shows as the cause of a fenced task's failure.
pub const PRODUCER_FENCED: &str = "org.apache.kafka.common.errors.ProducerFencedException: \
There is a newer producer with the same transactionalId which fences the current one.";

/// How long transactional calls (init, commit, abort) may take before the task fails.
pub const TRANSACTION_CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Connect's `transactional.id` of a source task: `<group.id>-<connector>-<task>`.
pub fn transactional_id(group_id: &str, connector: &str, task: i32) -> String {
    format!("{group_id}-{connector}-{task}")
}

/// Whether an rdkafka error says that a newer producer with the same transactional id took
/// over (this one is a zombie).
pub fn is_fenced(e: &KafkaError) -> bool {
    let fenced = |code: RDKafkaErrorCode| {
        matches!(
            code,
            RDKafkaErrorCode::ProducerFenced
                | RDKafkaErrorCode::InvalidProducerEpoch
                | RDKafkaErrorCode::Fenced
        )
    };
    match e {
        KafkaError::Transaction(t) => fenced(t.code()) || t.to_string().contains("fenced"),
        other => other.rdkafka_error_code().is_some_and(fenced),
    }
}

/// The error a task fails with when a transactional call fails; Connect's texts when it was
/// fenced out.
pub fn transaction_error(id: &TaskId, what: &str, e: &KafkaError) -> ConnectError {
    if is_fenced(e) {
        ConnectError::Kafka(format!(
            "Failed to flush offsets and/or records for task {id}\nCaused by: {PRODUCER_FENCED}"
        ))
    } else {
        ConnectError::Kafka(format!(
            "Failed to flush offsets and/or records for task {id}: could not {what} the producer transaction: {e}"
        ))
    }
}

/// The state of a task's transactions.
pub struct Transactions {
    pub boundary: TransactionBoundary,
    /// `transaction.boundary.interval.ms`, else the worker's `offset.flush.interval.ms`.
    pub interval: Duration,
    /// Where offsets are written (in the transaction).
    pub offsets_topic: String,
    /// The task's transaction context (`transaction.boundary=connector` only).
    pub context: Option<Arc<TransactionContext>>,
    /// A transaction has been begun and not yet committed or aborted.
    pub open: bool,
    pub opened_at: Instant,
    /// The latest offset of each source partition among the records of the open transaction.
    pub offsets: HashMap<String, (OffsetMap, OffsetMap)>,
}

impl Transactions {
    /// The transactions of a source task on a worker with exactly-once support enabled;
    /// `None` when the worker delivers at least once.
    pub fn for_task(worker: &WorkerConfig, connector: &ConfigMap) -> Option<Transactions> {
        use crate::config::worker::ExactlyOnceSourceSupport;
        if worker.exactly_once_source_support != ExactlyOnceSourceSupport::Enabled {
            return None;
        }
        let distributed = worker.distributed.as_ref()?;
        let boundary = TransactionBoundary::of(connector);
        let interval = connector
            .get(TRANSACTION_BOUNDARY_INTERVAL_MS)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_millis)
            .unwrap_or(worker.offset_flush_interval);
        Some(Transactions {
            boundary,
            interval,
            offsets_topic: super::offsets::connector_offsets_topic(worker, connector)
                .unwrap_or_else(|| distributed.offset_topic.clone()),
            context: (boundary == TransactionBoundary::Connector)
                .then(|| Arc::new(TransactionContext::default())),
            open: false,
            opened_at: Instant::now(),
            offsets: HashMap::new(),
        })
    }

    /// Whether an interval boundary has been reached.
    pub fn interval_due(&self) -> bool {
        self.open
            && self.boundary == TransactionBoundary::Interval
            && self.opened_at.elapsed() >= self.interval
    }
}

/// Fences out the producers of `ids`: a short-lived producer per id initializes transactions
/// with it, which bumps the id's epoch and aborts any transaction a zombie left open (Connect's
/// `Worker.fenceZombies`). Runs on blocking threads, all ids at once.
pub async fn fence_producers(
    bootstrap: &str,
    producer_config: &ConfigMap,
    ids: Vec<String>,
) -> Result<()> {
    let fences = ids.into_iter().map(|id| {
        let bootstrap = bootstrap.to_string();
        let config = producer_config.clone();
        tokio::task::spawn_blocking(move || -> Result<()> {
            let producer: FutureProducer<LoggingContext> = build_client_config(
                &bootstrap,
                ClientRole::Producer,
                &[
                    ("transactional.id", id.as_str()),
                    ("client.id", "conveyor-zombie-fencer"),
                ],
                &config,
                &ConfigMap::new(),
            )?
            .create_with_context(LoggingContext::default())
            .map_err(|e| ConnectError::Kafka(format!("could not create a fencing producer: {e}")))?;
            producer
                .init_transactions(TRANSACTION_CALL_TIMEOUT)
                .map_err(|e| {
                    ConnectError::Kafka(format!(
                        "Failed to perform zombie fencing: could not fence transactional id {id}: {e}"
                    ))
                })
        })
    });
    for r in futures::future::join_all(fences).await {
        r.map_err(|e| ConnectError::Other(format!("zombie fencing panicked: {e}")))??;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::offsets::connector_offsets_topic;
    use super::*;

    #[test]
    fn transactional_ids_follow_connect() {
        assert_eq!(transactional_id("cluster", "seq", 2), "cluster-seq-2");
    }

    #[test]
    fn boundaries_and_interval_come_from_the_connector_config() {
        let mut raw = ConfigMap::new();
        for (k, v) in [
            ("bootstrap.servers", "localhost:9092"),
            ("group.id", "g"),
            ("config.storage.topic", "c"),
            ("offset.storage.topic", "o"),
            ("status.storage.topic", "s"),
        ] {
            raw.insert(k.into(), v.into());
        }
        let mode = crate::config::worker::WorkerMode::Distributed;
        let disabled = WorkerConfig::parse(&raw, mode).unwrap();
        assert!(Transactions::for_task(&disabled, &ConfigMap::new()).is_none());
        raw.insert("exactly.once.source.support".into(), "enabled".into());
        raw.insert("offset.flush.interval.ms".into(), "1234".into());
        let enabled = WorkerConfig::parse(&raw, mode).unwrap();
        let t = Transactions::for_task(&enabled, &ConfigMap::new()).unwrap();
        assert_eq!(t.boundary, TransactionBoundary::Poll);
        assert_eq!(t.interval, Duration::from_millis(1234));
        assert_eq!(t.offsets_topic, "o");
        assert!(t.context.is_none());
        let mut connector = ConfigMap::new();
        connector.insert("transaction.boundary".into(), "Connector".into());
        connector.insert("transaction.boundary.interval.ms".into(), "50".into());
        let t = Transactions::for_task(&enabled, &connector).unwrap();
        assert_eq!(t.boundary, TransactionBoundary::Connector);
        assert_eq!(t.interval, Duration::from_millis(50));
        assert!(t.context.is_some());
        connector.insert("offsets.storage.topic".into(), "o".into());
        assert_eq!(
            connector_offsets_topic(&enabled, &connector),
            None,
            "the worker's own topic"
        );
        connector.insert("offsets.storage.topic".into(), "seq-offsets".into());
        assert_eq!(
            Transactions::for_task(&enabled, &connector)
                .unwrap()
                .offsets_topic,
            "seq-offsets"
        );
        assert_eq!(
            connector_offsets_topic(&disabled, &connector).as_deref(),
            Some("seq-offsets"),
            "Connect uses a connector's offsets topic without exactly-once support too"
        );
        let standalone = WorkerConfig::parse(
            &crate::config::test_support::map(&[
                ("bootstrap.servers", "localhost:9092"),
                ("offset.storage.file.filename", "/tmp/offsets"),
            ]),
            crate::config::worker::WorkerMode::Standalone,
        )
        .unwrap();
        assert_eq!(
            connector_offsets_topic(&standalone, &connector),
            None,
            "standalone workers keep their offsets file"
        );
    }
}
