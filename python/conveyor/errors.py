"""Exceptions, with Kafka Connect's kinds.

Raise them from connector, task and transformation code to tell the runtime what happened:

* :class:`RetriableError` from ``SinkTask.put`` has the batch delivered again after the
  context's timeout; from ``SourceTask.poll`` the task simply polls again.
* Any other exception fails the task: its status becomes ``FAILED`` and the Python traceback
  is the REST ``trace``.

The in-process :class:`~conveyor.Worker` raises them too (for example :class:`NotFoundError`
for an unknown connector), mirroring the HTTP status the REST API would answer with.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExistsError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "ConnectError",
    "DataError",
    "KafkaError",
    "NotFoundError",
    "PluginError",
    "RetriableError",
]


class ConnectError(Exception):
    """Base class of every Conveyor error (Kafka Connect's ``ConnectException``)."""


class DataError(ConnectError, ValueError):
    """A value does not fit its schema or cannot be converted (``DataException``).

    The message names the field, as in ``value.address.zip: expected int, got str``.
    """


class ConfigError(ConnectError, ValueError):
    """A configuration is invalid (``ConfigException``)."""


class RetriableError(ConnectError):
    """A temporary failure: the runtime retries the operation (``RetriableException``)."""


class NotFoundError(ConnectError, LookupError):
    """No such connector, task or plugin (HTTP 404)."""


class AlreadyExistsError(ConnectError):
    """A connector with that name already exists (HTTP 409)."""


class BadRequestError(ConnectError, ValueError):
    """The request is invalid, for example a connector config with errors (HTTP 400)."""


class ConflictError(ConnectError):
    """The request conflicts with the current state (HTTP 409)."""


class KafkaError(ConnectError):
    """A Kafka client operation failed."""


class PluginError(ConnectError):
    """Plugin code (a connector, task or transformation) raised.

    Attributes:
        trace: The plugin's traceback, as shown in the REST ``trace``.
    """

    trace: str

    def __init__(self, message: str, trace: str = "") -> None:
        super().__init__(message)
        self.trace = trace
