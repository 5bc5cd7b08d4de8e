"""Test helpers for connector authors: run a :class:`~conveyor.SourceTask`,
:class:`~conveyor.SinkTask` or :class:`~conveyor.Transformation` against in-memory records,
with no broker and no worker.

The runners call the plugin through the same code the worker uses, so ``async def`` methods,
return-type checks and value conversion behave as in production. When the plugin raises, its
own exception propagates (``pytest.raises(ValueError)`` works)::

    from conveyor.testing import SourceTaskRunner, SinkTaskRunner, run_transformation, sink_records

    def test_ticker_resumes_where_it_stopped():
        with SourceTaskRunner(TickerTask, {"topic": "t"}) as runner:
            first = runner.poll_until(3)
        with SourceTaskRunner(TickerTask, {"topic": "t"}, offsets=runner.offsets) as again:
            assert again.poll()[0].value == {"n": first[-1].value["n"] + 1}

    def test_upper():
        [out] = run_transformation(Upper, {}, sink_records("t", ["a"]))
        assert out.value == "A"
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Union

from conveyor import _native, _plugins
from conveyor._native import SinkRecord, SourceRecord
from conveyor.task import SinkTask, SourceTask, TopicPartition
from conveyor.transform import Transformation

__all__ = [
    "SinkTaskRunner",
    "SourceTaskRunner",
    "TransformationRunner",
    "run_transformation",
    "sink_records",
]

Record = Union[SourceRecord, SinkRecord]


def _instance(plugin: Any, kind: str, base: type) -> Any:
    cls = plugin if isinstance(plugin, type) else type(plugin)
    _plugins.check(kind, cls, _plugins.class_name(cls))
    if not issubclass(cls, base):
        raise TypeError(f"{_plugins.class_name(cls)} is not a conveyor.{base.__name__}")
    return plugin() if isinstance(plugin, type) else plugin


def _config(config: Mapping[str, Any]) -> dict[str, str]:
    out = {}
    for k, v in config.items():
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, (list, tuple)):
            out[k] = ",".join(map(str, v))
        elif v is not None:
            out[k] = str(v)
    return out


def sink_records(
    topic: str,
    values: Iterable[Any],
    *,
    partition: int = 0,
    start_offset: int = 0,
    key: Any = None,
    value_schema: Any = None,
    timestamp: int | None = None,
) -> list[SinkRecord]:
    """Sink records with consecutive offsets, as a consumer would deliver them.

    Arguments:
        topic: Their topic.
        values: One value per record.
        partition: Their partition.
        start_offset: The offset of the first record.
        key: The key of every record.
        value_schema: The schema of every value (``None`` for schemaless values).
        timestamp: The timestamp of every record (epoch ms).
    """
    return [
        SinkRecord(
            topic, partition, start_offset + i, v, key=key, value_schema=value_schema, timestamp=timestamp
        )
        for i, v in enumerate(values)
    ]


class SourceTaskRunner:
    """Runs a source task: ``start`` on creation, then :meth:`poll` as often as you like,
    ``stop`` on :meth:`stop` (or leaving the ``with`` block).

    Offsets of every polled record count as committed right away (as if Kafka acknowledged
    them), and ``commit`` is called after each poll.

    Arguments:
        task: A SourceTask subclass (or an instance).
        config: The task config.
        offsets: Committed offsets to start from, as :attr:`offsets` returns them (pass a
            previous runner's to test resuming after a restart).
        connector: The connector name the task's context reports.
        task_number: The task number the context reports.
    """

    def __init__(
        self,
        task: type[SourceTask] | SourceTask,
        config: Mapping[str, Any],
        *,
        offsets: Sequence[tuple[dict[str, Any], dict[str, Any]]] | None = None,
        connector: str = "test-connector",
        task_number: int = 0,
    ) -> None:
        self.task: SourceTask = _instance(task, "task", SourceTask)
        self._runner = _native.SourceTaskRunner(self.task, connector, task_number, offsets)
        self._runner.start(_config(config))

    def poll(self) -> list[SourceRecord]:
        """One ``poll``: its records (empty when it returned ``None``)."""
        return self._runner.poll()

    def poll_until(self, count: int, *, max_polls: int = 1000) -> list[SourceRecord]:
        """Polls until at least ``count`` records came back.

        Raises:
            AssertionError: ``max_polls`` polls were not enough.
        """
        out: list[SourceRecord] = []
        for _ in range(max_polls):
            out.extend(self.poll())
            if len(out) >= count:
                return out
        raise AssertionError(f"{max_polls} polls returned {len(out)} records, not {count}")

    @property
    def offsets(self) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """Committed ``(source_partition, source_offset)`` pairs."""
        return self._runner.offsets()

    def stop(self) -> None:
        """Calls ``stop`` (once)."""
        self._runner.stop()

    def __enter__(self) -> SourceTaskRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SinkTaskRunner:
    """Runs a sink task: ``start`` and ``open`` on creation, :meth:`put` batches,
    :meth:`commit` (``pre_commit``/``flush``), then ``close`` and ``stop``.

    Arguments:
        task: A SinkTask subclass (or an instance).
        config: The task config.
        assignment: The partitions the task owns; by default partition 0 of each topic in
            ``config["topics"]``.
        connector: The connector name the task's context reports.
        task_number: The task number the context reports.
    """

    def __init__(
        self,
        task: type[SinkTask] | SinkTask,
        config: Mapping[str, Any],
        *,
        assignment: Iterable[tuple[str, int]] | None = None,
        connector: str = "test-connector",
        task_number: int = 0,
    ) -> None:
        cfg = _config(config)
        if assignment is None:
            topics = [t.strip() for t in cfg.get("topics", "").split(",") if t.strip()]
            assignment = [TopicPartition(t, 0) for t in topics]
        self.task: SinkTask = _instance(task, "task", SinkTask)
        self._runner = _native.SinkTaskRunner(self.task, connector, task_number)
        self._runner.start(cfg, [TopicPartition(*tp) for tp in assignment])

    def put(self, records: Iterable[SinkRecord]) -> None:
        """``put`` of one batch."""
        self._runner.put(list(records))

    def commit(self) -> dict[TopicPartition, int]:
        """``pre_commit`` with the offsets after every record put so far.

        Returns:
            What the task says may be committed (next offset per partition).
        """
        return self._runner.commit()

    @property
    def context_requests(self) -> dict[str, Any]:
        """What the task asked of its context: ``paused`` and ``resumed`` partitions,
        ``offsets`` (rewinds), ``commit_requested``, ``timeout_ms``."""
        return self._runner.context_requests()

    def stop(self) -> None:
        """Calls ``close`` on the assignment, then ``stop`` (once)."""
        self._runner.stop()

    def __enter__(self) -> SinkTaskRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class TransformationRunner:
    """Runs a transformation: configured on creation (its config checked against its
    ``config_def`` as the worker does), :meth:`apply` batches, ``close`` at the end.

    Arguments:
        transformation: A Transformation subclass (or an instance).
        config: Its config (the ``transforms.<alias>.*`` keys without the prefix).
    """

    def __init__(
        self,
        transformation: type[Transformation] | Transformation,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        cfg = _config(config or {})
        self.transformation: Transformation = _instance(transformation, "transformation", Transformation)
        type(self.transformation).config_def.parse(cfg)
        self.transformation.config = dict(cfg)
        self.transformation.configure(dict(cfg))
        self._runner = _native.TransformationRunner(self.transformation)

    def apply(self, records: Iterable[Record]) -> list[Record | None]:
        """One result per record: the new record, or ``None`` when it was dropped."""
        return self._runner.apply(list(records))

    def close(self) -> None:
        self._runner.close()

    def __enter__(self) -> TransformationRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_transformation(
    transformation: type[Transformation] | Transformation,
    config: Mapping[str, Any] | None,
    records: Iterable[Record],
) -> list[Record | None]:
    """Configures ``transformation``, applies it to ``records`` and closes it.

    Returns:
        One result per record: the new record, or ``None`` when it was dropped.
    """
    with TransformationRunner(transformation, config) as runner:
        return runner.apply(records)
