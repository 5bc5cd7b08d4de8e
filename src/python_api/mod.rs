//! The Python-facing entry points, at the top of the layer stack beside [`crate::cli`]: the
//! `conveyor._native` extension module, the `conveyor` console script, the in-process
//! `Worker` (notebooks), `conveyor.peek` and the `conveyor.testing` runners. They drive whole
//! workers (herders, Kafka clients); the plugin adapters they hand records to are in
//! [`crate::python`].

pub mod harness;
pub mod peek;
pub mod worker;

use pyo3::prelude::*;

use crate::python::{config_def, contexts, records, schema, structs};

/// Runs the `conveyor` command line; returns its exit code. The GIL is released while the
/// worker runs.
#[pyfunction]
fn cli_main(py: Python<'_>, args: Vec<String>) -> i32 {
    py.detach(|| crate::cli::run(args))
}

/// Writes a Python log record to the worker log (`tracing`), inside the calling task's span.
#[pyfunction]
fn _log(py: Python<'_>, level: i32, logger: &str, message: &str) {
    py.detach(|| match level {
        l if l >= 40 => tracing::error!(target: "python", logger, "{message}"),
        l if l >= 30 => tracing::warn!(target: "python", logger, "{message}"),
        l if l >= 20 => tracing::info!(target: "python", logger, "{message}"),
        l if l >= 10 => tracing::debug!(target: "python", logger, "{message}"),
        _ => tracing::trace!(target: "python", logger, "{message}"),
    });
}

/// Sends the worker log to memory (`True`) or stderr (`False`) from now on, process-wide.
#[pyfunction]
fn _log_to_memory(on: bool) {
    crate::logging::log_to_memory(on);
}

/// Whether the calling thread is one of the worker's: a task thread (`task-<connector>-<n>`)
/// or a thread of the in-process worker's runtime (`conveyor-worker`, where connectors run).
#[pyfunction]
fn _on_worker_thread() -> bool {
    std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("task-") || n.starts_with("conveyor-worker"))
}

/// The newest `n` lines of the in-memory worker log, oldest first.
#[pyfunction]
fn _recent_log(n: usize) -> Vec<String> {
    crate::logging::recent_lines(n)
}

/// The `conveyor._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add_function(wrap_pyfunction!(_log, m)?)?;
    m.add_function(wrap_pyfunction!(_log_to_memory, m)?)?;
    m.add_function(wrap_pyfunction!(_recent_log, m)?)?;
    m.add_function(wrap_pyfunction!(_on_worker_thread, m)?)?;
    m.add_function(wrap_pyfunction!(peek::peek, m)?)?;
    m.add_class::<schema::PySchema>()?;
    m.add_class::<structs::PyStruct>()?;
    m.add_class::<records::PySourceRecord>()?;
    m.add_class::<records::PySinkRecord>()?;
    m.add_class::<config_def::PyConfigDef>()?;
    m.add_class::<contexts::PyConnectorContext>()?;
    m.add_class::<contexts::PyOffsetStorageReader>()?;
    m.add_class::<contexts::PySourceTaskContext>()?;
    m.add_class::<contexts::PyTransactionContext>()?;
    m.add_class::<contexts::PySinkTaskContext>()?;
    m.add_class::<contexts::PyErrantRecordReporter>()?;
    m.add_class::<worker::PyWorker>()?;
    m.add_class::<harness::PySourceTaskRunner>()?;
    m.add_class::<harness::PySinkTaskRunner>()?;
    m.add_class::<harness::PyTransformationRunner>()?;
    m.add("__version__", crate::plugin::VERSION)?;
    Ok(())
}
