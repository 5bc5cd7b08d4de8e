//! Conveyor's error type, with Kafka Connect's exception kinds.

use std::sync::Arc;

/// The error a [`ConnectError::Plugin`] was made from: for a Python failure, the `PyErr`
/// itself (with its traceback), so that `conveyor.testing` can raise the plugin's own
/// exception again. Shared, so that the error stays cheap to clone.
pub type ErrorSource = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, by kind. Each kind maps to an HTTP status in REST and to a Python
/// exception class at the FFI boundary.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// A record could not be converted or does not fit its schema (Connect's `DataException`).
    #[error("{0}")]
    Data(String),
    /// A config is invalid (Connect's `ConfigException`).
    #[error("{0}")]
    Config(String),
    /// A temporary failure; the operation may be retried (Connect's `RetriableException`).
    #[error("{0}")]
    Retriable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    BadRequest(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// A Kafka client operation failed.
    #[error("{0}")]
    Kafka(String),
    /// A file or socket operation failed.
    #[error("{0}")]
    Io(String),
    /// Code in a plugin (a Python connector, task or transform) failed; `trace` is its
    /// traceback, and `exception` the module-qualified class of the Python exception it
    /// raised (`builtins.ValueError`, `mypkg.errors.FetchError`), `None` when the failure is
    /// not a Python exception (a wrong return type, say). `retriable` when the plugin raised
    /// Connect's `RetriableException` (`conveyor.errors.RetriableError`): the operation may be
    /// retried, as for [`ConnectError::Retriable`]. `source` is the exception itself.
    #[error("{message}")]
    Plugin {
        message: String,
        trace: String,
        exception: Option<String>,
        retriable: bool,
        #[source]
        source: Option<ErrorSource>,
    },
    /// Anything else (Connect's `ConnectException`).
    #[error("{0}")]
    Other(String),
}

pub type Result<T, E = ConnectError> = std::result::Result<T, E>;

impl ConnectError {
    /// The exception class shown at the top of traces and in the dead letter queue's
    /// `__connect.errors.exception.class.name` header: the Python exception's class for a
    /// Python failure, else the Kafka Connect exception class this kind corresponds to, so
    /// that tools which look for Connect's exception names keep working.
    pub fn class_name(&self) -> &str {
        match self {
            ConnectError::Plugin {
                exception: Some(class),
                ..
            } => class,
            ConnectError::Data(_) => "org.apache.kafka.connect.errors.DataException",
            ConnectError::Config(_) => "org.apache.kafka.common.config.ConfigException",
            ConnectError::Retriable(_) => "org.apache.kafka.connect.errors.RetriableException",
            ConnectError::NotFound(_) => "org.apache.kafka.connect.errors.NotFoundException",
            ConnectError::AlreadyExists(_) => {
                "org.apache.kafka.connect.errors.AlreadyExistsException"
            }
            ConnectError::BadRequest(_) => {
                "org.apache.kafka.connect.runtime.rest.errors.BadRequestException"
            }
            ConnectError::Conflict(_) => {
                "org.apache.kafka.connect.runtime.rest.errors.ConnectRestException"
            }
            ConnectError::Kafka(_) => "org.apache.kafka.common.KafkaException",
            ConnectError::Io(_) => "java.io.IOException",
            ConnectError::Plugin { .. } | ConnectError::Other(_) => {
                "org.apache.kafka.connect.errors.ConnectException"
            }
        }
    }

    /// The full failure text for a FAILED status: the exception line, then the plugin's
    /// traceback when there is one.
    pub fn trace(&self) -> String {
        match self {
            ConnectError::Plugin { message, trace, .. } if !trace.is_empty() => {
                format!("{}: {message}\n{trace}", self.class_name())
            }
            _ => format!("{}: {self}", self.class_name()),
        }
    }

    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            ConnectError::Retriable(_)
                | ConnectError::Plugin {
                    retriable: true,
                    ..
                }
        )
    }

    /// A plugin failure that is not an exception (a wrong return type, say): no traceback,
    /// no exception class, no source.
    pub fn plugin_misuse(message: impl Into<String>) -> ConnectError {
        ConnectError::Plugin {
            message: message.into(),
            trace: String::new(),
            exception: None,
            retriable: false,
            source: None,
        }
    }

    /// The error this one was made from, when it is of type `E` (for a Python failure,
    /// `pyo3::PyErr`), through any [`ConnectError::context`] added since.
    pub fn source_as<E: std::error::Error + 'static>(&self) -> Option<&E> {
        match self {
            ConnectError::Plugin {
                source: Some(s), ..
            } => s.downcast_ref::<E>(),
            _ => None,
        }
    }

    /// Prefixes the message with what was being done, keeping the kind.
    pub fn context(self, what: impl std::fmt::Display) -> ConnectError {
        let wrap = |m: String| format!("{what}: {m}");
        match self {
            ConnectError::Data(m) => ConnectError::Data(wrap(m)),
            ConnectError::Config(m) => ConnectError::Config(wrap(m)),
            ConnectError::Retriable(m) => ConnectError::Retriable(wrap(m)),
            ConnectError::NotFound(m) => ConnectError::NotFound(wrap(m)),
            ConnectError::AlreadyExists(m) => ConnectError::AlreadyExists(wrap(m)),
            ConnectError::BadRequest(m) => ConnectError::BadRequest(wrap(m)),
            ConnectError::Conflict(m) => ConnectError::Conflict(wrap(m)),
            ConnectError::Kafka(m) => ConnectError::Kafka(wrap(m)),
            ConnectError::Io(m) => ConnectError::Io(wrap(m)),
            // Plugin errors already say what was called, where ("error calling `SourceTask.poll`
            // in connector X task 0: ..."); wrapping them again would say it twice.
            ConnectError::Plugin {
                message,
                trace,
                exception,
                retriable,
                source,
            } => ConnectError::Plugin {
                message: if message.starts_with("error calling") {
                    message
                } else {
                    wrap(message)
                },
                trace,
                exception,
                retriable,
                source,
            },
            ConnectError::Other(m) => ConnectError::Other(wrap(m)),
        }
    }
}

impl From<std::io::Error> for ConnectError {
    fn from(e: std::io::Error) -> Self {
        ConnectError::Io(e.to_string())
    }
}

impl From<crate::config::ConfigErrors> for ConnectError {
    fn from(e: crate::config::ConfigErrors) -> Self {
        ConnectError::Config(e.to_string())
    }
}

impl From<serde_json::Error> for ConnectError {
    fn from(e: serde_json::Error) -> Self {
        ConnectError::Data(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_python_failure_is_named_by_its_python_class_and_keeps_it_through_context() {
        let cause = std::io::Error::other("the original");
        let e = ConnectError::Plugin {
            message: "boom".into(),
            trace: "Traceback (most recent call last):\n...".into(),
            exception: Some("builtins.ValueError".into()),
            retriable: false,
            source: Some(Arc::new(cause)),
        }
        .context("while converting");
        // The source survives the context, and is what `Error::source` reports.
        assert_eq!(
            e.source_as::<std::io::Error>().unwrap().to_string(),
            "the original"
        );
        assert!(e.source_as::<std::fmt::Error>().is_none());
        assert_eq!(
            std::error::Error::source(&e).unwrap().to_string(),
            "the original"
        );
        assert!(!e.is_retriable());
        assert_eq!(e.class_name(), "builtins.ValueError");
        assert!(
            e.trace()
                .starts_with("builtins.ValueError: while converting: boom\nTraceback"),
            "{}",
            e.trace()
        );
        let misuse = ConnectError::plugin_misuse("poll() must return a list");
        assert!(misuse.source_as::<std::io::Error>().is_none());
        let retriable = ConnectError::Plugin {
            message: "try later".into(),
            trace: String::new(),
            exception: Some("conveyor.errors.RetriableError".into()),
            retriable: true,
            source: None,
        };
        assert!(retriable.clone().context("polling").is_retriable());
        assert_eq!(
            misuse.class_name(),
            "org.apache.kafka.connect.errors.ConnectException"
        );
    }
}
