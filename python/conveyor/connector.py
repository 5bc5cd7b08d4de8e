"""Connector base classes: a connector validates its config and splits the work into task
configs; its tasks move the data (Kafka Connect's ``SourceConnector``/``SinkConnector``)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, ClassVar

from conveyor.config import ConfigDef, _shared_empty

if TYPE_CHECKING:
    from conveyor._native import ConnectorContext
    from conveyor.task import SinkTask, SourceTask

__all__ = [
    "Connector",
    "ConnectorTransactionBoundaries",
    "ExactlyOnceSupport",
    "SinkConnector",
    "SourceConnector",
]


class ExactlyOnceSupport(str, Enum):
    """Whether a source connector can deliver exactly once with a config (Connect's
    ``ExactlyOnceSupport``); asked when ``exactly.once.support=required``."""

    SUPPORTED = "supported"
    UNSUPPORTED = "unsupported"


class ConnectorTransactionBoundaries(str, Enum):
    """Whether a source connector's tasks can define their own transaction boundaries with a
    config (Connect's ``ConnectorTransactionBoundaries``); asked for
    ``transaction.boundary=connector``."""

    SUPPORTED = "supported"
    UNSUPPORTED = "unsupported"


class Connector:
    """What source and sink connectors share. Subclass :class:`SourceConnector` or
    :class:`SinkConnector`, not this.

    The worker creates the connector with no arguments, sets :attr:`config` and
    :attr:`context`, then calls :meth:`start`. Everything runs on worker threads; a method that
    raises marks the connector ``FAILED`` with the Python traceback as the REST ``trace``.
    """

    config_def: ClassVar[ConfigDef] = _shared_empty("connector class without a config_def of its own")
    """The connector's own config keys (``name``, ``tasks.max``, ``topics``... are the
    runtime's). Drives ``/connector-plugins/{plugin}/config`` and config validation."""

    version: ClassVar[str | None] = None
    """Shown by ``GET /connector-plugins``; by default the version of the installed
    distribution that provides the class."""

    config: dict[str, str]
    """The connector config (all keys, as strings), set before :meth:`start`."""

    context: ConnectorContext
    """Requests to the runtime (task reconfiguration, failing the connector)."""

    def start(self, config: dict[str, str]) -> None:
        """Called once, before :meth:`task_configs`.

        Arguments:
            config: The connector config, already checked against :attr:`config_def`.
        """

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """The config of each task, at most ``max_tasks`` (``tasks.max``) of them.

        Values may be ``str``, ``int``, ``float`` or ``bool``; they reach the task's ``start``
        as strings. Call ``self.context.request_task_reconfiguration()`` when the split should
        change.

        Returns:
            One dict per task; the default is a single task with the connector config.
        """
        return [dict(self.config)]

    def stop(self) -> None:
        """Called once when the connector is stopped, paused for good, or deleted."""

    def validate(self, config: dict[str, str]) -> dict[str, list[str]]:
        """Checks a config beyond what :attr:`config_def` can (for example, two keys that
        must agree). Called for ``/config/validate`` and before the connector is created.

        Arguments:
            config: The candidate connector config.

        Returns:
            Error messages by key; the default checks :attr:`config_def`. Extend it with
            ``errors = super().validate(config)``.
        """
        return type(self).config_def.validate(config)


class SourceConnector(Connector):
    """A connector that reads an external system and writes records to Kafka.

    Set :attr:`task_class` to the :class:`~conveyor.SourceTask` subclass that does the work.
    """

    task_class: ClassVar[type[SourceTask] | str]
    """The task class, or its name as ``"package.module:Class"`` (imported when a task starts,
    so an import error fails the task instead of the connector)."""

    def exactly_once_support(self, config: dict[str, str]) -> ExactlyOnceSupport | None:
        """Whether the connector delivers exactly once with ``config`` when the worker has
        ``exactly.once.source.support=enabled``: its tasks must resume exactly where their
        committed source offsets say. Called on a fresh instance to validate
        ``exactly.once.support=required``; the default ``None`` (does not say) makes such a
        config invalid.

        Arguments:
            config: The candidate connector config.
        """
        return None

    def can_define_transaction_boundaries(self, config: dict[str, str]) -> ConnectorTransactionBoundaries:
        """Whether the tasks define transaction boundaries themselves with ``config``
        (through ``self.context.transaction_context``), for ``transaction.boundary=connector``.
        The default is :attr:`ConnectorTransactionBoundaries.UNSUPPORTED`.

        Arguments:
            config: The candidate connector config.
        """
        return ConnectorTransactionBoundaries.UNSUPPORTED


class SinkConnector(Connector):
    """A connector that reads records from Kafka (``topics`` or ``topics.regex``) and writes
    them to an external system.

    Set :attr:`task_class` to the :class:`~conveyor.SinkTask` subclass that does the work.
    """

    task_class: ClassVar[type[SinkTask] | str]
    """The task class, or its name as ``"package.module:Class"``."""

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        """The config of each task; the default runs ``max_tasks`` identical tasks, which
        share the topic partitions through the consumer group."""
        return [dict(self.config) for _ in range(max_tasks)]
