//! `conveyor.peek`: records of a topic (see [`crate::runtime::peek`]) as `SinkRecord`s: the first,
//! the last, or the first from an offset or a time.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyList;

use crate::config::ConfigMap;
use crate::python::errors::{to_py_err, ErrorClass};
use crate::python::records::record_to_py;
use crate::python::values::config_from_py;
use crate::runtime::peek::{decode, fetch, Decoder, Window};

/// Records of `topic` as `SinkRecord`s (see `conveyor.peek`): the first `n`, or with `from`
/// `"end"` the last `n`, `"offset"` the first `n` from offset `at`, `"timestamp"` the first
/// `n` from epoch milliseconds `at`.
#[pyfunction]
#[pyo3(signature = (bootstrap_servers, topic, n=10, *, timeout=10.0, key_converter=None, value_converter=None, converter_config=None, consumer_config=None, from_="start", at=0))]
#[allow(clippy::too_many_arguments)]
pub fn peek<'py>(
    py: Python<'py>,
    bootstrap_servers: String,
    topic: String,
    n: usize,
    timeout: f64,
    key_converter: Option<String>,
    value_converter: Option<String>,
    converter_config: Option<&Bound<'py, PyAny>>,
    consumer_config: Option<&Bound<'py, PyAny>>,
    from_: &str,
    at: i64,
) -> PyResult<Bound<'py, PyList>> {
    let window = match from_ {
        "start" => Window::First(n),
        "end" => Window::Last(n),
        "offset" => Window::FromOffset(at, n),
        "timestamp" => Window::FromTimestamp(at, n),
        other => {
            return Err(ErrorClass::Config.err(
                py,
                format!(
                    "from_ must be \"start\", \"end\", \"offset\" or \"timestamp\", got '{other}'"
                ),
            ))
        }
    };
    let converter_config = match converter_config {
        Some(c) => config_from_py(c, "converter_config")?,
        None => ConfigMap::new(),
    };
    let consumer_config = match consumer_config {
        Some(c) => config_from_py(c, "consumer_config")?,
        None => ConfigMap::new(),
    };
    if !timeout.is_finite() || timeout < 0.0 {
        return Err(ErrorClass::Config.err(py, "timeout must be a number of seconds >= 0"));
    }
    let registry = crate::connectors::builtin_registry();
    let key = Decoder::from_name(&registry, key_converter.as_deref(), &converter_config, true)
        .map_err(to_py_err)?;
    let value = Decoder::from_name(
        &registry,
        value_converter.as_deref(),
        &converter_config,
        false,
    )
    .map_err(to_py_err)?;
    let raw = py
        .detach(|| {
            fetch(
                &bootstrap_servers,
                &topic,
                window,
                Duration::from_secs_f64(timeout),
                &consumer_config,
            )
        })
        .map_err(to_py_err)?;
    let records = raw
        .into_iter()
        .map(|r| {
            decode(r, &key, &value)
                .map_err(to_py_err)
                .and_then(|r| record_to_py(py, r))
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, records)
}
