//! What plugins see of the runtime (Kafka Connect's contexts): `ConnectorContext`,
//! `SourceTaskContext` with its `OffsetStorageReader`, `SinkTaskContext` and
//! `ErrantRecordReporter`.

use std::sync::Arc;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PySet};

use super::errors::{describe_exception, plugin_error};
use super::records::{offset_map_to_py, record_from_py};
use super::values::{py_dict_to_json, Path};
use crate::data::{OffsetMap, TopicPartition};
use crate::errors::ConnectError;
use crate::plugin::{
    ConnectorContext, ErrantRecordReporter, OffsetReader, SinkTaskContext, TaskId,
    TransactionContext, TransactionRequest,
};

/// `conveyor.TopicPartition(topic, partition)`.
pub fn topic_partition_to_py<'py>(
    py: Python<'py>,
    tp: &TopicPartition,
) -> PyResult<Bound<'py, PyAny>> {
    static CLASS: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    CLASS
        .import(py, "conveyor.task", "TopicPartition")?
        .call1((tp.topic.as_str(), tp.partition))
}

/// A topic partition from any `(topic, partition)` pair.
pub fn topic_partition_from_py(obj: &Bound<'_, PyAny>) -> PyResult<TopicPartition> {
    let (topic, partition): (String, i32) = obj.extract().map_err(|_| {
        PyTypeError::new_err(format!(
            "expected a TopicPartition or a (topic, partition) tuple, got {}",
            obj.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    })?;
    Ok(TopicPartition::new(topic, partition))
}

/// A list of `TopicPartition`.
pub fn partitions_to_py<'py>(
    py: Python<'py>,
    partitions: &[TopicPartition],
) -> PyResult<Bound<'py, PyList>> {
    let items = partitions
        .iter()
        .map(|tp| topic_partition_to_py(py, tp))
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

/// The error a plugin passes to `raise_error` or `report`, with its traceback.
fn exception_to_error(py: Python<'_>, error: &Bound<'_, PyAny>, what: &str) -> ConnectError {
    let err = PyErr::from_value(error.clone());
    let message = format!("{what}: {}", describe_exception(py, &err));
    plugin_error(py, err, message)
}

/// Lets a connector ask the runtime for things (Connect's `ConnectorContext`).
#[pyclass(frozen, module = "conveyor", name = "ConnectorContext")]
pub struct PyConnectorContext {
    pub inner: ConnectorContext,
}

#[pymethods]
impl PyConnectorContext {
    /// The connector's name.
    #[getter]
    fn connector(&self) -> &str {
        &self.inner.connector
    }

    /// Asks the runtime to call `task_configs` again and restart the tasks if they changed.
    fn request_task_reconfiguration(&self) {
        self.inner.request_task_reconfiguration();
    }

    /// Marks the connector FAILED with `error` (an exception) as the reason.
    fn raise_error(&self, py: Python<'_>, error: &Bound<'_, PyAny>) {
        let e = exception_to_error(
            py,
            error,
            &format!("connector {} raised", self.inner.connector),
        );
        self.inner.raise_error(e);
    }
}

/// Reads the committed source offsets of this connector (Connect's `OffsetStorageReader`).
#[pyclass(frozen, module = "conveyor", name = "OffsetStorageReader")]
pub struct PyOffsetStorageReader {
    pub inner: Arc<dyn OffsetReader>,
}

fn partition_arg(obj: &Bound<'_, PyAny>) -> PyResult<OffsetMap> {
    let d = obj
        .cast::<PyDict>()
        .map_err(|_| PyTypeError::new_err("a source partition must be a dict"))?;
    py_dict_to_json(d, &Path::Root("partition"))
}

#[pymethods]
impl PyOffsetStorageReader {
    /// The last committed offset of a source partition, or `None`.
    fn offset<'py>(
        &self,
        py: Python<'py>,
        partition: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let p = partition_arg(partition)?;
        match self.inner.offset(&p).map_err(super::errors::to_py_err)? {
            Some(o) => offset_map_to_py(py, &o),
            None => Ok(py.None().into_bound(py)),
        }
    }

    /// The offsets of several partitions, in the same order (`None` where there is none).
    fn offsets<'py>(
        &self,
        py: Python<'py>,
        partitions: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        for p in partitions.try_iter()? {
            out.append(self.offset(py, &p?)?)?;
        }
        Ok(out)
    }
}

/// A source task's view of the runtime (Connect's `SourceTaskContext`).
#[pyclass(frozen, module = "conveyor", name = "SourceTaskContext")]
pub struct PySourceTaskContext {
    pub task_id: TaskId,
    pub reader: Py<PyOffsetStorageReader>,
    pub transaction_context: Option<Py<PyTransactionContext>>,
}

/// Requests about single records, kept until `poll` returns and the records' places in its
/// batch are known.
pub type RecordRequests = Arc<parking_lot::Mutex<Vec<(Py<PyAny>, TransactionRequest)>>>;

/// Connector-defined transaction boundaries (Connect's `TransactionContext`), present with
/// exactly-once support enabled and `transaction.boundary=connector`.
#[pyclass(frozen, module = "conveyor", name = "TransactionContext")]
pub struct PyTransactionContext {
    pub inner: Arc<TransactionContext>,
    pub records: RecordRequests,
}

impl PyTransactionContext {
    fn request(
        &self,
        record: Option<&Bound<'_, PyAny>>,
        request: TransactionRequest,
    ) -> PyResult<()> {
        match record {
            None => match request {
                TransactionRequest::Commit => self.inner.commit_transaction(),
                TransactionRequest::Abort => self.inner.abort_transaction(),
            },
            Some(r) => {
                if r.cast_exact::<super::records::PySourceRecord>().is_err() {
                    return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                        "expected a SourceRecord, got {}",
                        super::source_task::type_name(r)
                    )));
                }
                self.records.lock().push((r.clone().unbind(), request));
            }
        }
        Ok(())
    }
}

#[pymethods]
impl PyTransactionContext {
    /// Commits the open transaction after the batch the current `poll` returns, or, given a
    /// record that `poll` returns, right after that record.
    #[pyo3(signature = (record=None))]
    fn commit_transaction(&self, record: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.request(record, TransactionRequest::Commit)
    }

    /// Aborts the open transaction after the batch the current `poll` returns, or right after
    /// the given record (the last one of the aborted transaction). The aborted records never
    /// reach a `read_committed` consumer; their offsets are committed all the same.
    #[pyo3(signature = (record=None))]
    fn abort_transaction(&self, record: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.request(record, TransactionRequest::Abort)
    }
}

#[pymethods]
impl PySourceTaskContext {
    /// Reads committed offsets: where to resume after a restart.
    #[getter]
    fn offset_storage_reader(&self, py: Python<'_>) -> Py<PyOffsetStorageReader> {
        self.reader.clone_ref(py)
    }

    /// The connector's name.
    #[getter]
    fn connector(&self) -> &str {
        &self.task_id.connector
    }

    /// The task number (0-based).
    #[getter]
    fn task(&self) -> i32 {
        self.task_id.task
    }

    /// The transaction context: `None` unless the worker has exactly-once source support
    /// enabled and the connector `transaction.boundary=connector`.
    #[getter]
    fn transaction_context(&self, py: Python<'_>) -> Option<Py<PyTransactionContext>> {
        self.transaction_context.as_ref().map(|c| c.clone_ref(py))
    }
}

/// A sink task's view of the runtime (Connect's `SinkTaskContext`).
#[pyclass(frozen, module = "conveyor", name = "SinkTaskContext")]
pub struct PySinkTaskContext {
    pub inner: SinkTaskContext,
}

fn partitions_arg(args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<Vec<TopicPartition>> {
    let mut out = Vec::new();
    for a in args.iter() {
        // `pause([tp1, tp2])` as well as `pause(tp1, tp2)`.
        if let Ok(list) = a.cast::<PyList>() {
            for item in list.iter() {
                out.push(topic_partition_from_py(&item)?);
            }
        } else {
            out.push(topic_partition_from_py(&a)?);
        }
    }
    Ok(out)
}

#[pymethods]
impl PySinkTaskContext {
    /// The connector's name.
    #[getter]
    fn connector(&self) -> &str {
        &self.inner.task_id.connector
    }

    /// The task number (0-based).
    #[getter]
    fn task(&self) -> i32 {
        self.inner.task_id.task
    }

    /// The partitions currently assigned to this task.
    fn assignment<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PySet>> {
        let items = self
            .inner
            .assignment()
            .iter()
            .map(|tp| topic_partition_to_py(py, tp))
            .collect::<PyResult<Vec<_>>>()?;
        PySet::new(py, items)
    }

    /// Stops fetching from these partitions until `resume`.
    #[pyo3(signature = (*partitions))]
    fn pause(&self, partitions: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.inner.pause(&partitions_arg(partitions)?);
        Ok(())
    }

    /// Fetches from these partitions again.
    #[pyo3(signature = (*partitions))]
    fn resume(&self, partitions: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<()> {
        self.inner.resume(&partitions_arg(partitions)?);
        Ok(())
    }

    /// Rewinds or skips: `offset(tp, 42)`, or `offset({tp: 42, ...})`. The next records of
    /// each partition start at its offset.
    #[pyo3(signature = (partition, offset=None))]
    fn offset(&self, partition: &Bound<'_, PyAny>, offset: Option<i64>) -> PyResult<()> {
        if let Ok(d) = partition.cast::<PyDict>() {
            for (tp, o) in d.iter() {
                self.inner
                    .offset(topic_partition_from_py(&tp)?, o.extract()?);
            }
            return Ok(());
        }
        let offset = offset.ok_or_else(|| {
            PyTypeError::new_err("offset(partition, offset) needs an offset, or pass a dict")
        })?;
        self.inner
            .offset(topic_partition_from_py(partition)?, offset);
        Ok(())
    }

    /// Commits offsets as soon as possible instead of at the next interval.
    fn request_commit(&self) {
        self.inner.request_commit();
    }

    /// How long to wait (ms) before redelivering a batch after `put` raised
    /// `RetriableError`.
    fn timeout(&self, ms: u64) {
        self.inner.timeout(ms);
    }

    /// Reports records `put` cannot handle (to the dead letter queue or the log, under the
    /// connector's `errors.*` settings); `None` when error reporting is not configured.
    #[getter]
    fn errant_record_reporter(&self) -> Option<PyErrantRecordReporter> {
        self.inner
            .errant_record_reporter()
            .map(|inner| PyErrantRecordReporter { inner })
    }
}

/// Sends a record a sink task could not handle to the error reporters (KIP-610).
#[pyclass(frozen, module = "conveyor", name = "ErrantRecordReporter")]
pub struct PyErrantRecordReporter {
    inner: Arc<dyn ErrantRecordReporter>,
}

#[pymethods]
impl PyErrantRecordReporter {
    /// Reports `record` as failed with `error` (an exception).
    fn report(
        &self,
        py: Python<'_>,
        record: &Bound<'_, PyAny>,
        error: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let r = record_from_py(record)
            .ok_or_else(|| PyTypeError::new_err("report() needs a SinkRecord"))?;
        let e = exception_to_error(py, error, "record reported by the task");
        self.inner.report(&r, &e).map_err(super::errors::to_py_err)
    }
}
