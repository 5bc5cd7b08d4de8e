"""Task base classes: the part of a connector that moves data (Kafka Connect's ``SourceTask``
and ``SinkTask``).

Each task runs on a thread of its own. ``poll``/``put`` may be ``async def``: each task then
gets its own asyncio event loop, which lives as long as the task, so connections and sessions
opened in ``start`` can be used in every later call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from conveyor._native import SinkRecord, SinkTaskContext, SourceRecord, SourceTaskContext

__all__ = ["SinkTask", "SourceTask", "TopicPartition"]


class TopicPartition(NamedTuple):
    """A Kafka topic partition. Plain ``(topic, partition)`` tuples are accepted wherever
    one is expected."""

    topic: str
    partition: int


class SourceTask(ABC):
    """Reads from an external system: :meth:`poll` returns batches of
    :class:`~conveyor.SourceRecord`.

    The worker creates the task with no arguments, sets :attr:`config` and :attr:`context`,
    and calls :meth:`start`, then :meth:`poll` in a loop, and :meth:`stop` at the end (after
    the last ``poll`` has returned). A record's ``source_partition``/``source_offset`` are
    committed once Kafka has acknowledged it and every earlier record of that partition;
    after a restart, read them back with ``self.context.offset_storage_reader``.
    """

    config: dict[str, str]
    """The task config (from the connector's ``task_configs``), set before :meth:`start`."""

    context: SourceTaskContext
    """The task's view of the runtime: ``offset_storage_reader``."""

    def start(self, config: dict[str, str]) -> None:  # noqa: B027 - an optional hook
        """Called once before the first :meth:`poll`: open connections, read committed
        offsets.

        Arguments:
            config: The task config.
        """

    @abstractmethod
    def poll(
        self,
    ) -> list[SourceRecord] | None | Awaitable[list[SourceRecord] | None]:
        """The next records, or ``None``/``[]`` when there are none right now.

        Keep it short (wait at most about a second for data): the task is paused, stopped
        and reconfigured between calls. Raise :class:`~conveyor.errors.RetriableError` to
        have the runtime simply poll again.
        """

    def commit(self) -> None:  # noqa: B027 - an optional hook
        """Called after the offsets of acknowledged records have been committed; a source
        that must acknowledge its own system (a queue, a replication slot) does it here."""

    def stop(self) -> None:  # noqa: B027 - an optional hook
        """Called once when the task stops: close connections. Exceptions are logged."""


class SinkTask(ABC):
    """Writes records consumed from Kafka to an external system: :meth:`put` receives
    batches of :class:`~conveyor.SinkRecord`.

    Offsets are committed to the consumer group every ``offset.flush.interval.ms``, after
    :meth:`pre_commit` (by default :meth:`flush`) says what is durable.
    """

    config: dict[str, str]
    """The task config, set before :meth:`start`."""

    context: SinkTaskContext
    """The task's view of the runtime: pause/resume partitions, rewind (``offset``),
    ``request_commit``, ``timeout``, ``errant_record_reporter``."""

    def start(self, config: dict[str, str]) -> None:  # noqa: B027 - an optional hook
        """Called once before the first :meth:`put`."""

    def open(self, partitions: list[TopicPartition]) -> None:  # noqa: B027 - an optional hook
        """Partitions were assigned to this task (after a rebalance)."""

    @abstractmethod
    def put(self, records: list[SinkRecord]) -> None | Awaitable[None]:
        """Writes a batch (possibly empty). Raise
        :class:`~conveyor.errors.RetriableError` to have the same batch delivered again after
        ``context.timeout(ms)`` (default 1 s); any other exception fails the task."""

    def flush(self, offsets: dict[TopicPartition, int]) -> None:  # noqa: B027 - an optional hook
        """Makes everything :meth:`put` so far durable.

        Arguments:
            offsets: For each partition, the next offset to consume.
        """

    def pre_commit(self, offsets: dict[TopicPartition, int]) -> dict[TopicPartition, int]:
        """The offsets that are safe to commit; the default flushes and commits them all.

        Arguments:
            offsets: For each partition, the offset after the last record put.

        Returns:
            The offsets to commit: return fewer partitions or lower offsets to commit less,
            and ``{}`` to commit nothing. ``None`` (a forgotten ``return``) commits
            ``offsets`` as given, as this default does, and logs a warning once per task.
        """
        self.flush(offsets)
        return offsets

    def close(self, partitions: list[TopicPartition]) -> None:  # noqa: B027 - an optional hook
        """Partitions were revoked (their offsets are committed first)."""

    def stop(self) -> None:  # noqa: B027 - an optional hook
        """Called once when the task stops. Exceptions are logged."""
