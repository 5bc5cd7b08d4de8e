"""A Python sequence-number source for the exactly-once tests: task ``i`` writes
``{"task": i, "seq": n}`` for n = 0, 1, 2, ... and resumes after its committed offset.

With ``transaction.boundary=connector`` it commits the transaction right after every record
whose ``seq % 10 == 4`` and aborts it right after every record whose ``seq % 10 == 9``, so a
``read_committed`` consumer sees exactly the numbers 0-4, 10-14, 20-24, ...
"""

from __future__ import annotations

import time

from conveyor import (
    ConnectorTransactionBoundaries,
    ExactlyOnceSupport,
    SourceConnector,
    SourceRecord,
    SourceTask,
)


class SequenceTask(SourceTask):
    def start(self, config: dict[str, str]) -> None:
        self.topic = config["topic"]
        self.task = int(config["task.number"])
        self.batch = int(config.get("batch.size", "10"))
        stored = self.context.offset_storage_reader.offset({"task": self.task})
        self.next = stored["seq"] + 1 if stored else 0

    def poll(self) -> list[SourceRecord]:
        time.sleep(0.01)
        records = []
        transactions = self.context.transaction_context
        for _ in range(self.batch):
            seq = self.next
            self.next += 1
            record = SourceRecord(
                topic=self.topic,
                key=f"task-{self.task}",
                value={"task": self.task, "seq": seq},
                source_partition={"task": self.task},
                source_offset={"seq": seq},
            )
            records.append(record)
            if transactions is not None:
                if seq % 10 == 4:
                    transactions.commit_transaction(record)
                elif seq % 10 == 9:
                    transactions.abort_transaction(record)
        return records

    def stop(self) -> None:
        pass


class SequenceSource(SourceConnector):
    task_class = SequenceTask

    def start(self, config: dict[str, str]) -> None:
        self.settings = dict(config)

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [{**self.settings, "task.number": str(i)} for i in range(max_tasks)]

    def stop(self) -> None:
        pass

    def exactly_once_support(self, config: dict[str, str]) -> ExactlyOnceSupport:
        return ExactlyOnceSupport.SUPPORTED

    def can_define_transaction_boundaries(self, config: dict[str, str]) -> ConnectorTransactionBoundaries:
        return ConnectorTransactionBoundaries.SUPPORTED
