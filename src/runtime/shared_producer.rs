//! One producer for all the at-least-once source tasks of a worker whose producers would be
//! configured alike. librdkafka gives every client its own threads (main, internal, one per
//! broker, plus the polling thread of a `ThreadedProducer`) and its own buffers, so a producer
//! per task made each task cost several threads and megabytes. Tasks keep their delivery
//! bookkeeping to themselves ([`TaskDeliveries`], carried by each record's delivery opaque),
//! so sharing changes nothing in what a task commits or when it fails.
//!
//! Transactional (exactly-once) tasks never share: each needs its own `transactional.id`.
//! A connector that sets its own `producer.override.*` settings (`client.id` included) gets
//! a producer of its own, because its configuration differs.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use rdkafka::producer::{DeliveryResult, ProducerContext, ThreadedProducer};
use rdkafka::ClientConfig;

use crate::errors::{ConnectError, Result};
use crate::kafka::{ClientHealth, LoggingContext};

pub(crate) const PENDING: u8 = 0;
pub(crate) const ACKED: u8 = 1;
pub(crate) const FAILED: u8 = 2;
/// Dropped by a transformation or skipped under `errors.tolerance=all`: done, commit past it.
pub(crate) const SKIPPED: u8 = 3;

/// What one task knows of its records' deliveries, whichever producer sent them.
#[derive(Debug, Default)]
pub struct TaskDeliveries {
    first_failure: Mutex<Option<String>>,
    in_flight: AtomicUsize,
}

impl TaskDeliveries {
    /// The first record this task failed to deliver, as an error message.
    pub fn first_failure(&self) -> Option<String> {
        self.first_failure.lock().clone()
    }

    /// Records handed to the producer and not yet acknowledged or failed.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Counts a record about to be handed to the producer (before, since its delivery
    /// report may be served before the send returns).
    pub(crate) fn sent(&self) {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
    }

    /// Takes back [`Self::sent`] for a record the producer refused.
    pub(crate) fn not_sent(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Delivery state of one produced record, shared with the delivery callback.
#[derive(Debug)]
pub struct DeliveryState {
    state: AtomicU8,
    task: Arc<TaskDeliveries>,
}

impl DeliveryState {
    pub(crate) fn new(state: u8, task: &Arc<TaskDeliveries>) -> Arc<Self> {
        Arc::new(DeliveryState {
            state: AtomicU8::new(state),
            task: task.clone(),
        })
    }

    pub(crate) fn get(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    pub(crate) fn set(&self, state: u8) {
        self.state.store(state, Ordering::Release)
    }
}

/// Producer context: delivery reports mark records acknowledged or failed, in the books of
/// the task that sent them.
pub struct SourceProducerContext {
    log: LoggingContext,
}

crate::delegate_client_context!(SourceProducerContext, log);

impl ProducerContext for SourceProducerContext {
    type DeliveryOpaque = Arc<DeliveryState>;

    fn delivery(&self, result: &DeliveryResult<'_>, record: Arc<DeliveryState>) {
        match result {
            Ok(_) => {
                record.set(ACKED);
                self.log.health.clear();
            }
            Err((e, msg)) => {
                use rdkafka::Message;
                record.set(FAILED);
                let mut first = record.task.first_failure.lock();
                if first.is_none() {
                    *first = Some(format!(
                        "failed to send a record to topic {} partition {}: {e}",
                        msg.topic(),
                        msg.partition()
                    ));
                }
            }
        }
        // After the state: a task that sees nothing in flight sees every final state.
        record.task.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A source producer, and the health of its connections (shared by the tasks that use it).
pub struct SourceProducer {
    pub producer: ThreadedProducer<SourceProducerContext>,
    pub health: Arc<ClientHealth>,
}

impl SourceProducer {
    /// A producer for one task alone (a transactional one).
    pub fn create(config: &ClientConfig) -> Result<Arc<SourceProducer>> {
        let health = Arc::new(ClientHealth::default());
        let producer = config
            .create_with_context(SourceProducerContext {
                log: LoggingContext::new(health.clone()),
            })
            .map_err(|e| ConnectError::Kafka(format!("could not create the producer: {e}")))?;
        Ok(Arc::new(SourceProducer { producer, health }))
    }
}

impl std::ops::Deref for SourceProducer {
    type Target = ThreadedProducer<SourceProducerContext>;

    fn deref(&self) -> &Self::Target {
        &self.producer
    }
}

/// The worker's shared source producers, one per distinct client configuration; a producer
/// lives as long as a task uses it.
#[derive(Default)]
pub struct SourceProducers {
    by_config: Mutex<HashMap<BTreeMap<String, String>, Weak<SourceProducer>>>,
}

impl SourceProducers {
    /// The producer for `config`: the one another task uses if there is one, else a new one.
    pub fn get(&self, config: &ClientConfig) -> Result<Arc<SourceProducer>> {
        // `config_map` masks secrets (`sasl.password`, `ssl.key.password`, ...): two logins that
        // differ only there must not share a producer, so the values come from `get`.
        let key: BTreeMap<String, String> = config
            .config_map()
            .keys()
            .map(|k| (k.to_string(), config.get(k).unwrap_or_default().to_string()))
            .collect();
        let mut by_config = self.by_config.lock();
        if let Some(shared) = by_config.get(&key).and_then(Weak::upgrade) {
            return Ok(shared);
        }
        // Producers of stopped tasks leave dead entries; this is the moment to forget them.
        by_config.retain(|_, p| p.strong_count() > 0);
        let producer = SourceProducer::create(config)?;
        by_config.insert(key, Arc::downgrade(&producer));
        Ok(producer)
    }

    /// Producers in use.
    #[cfg(test)]
    fn in_use(&self) -> usize {
        self.by_config
            .lock()
            .values()
            .filter(|p| p.strong_count() > 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(client_id: &str) -> ClientConfig {
        let mut c = ClientConfig::new();
        // Nothing listens there: creating a producer does not connect.
        c.set("bootstrap.servers", "127.0.0.1:1")
            .set("client.id", client_id);
        c
    }

    #[test]
    fn tasks_with_the_same_config_share_a_producer_while_one_uses_it() {
        let producers = SourceProducers::default();
        let a = producers.get(&config("shared")).unwrap();
        let b = producers.get(&config("shared")).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = producers.get(&config("own")).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
        assert_eq!(producers.in_use(), 2);
        drop((a, b));
        assert_eq!(producers.in_use(), 1);
        // A login that differs only in its (masked) password is another producer.
        let mut right = config("shared");
        right.set("sasl.password", "right");
        let mut wrong = config("shared");
        wrong.set("sasl.password", "wrong");
        let r = producers.get(&right).unwrap();
        let w = producers.get(&wrong).unwrap();
        assert!(!Arc::ptr_eq(&r, &w));
        drop((r, w));
        // Once every user is gone, the next task gets a new producer.
        let c = producers.get(&config("shared")).unwrap();
        assert_eq!(Arc::strong_count(&c), 1);
    }
}
