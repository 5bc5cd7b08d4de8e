//! The dead letter queue (`errors.deadletterqueue.*`, Kafka Connect's
//! `DeadLetterQueueReporter`): records that failed go to a topic, with `__connect.errors.*`
//! headers saying where they came from and why: every tolerated one, and, with
//! `errors.tolerance=none`, the one that fails the task. Kafka Connect offers this for sink
//! connectors only; Conveyor also takes failed source records (converted with the
//! connector's converters, or as schemaless JSON when conversion is what failed).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header as KafkaHeader, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use super::converters::ConverterSet;
use super::errors::{ErrorHandler, Failure, FailureReporter};
use super::worker::TaskEnv;
use crate::config::ConfigMap;
use crate::convert::JsonConverter;
use crate::data::{Origin, Record};
use crate::errors::{ConnectError, Result};
use crate::kafka::{build_client_config, Admin, ClientRole, LoggingContext, TopicSpec};
use crate::plugin::TaskId;

pub const ERROR_HEADER_PREFIX: &str = "__connect.errors.";

/// Key, value and headers as they go to Kafka.
type KafkaBytes = (
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Vec<(String, Option<Vec<u8>>)>,
);

/// The task's error policy, with a dead letter queue when
/// `errors.deadletterqueue.topic.name` is set (whatever `errors.tolerance` is: with `none`,
/// the record that fails the task goes there, as in Kafka Connect).
pub(crate) fn error_handler(env: &TaskEnv, converters: &ConverterSet) -> Result<ErrorHandler> {
    let mut handler = ErrorHandler::new(
        env.id.clone(),
        env.connector.errors.clone(),
        env.metrics.clone(),
    );
    let cfg = &env.connector.errors;
    if cfg.dlq_topic.is_some() {
        let dlq = env
            .rt
            .block_on(DeadLetterQueue::new(env, converters.clone()))?;
        handler.add_reporter(Arc::new(dlq));
    }
    Ok(handler)
}

/// Delivery reports of DLQ records: failures are counted and remembered.
pub struct DlqProducerContext {
    log: LoggingContext,
    failures: AtomicU64,
    last_failure: Mutex<Option<String>>,
}

crate::delegate_client_context!(DlqProducerContext, log);

impl ProducerContext for DlqProducerContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        if let Err((e, _)) = result {
            self.failures.fetch_add(1, Ordering::Relaxed);
            *self.last_failure.lock() = Some(e.to_string());
        }
    }
}

/// Writes failed records to the dead letter queue topic.
pub struct DeadLetterQueue {
    topic: String,
    connector: String,
    context_headers: bool,
    producer: ThreadedProducer<DlqProducerContext>,
    converters: ConverterSet,
    pub produced: AtomicU64,
}

impl DeadLetterQueue {
    /// Creates the topic when missing (1 partition, the configured replication factor), and
    /// the producer. Records keep their order: one partition, one request in flight.
    pub(crate) async fn new(env: &TaskEnv, converters: ConverterSet) -> Result<DeadLetterQueue> {
        let cfg = &env.connector.errors;
        let topic = cfg.dlq_topic.as_deref().unwrap_or_default();
        let (task, bootstrap) = (&env.id, env.bootstrap.as_str());
        let (worker_producer, worker_admin) = (&env.worker.producer, &env.worker.admin);
        let (replication_factor, context_headers) =
            (cfg.dlq_replication_factor, cfg.dlq_context_headers);
        match Admin::new(bootstrap, worker_admin) {
            Ok(admin) => {
                let admin = admin.with_timeout(Duration::from_secs(10));
                if let Err(e) = admin
                    .create_topics(&[TopicSpec::new(topic, 1, replication_factor)])
                    .await
                {
                    tracing::warn!(%topic, error = %e, "could not create the dead letter queue topic");
                }
            }
            Err(e) => {
                tracing::warn!(%topic, error = %e, "could not create the dead letter queue topic")
            }
        }
        let client_id = format!("connector-dlq-producer-{}-{}", task.connector, task.task);
        let defaults = [
            ("client.id", client_id.as_str()),
            ("acks", "all"),
            ("max.in.flight.requests.per.connection", "1"),
            ("enable.idempotence", "false"),
            ("message.timeout.ms", "0"),
            ("queue.buffering.max.kbytes", "16384"),
        ];
        let producer = build_client_config(
            bootstrap,
            ClientRole::Producer,
            &defaults,
            worker_producer,
            &ConfigMap::new(),
        )?
        .create_with_context(DlqProducerContext {
            log: LoggingContext::default(),
            failures: AtomicU64::new(0),
            last_failure: Mutex::new(None),
        })
        .map_err(|e| {
            ConnectError::Kafka(format!(
                "could not create the dead letter queue producer: {e}"
            ))
        })?;
        Ok(DeadLetterQueue {
            topic: topic.to_string(),
            connector: task.connector.clone(),
            context_headers,
            producer,
            converters,
            produced: AtomicU64::new(0),
        })
    }

    /// Key, value and headers of a record that did not come from Kafka bytes: converted with
    /// the connector's converters, or schemaless JSON where they fail.
    fn record_bytes(&self, r: &Record) -> KafkaBytes {
        let json = JsonConverter::schemaless();
        let encode = |conv: &dyn crate::convert::Converter, schema, value: &crate::data::Value| {
            conv.to_bytes(&r.topic, schema, value)
                .or_else(|_| crate::convert::Converter::to_bytes(&json, &r.topic, None, value))
                .unwrap_or(None)
        };
        let key = encode(self.converters.key.as_ref(), r.key_schema.as_ref(), &r.key);
        let value = encode(
            self.converters.value.as_ref(),
            r.value_schema.as_ref(),
            &r.value,
        );
        let headers = r
            .headers
            .iter()
            .map(|h| {
                (
                    h.key.clone(),
                    self.converters
                        .header
                        .header_to_bytes(&r.topic, h)
                        .unwrap_or(None),
                )
            })
            .collect();
        (key, value, headers)
    }
}

impl FailureReporter for DeadLetterQueue {
    fn report(&self, task: &TaskId, failure: &Failure<'_>) -> Result<()> {
        let (key, value, mut headers, origin) = match (failure.consumed, failure.record) {
            (Some(raw), _) => (
                raw.key.clone(),
                raw.value.clone(),
                raw.headers.clone(),
                Some((raw.topic.clone(), raw.partition, raw.offset)),
            ),
            (None, Some(r)) => {
                let (k, v, h) = self.record_bytes(r);
                let origin = match &r.origin {
                    Origin::Sink(p) => Some((
                        p.original_topic.clone(),
                        p.original_partition,
                        p.original_offset,
                    )),
                    Origin::Source { .. } => None,
                };
                (k, v, h, origin)
            }
            (None, None) => (None, None, Vec::new(), None),
        };
        if self.context_headers {
            let mut add = |name: &str, value: String| {
                headers.push((
                    format!("{ERROR_HEADER_PREFIX}{name}"),
                    Some(value.into_bytes()),
                ))
            };
            if let Some((topic, partition, offset)) = origin {
                add("topic", topic);
                add("partition", partition.to_string());
                add("offset", offset.to_string());
            }
            add("connector.name", self.connector.clone());
            add("task.id", task.task.to_string());
            add("stage", failure.stage.as_str().to_string());
            add("class.name", failure.class.to_string());
            add(
                "exception.class.name",
                failure.error.class_name().to_string(),
            );
            add("exception.message", failure.error.to_string());
            add("exception.stacktrace", failure.error.trace());
        }
        let mut kafka_headers = OwnedHeaders::new_with_capacity(headers.len());
        for (k, v) in &headers {
            kafka_headers = kafka_headers.insert(KafkaHeader {
                key: k,
                value: v.as_deref(),
            });
        }
        let mut rec: BaseRecord<'_, [u8], [u8]> =
            BaseRecord::to(&self.topic).headers(kafka_headers);
        if let Some(k) = key.as_deref() {
            rec = rec.key(k);
        }
        if let Some(v) = value.as_deref() {
            rec = rec.payload(v);
        }
        loop {
            match self.producer.send(rec) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    rec = back;
                    self.producer.poll(Duration::from_millis(10));
                }
                Err((e, _)) => {
                    return Err(ConnectError::Kafka(format!(
                        "could not write to the dead letter queue {}: {e}",
                        self.topic
                    )))
                }
            }
        }
        self.produced.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn describe(&self) -> String {
        format!("dead letter queue {}", self.topic)
    }

    fn flush(&self) -> Result<()> {
        self.producer.flush(Duration::from_secs(30)).map_err(|e| {
            ConnectError::Kafka(format!(
                "could not flush the dead letter queue {}: {e}",
                self.topic
            ))
        })?;
        match self.producer.context().last_failure.lock().take() {
            Some(f) => Err(ConnectError::Kafka(format!(
                "a record could not be written to the dead letter queue {}: {f}",
                self.topic
            ))),
            None => Ok(()),
        }
    }
}
