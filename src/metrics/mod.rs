//! Prometheus metrics with Kafka Connect's names (reference §10): the JMX group and metric name
//! become `kafka_connect_<group>_<metric>` (for example
//! `kafka_connect_source_task_metrics_source_record_poll_total{connector,task}`), the names a
//! JMX exporter gives Kafka Connect's MBeans, so dashboards carry over. Served at `/metrics`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use parking_lot::Mutex;
use serde::Serialize;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of per-task metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct TaskLabels {
    pub connector: String,
    pub task: String,
}

/// Labels of per-connector metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabels {
    pub connector: String,
}

fn batch_time_histogram() -> Histogram {
    // milliseconds: 0.1 ms .. ~6.5 s
    Histogram::new(prometheus_client::metrics::histogram::exponential_buckets(
        0.1, 4.0, 9,
    ))
}

/// Every metric family the worker reports.
pub struct ConnectMetrics {
    registry: Registry,
    pub connector_count: Gauge,
    pub task_count: Gauge,
    pub connector_startup_attempts: Counter,
    pub connector_startup_success: Counter,
    pub connector_startup_failure: Counter,
    pub task_startup_attempts: Counter,
    pub task_startup_success: Counter,
    pub task_startup_failure: Counter,
    pub source_record_poll: Family<TaskLabels, Counter>,
    pub source_record_write: Family<TaskLabels, Counter>,
    pub poll_batch_time_ms: Family<TaskLabels, Histogram, fn() -> Histogram>,
    pub sink_record_read: Family<TaskLabels, Counter>,
    pub sink_record_send: Family<TaskLabels, Counter>,
    pub put_batch_time_ms: Family<TaskLabels, Histogram, fn() -> Histogram>,
    pub offset_commit_success: Family<TaskLabels, Counter>,
    pub offset_commit_failure: Family<TaskLabels, Counter>,
    pub record_failures: Family<TaskLabels, Counter>,
    pub records_skipped: Family<TaskLabels, Counter>,
    pub errors_logged: Family<TaskLabels, Counter>,
    pub retries: Family<TaskLabels, Counter>,
    pub dlq_produce_requests: Family<TaskLabels, Counter>,
    /// Conveyor only: records a sink task's consumer has yet to read.
    pub records_lag: Family<TaskLabels, Gauge>,
    /// The tasks that report, for [`ConnectMetrics::snapshot`].
    tasks: Mutex<BTreeMap<TaskLabels, TaskMetrics>>,
}

impl ConnectMetrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("kafka_connect");
        let m = ConnectMetrics {
            connector_count: Gauge::default(),
            task_count: Gauge::default(),
            connector_startup_attempts: Counter::default(),
            connector_startup_success: Counter::default(),
            connector_startup_failure: Counter::default(),
            task_startup_attempts: Counter::default(),
            task_startup_success: Counter::default(),
            task_startup_failure: Counter::default(),
            source_record_poll: Family::default(),
            source_record_write: Family::default(),
            poll_batch_time_ms: Family::new_with_constructor(batch_time_histogram),
            sink_record_read: Family::default(),
            sink_record_send: Family::default(),
            put_batch_time_ms: Family::new_with_constructor(batch_time_histogram),
            offset_commit_success: Family::default(),
            offset_commit_failure: Family::default(),
            record_failures: Family::default(),
            records_skipped: Family::default(),
            errors_logged: Family::default(),
            retries: Family::default(),
            dlq_produce_requests: Family::default(),
            records_lag: Family::default(),
            tasks: Mutex::new(BTreeMap::new()),
            registry: Registry::default(),
        };
        let w = registry.sub_registry_with_prefix("connect_worker_metrics");
        w.register(
            "connector_count",
            "Connectors run by this worker",
            m.connector_count.clone(),
        );
        w.register(
            "task_count",
            "Tasks run by this worker",
            m.task_count.clone(),
        );
        w.register(
            "connector_startup_attempts",
            "Connector starts attempted",
            m.connector_startup_attempts.clone(),
        );
        w.register(
            "connector_startup_success",
            "Connector starts that succeeded",
            m.connector_startup_success.clone(),
        );
        w.register(
            "connector_startup_failure",
            "Connector starts that failed",
            m.connector_startup_failure.clone(),
        );
        w.register(
            "task_startup_attempts",
            "Task starts attempted",
            m.task_startup_attempts.clone(),
        );
        w.register(
            "task_startup_success",
            "Task starts that succeeded",
            m.task_startup_success.clone(),
        );
        w.register(
            "task_startup_failure",
            "Task starts that failed",
            m.task_startup_failure.clone(),
        );
        let s = registry.sub_registry_with_prefix("source_task_metrics");
        s.register(
            "source_record_poll",
            "Records produced by the task's poll, before SMTs",
            m.source_record_poll.clone(),
        );
        s.register(
            "source_record_write",
            "Records handed to the producer after SMTs",
            m.source_record_write.clone(),
        );
        s.register(
            "poll_batch_time_ms",
            "Time to poll a batch, in milliseconds",
            m.poll_batch_time_ms.clone(),
        );
        let k = registry.sub_registry_with_prefix("sink_task_metrics");
        k.register(
            "sink_record_read",
            "Records read from Kafka",
            m.sink_record_read.clone(),
        );
        k.register(
            "sink_record_send",
            "Records handed to the task's put after SMTs",
            m.sink_record_send.clone(),
        );
        k.register(
            "put_batch_time_ms",
            "Time to put a batch, in milliseconds",
            m.put_batch_time_ms.clone(),
        );
        k.register(
            "records_lag",
            "Records in the task's assigned partitions that its consumer has not read yet \
             (Conveyor only: the high watermarks the consumer last saw minus its positions)",
            m.records_lag.clone(),
        );
        let t = registry.sub_registry_with_prefix("connector_task_metrics");
        t.register(
            "offset_commit_success",
            "Successful offset commits",
            m.offset_commit_success.clone(),
        );
        t.register(
            "offset_commit_failure",
            "Failed offset commits",
            m.offset_commit_failure.clone(),
        );
        let e = registry.sub_registry_with_prefix("task_error_metrics");
        e.register(
            "total_record_failures",
            "Record processing failures",
            m.record_failures.clone(),
        );
        e.register(
            "total_records_skipped",
            "Records skipped under errors.tolerance=all",
            m.records_skipped.clone(),
        );
        e.register(
            "total_errors_logged",
            "Errors logged (errors.log.enable)",
            m.errors_logged.clone(),
        );
        e.register(
            "total_retries",
            "Retries of retriable operations",
            m.retries.clone(),
        );
        e.register(
            "deadletterqueue_produce_requests",
            "Records written to the dead letter queue",
            m.dlq_produce_requests.clone(),
        );
        ConnectMetrics { registry, ..m }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            out.clear();
        }
        out
    }

    /// Drops a task's series (after the task is gone for good).
    pub fn forget_task(&self, labels: &TaskLabels) {
        self.source_record_poll.remove(labels);
        self.source_record_write.remove(labels);
        self.poll_batch_time_ms.remove(labels);
        self.sink_record_read.remove(labels);
        self.sink_record_send.remove(labels);
        self.put_batch_time_ms.remove(labels);
        self.offset_commit_success.remove(labels);
        self.offset_commit_failure.remove(labels);
        self.record_failures.remove(labels);
        self.records_skipped.remove(labels);
        self.errors_logged.remove(labels);
        self.retries.remove(labels);
        self.dlq_produce_requests.remove(labels);
        self.records_lag.remove(labels);
        self.tasks.lock().remove(labels);
    }

    /// The counters of every task of this worker, for the console's JSON view
    /// (`GET /conveyor/metrics`).
    pub fn snapshot(&self) -> Vec<TaskMetricsSnapshot> {
        self.tasks
            .lock()
            .values()
            .map(|t| TaskMetricsSnapshot {
                connector: t.labels.connector.clone(),
                task: t.labels.task.parse().unwrap_or(-1),
                source_record_poll_total: t.source_record_poll.get(),
                source_record_write_total: t.source_record_write.get(),
                sink_record_read_total: t.sink_record_read.get(),
                sink_record_send_total: t.sink_record_send.get(),
                records_lag: t.records_lag.get(),
                total_record_failures: t.record_failures.get(),
                total_records_skipped: t.records_skipped.get(),
                deadletterqueue_produce_requests: t.dlq_produce_requests.get(),
                offset_commit_failure_total: t.offset_commit_failure.get(),
            })
            .collect()
    }
}

/// One task's counters at one moment (see [`ConnectMetrics::snapshot`]).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct TaskMetricsSnapshot {
    pub connector: String,
    pub task: i32,
    pub source_record_poll_total: u64,
    pub source_record_write_total: u64,
    pub sink_record_read_total: u64,
    pub sink_record_send_total: u64,
    pub records_lag: i64,
    pub total_record_failures: u64,
    pub total_records_skipped: u64,
    pub deadletterqueue_produce_requests: u64,
    pub offset_commit_failure_total: u64,
}

/// The process-wide metrics.
pub fn metrics() -> &'static ConnectMetrics {
    static METRICS: OnceLock<ConnectMetrics> = OnceLock::new();
    METRICS.get_or_init(ConnectMetrics::new)
}

/// One task's counters, resolved once so the hot path is an atomic add.
#[derive(Clone)]
pub struct TaskMetrics {
    pub labels: TaskLabels,
    pub source_record_poll: Counter,
    pub source_record_write: Counter,
    pub poll_batch_time_ms: Histogram,
    pub sink_record_read: Counter,
    pub sink_record_send: Counter,
    pub put_batch_time_ms: Histogram,
    pub offset_commit_success: Counter,
    pub offset_commit_failure: Counter,
    pub record_failures: Counter,
    pub records_skipped: Counter,
    pub errors_logged: Counter,
    pub retries: Counter,
    pub dlq_produce_requests: Counter,
    pub records_lag: Gauge,
}

impl TaskMetrics {
    pub fn new(connector: &str, task: i32) -> Self {
        let labels = TaskLabels {
            connector: connector.to_string(),
            task: task.to_string(),
        };
        let m = metrics();
        let t = TaskMetrics {
            source_record_poll: m.source_record_poll.get_or_create(&labels).clone(),
            source_record_write: m.source_record_write.get_or_create(&labels).clone(),
            poll_batch_time_ms: m.poll_batch_time_ms.get_or_create(&labels).clone(),
            sink_record_read: m.sink_record_read.get_or_create(&labels).clone(),
            sink_record_send: m.sink_record_send.get_or_create(&labels).clone(),
            put_batch_time_ms: m.put_batch_time_ms.get_or_create(&labels).clone(),
            offset_commit_success: m.offset_commit_success.get_or_create(&labels).clone(),
            offset_commit_failure: m.offset_commit_failure.get_or_create(&labels).clone(),
            record_failures: m.record_failures.get_or_create(&labels).clone(),
            records_skipped: m.records_skipped.get_or_create(&labels).clone(),
            errors_logged: m.errors_logged.get_or_create(&labels).clone(),
            retries: m.retries.get_or_create(&labels).clone(),
            dlq_produce_requests: m.dlq_produce_requests.get_or_create(&labels).clone(),
            records_lag: m.records_lag.get_or_create(&labels).clone(),
            labels,
        };
        m.tasks.lock().insert(t.labels.clone(), t.clone());
        t
    }

    /// A detached set (not exported), for code paths without a task.
    pub fn detached() -> Self {
        TaskMetrics {
            labels: TaskLabels {
                connector: String::new(),
                task: String::new(),
            },
            source_record_poll: Counter::default(),
            source_record_write: Counter::default(),
            poll_batch_time_ms: batch_time_histogram(),
            sink_record_read: Counter::default(),
            sink_record_send: Counter::default(),
            put_batch_time_ms: batch_time_histogram(),
            offset_commit_success: Counter::default(),
            offset_commit_failure: Counter::default(),
            record_failures: Counter::default(),
            records_skipped: Counter::default(),
            errors_logged: Counter::default(),
            retries: Counter::default(),
            dlq_produce_requests: Counter::default(),
            records_lag: Gauge::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_counters_are_exported_with_connect_names() {
        let t = TaskMetrics::new("m-test", 3);
        t.source_record_poll.inc_by(5);
        let text = metrics().encode();
        assert!(
            text.contains("kafka_connect_source_task_metrics_source_record_poll_total{connector=\"m-test\",task=\"3\"} 5"),
            "{text}"
        );
        t.records_lag.set(7);
        let snap = metrics().snapshot();
        let mine = snap.iter().find(|s| s.connector == "m-test").unwrap();
        assert_eq!(
            (mine.task, mine.source_record_poll_total, mine.records_lag),
            (3, 5, 7)
        );
        metrics().forget_task(&t.labels);
        assert!(!metrics().encode().contains("m-test"));
        assert!(!metrics().snapshot().iter().any(|s| s.connector == "m-test"));
    }
}
