//! The engine of `conveyor.testing`: drives a Python task or transformation through the same
//! wrappers the worker uses (so `async def`, return-type checks and value conversion behave
//! exactly as in production), with in-memory offsets and no broker. When the plugin raises,
//! its own exception is re-raised, so `pytest.raises(ValueError)` works in authors' tests.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::data::{OffsetMap, Origin, Record, TopicPartition};
use crate::errors::{ConnectError, Result};
use crate::plugin::{
    OffsetReader, SinkContextState, SinkTask, SinkTaskContext, SourceTask, SourceTaskContext,
    TaskId,
};
use crate::python::contexts::{partitions_to_py, topic_partition_from_py, topic_partition_to_py};
use crate::python::errors::{original_exception, to_py_err};
use crate::python::instance::PluginInstance;
use crate::python::records::{record_from_py, records_to_py, unwrap_record};
use crate::python::sink_task::PySinkTask;
use crate::python::source_task::PySourceTask;
use crate::python::transform::PyTransformation;
use crate::python::values::{config_from_py, offset_map_arg, Path};
use crate::runtime::offsets::partition_id;
use crate::transform::Transformation;

/// Source offsets in memory, keyed by partition.
#[derive(Default)]
struct MemoryOffsets(Mutex<HashMap<String, (OffsetMap, OffsetMap)>>);

impl OffsetReader for MemoryOffsets {
    fn offset(&self, partition: &OffsetMap) -> Result<Option<OffsetMap>> {
        Ok(self
            .0
            .lock()
            .get(&partition_id(partition))
            .map(|(_, o)| o.clone()))
    }
}

/// Errors from plugin code come back as the original Python exception when it is still
/// around, otherwise as the `conveyor.errors` exception.
/// The exception for a failed call: the plugin's own exception when it raised one (kept in
/// the error as its source), else the `conveyor.errors` exception for the error.
fn raise(e: ConnectError) -> PyErr {
    match Python::attach(|py| original_exception(py, &e)) {
        Some(original) => original,
        None => to_py_err(e),
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

/// Runs a source task: `start`, `poll`, `commit`, `stop`.
#[pyclass(module = "conveyor._native", name = "SourceTaskRunner")]
pub struct PySourceTaskRunner {
    task: Option<PySourceTask>,
    offsets: Arc<MemoryOffsets>,
    id: TaskId,
}

impl PySourceTaskRunner {
    fn task(&mut self) -> PyResult<&mut PySourceTask> {
        self.task
            .as_mut()
            .ok_or_else(|| PyTypeError::new_err("the task is stopped"))
    }
}

#[pymethods]
impl PySourceTaskRunner {
    #[new]
    #[pyo3(signature = (task, connector="test-connector", task_number=0, offsets=None))]
    fn new(
        task: &Bound<'_, PyAny>,
        connector: &str,
        task_number: i32,
        offsets: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let class: String = task.get_type().qualname()?.to_string();
        let store = MemoryOffsets::default();
        if let Some(list) = offsets.filter(|o| !o.is_none()) {
            for item in list.try_iter()? {
                let (p, o): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item?.extract()?;
                let p = offset_map_arg(Some(&p), &Path::Root("partition"))?;
                let o = offset_map_arg(Some(&o), &Path::Root("offset"))?;
                store.0.lock().insert(partition_id(&p), (p, o));
            }
        }
        let runner = PySourceTask::new(task.clone().unbind(), &class);
        Ok(PySourceTaskRunner {
            task: Some(runner),
            offsets: Arc::new(store),
            id: TaskId::new(connector, task_number),
        })
    }

    fn start(&mut self, config: &Bound<'_, PyAny>) -> PyResult<()> {
        let config = config_from_py(config, "task config")?;
        let ctx = SourceTaskContext {
            task_id: self.id.clone(),
            offsets: self.offsets.clone(),
            transaction_context: None,
        };
        let task = self.task()?;
        block_on(task.start(config, ctx)).map_err(raise)
    }

    /// One `poll`; the records' offsets count as committed (as if Kafka acknowledged them),
    /// then `commit` is called.
    fn poll<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let task = self.task()?;
        let records = block_on(task.poll()).map_err(raise)?;
        {
            let mut store = self.offsets.0.lock();
            for r in &records {
                if let Origin::Source { partition, offset } = &r.origin {
                    if !(partition.is_empty() && offset.is_empty()) {
                        store.insert(
                            partition_id(partition),
                            ((**partition).clone(), offset.clone()),
                        );
                    }
                }
            }
        }
        let task = self.task()?;
        block_on(task.commit()).map_err(raise)?;
        records_to_py(py, records)
    }

    /// Committed offsets as `(partition, offset)` pairs.
    fn offsets<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let out = PyList::empty(py);
        let mut entries: Vec<_> = self.offsets.0.lock().values().cloned().collect();
        entries.sort_by_key(|(p, _)| partition_id(p));
        for (p, o) in entries {
            out.append((
                crate::python::records::offset_map_to_py(py, &p)?,
                crate::python::records::offset_map_to_py(py, &o)?,
            ))?;
        }
        Ok(out)
    }

    fn stop(&mut self) -> PyResult<()> {
        let Some(mut task) = self.task.take() else {
            return Ok(());
        };
        block_on(task.stop()).map_err(raise)
    }
}

/// Runs a sink task: `start` (+`open`), `put`, `pre_commit` on `commit`, `close` + `stop`.
#[pyclass(module = "conveyor._native", name = "SinkTaskRunner")]
pub struct PySinkTaskRunner {
    task: Option<PySinkTask>,
    state: Arc<Mutex<SinkContextState>>,
    id: TaskId,
    /// Next offset per partition, after the records put so far.
    positions: HashMap<TopicPartition, i64>,
    assignment: Vec<TopicPartition>,
}

impl PySinkTaskRunner {
    fn task(&mut self) -> PyResult<&mut PySinkTask> {
        self.task
            .as_mut()
            .ok_or_else(|| PyTypeError::new_err("the task is stopped"))
    }

    fn run<T>(&mut self, f: impl FnOnce(&mut PySinkTask) -> Result<T>) -> PyResult<T> {
        let task = self.task()?;
        f(task).map_err(raise)
    }
}

#[pymethods]
impl PySinkTaskRunner {
    #[new]
    #[pyo3(signature = (task, connector="test-connector", task_number=0))]
    fn new(task: &Bound<'_, PyAny>, connector: &str, task_number: i32) -> PyResult<Self> {
        let class: String = task.get_type().qualname()?.to_string();
        let runner = PySinkTask::new(task.clone().unbind(), &class);
        Ok(PySinkTaskRunner {
            task: Some(runner),
            state: Arc::default(),
            id: TaskId::new(connector, task_number),
            positions: HashMap::new(),
            assignment: Vec::new(),
        })
    }

    fn start(&mut self, config: &Bound<'_, PyAny>, assignment: &Bound<'_, PyAny>) -> PyResult<()> {
        let config = config_from_py(config, "task config")?;
        let mut parts = Vec::new();
        for tp in assignment.try_iter()? {
            parts.push(topic_partition_from_py(&tp?)?);
        }
        self.state.lock().assignment = parts.clone();
        self.assignment = parts.clone();
        let ctx = SinkTaskContext::new(self.id.clone(), self.state.clone(), None);
        self.run(|t| block_on(t.start(config, ctx)))?;
        self.run(|t| block_on(t.open(&parts)))
    }

    /// `put` of a batch of `SinkRecord`.
    fn put(&mut self, records: &Bound<'_, PyAny>) -> PyResult<()> {
        let mut batch: Vec<Record> = Vec::new();
        for (i, item) in records.try_iter()?.enumerate() {
            let item = item?;
            let r = record_from_py(&item)
                .filter(|r| r.is_sink())
                .ok_or_else(|| PyTypeError::new_err(format!("item {i} is not a SinkRecord")))?;
            batch.push(unwrap_record(r));
        }
        let next: Vec<(TopicPartition, i64)> = batch
            .iter()
            .filter_map(|r| {
                Some((
                    TopicPartition::new(r.topic.clone(), r.kafka_partition?),
                    r.kafka_offset()? + 1,
                ))
            })
            .collect();
        self.run(|t| block_on(t.put(batch)))?;
        for (tp, o) in next {
            let e = self.positions.entry(tp).or_insert(o);
            *e = (*e).max(o);
        }
        Ok(())
    }

    /// `pre_commit` with the positions after everything put; returns what it says to commit.
    fn commit<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let offsets = self.positions.clone();
        let committed = self.run(|t| block_on(t.pre_commit(offsets)))?;
        let out = PyDict::new(py);
        for (tp, o) in committed {
            out.set_item(topic_partition_to_py(py, &tp)?, o)?;
        }
        self.state.lock().commit_requested = false;
        Ok(out)
    }

    /// What the task asked of its context: `paused`, `resumed`, `offsets` (rewinds),
    /// `commit_requested`, `timeout_ms`.
    fn context_requests<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.state.lock();
        let d = PyDict::new(py);
        d.set_item("paused", partitions_to_py(py, &s.pause)?)?;
        d.set_item("resumed", partitions_to_py(py, &s.resume)?)?;
        let offsets = PyDict::new(py);
        for (tp, o) in &s.offsets {
            offsets.set_item(topic_partition_to_py(py, tp)?, o)?;
        }
        d.set_item("offsets", offsets)?;
        d.set_item("commit_requested", s.commit_requested)?;
        d.set_item("timeout_ms", s.timeout_ms)?;
        Ok(d)
    }

    fn stop(&mut self) -> PyResult<()> {
        if self.task.is_none() {
            return Ok(());
        }
        let parts = self.assignment.clone();
        let closed = self.run(|t| block_on(t.close(&parts)));
        let stopped = self.run(|t| block_on(t.stop()));
        self.task = None;
        closed.and(stopped)
    }
}

/// Runs a transformation over batches.
#[pyclass(module = "conveyor._native", name = "TransformationRunner")]
pub struct PyTransformationRunner {
    transform: Option<PyTransformation>,
}

#[pymethods]
impl PyTransformationRunner {
    /// `transform` is a configured instance (`config` set, `configure` called).
    #[new]
    fn new(py: Python<'_>, transform: &Bound<'_, PyAny>) -> PyResult<Self> {
        let class: String = transform.get_type().qualname()?.to_string();
        let inst = PluginInstance::new(
            transform.clone().unbind(),
            "Transformation",
            format!("transformation {class}"),
        );
        let batch = inst.overrides(py, "apply_batch");
        let transform = PyTransformation::new(inst, batch);
        Ok(PyTransformationRunner {
            transform: Some(transform),
        })
    }

    /// The results for `records` (a record, or `None` when dropped), raising the first error.
    fn apply<'py>(
        &mut self,
        py: Python<'py>,
        records: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyList>> {
        let t = self
            .transform
            .as_mut()
            .ok_or_else(|| PyTypeError::new_err("the transformation is closed"))?;
        let mut batch = Vec::new();
        for (i, item) in records.try_iter()?.enumerate() {
            let item = item?;
            let r = record_from_py(&item).ok_or_else(|| {
                PyTypeError::new_err(format!("item {i} is not a SourceRecord or SinkRecord"))
            })?;
            batch.push(unwrap_record(r));
        }
        let out = PyList::empty(py);
        for result in t.apply_batch(batch) {
            match result {
                Ok(Some(r)) => out.append(crate::python::records::record_to_py(py, r)?)?,
                Ok(None) => out.append(py.None())?,
                Err(e) => return Err(raise(e)),
            }
        }
        Ok(out)
    }

    fn close(&mut self) {
        if let Some(mut t) = self.transform.take() {
            t.close();
        }
    }
}
