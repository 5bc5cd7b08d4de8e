//! A Python `conveyor.SinkTask` as a Rust [`SinkTask`]. `put` crosses the FFI boundary once
//! per batch: the GIL is taken once, the batch becomes a list of lazy `SinkRecord`s, and the
//! GIL is released again before the runtime goes back to Kafka. Methods the class does not
//! override (`open`, `flush`, `close`...) are not called at all.

use std::collections::HashMap;

use async_trait::async_trait;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::contexts::{
    partitions_to_py, topic_partition_from_py, topic_partition_to_py, PySinkTaskContext,
};
use super::instance::PluginInstance;
use super::records::records_to_py;
use super::source_task::type_name;
use super::values::config_to_py;
use crate::config::ConfigMap;
use crate::data::{Record, TopicPartition};
use crate::errors::Result;
use crate::plugin::{SinkTask, SinkTaskContext};

/// Which optional methods the class implements itself.
#[derive(Default)]
struct Overrides {
    open: bool,
    flush: bool,
    pre_commit: bool,
    close: bool,
}

pub struct PySinkTask {
    inst: PluginInstance,
    overrides: Overrides,
    /// Whether the "pre_commit() returned None" warning was logged (once per task).
    warned_none_pre_commit: bool,
}

impl PySinkTask {
    pub fn new(obj: Py<PyAny>, class: &str) -> Self {
        PySinkTask {
            inst: PluginInstance::new(obj, "SinkTask", format!("task {class}")),
            overrides: Overrides {
                open: true,
                flush: true,
                pre_commit: true,
                close: true,
            },
            warned_none_pre_commit: false,
        }
    }

    fn offsets_to_py<'py>(
        py: Python<'py>,
        offsets: &HashMap<TopicPartition, i64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (tp, o) in offsets {
            d.set_item(topic_partition_to_py(py, tp)?, *o)?;
        }
        Ok(d)
    }

    fn partitions_call(
        &mut self,
        method: &'static str,
        partitions: &[TopicPartition],
    ) -> Result<()> {
        Python::attach(|py| {
            let list =
                partitions_to_py(py, partitions).map_err(|e| self.inst.error(py, method, e))?;
            self.inst.call(py, method, (list,)).map(drop)
        })
    }
}

#[async_trait]
impl SinkTask for PySinkTask {
    async fn start(&mut self, config: ConfigMap, ctx: SinkTaskContext) -> Result<()> {
        Python::attach(|py| {
            self.inst.set_owner(format!(
                "connector {} task {}",
                ctx.task_id.connector, ctx.task_id.task
            ));
            let cfg = config_to_py(py, &config).map_err(|e| self.inst.error(py, "start", e))?;
            self.inst.set_attr(
                py,
                "config",
                cfg.copy().map_err(|e| self.inst.error(py, "start", e))?,
            )?;
            self.inst
                .set_attr(py, "context", PySinkTaskContext { inner: ctx })?;
            self.overrides = Overrides {
                open: self.inst.overrides(py, "open"),
                flush: self.inst.overrides(py, "flush"),
                pre_commit: self.inst.overrides(py, "pre_commit"),
                close: self.inst.overrides(py, "close"),
            };
            self.inst.call(py, "start", (cfg,)).map(drop)
        })
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        if !self.overrides.open {
            return Ok(());
        }
        self.partitions_call("open", partitions)
    }

    async fn put(&mut self, records: Vec<Record>) -> Result<()> {
        Python::attach(|py| {
            let batch = records_to_py(py, records).map_err(|e| self.inst.error(py, "put", e))?;
            self.inst.call(py, "put", (batch,)).map(drop)
        })
    }

    async fn flush(&mut self, offsets: &HashMap<TopicPartition, i64>) -> Result<()> {
        if !self.overrides.flush {
            return Ok(());
        }
        Python::attach(|py| {
            let d =
                Self::offsets_to_py(py, offsets).map_err(|e| self.inst.error(py, "flush", e))?;
            self.inst.call(py, "flush", (d,)).map(drop)
        })
    }

    async fn pre_commit(
        &mut self,
        offsets: HashMap<TopicPartition, i64>,
    ) -> Result<HashMap<TopicPartition, i64>> {
        if !self.overrides.pre_commit {
            self.flush(&offsets).await?;
            return Ok(offsets);
        }
        Python::attach(|py| {
            let d = Self::offsets_to_py(py, &offsets)
                .map_err(|e| self.inst.error(py, "pre_commit", e))?;
            let result = self.inst.call(py, "pre_commit", (d,))?;
            if result.is_none() {
                // A forgotten `return`: commit what was put, as the base class's `pre_commit`
                // (and Connect's `SinkTask.preCommit`) would. `{}` is how to commit nothing.
                if !self.warned_none_pre_commit {
                    self.warned_none_pre_commit = true;
                    tracing::warn!(
                        task = %self.inst.owner(),
                        "SinkTask.pre_commit returned None: committing the offsets it was given \
                         (everything put so far); return them explicitly, or {{}} to commit \
                         nothing (logged once per task)"
                    );
                }
                return Ok(offsets);
            }
            let dict = result.cast::<PyDict>().map_err(|_| {
                self.inst.misuse(
                    "pre_commit",
                    format!(
                        "pre_commit() must return a dict of TopicPartition to offset, got {}",
                        type_name(&result)
                    ),
                )
            })?;
            let mut out = HashMap::with_capacity(dict.len());
            for (k, v) in dict.iter() {
                let tp =
                    topic_partition_from_py(&k).map_err(|e| self.inst.misuse("pre_commit", e))?;
                let o: i64 = v.extract().map_err(|_| {
                    self.inst
                        .misuse("pre_commit", format!("the offset of {tp} is not an int"))
                })?;
                out.insert(tp, o);
            }
            Ok(out)
        })
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        if !self.overrides.close {
            return Ok(());
        }
        self.partitions_call("close", partitions)
    }

    async fn stop(&mut self) -> Result<()> {
        Python::attach(|py| {
            let result = self.inst.call(py, "stop", ()).map(drop);
            self.inst.close_loop(py);
            result
        })
    }
}
