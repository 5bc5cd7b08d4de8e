//! What happens when a record fails in a converter, a transformation or a task
//! (Kafka Connect's `RetryWithToleranceOperator` and error reporters, KIP-298).

use std::sync::Arc;

use crate::config::connector::ErrorHandlingConfig;
use crate::data::{OffsetMap, Origin, Record};
use crate::errors::ConnectError;
use crate::metrics::TaskMetrics;
use crate::plugin::TaskId;

/// Where in the pipeline a failure happened (`__connect.errors.stage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    Transformation,
    TaskPut,
    TaskPoll,
    KafkaProduce,
    KafkaConsume,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::Transformation => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
            Stage::TaskPoll => "TASK_POLL",
            Stage::KafkaProduce => "KAFKA_PRODUCE",
            Stage::KafkaConsume => "KAFKA_CONSUME",
        }
    }
}

/// A message as it was consumed from Kafka, before conversion.
#[derive(Clone, Debug, PartialEq)]
pub struct RawRecord {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub key: Option<Vec<u8>>,
    pub value: Option<Vec<u8>>,
    pub headers: Vec<(String, Option<Vec<u8>>)>,
}

/// A failed operation on one record.
pub struct Failure<'a> {
    pub stage: Stage,
    /// The class that failed (converter, transformation, connector task).
    pub class: &'a str,
    pub error: &'a ConnectError,
    /// For sinks: the consumed message.
    pub consumed: Option<&'a RawRecord>,
    /// For sources, or sinks after conversion: the record.
    pub record: Option<&'a Record>,
    /// For sources: the record's source partition and offset (kept apart from the record).
    pub source_position: Option<(&'a OffsetMap, &'a OffsetMap)>,
}

impl Failure<'_> {
    /// `topic='t', partition=0, offset=42` for consumed records.
    pub fn describe_record(&self) -> String {
        if let Some(c) = self.consumed {
            return format!(
                "{{topic='{}', partition={}, offset={}, timestamp={}}}",
                c.topic,
                c.partition,
                c.offset,
                c.timestamp
                    .map(|t| t.to_string())
                    .unwrap_or_else(|| "null".into())
            );
        }
        let json = |m: &OffsetMap| serde_json::to_string(m).unwrap_or_default();
        let (partition, offset) = match (self.source_position, self.record.map(|r| &r.origin)) {
            (Some((p, o)), _) => (json(p), json(o)),
            (None, Some(Origin::Source { partition, offset })) => (json(partition), json(offset)),
            (None, Some(Origin::Sink(p))) => ("null".into(), p.offset.to_string()),
            (None, None) => ("null".into(), "null".into()),
        };
        match self.record {
            Some(r) => format!(
                "{{topic='{}', kafka_partition={}, source_partition={partition}, source_offset={offset}}}",
                r.topic,
                r.kafka_partition.map(|p| p.to_string()).unwrap_or_else(|| "null".into()),
            ),
            None => format!("{{source_partition={partition}, source_offset={offset}}}"),
        }
    }
}

/// Receives failed records: a dead letter queue, for example.
pub trait FailureReporter: Send + Sync {
    fn report(&self, task: &TaskId, failure: &Failure<'_>) -> Result<(), ConnectError>;

    /// What it is, for log lines ("dead letter queue orders-dlq").
    fn describe(&self) -> String;

    /// Waits until everything reported is durable; called before offsets move past them.
    fn flush(&self) -> Result<(), ConnectError> {
        Ok(())
    }
}

/// A sink task's `errant_record_reporter` (KIP-610): records `put` cannot handle go through
/// the same policy (tolerance, log, dead letter queue) as converter failures.
pub struct ErrantReporter {
    pub handler: Arc<ErrorHandler>,
    /// The connector class, reported as the failing class.
    pub class: String,
}

impl crate::plugin::ErrantRecordReporter for ErrantReporter {
    fn report(&self, record: &Record, error: &ConnectError) -> Result<(), ConnectError> {
        self.handler.handle(Failure {
            stage: Stage::TaskPut,
            class: &self.class,
            error,
            consumed: None,
            record: Some(record),
            source_position: None,
        })
    }
}

/// How many `errors.log.enable` lines a task writes per [`LOG_WINDOW`]; the rest are
/// counted and summed up in one line, so a topic full of bad records does not flood the log
/// (or a notebook) with one ERROR line per record.
const LOG_LINES_PER_WINDOW: u64 = 10;
const LOG_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// The rate limit of a task's `errors.log.enable` lines.
struct LogLimit {
    window_start: std::time::Instant,
    logged: u64,
    suppressed: u64,
}

impl LogLimit {
    fn new() -> Self {
        LogLimit {
            window_start: std::time::Instant::now(),
            logged: 0,
            suppressed: 0,
        }
    }

    /// Whether to log one more failure now; when a window ends, the number of failures it
    /// did not log (for the summary line).
    fn admit(&mut self, now: std::time::Instant) -> (bool, u64) {
        let mut ended = 0;
        if now.duration_since(self.window_start) >= LOG_WINDOW {
            ended = std::mem::take(&mut self.suppressed);
            self.window_start = now;
            self.logged = 0;
        }
        if self.logged < LOG_LINES_PER_WINDOW {
            self.logged += 1;
            (true, ended)
        } else {
            self.suppressed += 1;
            (false, ended)
        }
    }
}

/// Decides whether a failed record fails the task or is skipped.
pub struct ErrorHandler {
    task: TaskId,
    config: ErrorHandlingConfig,
    reporters: Vec<Arc<dyn FailureReporter>>,
    metrics: TaskMetrics,
    log_limit: parking_lot::Mutex<LogLimit>,
}

impl ErrorHandler {
    pub fn new(task: TaskId, config: ErrorHandlingConfig, metrics: TaskMetrics) -> Self {
        ErrorHandler {
            task,
            config,
            reporters: Vec::new(),
            metrics,
            log_limit: parking_lot::Mutex::new(LogLimit::new()),
        }
    }

    /// Counts a retry of a retriable operation (`total-retries`).
    pub fn count_retry(&self) {
        self.metrics.retries.inc();
    }

    pub fn add_reporter(&mut self, reporter: Arc<dyn FailureReporter>) {
        self.reporters.push(reporter);
    }

    /// Whether failed records go anywhere (then callers keep what reporters need).
    pub fn has_reporters(&self) -> bool {
        !self.reporters.is_empty()
    }

    /// The wait before retry `attempt` (0-based) of a retriable operation: exponential from
    /// 300 ms, capped at `errors.retry.delay.max.ms`, with up to 20% jitter (Connect's
    /// `RetryWithToleranceOperator`).
    pub fn retry_delay(&self, attempt: u32) -> std::time::Duration {
        let max = self.config.retry_delay_max_ms.max(1) as u64;
        let base = 300u64.saturating_mul(1u64 << attempt.min(20)).min(max);
        let jitter = rand::random::<u64>() % (base / 5 + 1);
        std::time::Duration::from_millis(base.saturating_sub(jitter).max(1))
    }

    /// Whether a retriable failure that started `elapsed` ago may be retried again
    /// (`errors.retry.timeout`: -1 forever, 0 Kafka Connect's default behaviour for the
    /// operation, otherwise that many milliseconds).
    pub fn may_retry(&self, elapsed: std::time::Duration, retry_by_default: bool) -> bool {
        match self.config.retry_timeout_ms {
            t if t < 0 => true,
            0 => retry_by_default,
            t => elapsed.as_millis() < t as u128,
        }
    }

    /// Runs a conversion again while it fails with a retriable error (a schema registry that
    /// cannot be reached), with backoff, until it succeeds, `errors.retry.timeout` (when > 0)
    /// runs out, or `cancelled` says the task stops. `wait` spends each pause the way the
    /// task must (a sink stays in its consumer group, a source serves delivery reports).
    pub fn retry_conversion<T>(
        &self,
        mut op: impl FnMut() -> crate::errors::Result<T>,
        cancelled: impl Fn() -> bool,
        mut wait: impl FnMut(std::time::Duration),
    ) -> crate::errors::Result<T> {
        let started = std::time::Instant::now();
        let mut attempt = 0;
        loop {
            match op() {
                Err(e)
                    if e.is_retriable()
                        && self.may_retry(started.elapsed(), true)
                        && !cancelled() =>
                {
                    let pause = self.retry_delay(attempt);
                    attempt += 1;
                    self.count_retry();
                    tracing::warn!(error = %e, wait_ms = pause.as_millis() as u64, attempt, "retriable error in a converter; converting the record again");
                    wait(pause);
                }
                other => return other,
            }
        }
    }

    pub fn config(&self) -> &ErrorHandlingConfig {
        &self.config
    }

    pub fn tolerates_all(&self) -> bool {
        self.config.tolerate_all
    }

    /// Flushes every reporter (before offsets are committed past reported records).
    pub fn flush(&self) -> Result<(), ConnectError> {
        for r in &self.reporters {
            r.flush()?;
        }
        Ok(())
    }

    /// `Ok(())` when the failure is tolerated and the record should be skipped; otherwise the
    /// error that fails the task.
    pub fn handle(&self, failure: Failure<'_>) -> Result<(), ConnectError> {
        self.metrics.record_failures.inc();
        if self.config.log_enable {
            self.metrics.errors_logged.inc();
            let (log_this, not_logged) = self.log_limit.lock().admit(std::time::Instant::now());
            if not_logged > 0 {
                tracing::error!(task = %self.task, not_logged,
                    "Task {}: {not_logged} more record errors were not logged (at most \
                     {LOG_LINES_PER_WINDOW} lines per {} s; the dead letter queue and the \
                     total-errors-logged metric count them all).",
                    self.task, LOG_WINDOW.as_secs());
            }
            if !log_this {
                // Rate-limited; the summary above says how many.
            } else if self.config.log_include_messages {
                tracing::error!(task = %self.task, stage = failure.stage.as_str(), class = failure.class,
                    record = %failure.describe_record(), error = %failure.error,
                    "Error encountered in task {}. Executing stage '{}' with class '{}', where consumed record is {}.",
                    self.task, failure.stage.as_str(), failure.class, failure.describe_record());
            } else {
                tracing::error!(task = %self.task, stage = failure.stage.as_str(), class = failure.class, error = %failure.error,
                    "Error encountered in task {}. Executing stage '{}' with class '{}'.",
                    self.task, failure.stage.as_str(), failure.class);
            }
        }
        if !self.config.tolerate_all {
            self.report_before_failing(&failure);
            return Err(tolerance_exceeded(&failure));
        }
        for r in &self.reporters {
            r.report(&self.task, &failure)?;
            self.metrics.dlq_produce_requests.inc();
        }
        self.metrics.records_skipped.inc();
        Ok(())
    }
}

impl Drop for ErrorHandler {
    /// Says how many errors the last window did not log, so the count is never lost.
    fn drop(&mut self) {
        let not_logged = self.log_limit.get_mut().suppressed;
        if not_logged > 0 {
            tracing::error!(task = %self.task, not_logged,
                "Task {}: {not_logged} more record errors were not logged (at most \
                 {LOG_LINES_PER_WINDOW} lines per {} s).",
                self.task, LOG_WINDOW.as_secs());
        }
    }
}

impl ErrorHandler {
    /// The record that fails the task still goes to the reporters (the dead letter queue),
    /// and is durable there before the task fails, as in Kafka Connect.
    fn report_before_failing(&self, failure: &Failure<'_>) {
        for r in &self.reporters {
            self.metrics.dlq_produce_requests.inc();
            match r.report(&self.task, failure).and_then(|_| r.flush()) {
                Ok(()) => tracing::error!(task = %self.task, stage = failure.stage.as_str(),
                    "the record that fails task {} ({} in {}) was written to the {}",
                    self.task, failure.describe_record(), failure.stage.as_str(), r.describe()),
                Err(e) => tracing::error!(task = %self.task, error = %e,
                    "could not write the record that fails task {} to the {}: {e}",
                    self.task, r.describe()),
            }
        }
    }
}

/// The task failure for an intolerable record, naming stage, class and record.
pub fn tolerance_exceeded(failure: &Failure<'_>) -> ConnectError {
    let cause = failure.error.trace();
    ConnectError::Plugin {
        message: format!(
            "Tolerance exceeded in error handler: stage {} with class '{}' failed for record {}",
            failure.stage.as_str(),
            failure.class,
            failure.describe_record()
        ),
        trace: format!("Caused by: {cause}"),
        exception: None,
        // The task fails: retrying would not make the record tolerable.
        retriable: false,
        source: Some(std::sync::Arc::new(failure.error.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_log_lines_are_rate_limited_per_window() {
        let mut limit = LogLimit::new();
        let start = limit.window_start;
        let admitted = (0..25).filter(|_| limit.admit(start).0).count();
        assert_eq!(admitted as u64, LOG_LINES_PER_WINDOW);
        assert_eq!(limit.suppressed, 25 - LOG_LINES_PER_WINDOW);
        // The next window logs again and reports what the last one left out.
        let (logged, not_logged) = limit.admit(start + LOG_WINDOW);
        assert!(logged);
        assert_eq!(not_logged, 25 - LOG_LINES_PER_WINDOW);
        assert_eq!(limit.suppressed, 0);
    }
}
