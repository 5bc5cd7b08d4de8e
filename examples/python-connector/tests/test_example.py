"""The example plugins, tested with conveyor.testing: no broker, no worker."""

from __future__ import annotations

import json

from conveyor import Schema, Struct
from conveyor.testing import (
    ConnectorRunner,
    SinkTaskRunner,
    SourceTaskRunner,
    run_transformation,
    sink_records,
)
from conveyor_example import CounterSource, CounterTask, JsonLinesTask, UppercaseField


def test_counter_config_is_validated_and_split_into_one_task():
    assert ConnectorRunner.validate(CounterSource, {"topic": "numbers"}) == {}
    errors = ConnectorRunner.validate(CounterSource, {"topic": "numbers", "batch.size": 0})
    assert errors == {
        "batch.size": ["Invalid value 0 for configuration batch.size: Value must be at least 1"],
    }
    with ConnectorRunner(CounterSource, {"name": "c", "topic": "numbers"}) as runner:
        assert runner.task_configs(max_tasks=4) == [{"name": "c", "topic": "numbers"}]
        assert runner.task_class is CounterTask


def test_counter_counts_and_resumes_from_its_offset():
    config = {"name": "c", "topic": "numbers", "batch.size": 3, "max.messages": 5}
    with SourceTaskRunner(CounterTask, config) as runner:
        first = runner.poll()
        assert [r.value["id"] for r in first] == [1, 2, 3]
        assert first[0].key == "1" and first[0].topic == "numbers"
        assert runner.offsets == [({"counter": "c"}, {"id": 3})]

    with SourceTaskRunner(CounterTask, config, offsets=runner.offsets) as again:
        assert [r.value["id"] for r in again.poll()] == [4, 5]
        assert again.poll() == []


def test_jsonl_sink_writes_one_line_per_record(tmp_path):
    path = tmp_path / "out.jsonl"
    with SinkTaskRunner(JsonLinesTask, {"topics": "t", "path": str(path)}) as runner:
        runner.put(sink_records("t", [{"a": 1}, "text"]))
        assert runner.commit() == {("t", 0): 2}
    assert [json.loads(line) for line in path.read_text().splitlines()] == [{"a": 1}, "text"]


def test_uppercase_changes_dicts_and_structs_and_leaves_the_rest():
    schema = Schema.struct({"text": Schema.string()})
    records = sink_records("t", [{"text": "hi", "n": 1}, Struct(schema, text="yo"), 42])
    out = run_transformation(UppercaseField, {"field": "text"}, records)
    assert out[0].value == {"text": "HI", "n": 1}
    assert out[1].value["text"] == "YO" and out[1].value_schema == schema
    assert out[2].value == 42
