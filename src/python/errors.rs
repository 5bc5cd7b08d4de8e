//! Errors across the FFI boundary, both ways: a Python exception raised by plugin code becomes
//! a [`ConnectError`] that names the call and carries the Python traceback (the REST `trace`);
//! a [`ConnectError`] reaching Python becomes the matching `conveyor.errors` exception.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

use crate::errors::ConnectError;

/// The exception classes of `conveyor.errors` that Rust raises or recognizes.
#[derive(Clone, Copy)]
pub enum ErrorClass {
    Connect,
    Data,
    Config,
    Retriable,
    NotFound,
    AlreadyExists,
    BadRequest,
    Conflict,
    Kafka,
    Plugin,
}

impl ErrorClass {
    fn name(self) -> &'static str {
        match self {
            ErrorClass::Connect => "ConnectError",
            ErrorClass::Data => "DataError",
            ErrorClass::Config => "ConfigError",
            ErrorClass::Retriable => "RetriableError",
            ErrorClass::NotFound => "NotFoundError",
            ErrorClass::AlreadyExists => "AlreadyExistsError",
            ErrorClass::BadRequest => "BadRequestError",
            ErrorClass::Conflict => "ConflictError",
            ErrorClass::Kafka => "KafkaError",
            ErrorClass::Plugin => "PluginError",
        }
    }

    fn cell(self) -> &'static PyOnceLock<Py<PyType>> {
        static CELLS: [PyOnceLock<Py<PyType>>; 10] = [const { PyOnceLock::new() }; 10];
        &CELLS[self as usize]
    }

    /// The class object; `None` if `conveyor.errors` cannot be imported (never in a normal
    /// install, but Rust must not panic over it).
    pub fn get(self, py: Python<'_>) -> Option<&Bound<'_, PyType>> {
        self.cell().import(py, "conveyor.errors", self.name()).ok()
    }

    /// A new exception of this class with `message`.
    pub fn err(self, py: Python<'_>, message: impl Into<String>) -> PyErr {
        let message = message.into();
        match self.get(py) {
            Some(cls) => PyErr::from_type(cls.clone(), (message,)),
            None => PyRuntimeError::new_err(message),
        }
    }
}

/// A [`ConnectError`] as the matching `conveyor.errors` exception.
pub fn to_py_err(error: ConnectError) -> PyErr {
    Python::attach(|py| to_py_err_with(py, error))
}

fn to_py_err_with(py: Python<'_>, error: ConnectError) -> PyErr {
    let class = match &error {
        ConnectError::Data(_) => ErrorClass::Data,
        ConnectError::Config(_) => ErrorClass::Config,
        ConnectError::Retriable(_) => ErrorClass::Retriable,
        ConnectError::NotFound(_) => ErrorClass::NotFound,
        ConnectError::AlreadyExists(_) => ErrorClass::AlreadyExists,
        ConnectError::BadRequest(_) => ErrorClass::BadRequest,
        ConnectError::Conflict(_) => ErrorClass::Conflict,
        ConnectError::Kafka(_) => ErrorClass::Kafka,
        ConnectError::Plugin {
            retriable: true, ..
        } => ErrorClass::Retriable,
        ConnectError::Plugin { message, trace, .. } => {
            return match ErrorClass::Plugin.get(py) {
                Some(cls) => PyErr::from_type(cls.clone(), (message.clone(), trace.clone())),
                None => PyRuntimeError::new_err(format!("{message}\n{trace}")),
            };
        }
        ConnectError::Io(_) | ConnectError::Other(_) => ErrorClass::Connect,
    };
    class.err(py, error.to_string())
}

/// `TypeName: message` of an exception, as Python prints its last traceback line.
pub fn describe_exception(py: Python<'_>, err: &PyErr) -> String {
    let ty = err.get_type(py);
    let name = ty
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    let text = err
        .value(py)
        .str()
        .map(|s| s.to_string())
        .unwrap_or_default();
    if text.is_empty() {
        name
    } else {
        format!("{name}: {text}")
    }
}

/// The module-qualified class of an exception: `builtins.ValueError`,
/// `mypkg.errors.FetchError` (Python's own traceback omits `builtins.`; a qualified name says
/// unambiguously where the class lives, as Java's class names in Connect's headers do).
pub fn exception_class_name(py: Python<'_>, err: &PyErr) -> String {
    let ty = err.get_type(py);
    let qualname = ty
        .qualname()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "Exception".into());
    match ty.module() {
        Ok(module) => format!("{module}.{qualname}"),
        Err(_) => qualname,
    }
}

/// A plugin failure for the Python exception `err`: `message`, the traceback, the
/// exception's class, and the exception itself as the error's source (so that
/// `conveyor.testing` can raise it again, see [`original_exception`]).
pub fn plugin_error(py: Python<'_>, err: PyErr, message: String) -> ConnectError {
    let retriable = ErrorClass::Retriable
        .get(py)
        .is_some_and(|r| err.is_instance(py, r.as_any()));
    ConnectError::Plugin {
        message,
        trace: format_traceback(py, &err),
        exception: Some(exception_class_name(py, &err)),
        retriable,
        source: Some(std::sync::Arc::new(err)),
    }
}

/// The Python exception a [`ConnectError`] was made from, if any.
pub fn original_exception(py: Python<'_>, error: &ConnectError) -> Option<PyErr> {
    error.source_as::<PyErr>().map(|e| e.clone_ref(py))
}

/// The formatted Python traceback of `err` (`Traceback (most recent call last): ...`),
/// without the frames of Python's import machinery.
pub fn format_traceback(py: Python<'_>, err: &PyErr) -> String {
    static FORMAT: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let formatted = FORMAT
        .import(py, "conveyor._plugins", "format_exception")
        .and_then(|f| f.call1((err.value(py), err.traceback(py))))
        .and_then(|text| text.extract::<String>());
    match formatted {
        Ok(text) => text.trim_end().to_string(),
        Err(_) => describe_exception(py, err),
    }
}

/// A Python exception raised by `method` (for example `SourceTask.poll`) of the plugin
/// described by `owner` (for example `connector ticker task 0`): a plugin failure that
/// carries the Python traceback and exception; `RetriableError` stays retriable.
pub fn from_py_err(py: Python<'_>, err: PyErr, method: &str, owner: &str) -> ConnectError {
    let message = format!(
        "error calling `{method}` in {owner}: {}",
        describe_exception(py, &err)
    );
    plugin_error(py, err, message)
}

/// A `conveyor.errors.DataError` (bad record content; the message names the field).
pub fn data_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    ErrorClass::Data.err(py, message)
}

/// A `conveyor.errors.ConfigError`.
pub fn config_error(py: Python<'_>, message: impl Into<String>) -> PyErr {
    ErrorClass::Config.err(py, message)
}
