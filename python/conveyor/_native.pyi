"""Type stubs for the private Rust extension ``conveyor._native``.

Users import these classes from :mod:`conveyor`; the extension itself is private.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, final

from conveyor.task import TopicPartition

__version__: str

JsonValue = None | bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"]
TimestampType = Literal["CreateTime", "LogAppendTime", "NoTimestampType"]

def cli_main(args: list[str]) -> int:
    """Run the ``conveyor`` command line.

    Arguments:
        args: The full argument vector, program name first.

    Returns:
        The process exit code.
    """

def _log(level: int, logger: str, message: str) -> None:
    """Write a Python log record to the worker log (used by the logging bridge)."""

def _log_to_memory(on: bool) -> None:
    """Sends the worker log to memory (``True``) or stderr (``False``), process-wide."""

def _on_worker_thread() -> bool:
    """Whether the calling thread is a task thread or a thread of the in-process worker."""

def _recent_log(n: int) -> list[str]:
    """The newest ``n`` lines of the in-memory worker log, oldest first."""

def peek(
    bootstrap_servers: str,
    topic: str,
    n: int = 10,
    *,
    timeout: float = 10.0,
    key_converter: str | None = None,
    value_converter: str | None = None,
    converter_config: Mapping[str, Any] | None = None,
    consumer_config: Mapping[str, Any] | None = None,
    from_: Literal["start", "end", "offset", "timestamp"] = "start",
    at: int = 0,
) -> list[SinkRecord]:
    """Records of ``topic``; see :func:`conveyor.peek`. ``from_``: the first ``n``
    (``"start"``), the last ``n`` (``"end"``), or the first ``n`` from offset ``at``
    (``"offset"``) or from epoch milliseconds ``at`` (``"timestamp"``).

    Raises:
        NotFoundError: The topic does not exist.
        KafkaError: The brokers cannot be reached.
    """

@final
class Schema:
    """A Connect schema (Kafka Connect's ``Schema``): immutable, built with the static
    constructors. Values of a schema are plain Python values: ``int`` for the INT types,
    ``float``, ``bool``, ``str``, ``bytes``, ``list`` for arrays, ``dict`` for maps,
    :class:`Struct` (or a ``dict`` of its fields) for structs; ``decimal.Decimal``,
    ``datetime.date``, ``datetime.time`` and ``datetime.datetime`` for the logical types.

    Every constructor takes ``optional`` (``None`` allowed), ``default`` (used for ``None``),
    ``doc``, and for non-logical types ``name``, ``version`` and ``parameters``.
    """

    @staticmethod
    def int8(
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """An INT8 schema (``int`` in -128..127).

        Raises:
            DataError: ``default`` does not fit the schema.
        """
    @staticmethod
    def int16(
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """An INT16 schema."""
    @staticmethod
    def int32(
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """An INT32 schema."""
    @staticmethod
    def int64(
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """An INT64 schema."""
    @staticmethod
    def float32(
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """A FLOAT32 schema (``float``)."""
    @staticmethod
    def float64(
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """A FLOAT64 schema (``float``)."""
    @staticmethod
    def boolean(
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """A BOOLEAN schema (``bool``)."""
    @staticmethod
    def string(
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """A STRING schema (``str``)."""
    @staticmethod
    def bytes(
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """A BYTES schema (``bytes``; ``bytearray`` and ``memoryview`` are accepted)."""
    @staticmethod
    def struct(
        fields: Mapping[str, Schema] | Iterable[tuple[str, Schema]],
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """A STRUCT schema.

        Arguments:
            fields: Field name to schema, in order.

        Raises:
            ValueError: A field is defined twice.
            TypeError: ``fields`` is not a mapping (or pairs) of names to schemas.
        """
    @staticmethod
    def array(
        items: Schema,
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """An ARRAY schema whose items have schema ``items`` (values are ``list``)."""
    @staticmethod
    def map(
        keys: Schema,
        values: Schema,
        *,
        optional: bool = False,
        default: Any = None,
        name: str | None = None,
        version: int | None = None,
        doc: str | None = None,
        parameters: Mapping[str, str] | None = None,
    ) -> Schema:
        """A MAP schema (values are ``dict``)."""
    @staticmethod
    def decimal(scale: int, *, optional: bool = False, default: Any = None, doc: str | None = None) -> Schema:
        """Connect's Decimal logical type: ``decimal.Decimal`` with at most ``scale``
        decimal places (an ``int`` or decimal text is accepted too)."""
    @staticmethod
    def date(*, optional: bool = False, default: Any = None, doc: str | None = None) -> Schema:
        """Connect's Date logical type (``datetime.date``)."""
    @staticmethod
    def time(*, optional: bool = False, default: Any = None, doc: str | None = None) -> Schema:
        """Connect's Time logical type (``datetime.time``, millisecond precision)."""
    @staticmethod
    def timestamp(*, optional: bool = False, default: Any = None, doc: str | None = None) -> Schema:
        """Connect's Timestamp logical type (``datetime.datetime``, millisecond precision;
        naive values are taken as UTC; values read back are UTC-aware)."""

    @property
    def type(
        self,
    ) -> Literal[
        "int8",
        "int16",
        "int32",
        "int64",
        "float",
        "double",
        "boolean",
        "string",
        "bytes",
        "array",
        "map",
        "struct",
    ]:
        """The type name, as in the JsonConverter envelope."""
    @property
    def optional(self) -> bool: ...
    @property
    def default(self) -> Any: ...
    @property
    def name(self) -> str | None: ...
    @property
    def version(self) -> int | None: ...
    @property
    def doc(self) -> str | None: ...
    @property
    def parameters(self) -> dict[str, str]: ...
    @property
    def fields(self) -> dict[str, Schema]:
        """Struct fields in order (empty for other types)."""
    @property
    def items(self) -> Schema | None:
        """The item schema of an array."""
    @property
    def keys(self) -> Schema | None:
        """The key schema of a map."""
    @property
    def values(self) -> Schema | None:
        """The value schema of a map."""
    def __eq__(self, other: object) -> bool: ...
    def __hash__(self) -> int: ...

@final
class Struct(Mapping[str, Any]):
    """A value of a struct schema (Kafka Connect's ``Struct``): immutable, read like a dict.

    Arguments:
        schema: A struct schema.
        values: Field values by name; keyword arguments are added to them.

    Raises:
        DataError: A value does not fit its field, a required field is missing, or a name
            is not a field; the message names the field.
        TypeError: ``schema`` is not a struct schema.
    """

    def __init__(self, schema: Schema, values: Mapping[str, Any] | None = None, **fields: Any) -> None: ...
    @property
    def schema(self) -> Schema: ...
    def __getitem__(self, name: str) -> Any:
        """A field's value (its default when unset).

        Raises:
            KeyError: No such field.
        """
    def get(self, name: str, default: Any = None) -> Any: ...  # type: ignore[override]
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def __contains__(self, name: object) -> bool: ...
    def keys(self) -> list[str]: ...  # type: ignore[override]
    def values(self) -> list[Any]: ...  # type: ignore[override]
    def items(self) -> list[tuple[str, Any]]: ...  # type: ignore[override]
    def to_dict(self) -> dict[str, Any]:
        """The fields as a plain dict, nested structs included."""
    def replace(self, **changes: Any) -> Struct:
        """A copy with some fields changed.

        Raises:
            DataError: A value does not fit its field, or a name is not a field.
        """

@final
class SourceRecord:
    """A record a source task produces (Kafka Connect's ``SourceRecord``). Immutable: use
    :meth:`replace`.

    Arguments:
        topic: The topic to write to.
        value: The value: plain Python data, a :class:`Struct`, or ``None``.
        key: The key, likewise.
        key_schema: The key's schema; without one, the key is schemaless (a :class:`Struct`
            brings its own).
        value_schema: The value's schema, likewise.
        source_partition: The connector's own partition, a dict of JSON values (for
            example ``{"table": "users"}``).
        source_offset: The position in it, committed once Kafka acknowledged the record
            (for example ``{"id": 42}``).
        kafka_partition: The Kafka partition; ``None`` lets the producer choose by key.
        timestamp: Epoch milliseconds or a ``datetime``; ``None`` lets the producer set it.
        headers: A dict, or ``(key, value)`` pairs (keys may repeat).

    Raises:
        TypeError: An argument has the wrong type; the message names the argument
            (``SourceRecord(): argument 'topic' must be a str ...``).
        DataError: A key, value or header does not fit its schema or cannot be converted;
            the message names the field (``value.address.zip: ...``).

    Records compare equal (``==``) when every attribute is equal; they have no order.
    """

    def __init__(
        self,
        topic: str,
        value: Any = None,
        *,
        key: Any = None,
        key_schema: Schema | None = None,
        value_schema: Schema | None = None,
        source_partition: Mapping[str, JsonValue] | None = None,
        source_offset: Mapping[str, JsonValue] | None = None,
        kafka_partition: int | None = None,
        timestamp: int | Any | None = None,
        headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    ) -> None: ...
    @property
    def topic(self) -> str: ...
    @property
    def kafka_partition(self) -> int | None: ...
    @property
    def key(self) -> Any:
        """The key as Python data, converted on first access."""
    @property
    def key_schema(self) -> Schema | None: ...
    @property
    def value(self) -> Any:
        """The value as Python data, converted on first access."""
    @property
    def value_schema(self) -> Schema | None: ...
    @property
    def timestamp(self) -> int | None:
        """Epoch milliseconds."""
    @property
    def headers(self) -> tuple[tuple[str, Any], ...]: ...
    @property
    def source_partition(self) -> dict[str, JsonValue]: ...
    @property
    def source_offset(self) -> dict[str, JsonValue]: ...
    def replace(
        self,
        *,
        topic: str = ...,
        kafka_partition: int | None = ...,
        key: Any = ...,
        key_schema: Schema | None = ...,
        value: Any = ...,
        value_schema: Schema | None = ...,
        timestamp: int | Any | None = ...,
        headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = ...,
        source_partition: Mapping[str, JsonValue] = ...,
        source_offset: Mapping[str, JsonValue] = ...,
    ) -> SourceRecord:
        """A copy with some attributes changed (as ``dataclasses.replace``). A new value keeps
        the old ``value_schema`` unless one is given (``value_schema=None`` for schemaless).

        Raises:
            DataError: A new key or value does not fit its schema.
            TypeError: An unknown attribute.
        """
    def __eq__(self, other: object) -> bool: ...

@final
class SinkRecord:
    """A record a sink task receives (Kafka Connect's ``SinkRecord``). Immutable: use
    :meth:`replace`. Key and value are decoded to Python on first access.

    Arguments:
        topic: The topic.
        partition: The Kafka partition.
        offset: The Kafka offset.
        value: The value: plain Python data, a :class:`Struct`, or ``None``.
        key: The key, likewise.
        key_schema: The key's schema (``None``: schemaless).
        value_schema: The value's schema.
        timestamp: Epoch milliseconds or a ``datetime``.
        timestamp_type: How the timestamp was set.
        headers: A dict, or ``(key, value)`` pairs.

    Raises:
        TypeError: An argument has the wrong type; the message names the argument.
        DataError: A key, value or header does not fit its schema.

    Records compare equal (``==``) when every attribute is equal; they have no order.
    """

    def __init__(
        self,
        topic: str,
        partition: int,
        offset: int,
        value: Any = None,
        *,
        key: Any = None,
        key_schema: Schema | None = None,
        value_schema: Schema | None = None,
        timestamp: int | Any | None = None,
        timestamp_type: TimestampType = "CreateTime",
        headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    ) -> None: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def key(self) -> Any: ...
    @property
    def key_schema(self) -> Schema | None: ...
    @property
    def value(self) -> Any: ...
    @property
    def value_schema(self) -> Schema | None: ...
    @property
    def timestamp(self) -> int | None:
        """Epoch milliseconds."""
    @property
    def timestamp_type(self) -> TimestampType: ...
    @property
    def headers(self) -> tuple[tuple[str, Any], ...]: ...
    @property
    def original_topic(self) -> str:
        """The topic before any transformation changed it (KIP-793)."""
    @property
    def original_partition(self) -> int: ...
    @property
    def original_offset(self) -> int: ...
    def replace(
        self,
        *,
        topic: str = ...,
        partition: int = ...,
        key: Any = ...,
        key_schema: Schema | None = ...,
        value: Any = ...,
        value_schema: Schema | None = ...,
        timestamp: int | Any | None = ...,
        headers: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = ...,
    ) -> SinkRecord:
        """A copy with some attributes changed; the Kafka offset and the ``original_*``
        coordinates stay.

        Raises:
            DataError: A new key or value does not fit its schema.
            TypeError: An unknown attribute.
        """
    def __eq__(self, other: object) -> bool: ...

@final
class ConfigDef:
    """The native half of :class:`conveyor.ConfigDef` (use that one)."""

    def __init__(self) -> None: ...
    def define(
        self,
        name: str,
        type_name: str,
        default: str | None,
        default_is_null: bool,
        validator_spec: tuple[Any, ...] | None,
        importance_name: str,
        doc: str,
        group: str | None,
        order: int,
        width_name: str,
        display_name: str | None,
        dependents: list[str],
        recommended: list[str],
    ) -> ConfigDef: ...
    def parse(self, config: Mapping[str, Any]) -> dict[str, Any]: ...
    def validate(self, config: Mapping[str, Any]) -> dict[str, list[str]]: ...
    def names(self) -> list[str]: ...
    def groups(self) -> list[str]: ...
    def describe(self) -> list[dict[str, Any]]: ...
    def __len__(self) -> int: ...
    def __contains__(self, name: str) -> bool: ...

@final
class ConnectorContext:
    """Lets a connector ask the runtime for things (Kafka Connect's ``ConnectorContext``)."""

    @property
    def connector(self) -> str:
        """The connector's name."""
    def request_task_reconfiguration(self) -> None:
        """Has the runtime call ``task_configs`` again and restart the tasks if the configs
        changed (for example, a new table appeared)."""
    def raise_error(self, error: BaseException) -> None:
        """Marks the connector ``FAILED`` with ``error`` (and its traceback) as the trace."""

@final
class OffsetStorageReader:
    """Reads this connector's committed source offsets (Connect's ``OffsetStorageReader``)."""

    def offset(self, partition: Mapping[str, JsonValue]) -> dict[str, JsonValue] | None:
        """The last committed offset of a source partition, or ``None``."""
    def offsets(self, partitions: Iterable[Mapping[str, JsonValue]]) -> list[dict[str, JsonValue] | None]:
        """The offsets of several partitions, in order (``None`` where there is none)."""

@final
class SourceTaskContext:
    """A source task's view of the runtime (Connect's ``SourceTaskContext``)."""

    @property
    def offset_storage_reader(self) -> OffsetStorageReader:
        """Where to resume after a restart."""
    @property
    def connector(self) -> str: ...
    @property
    def task(self) -> int:
        """The task number, from 0."""
    @property
    def transaction_context(self) -> TransactionContext | None:
        """Connector-defined transaction boundaries: ``None`` unless the worker has
        ``exactly.once.source.support=enabled`` and the connector
        ``transaction.boundary=connector``."""

@final
class TransactionContext:
    """Connector-defined transaction boundaries (Connect's ``TransactionContext``). Call it
    from ``poll``; records of an aborted transaction never reach a ``read_committed``
    consumer, but their source offsets are committed all the same."""

    def commit_transaction(self, record: SourceRecord | None = None) -> None:
        """Commits after the batch this ``poll`` returns, or right after ``record`` (one of
        the records this ``poll`` returns)."""
    def abort_transaction(self, record: SourceRecord | None = None) -> None:
        """Aborts after the batch this ``poll`` returns, or right after ``record``, which is
        then the last record of the aborted transaction."""

@final
class SinkTaskContext:
    """A sink task's view of the runtime (Connect's ``SinkTaskContext``). Partitions are
    :class:`~conveyor.TopicPartition` or ``(topic, partition)`` tuples."""

    @property
    def connector(self) -> str: ...
    @property
    def task(self) -> int: ...
    def assignment(self) -> set[TopicPartition]:
        """The partitions assigned to this task now."""
    def pause(self, *partitions: tuple[str, int] | Sequence[tuple[str, int]]) -> None:
        """Stops fetching from these partitions until :meth:`resume`."""
    def resume(self, *partitions: tuple[str, int] | Sequence[tuple[str, int]]) -> None:
        """Fetches from these partitions again."""
    def offset(
        self, partition: tuple[str, int] | Mapping[tuple[str, int], int], offset: int | None = None
    ) -> None:
        """Rewinds or skips: ``offset(tp, 42)`` or ``offset({tp: 42})``; the next records of
        each partition start at its offset.

        Raises:
            TypeError: A single partition without an offset.
        """
    def request_commit(self) -> None:
        """Commits offsets as soon as possible."""
    def timeout(self, ms: int) -> None:
        """Waits ``ms`` before redelivering a batch after ``put`` raised ``RetriableError``."""
    @property
    def errant_record_reporter(self) -> ErrantRecordReporter | None:
        """Reports records ``put`` cannot handle; ``None`` when error reporting is not
        configured for the connector."""

@final
class ErrantRecordReporter:
    """Sends records a sink task cannot handle to the dead letter queue or the log
    (KIP-610), under the connector's ``errors.*`` settings."""

    def report(self, record: SinkRecord, error: BaseException) -> None:
        """Reports ``record`` as failed with ``error``.

        Raises:
            ConnectError: Reporting failed and the connector does not tolerate errors.
        """

@final
class Worker:
    """The native half of :class:`conveyor.Worker` (use that one)."""

    def __init__(
        self,
        config: Mapping[str, Any],
        connectors: Iterable[Mapping[str, Any]] | None = None,
        log_level: str = "WARN",
    ) -> None: ...
    @property
    def bootstrap_servers(self) -> str: ...
    @property
    def rest_url(self) -> str | None: ...
    @property
    def schema_registry_url(self) -> str | None: ...
    @property
    def worker_id(self) -> str: ...
    @property
    def closed(self) -> bool: ...
    def create_connector(
        self, name: str, config: Mapping[str, Any], initial_state: str | None = None
    ) -> dict[str, Any]: ...
    def update_connector(self, name: str, config: Mapping[str, Any]) -> dict[str, Any]: ...
    def connectors(self) -> list[str]: ...
    def connector(self, name: str) -> dict[str, Any]: ...
    def config(self, name: str) -> dict[str, str]: ...
    def status(self, name: str) -> dict[str, Any]: ...
    def task_status(self, name: str, task: int) -> dict[str, Any]: ...
    def tasks(self, name: str) -> list[dict[str, Any]]: ...
    def pause(self, name: str) -> None: ...
    def resume(self, name: str) -> None: ...
    def stop(self, name: str) -> None: ...
    def restart(
        self, name: str, include_tasks: bool = False, only_failed: bool = False
    ) -> dict[str, Any] | None: ...
    def restart_task(self, name: str, task: int) -> None: ...
    def delete(self, name: str) -> None: ...
    def offsets(self, name: str) -> dict[str, Any]: ...
    def alter_offsets(self, name: str, offsets: Mapping[str, Any]) -> dict[str, Any]: ...
    def reset_offsets(self, name: str) -> dict[str, Any]: ...
    def validate(self, config: Mapping[str, Any]) -> dict[str, Any]: ...
    def plugins(self, connectors_only: bool = True) -> list[dict[str, str]]: ...
    def plugin_config(self, plugin: str) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...

@final
class SourceTaskRunner:
    """The engine of :class:`conveyor.testing.SourceTaskRunner`."""

    def __init__(
        self,
        task: Any,
        connector: str = "test-connector",
        task_number: int = 0,
        offsets: Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]] | None = None,
    ) -> None: ...
    def start(self, config: Mapping[str, Any]) -> None: ...
    def poll(self) -> list[SourceRecord]: ...
    def offsets(self) -> list[tuple[dict[str, Any], dict[str, Any]]]: ...
    def stop(self) -> None: ...

@final
class SinkTaskRunner:
    """The engine of :class:`conveyor.testing.SinkTaskRunner`."""

    def __init__(self, task: Any, connector: str = "test-connector", task_number: int = 0) -> None: ...
    def start(self, config: Mapping[str, Any], assignment: Iterable[tuple[str, int]]) -> None: ...
    def put(self, records: Iterable[SinkRecord]) -> None: ...
    def commit(self) -> dict[TopicPartition, int]: ...
    def context_requests(self) -> dict[str, Any]: ...
    def stop(self) -> None: ...

@final
class TransformationRunner:
    """The engine of :class:`conveyor.testing.TransformationRunner`."""

    def __init__(self, transform: Any) -> None: ...
    def apply(
        self, records: Iterable[SourceRecord | SinkRecord]
    ) -> list[SourceRecord | SinkRecord | None]: ...
    def close(self) -> None: ...
