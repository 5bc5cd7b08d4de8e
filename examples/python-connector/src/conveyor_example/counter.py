"""A source connector that counts: record n is ``{"id": n, "text": "message n"}``.

Its position is committed as ``{"id": n}`` under the partition ``{"counter": <name>}``, so a
restarted task continues after the last record Kafka acknowledged.
"""

from __future__ import annotations

import time

from conveyor import ConfigDef, SourceConnector, SourceRecord, SourceTask
from conveyor.config import Range


class CounterTask(SourceTask):
    def start(self, config: dict[str, str]) -> None:
        settings = CounterSource.config_def.parse(config)
        self.topic = settings["topic"]
        self.batch = settings["batch.size"]
        self.max = settings["max.messages"]
        self.interval = settings["poll.interval.ms"] / 1000
        self.partition = {"counter": config.get("name", "counter")}
        committed = self.context.offset_storage_reader.offset(self.partition)
        self.next = committed["id"] + 1 if committed else 1

    def poll(self) -> list[SourceRecord] | None:
        if self.max >= 0 and self.next > self.max:
            time.sleep(0.1)  # done: keep the task idle, not busy
            return None
        if self.interval:
            time.sleep(self.interval)
        last = self.next + self.batch if self.max < 0 else min(self.next + self.batch, self.max + 1)
        records = [
            SourceRecord(
                self.topic,
                {"id": n, "text": f"message {n}"},
                key=str(n),
                source_partition=self.partition,
                source_offset={"id": n},
            )
            for n in range(self.next, last)
        ]
        self.next = last
        return records


class CounterSource(SourceConnector):
    """Counts from 1, ``batch.size`` records per poll, up to ``max.messages``."""

    config_def = (
        ConfigDef()
        .define("topic", str, doc="Topic to write to.", importance="high", group="Counter")
        .define("batch.size", int, 100, validator=Range(min=1), doc="Records per poll.", group="Counter")
        .define(
            "max.messages", int, -1, doc="Stop after this many records; -1 counts forever.", group="Counter"
        )
        .define(
            "poll.interval.ms", int, 0, validator=Range(min=0), doc="Pause before each poll.", group="Counter"
        )
    )
    task_class = CounterTask
