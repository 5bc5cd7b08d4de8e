"""Conveyor: a Kafka Connect runtime with a Rust core and Python connectors.

Write a connector as a plain class::

    from conveyor import SourceConnector, SourceRecord, SourceTask

    class TickerTask(SourceTask):
        def start(self, config):
            stored = self.context.offset_storage_reader.offset({"ticker": "main"})
            self.n = stored["n"] if stored else 0

        def poll(self):
            self.n += 1
            return [SourceRecord(self.config["topic"], {"n": self.n},
                                 source_partition={"ticker": "main"},
                                 source_offset={"n": self.n})]

    class Ticker(SourceConnector):
        task_class = TickerTask

and run it with ``connector.class=mypackage.ticker:Ticker`` in any Conveyor worker, or in
this process with :class:`Worker`.
"""

from __future__ import annotations

from collections.abc import Mapping

from conveyor import errors
from conveyor._native import (
    ConnectorContext,
    ErrantRecordReporter,
    OffsetStorageReader,
    Schema,
    SinkRecord,
    SinkTaskContext,
    SourceRecord,
    SourceTaskContext,
    Struct,
    TransactionContext,
    __version__,
)
from conveyor.config import ConfigDef
from conveyor.connector import (
    ConnectorTransactionBoundaries,
    ExactlyOnceSupport,
    SinkConnector,
    SourceConnector,
)
from conveyor.converter import Converter
from conveyor.task import SinkTask, SourceTask, TopicPartition
from conveyor.transform import Predicate, Transformation
from conveyor.worker import Records, Worker, peek

# A Struct reads like a read-only dict of its fields.
Mapping.register(Struct)

__all__ = [
    "ConfigDef",
    "ConnectorContext",
    "ConnectorTransactionBoundaries",
    "Converter",
    "ErrantRecordReporter",
    "ExactlyOnceSupport",
    "OffsetStorageReader",
    "Predicate",
    "Records",
    "Schema",
    "SinkConnector",
    "SinkRecord",
    "SinkTask",
    "SinkTaskContext",
    "SourceConnector",
    "SourceRecord",
    "SourceTask",
    "SourceTaskContext",
    "Struct",
    "TopicPartition",
    "TransactionContext",
    "Transformation",
    "Worker",
    "__version__",
    "errors",
    "peek",
]
