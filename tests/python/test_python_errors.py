"""Bad Python plugins in a real worker: wrong base classes, modules that do not import,
exceptions and wrong return types in task methods, values that cannot be converted,
exceptions in stop(). One broken plugin fails only its own connector or task; the worker and
the other connectors keep running, and the REST `trace` holds the Python traceback."""

from __future__ import annotations

import json
import textwrap
import time

import pytest
from helpers import read_lines, unique, wait_until

PLUGINS = textwrap.dedent(
    """
    import time

    from conveyor import (Schema, SinkConnector, SinkTask, SourceConnector, SourceRecord,
                          SourceTask, Transformation)


    class Healthy(SourceTask):
        def start(self, config):
            self.n = 0

        def poll(self):
            time.sleep(0.02)
            self.n += 1
            return [SourceRecord(self.config["topic"], {"n": self.n})]


    class HealthySource(SourceConnector):
        task_class = Healthy


    class NotAConnector:
        task_class = Healthy


    class BadTaskClass(SourceConnector):
        task_class = dict


    class Boom(SourceTask):
        def poll(self):
            raise ValueError("boom in poll")


    class BoomSource(SourceConnector):
        task_class = Boom


    class WrongType(SourceTask):
        def poll(self):
            return {"not": "a list"}


    class WrongTypeSource(SourceConnector):
        task_class = WrongType


    class WrongItem(SourceTask):
        def poll(self):
            return [{"value": 1}]


    class WrongItemSource(SourceConnector):
        task_class = WrongItem


    COUNTS = Schema.struct({"count": Schema.int32()})


    class BadValue(SourceTask):
        def poll(self):
            return [SourceRecord(self.config["topic"], {"count": "many"}, value_schema=COUNTS)]


    class BadValueSource(SourceConnector):
        task_class = BadValue


    class StopFails(SourceTask):
        def poll(self):
            time.sleep(0.02)
            return None

        def stop(self):
            raise RuntimeError("stop failed on purpose")


    class StopFailsSource(SourceConnector):
        task_class = StopFails


    class LateTask(SourceConnector):
        task_class = "late_task:Late"


    class OddFails(Transformation):
        def apply(self, record):
            if record.value["n"] % 2:
                raise ValueError(f"odd {record.value['n']}")
            return record


    class Picky(SinkTask):
        def start(self, config):
            self.path = config["path"]

        def put(self, records):
            reporter = self.context.errant_record_reporter
            with open(self.path, "a") as f:
                for r in records:
                    if r.value.get("bad"):
                        reporter.report(r, ValueError(f"cannot store record {r.offset}"))
                    else:
                        f.write(f"{r.value['n']}\\n")


    class PickySink(SinkConnector):
        task_class = Picky


    class NotATransformation:
        def apply(self, record):
            return record


    class Cyclic(SourceTask):
        def poll(self):
            time.sleep(0.02)
            v = []
            v.append(v)
            return [SourceRecord(self.config["topic"], v)]


    class CyclicSource(SourceConnector):
        task_class = Cyclic


    class OddTooDeep(Transformation):
        def apply(self, record):
            if record.value["n"] % 2:
                deep = {}
                for _ in range(500):
                    deep = {"d": deep}
                return record.replace(value=deep)
            return record


    class OddNotANumber(Transformation):
        def apply(self, record):
            if record.value["n"] % 2:
                return record.replace(value={"n": record.value["n"], "x": float("nan")})
            return record


    class Spin(SourceTask):
        def poll(self):
            while True:
                pass


    class SpinSource(SourceConnector):
        task_class = Spin
    """
)

BROKEN_SYNTAX = "from conveyor import SourceConnector\n\nclass Thing(SourceConnector)\n    pass\n"
MISSING_DEP = "import not_installed_dep_xyz  # noqa\n\nclass Thing:\n    pass\n"
LATE_TASK = "raise ImportError('late_task cannot be imported today')\n"

JSON = {
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}


@pytest.fixture
def worker(tmp_path, start_worker):
    d = tmp_path / "plugins"
    d.mkdir()
    (d / "bad_plugins.py").write_text(PLUGINS)
    (d / "broken_syntax.py").write_text(BROKEN_SYNTAX)
    (d / "missing_dep.py").write_text(MISSING_DEP)
    (d / "late_task.py").write_text(LATE_TASK)
    w = start_worker(extra={**JSON, "plugin.path": d})
    w.plugins = d
    return w


def create(worker, name, config):
    return worker.rest.post("/connectors", {"name": name, "config": config})


def source(cls, topic, **extra):
    return {"connector.class": f"bad_plugins:{cls}", "topic": topic, **extra}


def failed_trace(worker, name, task=0):
    if task is None:
        return worker.rest.wait_state(name, "FAILED", task=None)["connector"]["trace"]
    return worker.rest.wait_state(name, "FAILED", task=task)["tasks"][task]["trace"]


def test_a_class_that_does_not_subclass_the_right_base_is_rejected_by_name(worker, broker):
    topic = broker.create_topic(unique("t"))
    r = create(worker, "nac", source("NotAConnector", topic))
    assert r.status_code == 400
    assert (
        "bad_plugins.NotAConnector does not subclass conveyor.SourceConnector or conveyor.SinkConnector"
    ) in r.json()["message"]

    r = create(worker, "btc", source("BadTaskClass", topic))
    assert r.status_code == 400
    assert (
        "bad_plugins.BadTaskClass.task_class must be a conveyor.SourceTask subclass" in (r.json()["message"])
    )

    r = create(
        worker,
        "nat",
        source(
            "HealthySource",
            topic,
            **{"transforms": "x", "transforms.x.type": "bad_plugins.NotATransformation"},
        ),
    )
    assert r.status_code == 400
    assert "bad_plugins.NotATransformation does not subclass conveyor.Transformation" in (r.json()["message"])

    r = create(worker, "nomod", {"connector.class": "no_such_module_abc:Thing", "topic": topic})
    assert r.status_code == 400
    assert "no module named 'no_such_module_abc'" in r.json()["message"]
    assert worker.rest.get("/connectors").json() == []


def test_import_and_syntax_errors_fail_only_that_connector(worker, broker):
    topic = broker.create_topic(unique("t"))
    assert create(worker, "healthy", source("HealthySource", topic)).status_code == 201
    worker.rest.wait_running("healthy")

    assert create(worker, "syntax", {"connector.class": "broken_syntax:Thing"}).status_code == 201
    trace = failed_trace(worker, "syntax", task=None)
    assert "SyntaxError: expected ':'" in trace and 'broken_syntax.py", line 3' in trace, trace
    # the class never loaded, so its kind is not known (as Kafka Connect reports it)
    assert worker.rest.status("syntax")["type"] == "unknown"
    assert "importlib" not in trace, "the import machinery's frames are noise"

    assert create(worker, "dep", {"connector.class": "missing_dep.Thing"}).status_code == 201
    trace = failed_trace(worker, "dep", task=None)
    assert "ModuleNotFoundError: No module named 'not_installed_dep_xyz'" in trace, trace
    assert "Traceback (most recent call last)" in trace and 'missing_dep.py", line 1' in trace

    # A task class in a module that fails: the connector runs, its task is FAILED.
    assert create(worker, "late", source("LateTask", topic)).status_code == 201
    trace = failed_trace(worker, "late")
    assert "ImportError: late_task cannot be imported today" in trace, trace
    assert worker.rest.status("late")["connector"]["state"] == "RUNNING"

    assert worker.rest.get("/health").status_code == 200
    assert worker.rest.status("healthy")["tasks"][0]["state"] == "RUNNING"

    # Fix the module; a restart imports it again.
    (worker.plugins / "broken_syntax.py").write_text(
        "from conveyor import SourceConnector\n\nclass Thing(SourceConnector):\n"
        "    task_class = 'bad_plugins:Healthy'\n"
    )
    assert worker.rest.post("/connectors/syntax/restart").status_code == 204
    worker.rest.wait_state("syntax", "RUNNING", task=None)


def test_exception_in_poll_fails_the_task_with_the_python_traceback(worker, broker):
    topic = broker.create_topic(unique("t"))
    assert create(worker, "boom", source("BoomSource", topic)).status_code == 201
    trace = failed_trace(worker, "boom")
    first_line = trace.splitlines()[0]
    assert first_line == (
        "org.apache.kafka.connect.errors.ConnectException: "
        "error calling `SourceTask.poll` in connector boom task 0: ValueError: boom in poll"
    ), first_line
    assert "Traceback (most recent call last)" in trace
    assert 'bad_plugins.py", line' in trace and "in poll" in trace
    assert trace.startswith("org.apache.kafka.connect.errors.ConnectException: ")
    assert "ValueError: boom in poll" in worker.log_text()


def test_poll_returning_the_wrong_type_says_what_it_should_return(worker, broker):
    topic = broker.create_topic(unique("t"))
    assert create(worker, "wt", source("WrongTypeSource", topic)).status_code == 201
    trace = failed_trace(worker, "wt")
    assert "poll() must return a list of SourceRecord or None, got dict" in trace
    assert create(worker, "wi", source("WrongItemSource", topic)).status_code == 201
    assert "poll() returned a list whose item 0 is a dict, not a SourceRecord" in failed_trace(worker, "wi")


def test_a_value_that_cannot_be_converted_names_the_field(worker, broker):
    topic = broker.create_topic(unique("t"))
    assert create(worker, "bv", source("BadValueSource", topic)).status_code == 201
    trace = failed_trace(worker, "bv")
    assert "DataError: value.count: expected an int for INT32, got str 'many'" in trace, trace


def test_an_exception_in_stop_is_logged_and_nothing_else_stops(worker, broker):
    topic = broker.create_topic(unique("t"))
    assert create(worker, "healthy", source("HealthySource", topic)).status_code == 201
    assert create(worker, "sf", source("StopFailsSource", topic)).status_code == 201
    worker.rest.wait_running("sf")
    assert worker.rest.delete("/connectors/sf").status_code == 204
    wait_until(
        lambda: "RuntimeError: stop failed on purpose" in worker.log_text(),
        30,
        what="the stop() error in the log",
    )
    assert worker.rest.get("/health").status_code == 200
    worker.rest.wait_running("healthy")
    assert worker.stop() == 0


def test_a_failing_python_smt_fails_the_task_or_skips_records_under_tolerance(worker, broker):
    topic = broker.create_topic(unique("t"))
    smt = {"transforms": "odd", "transforms.odd.type": "bad_plugins.OddFails"}
    assert create(worker, "strict", source("HealthySource", topic, **smt)).status_code == 201
    trace = failed_trace(worker, "strict")
    assert (
        "Tolerance exceeded in error handler: stage TRANSFORMATION with class 'bad_plugins.OddFails'"
    ) in trace, trace
    assert "ValueError: odd 1" in trace

    tolerant = unique("t")
    broker.create_topic(tolerant)
    assert (
        create(
            worker, "tolerant", source("HealthySource", tolerant, **smt, **{"errors.tolerance": "all"})
        ).status_code
        == 201
    )
    worker.rest.wait_running("tolerant")
    messages = broker.consume(tolerant, 3)
    assert [m.value() for m in messages] == [b'{"n":2}', b'{"n":4}', b'{"n":6}']


def test_records_reported_by_a_python_sink_go_to_the_dead_letter_queue(worker, broker, tmp_path):
    topic, dlq = broker.create_topic(unique("in")), unique("dlq")
    values = [json.dumps({"n": n, "bad": n % 3 == 0}) for n in range(30)]
    broker.produce(topic, values)
    out = tmp_path / "kept.txt"
    r = create(
        worker,
        "picky",
        {
            "connector.class": "bad_plugins:PickySink",
            "topics": topic,
            "path": str(out),
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": 1,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    assert r.status_code == 201, r.text
    wait_until(lambda: len(read_lines(out)) == 20, 60, what="the good records stored")
    assert read_lines(out) == [str(n) for n in range(30) if n % 3]
    reported = broker.consume(dlq, 10, timeout=60)
    assert len(reported) == 10
    headers = dict(reported[0].headers())
    assert headers["__connect.errors.stage"] == b"TASK_PUT"
    assert b"ValueError: cannot store record 0" in headers["__connect.errors.exception.message"]
    assert worker.rest.status("picky")["tasks"][0]["state"] == "RUNNING"


def test_a_cyclic_value_from_poll_fails_the_task_not_the_worker(worker, broker):
    topic = broker.create_topic(unique("t"))
    assert create(worker, "healthy", source("HealthySource", topic)).status_code == 201
    assert create(worker, "cyclic", source("CyclicSource", topic)).status_code == 201
    trace = failed_trace(worker, "cyclic")
    assert "DataError: value: the value is nested more than 100 levels deep" in trace, trace
    assert worker.rest.get("/health").status_code == 200
    worker.rest.wait_running("healthy")


@pytest.mark.parametrize(
    ("smt", "message"),
    [
        ("OddTooDeep", "DataError: value: the value is nested more than 100 levels deep"),
        ("OddNotANumber", "NaN"),
    ],
)
def test_values_that_cannot_be_written_from_an_smt_are_record_errors(worker, broker, smt, message):
    """Too deep a value from `apply` (a data error in Python), or NaN where JSON cannot carry
    it (a converter error): the record fails, under the error tolerance, like any other."""
    topic = broker.create_topic(unique("t"))
    chain = {"transforms": "x", "transforms.x.type": f"bad_plugins.{smt}"}
    assert create(worker, "strict", source("HealthySource", topic, **chain)).status_code == 201
    trace = failed_trace(worker, "strict")
    assert "Tolerance exceeded in error handler" in trace and message in trace, trace
    assert worker.rest.get("/health").status_code == 200

    tolerant = broker.create_topic(unique("t"))
    config = source("HealthySource", tolerant, **chain, **{"errors.tolerance": "all"})
    assert create(worker, "tolerant", config).status_code == 201
    messages = broker.consume(tolerant, 3)
    assert [m.value() for m in messages] == [b'{"n":2}', b'{"n":4}', b'{"n":6}']


def test_sigterm_with_a_task_stuck_in_python_exits_cleanly(tmp_path, broker, start_worker):
    d = tmp_path / "plugins"
    d.mkdir()
    (d / "bad_plugins.py").write_text(PLUGINS)
    timeouts = {"task.shutdown.graceful.timeout.ms": 1000, "offset.flush.timeout.ms": 1000}
    w = start_worker(extra={**JSON, **timeouts, "plugin.path": d})
    topic = broker.create_topic(unique("t"))
    assert create(w, "spin", source("SpinSource", topic)).status_code == 201
    w.rest.wait_running("spin")
    time.sleep(1)
    started = time.monotonic()
    code = w.stop(timeout=30)
    log = w.log_text()
    assert code == 0, log
    assert time.monotonic() - started < 20
    assert "1 task(s) did not stop in time and were abandoned: spin-0" in log, log
    assert "panicked" not in log and "Fatal Python error" not in log, log
