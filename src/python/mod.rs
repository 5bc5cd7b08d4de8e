//! The FFI boundary for plugins: Python connectors, tasks, transformations and converters
//! wrapped as the Rust traits of [`crate::plugin`], and the Python classes they exchange
//! (records, schemas, structs, contexts, `ConfigDef`).
//!
//! Python code runs on the threads that call it: a task's methods on the task's own thread
//! (the GIL is taken once per call or batch, and never held while Rust waits for Kafka), a
//! connector's on a blocking thread of the async runtime. Python exceptions become
//! [`crate::ConnectError::Plugin`] with the traceback; Rust errors reaching Python become
//! `conveyor.errors` exceptions. Nothing here panics across the boundary: PyO3 turns a Rust
//! panic inside a `#[pymethods]` function into a Python exception.
//!
//! This module sits below [`crate::runtime`]: it knows nothing of Kafka clients, herders or
//! the CLI. The Python-facing entry points that drive a whole worker (the `conveyor._native`
//! module, the console script, the in-process `Worker`, `peek` and the testing harness) live
//! in [`crate::python_api`].

pub mod config_def;
pub mod connector;
pub mod contexts;
pub mod converter;
pub mod errors;
pub mod gil;
pub mod instance;
pub mod plugins;
pub mod records;
pub mod schema;
pub mod sink_task;
pub mod source_task;
pub mod structs;
pub mod transform;
pub mod values;

use crate::plugin::PluginRegistry;

/// Adds Python plugins (`module:Class` names, entry points, `plugin.path`) to `registry`, and
/// routes Python logging to the worker log. Does nothing when no Python interpreter is
/// running (Rust tests, or a Rust program embedding Conveyor).
pub fn install_plugin_source(registry: &PluginRegistry, plugin_path: &[String]) {
    // SAFETY: `Py_IsInitialized` only reads interpreter state and may be called at any time.
    if unsafe { pyo3::ffi::Py_IsInitialized() } == 0 {
        return;
    }
    plugins::install(registry, plugin_path, true);
}
