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
from conveyor.connector import Connector
from conveyor.errors import PluginError
from conveyor.task import SinkTask, SourceTask, TopicPartition
from conveyor.transform import Transformation

__all__ = [
    "ConnectorRunner",
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


def _config(config: Mapping[str, Any], what: str = "config") -> dict[str, str]:
    """A config as the worker passes it (every value a str), refusing what the worker
    refuses: ``None`` (the worker does not drop it silently) and other types."""
    out = {}
    for k, v in config.items():
        if not isinstance(k, str):
            raise TypeError(f"{what}: config keys must be str, got {k!r}")
        if v is None:
            raise TypeError(
                f"{what}: the value of {k!r} is None; leave the key out to use its default, "
                "or give a str (or int, float, bool, list)"
            )
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, (list, tuple)):
            out[k] = ",".join(map(str, v))
        elif isinstance(v, (str, int, float)) or hasattr(v, "__fspath__"):
            out[k] = str(v)
        else:
            raise TypeError(
                f"{what}: the value of {k!r} must be a str (or int, float, bool, list), "
                f"got {type(v).__name__}"
            )
    return out


class _RecordingConnectorContext:
    """The ``context`` of a connector under :class:`ConnectorRunner`: it records what the
    connector asks of the runtime."""

    def __init__(self, connector: str) -> None:
        self.connector = connector
        self.reconfiguration_requests = 0
        self.errors: list[BaseException] = []

    def request_task_reconfiguration(self) -> None:
        self.reconfiguration_requests += 1

    def raise_error(self, error: BaseException) -> None:
        if not isinstance(error, BaseException):
            raise TypeError(f"raise_error() takes an exception, got {type(error).__name__}")
        self.errors.append(error)


class ConnectorRunner:
    """Runs a connector as the worker does, for testing :meth:`~conveyor.SourceConnector.validate`
    and :meth:`~conveyor.SourceConnector.task_configs`: ``start`` on creation, ``stop`` on
    :meth:`stop` (or leaving the ``with`` block)::

        def test_one_task_per_table():
            with ConnectorRunner(Tables, {"tables": "a,b,c"}) as runner:
                assert [c["table"] for c in runner.task_configs(max_tasks=2)] == ["a,b", "c"]

        def test_a_missing_key_is_reported():
            assert "tables" in ConnectorRunner.validate(Tables, {})

    Arguments:
        connector: A SourceConnector or SinkConnector subclass (or an instance).
        config: The connector config (values as in a properties file; ``int``, ``float``,
            ``bool`` and lists are written as the worker would).
        name: The connector name its context reports.
        start: Call ``start`` now (the default); ``False`` to only build the connector.
    """

    def __init__(
        self,
        connector: type[Connector] | Connector,
        config: Mapping[str, Any],
        *,
        name: str = "test-connector",
        start: bool = True,
    ) -> None:
        self.connector: Connector = _instance(connector, "connector", Connector)
        self.config = _config(config, "connector config")
        self.context = _RecordingConnectorContext(name)
        self.connector.config = dict(self.config)
        self.connector.context = self.context  # type: ignore[assignment]
        self._started = False
        if start:
            self.connector.start(dict(self.config))
            self._started = True

    @staticmethod
    def validate(connector: type[Connector] | Connector, config: Mapping[str, Any]) -> dict[str, list[str]]:
        """The errors the worker would report for ``config`` in
        ``PUT /connector-plugins/{plugin}/config/validate``, from the connector's
        ``config_def`` and its own ``validate`` (no ``start``).

        Returns:
            Only keys with errors, each with its messages; empty when valid.

        Raises:
            PluginError: ``validate`` did not return a dict of key to list of messages.
        """
        instance = _instance(connector, "connector", Connector)
        cfg = _config(config, "connector config")
        instance.config = dict(cfg)
        answer = instance.validate(dict(cfg))
        if not isinstance(answer, Mapping):
            raise PluginError(
                f"validate() must return a dict of key to list of errors, got {type(answer).__name__}", ""
            )
        out: dict[str, list[str]] = {}
        for key, errors in answer.items():
            if not isinstance(errors, (list, tuple)) or not all(isinstance(e, str) for e in errors):
                raise PluginError(f"validate() must map {key!r} to a list of str, got {errors!r}", "")
            if errors:
                out[str(key)] = list(errors)
        return out

    @property
    def task_class(self) -> type | str:
        """The connector's ``task_class``, to run its tasks with :class:`SourceTaskRunner`
        or :class:`SinkTaskRunner`."""
        return self.connector.task_class  # type: ignore[attr-defined,no-any-return]

    def task_configs(self, max_tasks: int = 1) -> list[dict[str, str]]:
        """Calls ``task_configs(max_tasks)`` and checks its answer as the worker does.

        Returns:
            One config per task, every value a ``str``, as the tasks would receive them.

        Raises:
            PluginError: The answer is not a list of dicts, has more than ``max_tasks``
                configs, or a value that is not a str, int, float, bool or list.
        """
        if not self._started:
            raise RuntimeError("the connector is not started (ConnectorRunner(..., start=True))")
        answer = self.connector.task_configs(max_tasks)
        if not isinstance(answer, list):
            raise PluginError(f"task_configs() must return a list of dicts, got {type(answer).__name__}", "")
        if len(answer) > max_tasks:
            raise PluginError(
                f"The connector {self.context.connector} has generated {len(answer)} tasks, which is "
                f"greater than {max_tasks}, the maximum number of tasks it is configured to create.",
                "",
            )
        out = []
        for i, item in enumerate(answer):
            if not isinstance(item, Mapping):
                raise PluginError(f"task config {i} must be a dict, got {type(item).__name__}", "")
            try:
                out.append(_config(item, f"task config {i}"))
            except TypeError as e:
                raise PluginError(str(e), "") from None
        return out

    def stop(self) -> None:
        """Calls ``stop`` (once)."""
        if self._started:
            self._started = False
            self.connector.stop()

    def __enter__(self) -> ConnectorRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


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
