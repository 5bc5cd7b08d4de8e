"""Running a worker inside a Python process (a notebook, a script, a test), and peeking at
topics.

The worker runs on background threads, so a notebook cell returns as soon as a request is
done and connectors keep running between cells::

    import conveyor

    with conveyor.Worker("embedded") as worker:
        worker.create_connector("ticker", {"connector.class": Ticker, "topic": "ticks"})
        worker.wait_running("ticker")
        print(worker.peek("ticks", 5))

Methods mirror the Kafka Connect REST API and answer with the same JSON shapes (as dicts);
errors are :mod:`conveyor.errors` exceptions named after the HTTP status they stand for.
"""

from __future__ import annotations

import atexit
import logging
import sys
import time
import weakref
from collections.abc import Iterable, Mapping
from datetime import datetime
from os import PathLike
from typing import Any, Literal, final

from conveyor import _native
from conveyor.errors import PluginError

__all__ = ["Records", "Worker", "peek"]

JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"

State = Literal["RUNNING", "PAUSED", "STOPPED"]


def _config_value(value: Any) -> Any:
    """Config values as Connect writes them; a class becomes its ``module:Class`` name."""
    if isinstance(value, type):
        return f"{value.__module__}:{value.__qualname__}"
    if isinstance(value, PathLike):
        return str(value)
    return value


def _config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A config for the native worker. ``None`` values are kept, so that the worker refuses
    them by name rather than silently using the key's default."""
    return {str(k): _config_value(v) for k, v in config.items()}


class Records(list):  # type: ignore[type-arg]
    """A list of :class:`~conveyor.SinkRecord` that shows as a table in notebooks."""

    def to_pandas(self, *, flatten: bool = True) -> Any:
        """The records as a ``pandas.DataFrame`` (pandas must be installed).

        Arguments:
            flatten: When every value is a dict (or Struct), put its fields in columns of
                their own instead of one ``value`` column.

        Returns:
            One row per record, in order, with the columns ``topic``, ``partition``,
            ``offset``, ``timestamp`` (a UTC ``Timestamp``, or ``None``), ``key`` (a Struct
            key as a dict), then the value: with ``flatten`` and dict values, one column per
            field named ``value.<field>`` (nested dicts as ``value.<field>.<sub>``, a field
            missing from a record is ``NaN``); otherwise one ``value`` column. Headers are
            not included.
        """
        import pandas as pd

        def plain(v: Any) -> Any:
            return v.to_dict() if isinstance(v, _native.Struct) else v

        rows = [
            {
                "topic": r.topic,
                "partition": r.partition,
                "offset": r.offset,
                "timestamp": pd.to_datetime(r.timestamp, unit="ms", utc=True)
                if r.timestamp is not None
                else None,
                "key": plain(r.key),
            }
            for r in self
        ]
        values = [plain(r.value) for r in self]
        frame = pd.DataFrame(rows, columns=["topic", "partition", "offset", "timestamp", "key"])
        if flatten and values and all(isinstance(v, dict) for v in values):
            fields = pd.json_normalize(values).add_prefix("value.")
            return pd.concat([frame, fields], axis=1)
        frame["value"] = values
        return frame

    def _repr_html_(self) -> str | None:
        try:
            return self.to_pandas()._repr_html_()  # type: ignore[no-any-return]
        except ImportError:
            return None


def _start_millis(when: Any) -> int:
    """Epoch milliseconds of ``start_timestamp`` (an int, or a ``datetime``; a naive one is
    taken as local time, as ``datetime.timestamp`` does)."""
    if isinstance(when, datetime):
        return int(when.timestamp() * 1000)
    if isinstance(when, int) and not isinstance(when, bool):
        return when
    raise TypeError(
        f"start_timestamp must be epoch milliseconds (int) or a datetime, got {type(when).__name__}"
    )


def peek(
    topic: str,
    n: int | None = None,
    *,
    last: int | None = None,
    start_offset: int | None = None,
    start_timestamp: int | datetime | None = None,
    bootstrap_servers: str = "localhost:9092",
    timeout: float = 10.0,
    key_converter: str = "auto",
    value_converter: str = "auto",
    converter_config: Mapping[str, Any] | None = None,
    consumer_config: Mapping[str, Any] | None = None,
) -> Records:
    """Records of ``topic`` (every partition), read by a consumer that joins no group and
    commits nothing: by default the first ``n``; ``last=n`` for the newest ones;
    ``start_offset`` or ``start_timestamp`` to start elsewhere.

    Arguments:
        topic: The topic to read.
        n: How many records at most (default 10), from the start of every partition, or
            from ``start_offset``/``start_timestamp``.
        last: Read the newest ``last`` records instead (by timestamp across partitions,
            oldest first); not with ``n``, ``start_offset`` or ``start_timestamp``.
        start_offset: Start at this offset in every partition (a partition whose log
            starts later is read from its start).
        start_timestamp: Start, in every partition, at the first record whose timestamp is
            at or after this time: epoch milliseconds or a ``datetime``.
        bootstrap_servers: The brokers (use :meth:`Worker.peek` for a worker's brokers).
        timeout: Seconds to wait at most; fewer records come back if the topic ends first.
        key_converter: How to decode keys: ``"auto"`` (JSON, with or without the schema
            envelope, else UTF-8 text, else bytes) or a converter class name or alias
            (``"StringConverter"``, ``"org.apache.kafka.connect.json.JsonConverter"``).
        value_converter: How to decode values, as ``key_converter``.
        converter_config: Settings for a named converter (``{"schemas.enable": "false"}``).
        consumer_config: librdkafka consumer settings.

    Returns:
        The records (:class:`Records`, a list of ``SinkRecord``), partition by partition in
        the order they were read (``last``: oldest first). In a notebook they show as a
        table; ``.to_pandas()`` makes a DataFrame (see :meth:`Records.to_pandas`).

    Raises:
        ValueError: ``last`` is combined with another start, or both starts are given.
        NotFoundError: The topic does not exist.
        KafkaError: The brokers cannot be reached.
    """
    if start_offset is not None and start_timestamp is not None:
        raise ValueError("give start_offset or start_timestamp, not both")
    if last is not None:
        if n is not None or start_offset is not None or start_timestamp is not None:
            raise ValueError(
                "last=n reads the newest records: it takes no n, start_offset or start_timestamp"
            )
        count, where, at = last, "end", 0
    elif start_offset is not None:
        count, where, at = n, "offset", int(start_offset)
    elif start_timestamp is not None:
        count, where, at = n, "timestamp", _start_millis(start_timestamp)
    else:
        count, where, at = n, "start", 0
    if count is None:
        count = 10
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"the number of records must be an int >= 0, got {count!r}")
    records = _native.peek(
        bootstrap_servers,
        topic,
        count,
        timeout=timeout,
        key_converter=key_converter,
        value_converter=value_converter,
        converter_config=dict(converter_config or {}),
        consumer_config=dict(consumer_config or {}),
        from_=where,
        at=at,
    )
    return Records(records)


class _WorkerThreadsLastResort(logging.Handler):
    """:data:`logging.lastResort` while the worker log goes to memory: a plugin's log records
    that no handler of yours takes, logged on the worker's threads, go to the worker log
    rather than to stderr (which a notebook shows in whichever cell is running). Records of
    other threads go where they went before."""

    def __init__(self, previous: logging.Handler | None) -> None:
        super().__init__(previous.level if previous is not None else logging.WARNING)
        self.previous = previous

    def emit(self, record: logging.LogRecord) -> None:
        if _native._on_worker_thread():
            try:
                _native._log(record.levelno, record.name, record.getMessage())
            except Exception:  # noqa: BLE001 - logging must never raise
                self.handleError(record)
        elif self.previous is not None:
            self.previous.handle(record)


def _route_plugin_logging(to_memory: bool) -> None:
    """Installs (or removes) :class:`_WorkerThreadsLastResort` as ``logging.lastResort``; your
    own logging configuration, when there is one, keeps precedence."""
    current = logging.lastResort
    if to_memory and not isinstance(current, _WorkerThreadsLastResort):
        logging.lastResort = _WorkerThreadsLastResort(current)
    elif not to_memory and isinstance(current, _WorkerThreadsLastResort):
        logging.lastResort = current.previous


def _in_jupyter_kernel() -> bool:
    """Whether this process is a Jupyter (IPython) kernel."""
    shell = sys.modules.get("IPython")
    get = getattr(shell, "get_ipython", None)
    ip = get() if callable(get) else None
    return ip is not None and hasattr(ip, "kernel")


_open_workers: weakref.WeakSet[Worker] = weakref.WeakSet()


@atexit.register
def _close_open_workers() -> None:
    for w in list(_open_workers):
        w.close()


@final
class Worker:
    """A standalone Kafka Connect worker running in this process.

    Arguments:
        bootstrap_servers: The Kafka brokers, or ``"embedded"`` for an in-memory
            development broker (zero set-up; slow, and data is lost when the worker stops).
        config: Any other worker setting, with Kafka Connect's names
            (``{"offset.flush.interval.ms": 5000, "consumer.fetch.wait.max.ms": 10}``).
            ``offset.flush.interval.ms`` defaults to 1000 here (Connect's default is 60000),
            so sink tasks' ``flush``/``pre_commit`` run, and offsets are committed, every
            second. A ``None`` value is refused (``TypeError`` naming the key).
        connectors: Connector configs (each with ``name``) to create at start.
        listeners: Serve the REST API too, for example ``"http://127.0.0.1:8083"``; by
            default there is none.
        offset_storage_file: Keep source offsets in this file, so they survive the process;
            by default they are kept in memory.
        plugin_path: Directories of Python plugins to make importable.
        log_level: The worker's log level (``"INFO"``, ``"WARN"``...).
        log_to: Where the worker's log goes: ``"stderr"``, or ``"memory"``, read with
            :meth:`logs`. By default ``"memory"`` in a Jupyter kernel (lines written from
            background threads would land in whichever cell is running) and ``"stderr"``
            elsewhere. The choice holds for the whole process. With ``"memory"``, a plugin's
            own ``logging`` records that no handler of yours takes (Python would print them
            to stderr) go to the worker log too.

    Keys and values are written as schemaless JSON unless ``key.converter``/``value.converter``
    say otherwise. ``config={"schema.registry.url": "embedded"}`` starts a Schema Registry in
    the worker (see :attr:`schema_registry_url`) that Confluent's converters use by default.
    Use the worker as a context manager, or call :meth:`close`.

    Raises:
        ConfigError: The worker config is invalid.
        BadRequestError: A connector config in ``connectors`` is invalid.
    """

    def __init__(
        self,
        bootstrap_servers: str = "embedded",
        *,
        config: Mapping[str, Any] | None = None,
        connectors: Iterable[Mapping[str, Any]] = (),
        listeners: str | None = None,
        offset_storage_file: str | PathLike[str] | None = None,
        plugin_path: Iterable[str | PathLike[str]] = (),
        log_level: str = "WARN",
        log_to: Literal["stderr", "memory"] | None = None,
    ) -> None:
        settings: dict[str, Any] = {
            "key.converter": JSON_CONVERTER,
            "key.converter.schemas.enable": "false",
            "value.converter": JSON_CONVERTER,
            "value.converter.schemas.enable": "false",
            "listeners": "",
            "offset.storage.file.filename": "",
            # Interactive default: sink tasks flush (and offsets are committed) every second,
            # so what a notebook wrote shows up at once rather than after Connect's 60 s.
            "offset.flush.interval.ms": "1000",
        }
        settings.update(_config(config or {}))
        settings["bootstrap.servers"] = bootstrap_servers
        if listeners is not None:
            settings["listeners"] = listeners
        if offset_storage_file is not None:
            settings["offset.storage.file.filename"] = str(offset_storage_file)
        paths = [str(p) for p in plugin_path]
        if paths:
            settings["plugin.path"] = ",".join(paths)
        if log_to is None:
            log_to = "memory" if _in_jupyter_kernel() else "stderr"
        if log_to not in ("stderr", "memory"):
            raise ValueError(f'log_to must be "stderr" or "memory", got {log_to!r}')
        _native._log_to_memory(log_to == "memory")
        _route_plugin_logging(log_to == "memory")
        self._native = _native.Worker(settings, [_config(c) for c in connectors], log_level=log_level)
        _open_workers.add(self)

    # -- lifecycle ---------------------------------------------------------------------

    def close(self) -> None:
        """Stops every connector (committing offsets) and the worker. Safe to call twice."""
        self._native.close()

    def __enter__(self) -> Worker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def closed(self) -> bool:
        return self._native.closed

    @property
    def bootstrap_servers(self) -> str:
        """The brokers clients should use (the embedded broker's address when embedded)."""
        return self._native.bootstrap_servers

    @property
    def rest_url(self) -> str | None:
        """The REST API's base URL, when ``listeners`` was given."""
        return self._native.rest_url

    @property
    def schema_registry_url(self) -> str | None:
        """The URL of the schema registry this worker serves when its config sets
        ``schema.registry.url`` to ``"embedded"`` (for confluent-kafka clients); else None."""
        return self._native.schema_registry_url

    @property
    def worker_id(self) -> str:
        """The ``worker_id`` that statuses show: ``host:port`` of the REST listener, or
        ``host (no REST listener)`` when the worker serves no REST API (the default here)."""
        return self._native.worker_id

    def logs(self, n: int = 50) -> list[str]:
        """The newest ``n`` lines of the worker log, oldest first, when it goes to memory
        (``log_to="memory"``, the default in notebooks; the last 10,000 lines are kept).

        Returns:
            The lines; empty when the log goes to stderr.
        """
        return _native._recent_log(n)

    def __repr__(self) -> str:
        state = "closed" if self.closed else f"bootstrap_servers={self.bootstrap_servers!r}"
        return f"Worker({state})"

    # -- connectors (POST/PUT/GET/DELETE /connectors...) -----------------------------

    def create_connector(
        self,
        name: str,
        config: Mapping[str, Any],
        *,
        initial_state: State | None = None,
    ) -> dict[str, Any]:
        """Creates a connector (``POST /connectors``).

        Arguments:
            name: The connector's name.
            config: Its config. ``connector.class`` (and ``transforms.<a>.type``...) may be
                a class object, or its name; other values may be ``str``, ``int``,
                ``float``, ``bool`` or lists.
            initial_state: ``"RUNNING"`` (the default), ``"PAUSED"`` or ``"STOPPED"``.

        Returns:
            ``{"name", "config", "tasks", "type"}``, as REST answers.

        Raises:
            AlreadyExistsError: A connector with that name exists.
            BadRequestError: The config is invalid; the message lists every error.
        """
        return self._native.create_connector(name, _config(config), initial_state)

    def update_connector(self, name: str, config: Mapping[str, Any]) -> dict[str, Any]:
        """Creates or reconfigures a connector (``PUT /connectors/{name}/config``)."""
        return self._native.update_connector(name, _config(config))

    def connectors(self) -> list[str]:
        """Connector names (``GET /connectors``)."""
        return self._native.connectors()

    def connector(self, name: str) -> dict[str, Any]:
        """``GET /connectors/{name}``: config, tasks and type."""
        return self._native.connector(name)

    def config(self, name: str) -> dict[str, str]:
        """``GET /connectors/{name}/config`` (passwords shown as ``[hidden]``)."""
        return self._native.config(name)

    def status(self, name: str) -> dict[str, Any]:
        """``GET /connectors/{name}/status``: the connector's and each task's state, with the
        ``trace`` of failed ones."""
        return self._native.status(name)

    def task_status(self, name: str, task: int) -> dict[str, Any]:
        """``GET /connectors/{name}/tasks/{task}/status``."""
        return self._native.task_status(name, task)

    def tasks(self, name: str) -> list[dict[str, Any]]:
        """``GET /connectors/{name}/tasks``: each task's config."""
        return self._native.tasks(name)

    def pause(self, name: str) -> None:
        """``PUT /connectors/{name}/pause``."""
        self._native.pause(name)

    def resume(self, name: str) -> None:
        """``PUT /connectors/{name}/resume``."""
        self._native.resume(name)

    def stop(self, name: str) -> None:
        """``PUT /connectors/{name}/stop``: stops the connector and its tasks, keeping its
        config (needed before altering offsets)."""
        self._native.stop(name)

    def restart(
        self, name: str, *, include_tasks: bool = False, only_failed: bool = False
    ) -> dict[str, Any] | None:
        """``POST /connectors/{name}/restart``.

        Returns:
            ``None`` for a plain restart; with ``include_tasks`` or ``only_failed``, the status
            with ``RESTARTING`` where something restarts.
        """
        return self._native.restart(name, include_tasks, only_failed)

    def restart_task(self, name: str, task: int) -> None:
        """``POST /connectors/{name}/tasks/{task}/restart``."""
        self._native.restart_task(name, task)

    def delete(self, name: str) -> None:
        """``DELETE /connectors/{name}``."""
        self._native.delete(name)

    def offsets(self, name: str) -> dict[str, Any]:
        """``GET /connectors/{name}/offsets``."""
        return self._native.offsets(name)

    def alter_offsets(self, name: str, offsets: Mapping[str, Any]) -> dict[str, Any]:
        """``PATCH /connectors/{name}/offsets`` (the connector must be stopped)."""
        return self._native.alter_offsets(name, dict(offsets))

    def reset_offsets(self, name: str) -> dict[str, Any]:
        """``DELETE /connectors/{name}/offsets`` (the connector must be stopped)."""
        return self._native.reset_offsets(name)

    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """``PUT /connector-plugins/{class}/config/validate``: every key with its errors."""
        return self._native.validate(_config(config))

    def plugins(self, *, connectors_only: bool = True) -> list[dict[str, str]]:
        """``GET /connector-plugins``: class, type and version of each plugin, and
        ``aliases`` (entry point names) for Python plugins that have them."""
        return self._native.plugins(connectors_only)

    def plugin_config(self, plugin: str) -> list[dict[str, Any]]:
        """``GET /connector-plugins/{plugin}/config``: the plugin's config keys."""
        return self._native.plugin_config(plugin)

    # -- conveniences ------------------------------------------------------------------

    def wait_running(self, name: str, *, tasks: int | None = None, timeout: float = 30.0) -> dict[str, Any]:
        """Waits until the connector and its tasks are ``RUNNING``.

        Arguments:
            name: The connector.
            tasks: How many tasks must run; by default, all of them (at least one).
            timeout: Seconds to wait.

        Returns:
            The status.

        Raises:
            PluginError: The connector or a task is ``FAILED``; its trace is attached.
            TimeoutError: Not running after ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status = self.status(name)
            instances = [("connector", status["connector"])] + [
                (f"task {t['id']}", t) for t in status["tasks"]
            ]
            for what, s in instances:
                if s["state"] == "FAILED":
                    trace = s.get("trace", "")
                    first = trace.splitlines()[0] if trace else "failed"
                    raise PluginError(f"{name} {what} is FAILED: {first}", trace)
            running = [t for t in status["tasks"] if t["state"] == "RUNNING"]
            want = tasks if tasks is not None else max(1, len(status["tasks"]))
            if status["connector"]["state"] == "RUNNING" and len(running) >= want:
                return status
            time.sleep(0.05)
        raise TimeoutError(f"{name} is not running after {timeout}s; last status: {status}")

    def peek(self, topic: str, n: int | None = None, **options: Any) -> Records:
        """Records of ``topic`` on this worker's brokers: the first ``n`` (default 10), or
        ``last=n``, ``start_offset=``, ``start_timestamp=``; see :func:`peek`."""
        return peek(topic, n, bootstrap_servers=self.bootstrap_servers, **options)
