//! A Python plugin object (connector, task, transformation...) as the runtime calls it: every
//! call is named in errors (`error calling `SourceTask.poll` in connector X task 0`), and an
//! `async def` method is run to completion on the object's own event loop.
//!
//! Why a per-object asyncio loop rather than pyo3-async-runtimes: a task's coroutines must
//! all run on one loop that lives as long as the task, because the clients they open in
//! `start` (aiohttp sessions, asyncpg pools...) are bound to the loop they were created on.
//! Each task already has a thread of its own, so running the loop there, with
//! `run_until_complete`, needs no extra thread and no cross-thread hand-off per batch;
//! asyncio releases the GIL while it waits on I/O, so other tasks keep running.

use std::sync::Arc;

use pyo3::call::PyCallArgs;
use pyo3::prelude::*;
use pyo3::types::PyList;
use pyo3::IntoPyObjectExt;

use super::errors::from_py_err;
use crate::errors::{ConnectError, Result};

/// A Python object the runtime calls, with what is needed to report its errors.
pub struct PluginInstance {
    obj: Arc<Py<PyAny>>,
    /// The base class name used in messages: `SourceTask`, `Transformation`...
    kind: &'static str,
    /// Who the object is: `connector X task 0`, `transformation mypkg.Upper`...
    owner: String,
    event_loop: Option<Py<PyAny>>,
}

impl PluginInstance {
    pub fn new(obj: Py<PyAny>, kind: &'static str, owner: impl Into<String>) -> Self {
        PluginInstance {
            obj: Arc::new(obj),
            kind,
            owner: owner.into(),
            event_loop: None,
        }
    }

    pub fn obj(&self) -> &Arc<Py<PyAny>> {
        &self.obj
    }

    /// Who the object is: `connector X task 0`, `transformation mypkg.Upper`...
    pub fn owner(&self) -> &str {
        &self.owner
    }

    pub fn set_owner(&mut self, owner: impl Into<String>) {
        self.owner = owner.into();
    }

    /// The error for a Python exception raised by `method`.
    pub fn error(&self, py: Python<'_>, method: &str, err: PyErr) -> ConnectError {
        from_py_err(py, err, &format!("{}.{method}", self.kind), &self.owner)
    }

    /// A plugin error that is not a Python exception (a wrong return type, say).
    pub fn misuse(&self, method: &str, message: impl std::fmt::Display) -> ConnectError {
        ConnectError::plugin_misuse(format!(
            "error calling `{}.{method}` in {}: {message}",
            self.kind, self.owner
        ))
    }

    /// Calls `method(*args)`, awaiting the result when it is awaitable.
    pub fn call<'py, A: PyCallArgs<'py>>(
        &mut self,
        py: Python<'py>,
        method: &'static str,
        args: A,
    ) -> Result<Bound<'py, PyAny>> {
        let result = self
            .obj
            .bind(py)
            .call_method1(method, args)
            .and_then(|r| self.resolve(py, r));
        result.map_err(|e| self.error(py, method, e))
    }

    /// Sets attributes the base classes document (`config`, `context`).
    pub fn set_attr<'py, V: IntoPyObject<'py>>(
        &self,
        py: Python<'py>,
        name: &str,
        value: V,
    ) -> Result<()> {
        let value = value
            .into_bound_py_any(py)
            .map_err(|e| self.misuse("__init__", format!("cannot build {name}: {e}")))?;
        self.obj
            .bind(py)
            .setattr(name, value)
            .map_err(|e| self.error(py, "__setattr__", e))
    }

    /// `result`, or what it resolves to when it is awaitable (`async def` methods).
    pub(crate) fn resolve<'py>(
        &mut self,
        py: Python<'py>,
        result: Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyAny>> {
        // Lists and None are what synchronous methods return: skip the attribute lookup.
        if result.is_none() || result.is_instance_of::<PyList>() {
            return Ok(result);
        }
        if !result.hasattr(pyo3::intern!(py, "__await__"))? {
            return Ok(result);
        }
        let event_loop = match &self.event_loop {
            Some(l) => l.bind(py).clone(),
            None => {
                let l = py.import("asyncio")?.call_method0("new_event_loop")?;
                self.event_loop = Some(l.clone().unbind());
                l
            }
        };
        event_loop.call_method1(pyo3::intern!(py, "run_until_complete"), (result,))
    }

    /// Closes the event loop, if one was made (after the last call).
    pub fn close_loop(&mut self, py: Python<'_>) {
        if let Some(l) = self.event_loop.take() {
            let l = l.bind(py);
            let _ = l
                .call_method0("shutdown_asyncgens")
                .and_then(|c| l.call_method1("run_until_complete", (c,)));
            if let Err(e) = l.call_method0("close") {
                tracing::warn!(owner = %self.owner, error = %e, "could not close the task's event loop");
            }
        }
    }

    /// Whether the object's class implements `method` itself (not the base's default),
    /// so the runtime can skip calls that would do nothing.
    pub fn overrides(&self, py: Python<'_>, method: &str) -> bool {
        let cls = self.obj.bind(py).get_type();
        py.import("conveyor._plugins")
            .and_then(|m| m.getattr("overrides"))
            .and_then(|f| f.call1((cls, method)))
            .and_then(|r| r.extract::<bool>())
            .unwrap_or(true)
    }
}
