"""A sink connector that appends record values to a file, one JSON document per line.

Lines are flushed and fsynced in ``flush``, so the offsets the runtime commits are always
for data that is on disk: after a crash, records are written again rather than lost.
"""

from __future__ import annotations

import json
import os
from typing import Any

from conveyor import ConfigDef, SinkConnector, SinkRecord, SinkTask, Struct, TopicPartition


def _plain(value: Any) -> Any:
    if isinstance(value, Struct):
        return value.to_dict()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


class JsonLinesTask(SinkTask):
    def start(self, config: dict[str, str]) -> None:
        self.path = JsonLinesSink.config_def.parse(config)["path"]
        self.file = open(self.path, "a", encoding="utf-8")

    def put(self, records: list[SinkRecord]) -> None:
        for r in records:
            self.file.write(json.dumps(_plain(r.value), default=str) + "\n")

    def flush(self, offsets: dict[TopicPartition, int]) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())

    def stop(self) -> None:
        self.file.close()


class JsonLinesSink(SinkConnector):
    """Appends values to ``path``; run one task (``tasks.max=1``) per file."""

    config_def = ConfigDef().define("path", str, doc="The file to append to.", importance="high")
    task_class = JsonLinesTask

    def task_configs(self, max_tasks: int) -> list[dict[str, str]]:
        return [dict(self.config)]  # one writer per file
