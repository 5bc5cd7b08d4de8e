//! A compacted internal topic read from the beginning, continuously, by every worker (Kafka
//! Connect's `KafkaBasedLog`): records are handed to a callback in order; `read_to_end` waits
//! until everything written before the call has been seen.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::{Offset, TopicPartitionList};
use tokio::sync::Notify;

use crate::config::ConfigMap;
use crate::errors::{ConnectError, Result};
use crate::kafka::{build_client_config, ClientRole, LoggingContext};

/// One record of an internal topic: key, value (`None` for a tombstone), partition, offset.
pub struct LogRecord<'a> {
    pub key: &'a [u8],
    pub value: Option<&'a [u8]>,
    pub partition: i32,
    pub offset: i64,
}

/// The end offset of each partition, asked in one ListOffsets request (latest timestamp)
/// rather than one round trip per partition: the offsets topic has 25 partitions, and reading
/// it to its end comes before every task that moves to a worker. Right after a topic is
/// created its leaders may not be known yet (Apache Kafka answers NOT_LEADER_OR_FOLLOWER or
/// LEADER_NOT_AVAILABLE for a moment), so retriable answers are retried until `timeout`.
fn end_offsets(
    consumer: &BaseConsumer<LoggingContext>,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> KafkaResult<Vec<(i32, i64)>> {
    let deadline = std::time::Instant::now() + timeout;
    let retriable = |e: &KafkaError| {
        std::time::Instant::now() < deadline
            && matches!(
                e.rdkafka_error_code(),
                Some(
                    RDKafkaErrorCode::NotLeaderForPartition
                        | RDKafkaErrorCode::LeaderNotAvailable
                        | RDKafkaErrorCode::UnknownTopicOrPartition
                        | RDKafkaErrorCode::UnknownPartition
                )
            )
    };
    loop {
        let mut query = TopicPartitionList::new();
        for p in 0..partitions {
            query.add_partition_offset(topic, p, Offset::End)?;
        }
        let answer = consumer
            .offsets_for_times(query, Duration::from_secs(10))
            .and_then(|tpl| {
                tpl.elements()
                    .iter()
                    .map(|e| {
                        e.error()?;
                        match e.offset() {
                            Offset::Offset(o) => Ok((e.partition(), o)),
                            // An empty partition has no offset for "latest" to name.
                            _ => Ok((e.partition(), 0)),
                        }
                    })
                    .collect::<KafkaResult<Vec<_>>>()
            });
        match answer {
            Err(e) if retriable(&e) => {
                tracing::debug!(topic, error = %e, "end offsets not known yet; retrying");
                std::thread::sleep(Duration::from_millis(100));
            }
            other => return other,
        }
    }
}

/// Applies records, on the reader thread.
pub type Apply = Box<dyn FnMut(LogRecord<'_>) + Send>;

struct Positions {
    next: Mutex<HashMap<i32, i64>>,
    advanced: Notify,
}

/// Reads one topic from the start on a thread of its own; writes with a shared producer.
pub struct TopicLog {
    topic: String,
    partitions: i32,
    consumer: Arc<BaseConsumer<LoggingContext>>,
    producer: FutureProducer<LoggingContext>,
    positions: Arc<Positions>,
    stop: Arc<AtomicBool>,
    reader: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Settings every internal-topic client shares.
pub struct LogClients<'a> {
    pub bootstrap: &'a str,
    pub consumer: &'a ConfigMap,
    pub producer: &'a ConfigMap,
}

impl TopicLog {
    /// Starts reading `topic` (which must exist) from the beginning.
    pub fn start(clients: &LogClients<'_>, topic: &str, mut apply: Apply) -> Result<TopicLog> {
        // librdkafka wants a group id even for assigned partitions; nothing is committed.
        let group = format!("conveyor-internal-{topic}-{}", std::process::id());
        let consumer: BaseConsumer<LoggingContext> = build_client_config(
            clients.bootstrap,
            ClientRole::Consumer,
            &[
                ("group.id", group.as_str()),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("enable.partition.eof", "false"),
                // Offsets written by exactly-once source tasks count once their transaction
                // commits (librdkafka's default, stated because Java's is read_uncommitted).
                ("isolation.level", "read_committed"),
                // Internal topics are small and read by everyone: answer fast.
                ("fetch.wait.max.ms", "50"),
                ("client.id", "conveyor-internal-reader"),
            ],
            clients.consumer,
            &ConfigMap::new(),
        )?
        .create_with_context(LoggingContext::default())
        .map_err(|e| ConnectError::Kafka(format!("cannot create a reader for {topic}: {e}")))?;
        // A topic created a moment ago may not be in every broker's metadata yet.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let partitions = loop {
            let metadata = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(30))
                .map_err(|e| {
                    ConnectError::Kafka(format!("cannot read metadata of {topic}: {e}"))
                })?;
            let partitions = metadata
                .topics()
                .first()
                .map(|t| t.partitions().len() as i32)
                .unwrap_or(0);
            if partitions > 0 {
                break partitions;
            }
            if std::time::Instant::now() >= deadline {
                return Err(ConnectError::Kafka(format!(
                    "internal topic {topic} does not exist or has no partitions"
                )));
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let mut tpl = TopicPartitionList::new();
        for p in 0..partitions {
            tpl.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(|e| ConnectError::Kafka(e.to_string()))?;
        }
        consumer
            .assign(&tpl)
            .map_err(|e| ConnectError::Kafka(format!("cannot read {topic}: {e}")))?;
        let producer: FutureProducer<LoggingContext> = build_client_config(
            clients.bootstrap,
            ClientRole::Producer,
            &[
                ("linger.ms", "0"),
                ("acks", "all"),
                // Kafka Connect's Java producer partitions keys with murmur2: the same key
                // lands in the same partition, so compaction keeps the latest value.
                ("partitioner", "murmur2_random"),
                ("client.id", "conveyor-internal-writer"),
            ],
            clients.producer,
            &ConfigMap::new(),
        )?
        .create_with_context(LoggingContext::default())
        .map_err(|e| ConnectError::Kafka(format!("cannot create a writer for {topic}: {e}")))?;

        let consumer = Arc::new(consumer);
        let positions = Arc::new(Positions {
            next: Mutex::new(HashMap::new()),
            advanced: Notify::new(),
        });
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let consumer = consumer.clone();
            let positions = positions.clone();
            let stop = stop.clone();
            let topic = topic.to_string();
            std::thread::Builder::new()
                .name(format!("log-{topic}"))
                .spawn(move || {
                    while !stop.load(Ordering::Acquire) {
                        let mut advanced = false;
                        match consumer.poll(Duration::from_millis(100)) {
                            Some(Ok(m)) => {
                                apply(LogRecord {
                                    key: m.key().unwrap_or_default(),
                                    value: m.payload(),
                                    partition: m.partition(),
                                    offset: m.offset(),
                                });
                                positions.next.lock().insert(m.partition(), m.offset() + 1);
                                advanced = true;
                            }
                            Some(Err(e)) => {
                                tracing::warn!(topic = %topic, error = %e, "error reading internal topic")
                            }
                            None => {}
                        }
                        // The fetch position also moves past compacted gaps and markers.
                        if let Ok(pos) = consumer.position() {
                            let mut next = positions.next.lock();
                            for e in pos.elements() {
                                if let Offset::Offset(o) = e.offset() {
                                    let slot = next.entry(e.partition()).or_insert(0);
                                    if o > *slot {
                                        *slot = o;
                                        advanced = true;
                                    }
                                }
                            }
                        }
                        if advanced {
                            positions.advanced.notify_waiters();
                        }
                    }
                })
                .map_err(|e| ConnectError::Other(format!("cannot start a reader thread: {e}")))?
        };
        Ok(TopicLog {
            topic: topic.to_string(),
            partitions,
            consumer,
            producer,
            positions,
            stop,
            reader: Mutex::new(Some(reader)),
        })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Waits until every record written before this call has been applied.
    pub async fn read_to_end(&self, timeout: Duration) -> Result<()> {
        let consumer = self.consumer.clone();
        let topic = self.topic.clone();
        let partitions = self.partitions;
        let ends = tokio::task::spawn_blocking(move || {
            end_offsets(&consumer, &topic, partitions, timeout)
        })
        .await
        .map_err(|e| ConnectError::Other(e.to_string()))?
        .map_err(|e| ConnectError::Kafka(format!("cannot read the end of {}: {e}", self.topic)))?;
        let wait = async {
            loop {
                let notified = self.positions.advanced.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let caught_up = {
                    let next = self.positions.next.lock();
                    ends.iter()
                        .all(|(p, high)| *high <= 0 || next.get(p).copied().unwrap_or(0) >= *high)
                };
                if caught_up {
                    return;
                }
                // Positions also move without a notification when nothing arrives; re-check.
                let _ = tokio::time::timeout(Duration::from_millis(200), notified).await;
            }
        };
        tokio::time::timeout(timeout, wait).await.map_err(|_| {
            ConnectError::Retriable(format!(
                "timed out reading internal topic {} to its end",
                self.topic
            ))
        })
    }

    /// Writes one record and waits for the broker to acknowledge it; returns its offset.
    pub async fn send(&self, key: &str, value: Option<&[u8]>) -> Result<i64> {
        let mut record: FutureRecord<'_, str, [u8]> = FutureRecord::to(&self.topic).key(key);
        if let Some(v) = value {
            record = record.payload(v);
        }
        match self.producer.send(record, Duration::from_secs(30)).await {
            Ok(delivery) => Ok(delivery.offset),
            Err((e, _)) => Err(ConnectError::Kafka(format!(
                "could not write {key} to {}: {e}",
                self.topic
            ))),
        }
    }

    /// Stops the reader thread.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.reader.lock().take() {
            let _ = t.join();
        }
    }
}

impl Drop for TopicLog {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}
