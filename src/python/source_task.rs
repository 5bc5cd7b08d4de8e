//! A Python `conveyor.SourceTask` as a Rust [`SourceTask`]. The runtime calls it on the
//! task's own thread, so each call takes the GIL once and converts a whole `poll` batch.

use std::sync::Arc;

use async_trait::async_trait;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use super::contexts::{
    PyOffsetStorageReader, PySourceTaskContext, PyTransactionContext, RecordRequests,
};
use super::instance::PluginInstance;
use super::records::{unwrap_record, PySourceRecord};
use super::values::config_to_py;
use crate::config::ConfigMap;
use crate::data::Record;
use crate::errors::Result;
use crate::plugin::TransactionRequest;
use crate::plugin::{SourceTask, SourceTaskContext};

pub struct PySourceTask {
    inst: PluginInstance,
    calls_commit: bool,
    /// The task's transaction context and its per-record requests, with
    /// `transaction.boundary=connector`.
    transactions: Option<(Arc<crate::plugin::TransactionContext>, RecordRequests)>,
}

impl PySourceTask {
    pub fn new(obj: Py<PyAny>, class: &str) -> Self {
        PySourceTask {
            inst: PluginInstance::new(obj, "SourceTask", format!("task {class}")),
            calls_commit: true,
            transactions: None,
        }
    }

    /// Turns requests about Python records into requests about their places in the batch.
    fn resolve_record_requests(&self, result: &Bound<'_, PyAny>) {
        let Some((ctx, requests)) = &self.transactions else {
            return;
        };
        let requests = std::mem::take(&mut *requests.lock());
        if requests.is_empty() {
            return;
        }
        let items: Vec<Bound<'_, PyAny>> = match result.try_iter() {
            Ok(it) => it.filter_map(|i| i.ok()).collect(),
            Err(_) => Vec::new(),
        };
        for (record, request) in requests {
            let record = record.bind(result.py());
            match items.iter().position(|i| i.is(record)) {
                Some(index) => match request {
                    TransactionRequest::Commit => ctx.commit_transaction_after(index),
                    TransactionRequest::Abort => ctx.abort_transaction_after(index),
                },
                None => {
                    // Connect ignores a record it never sees dispatched; say so.
                    tracing::warn!("a transaction request names a record that poll() did not return; it is applied after the batch");
                    match request {
                        TransactionRequest::Commit => ctx.commit_transaction(),
                        TransactionRequest::Abort => ctx.abort_transaction(),
                    }
                }
            }
        }
    }

    /// The records of a `poll` result: `None`, or a list (or tuple) of `SourceRecord`.
    fn records(&self, result: &Bound<'_, PyAny>) -> Result<Vec<Arc<Record>>> {
        if result.is_none() {
            return Ok(Vec::new());
        }
        let items: Vec<Bound<'_, PyAny>> = if let Ok(l) = result.cast::<PyList>() {
            l.iter().collect()
        } else if let Ok(t) = result.cast::<PyTuple>() {
            t.iter().collect()
        } else {
            return Err(self.inst.misuse(
                "poll",
                format!(
                    "poll() must return a list of SourceRecord or None, got {}",
                    type_name(result)
                ),
            ));
        };
        let mut shared = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match item.cast_exact::<PySourceRecord>() {
                Ok(r) => shared.push(r.get().record.clone()),
                Err(_) => {
                    return Err(self.inst.misuse(
                        "poll",
                        format!(
                            "poll() returned a list whose item {i} is a {}, not a SourceRecord",
                            type_name(item)
                        ),
                    ))
                }
            }
        }
        Ok(shared)
    }
}

pub fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "object".into())
}

#[async_trait]
impl SourceTask for PySourceTask {
    async fn start(&mut self, config: ConfigMap, ctx: SourceTaskContext) -> Result<()> {
        Python::attach(|py| {
            self.inst.set_owner(format!(
                "connector {} task {}",
                ctx.task_id.connector, ctx.task_id.task
            ));
            let reader = Py::new(py, PyOffsetStorageReader { inner: ctx.offsets })
                .map_err(|e| self.inst.error(py, "start", e))?;
            let transaction_context = match &ctx.transaction_context {
                Some(inner) => {
                    let records: RecordRequests = Default::default();
                    self.transactions = Some((inner.clone(), records.clone()));
                    Some(
                        Py::new(
                            py,
                            PyTransactionContext {
                                inner: inner.clone(),
                                records,
                            },
                        )
                        .map_err(|e| self.inst.error(py, "start", e))?,
                    )
                }
                None => None,
            };
            let context = PySourceTaskContext {
                task_id: ctx.task_id,
                reader,
                transaction_context,
            };
            let cfg = config_to_py(py, &config).map_err(|e| self.inst.error(py, "start", e))?;
            self.inst.set_attr(
                py,
                "config",
                cfg.copy().map_err(|e| self.inst.error(py, "start", e))?,
            )?;
            self.inst.set_attr(py, "context", context)?;
            self.calls_commit = self.inst.overrides(py, "commit");
            self.inst.call(py, "start", (cfg,))?;
            Ok(())
        })
    }

    async fn poll(&mut self) -> Result<Vec<Record>> {
        Python::attach(|py| {
            let result = self.inst.call(py, "poll", ())?;
            self.resolve_record_requests(&result);
            let records = self.records(&result);
            // Once Python lets go of the records, they move out without a copy.
            drop(result);
            Ok(records?.into_iter().map(unwrap_record).collect())
        })
    }

    async fn commit(&mut self) -> Result<()> {
        if !self.calls_commit {
            return Ok(());
        }
        Python::attach(|py| self.inst.call(py, "commit", ()).map(drop))
    }

    async fn stop(&mut self) -> Result<()> {
        Python::attach(|py| {
            let result = self.inst.call(py, "stop", ()).map(drop);
            self.inst.close_loop(py);
            result
        })
    }
}
