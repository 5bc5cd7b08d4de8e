//! Python `conveyor.Transformation` and `conveyor.Predicate` as Rust SMTs. A transformation
//! handles a whole batch with the GIL taken once; records that come back unchanged (the same
//! object, or `replace()` of unrelated attributes) are not converted at all.

use std::sync::Arc;

use pyo3::prelude::*;
use pyo3::types::PyList;

use super::instance::PluginInstance;
use super::records::{record_from_py, record_to_py, records_to_py, unwrap_record};
use super::source_task::type_name;
use crate::data::Record;
use crate::errors::Result;
use crate::transform::{Predicate, Transformation};

pub struct PyTransformation {
    inst: PluginInstance,
    /// The class overrides `apply_batch`: call it once per batch instead of `apply` per record.
    batch: bool,
}

impl PyTransformation {
    pub fn new(inst: PluginInstance, batch: bool) -> Self {
        PyTransformation { inst, batch }
    }

    /// The record an `apply` returned (checked), or `None` when it dropped it.
    fn output(
        &self,
        method: &str,
        out: &Bound<'_, PyAny>,
        input_is_sink: bool,
    ) -> Result<Option<Arc<Record>>> {
        if out.is_none() {
            return Ok(None);
        }
        let expected = if input_is_sink {
            "SinkRecord"
        } else {
            "SourceRecord"
        };
        match record_from_py(out) {
            Some(r) if r.is_sink() == input_is_sink => Ok(Some(r)),
            _ => Err(self.inst.misuse(
                method,
                format!(
                    "{method}() must return a {expected} (for example record.replace(...)) or None to drop the record, got {}",
                    type_name(out)
                ),
            )),
        }
    }

    fn apply_each(
        &mut self,
        py: Python<'_>,
        records: Vec<Record>,
    ) -> Vec<Result<Option<Arc<Record>>>> {
        let apply = match self.inst.obj().bind(py).getattr(pyo3::intern!(py, "apply")) {
            Ok(f) => f,
            Err(e) => {
                let err = self.inst.error(py, "apply", e);
                return records.iter().map(|_| Err(err.clone())).collect();
            }
        };
        let mut out = Vec::with_capacity(records.len());
        for record in records {
            let is_sink = record.is_sink();
            let result = match record_to_py(py, record).and_then(|r| apply.call1((r,))) {
                Ok(o) => self.output("apply", &o, is_sink),
                Err(e) => Err(self.inst.error(py, "apply", e)),
            };
            out.push(result);
        }
        out
    }

    fn apply_all(
        &mut self,
        py: Python<'_>,
        records: Vec<Record>,
    ) -> Vec<Result<Option<Arc<Record>>>> {
        let n = records.len();
        let is_sink: Vec<bool> = records.iter().map(Record::is_sink).collect();
        let fail_all = |e: crate::errors::ConnectError| (0..n).map(|_| Err(e.clone())).collect();
        let batch = match records_to_py(py, records) {
            Ok(b) => b,
            Err(e) => return fail_all(self.inst.error(py, "apply_batch", e)),
        };
        let result = match self.inst.call(py, "apply_batch", (batch,)) {
            Ok(r) => r,
            Err(e) => return fail_all(e),
        };
        let Ok(list) = result.cast::<PyList>() else {
            return fail_all(self.inst.misuse(
                "apply_batch",
                format!(
                    "apply_batch() must return a list, got {}",
                    type_name(&result)
                ),
            ));
        };
        if list.len() != n {
            return fail_all(self.inst.misuse(
                "apply_batch",
                format!(
                    "apply_batch() must return one result per record ({n}), got {}",
                    list.len()
                ),
            ));
        }
        list.iter()
            .zip(is_sink)
            .map(|(o, sink)| self.output("apply_batch", &o, sink))
            .collect()
    }
}

impl Transformation for PyTransformation {
    fn apply(&mut self, record: Record) -> Result<Option<Record>> {
        self.apply_batch(vec![record]).pop().unwrap_or(Ok(None))
    }

    fn apply_batch(&mut self, records: Vec<Record>) -> Vec<Result<Option<Record>>> {
        let shared = Python::attach(|py| {
            if self.batch {
                self.apply_all(py, records)
            } else {
                self.apply_each(py, records)
            }
        });
        // Python has let go of the records by now, so unchanged ones move without a copy.
        shared
            .into_iter()
            .map(|r| r.map(|o| o.map(unwrap_record)))
            .collect()
    }

    /// Python code sees the whole record.
    fn reads_source_offset(&self) -> bool {
        true
    }

    fn close(&mut self) {
        Python::attach(|py| {
            if let Err(e) = self.inst.call(py, "close", ()) {
                tracing::warn!(error = %e, "error closing a Python transformation");
            }
        });
    }
}

pub struct PyPredicate {
    inst: PluginInstance,
}

impl PyPredicate {
    pub fn new(inst: PluginInstance) -> Self {
        PyPredicate { inst }
    }
}

impl Predicate for PyPredicate {
    fn test(&mut self, record: &Record) -> Result<bool> {
        self.test_batch(&[record]).pop().unwrap_or(Ok(false))
    }

    /// One GIL acquisition and one lookup of `test` for the whole batch; an exception fails
    /// only the record it was raised for.
    fn test_batch(&mut self, records: &[&Record]) -> Vec<Result<bool>> {
        Python::attach(|py| {
            let test = match self.inst.obj().bind(py).getattr(pyo3::intern!(py, "test")) {
                Ok(f) => f,
                Err(e) => {
                    let err = self.inst.error(py, "test", e);
                    return records.iter().map(|_| Err(err.clone())).collect();
                }
            };
            records
                .iter()
                .map(|record| {
                    record_to_py(py, (*record).clone())
                        .and_then(|r| test.call1((r,)))
                        .and_then(|out| self.inst.resolve(py, out))
                        .and_then(|out| out.is_truthy())
                        .map_err(|e| self.inst.error(py, "test", e))
                })
                .collect()
        })
    }

    /// Python code sees the whole record.
    fn reads_source_offset(&self) -> bool {
        true
    }

    fn close(&mut self) {
        Python::attach(|py| {
            if let Err(e) = self.inst.call(py, "close", ()) {
                tracing::warn!(error = %e, "error closing a Python predicate");
            }
        });
    }
}
