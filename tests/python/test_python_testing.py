"""`conveyor.testing`: running tasks and transformations with no broker, as connector
authors do in their own test suites."""

from __future__ import annotations

import asyncio

import pytest
from conveyor import (
    ConfigDef,
    Schema,
    SinkRecord,
    SinkTask,
    SourceRecord,
    SourceTask,
    Transformation,
)
from conveyor.config import Range
from conveyor.errors import ConfigError, PluginError, RetriableError
from conveyor.testing import (
    SinkTaskRunner,
    SourceTaskRunner,
    TransformationRunner,
    run_transformation,
    sink_records,
)


class Counter(SourceTask):
    def start(self, config):
        stored = self.context.offset_storage_reader.offset({"c": self.context.connector})
        self.n = stored["n"] if stored else 0
        self.step = int(config.get("step", "2"))

    def poll(self):
        out = []
        for _ in range(self.step):
            self.n += 1
            out.append(
                SourceRecord("t", {"n": self.n}, source_partition={"c": "conn"}, source_offset={"n": self.n})
            )
        return out


class AsyncCounter(Counter):
    async def poll(self):  # type: ignore[override]
        await asyncio.sleep(0)
        self.loop = asyncio.get_running_loop()
        return Counter.poll(self)


def test_source_runner_polls_and_resumes_from_committed_offsets():
    with SourceTaskRunner(Counter, {"step": 3}, connector="conn") as r:
        assert [x.value["n"] for x in r.poll()] == [1, 2, 3]
        assert [x.value["n"] for x in r.poll_until(4)] == [4, 5, 6, 7, 8, 9]
        assert r.offsets == [({"c": "conn"}, {"n": 9})]
    with SourceTaskRunner(Counter, {"step": 1}, connector="conn", offsets=r.offsets) as again:
        assert again.poll()[0].value == {"n": 10}


def test_async_poll_runs_on_one_loop_for_the_task():
    with SourceTaskRunner(AsyncCounter, {}, connector="conn") as r:
        r.poll()
        first_loop = r.task.loop
        assert [x.value["n"] for x in r.poll()] == [3, 4]
        assert r.task.loop is first_loop


class WrongType(SourceTask):
    def poll(self):
        return {"n": 1}


class WrongItem(SourceTask):
    def poll(self):
        return [SourceRecord("t", 1), {"n": 1}]


def test_source_runner_reports_what_the_worker_would():
    with (
        SourceTaskRunner(WrongType, {}) as r,
        pytest.raises(PluginError, match=r"poll\(\) must return a list of SourceRecord or None, got dict"),
    ):
        r.poll()
    with (
        SourceTaskRunner(WrongItem, {}) as r,
        pytest.raises(PluginError, match="item 1 is a dict, not a SourceRecord"),
    ):
        r.poll()


class Raises(SourceTask):
    def poll(self):
        raise KeyError("missing")


def test_the_plugins_own_exception_propagates():
    with SourceTaskRunner(Raises, {}) as r, pytest.raises(KeyError, match="missing"):
        r.poll()


class Boom(Exception):
    pass


class Later(RetriableError):
    pass


class RaisesItsOwn(SourceTask):
    raised: list[BaseException] = []

    def poll(self):
        error: BaseException = Later("not yet") if len(self.raised) % 2 else Boom("mine")
        error.detail = len(self.raised)  # type: ignore[attr-defined]
        self.raised.append(error)
        raise error


def test_the_exception_raised_is_the_plugins_own_object():
    with SourceTaskRunner(RaisesItsOwn, {}) as r:
        with pytest.raises(Boom) as first:
            r.poll()
        assert first.value is RaisesItsOwn.raised[0]
        assert first.value.detail == 0  # type: ignore[attr-defined]
        # A retriable exception keeps its own (sub)class too.
        with pytest.raises(Later) as second:
            r.poll()
        assert second.value is RaisesItsOwn.raised[1]


def test_a_class_that_is_not_a_task_is_refused_with_its_name():
    class NotATask:
        def poll(self):
            return []

    with pytest.raises(ConfigError, match="NotATask does not subclass conveyor.SourceTask"):
        SourceTaskRunner(NotATask, {})  # type: ignore[arg-type]

    class NoPoll(SourceTask):
        pass

    with pytest.raises(ConfigError, match="NoPoll does not implement poll"):
        SourceTaskRunner(NoPoll, {})


class Collecting(SinkTask):
    def start(self, config):
        self.seen: list[SinkRecord] = []
        self.flushed: list[dict] = []
        self.opened = None
        self.closed = None

    def open(self, partitions):
        self.opened = sorted(partitions)

    def put(self, records):
        for r in records:
            if r.value == "retry":
                self.context.timeout(250)
                raise RetriableError("try later")
            if r.value == "rewind":
                self.context.offset(("t", 0), 0)
                self.context.pause(("t", 1))
                self.context.request_commit()
        self.seen.extend(records)

    def flush(self, offsets):
        self.flushed.append(dict(offsets))

    def close(self, partitions):
        self.closed = sorted(partitions)


def test_sink_runner_puts_commits_and_records_context_requests():
    runner = SinkTaskRunner(Collecting, {"topics": "t"}, assignment=[("t", 0), ("t", 1)])
    task = runner.task
    assert task.opened == [("t", 0), ("t", 1)]
    runner.put(sink_records("t", ["a", "b"], start_offset=5))
    runner.put(sink_records("t", ["c"], partition=1))
    assert [r.value for r in task.seen] == ["a", "b", "c"]
    assert runner.commit() == {("t", 0): 7, ("t", 1): 1}
    assert task.flushed == [{("t", 0): 7, ("t", 1): 1}]
    runner.put(sink_records("t", ["rewind"], start_offset=7))
    assert runner.context_requests == {
        "paused": [("t", 1)],
        "resumed": [],
        "offsets": {("t", 0): 0},
        "commit_requested": True,
        "timeout_ms": None,
    }
    with pytest.raises(RetriableError, match="try later"):
        runner.put(sink_records("t", ["retry"], start_offset=8))
    assert runner.context_requests["timeout_ms"] == 250
    runner.stop()
    assert task.closed == [("t", 0), ("t", 1)]


class AsyncSink(SinkTask):
    def start(self, config):
        self.values: list = []

    async def put(self, records):
        await asyncio.sleep(0)
        self.values.extend(r.value for r in records)


def test_async_put():
    with SinkTaskRunner(AsyncSink, {"topics": "t"}) as r:
        r.put(sink_records("t", [1, 2]))
        assert r.task.values == [1, 2]


class Scale(Transformation):
    config_def = ConfigDef().define("factor", int, 2, validator=Range(min=1))

    def configure(self, config):
        self.factor = int(config.get("factor", 2))

    def apply(self, record):
        if record.value is None:
            return None
        if record.value == "bad":
            raise ValueError("cannot scale 'bad'")
        return record.replace(value=record.value * self.factor)


class Batched(Transformation):
    def apply_batch(self, records):
        return [r.replace(value=len(records)) for r in records]


def test_transformations_run_per_record_or_per_batch():
    out = run_transformation(Scale, {"factor": 3}, sink_records("t", [1, None, 2]))
    assert [None if r is None else r.value for r in out] == [3, None, 6]
    assert out[0].offset == 0 and out[2].offset == 2
    assert [r.value for r in run_transformation(Batched, {}, sink_records("t", "abc"))] == [3, 3, 3]
    source = run_transformation(Scale, {}, [SourceRecord("t", 5, source_offset={"o": 1})])
    assert source[0].value == 10 and source[0].source_offset == {"o": 1}


def test_transformation_errors_and_config_checks():
    with TransformationRunner(Scale, {}) as runner, pytest.raises(ValueError, match="'bad'"):
        runner.apply(sink_records("t", ["bad"]))
    with pytest.raises(ConfigError, match="Value must be at least 1"):
        TransformationRunner(Scale, {"factor": 0})

    class ReturnsDict(Transformation):
        def apply(self, record):
            return {"value": 1}

    with pytest.raises(PluginError, match=r"apply\(\) must return a SinkRecord .* got dict"):
        run_transformation(ReturnsDict, {}, sink_records("t", [1]))


def test_sink_records_helper_sets_schema_and_positions():
    rs = sink_records("t", [1, 2], partition=3, start_offset=10, value_schema=Schema.int32())
    assert [(r.partition, r.offset, r.value_schema) for r in rs] == [
        (3, 10, Schema.int32()),
        (3, 11, Schema.int32()),
    ]
