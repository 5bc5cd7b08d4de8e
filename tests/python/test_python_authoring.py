"""Authoring polish: what a new Python connector author meets first. ConfigDef.define in place,
pre_commit returning None, argument errors and help() of records, None config values, the
connector runner of conveyor.testing. No broker is needed here; the tests that run a worker
are in test_python_authoring_worker.py."""

from __future__ import annotations

import pydoc

import conveyor
import pytest
from conveyor import ConfigDef, SinkConnector, SinkRecord, SinkTask, SourceConnector, SourceRecord, SourceTask
from conveyor.config import Range
from conveyor.errors import ConfigError, PluginError
from conveyor.testing import ConnectorRunner, SinkTaskRunner, sink_records

# -- ConfigDef.define ---------------------------------------------------------------------


def test_define_changes_the_definition_in_place_as_java_does():
    cd = ConfigDef()
    returned = cd.define("topic", str, doc="Topic to write to")
    assert returned is cd
    assert cd.names == ["topic"]
    assert cd.parse({"topic": "t"}) == {"topic": "t"}


def test_define_chains_and_copy_leaves_the_original_alone():
    base = ConfigDef().define("topic", str).define("batch.size", int, 100, validator=Range(min=1))
    assert base.names == ["topic", "batch.size"]
    extended = base.copy().define("extra", bool, False)
    assert extended.names == ["topic", "batch.size", "extra"]
    java_style = ConfigDef(base).define("other", str, "x")
    assert java_style.names == ["topic", "batch.size", "other"]
    assert base.names == ["topic", "batch.size"]
    with pytest.raises(TypeError, match="base must be a ConfigDef"):
        ConfigDef({"topic": str})  # type: ignore[arg-type]


def test_a_define_that_fails_leaves_the_definition_as_it_was():
    cd = ConfigDef().define("a", int, 1)
    with pytest.raises(ValueError, match="does not parse"):
        cd.define("b", int, "not a number")
    assert cd.names == ["a"]


def test_the_shared_empty_config_def_of_the_base_classes_refuses_define():
    class NoDef(SourceConnector):
        task_class = SourceTask

    with pytest.raises(TypeError, match="give your class its own"):
        NoDef.config_def.define("topic", str)
    with pytest.raises(TypeError, match="give your class its own"):
        conveyor.Transformation.config_def.define("field", str)
    assert len(SourceConnector.config_def) == 0
    # A copy of it is an ordinary definition.
    assert NoDef.config_def.copy().define("topic", str).names == ["topic"]


def test_a_subclass_sharing_its_base_config_def_is_warned_about():
    class Base(SourceConnector):
        config_def = ConfigDef().define("topic", str)
        task_class = SourceTask

    class Child(Base):
        config_def = Base.config_def.define("extra", str, "x")  # changes Base's too

    class Separate(Base):
        config_def = Base.config_def.copy().define("other", str, "y")

    with pytest.warns(UserWarning, match="Child.config_def is the same ConfigDef as .*Base.config_def"):
        ConnectorRunner(Child, {"topic": "t"}, start=False)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ConnectorRunner(Separate, {"topic": "t"}, start=False)
    assert "other" not in Base.config_def


# -- pre_commit ---------------------------------------------------------------------------


class ForgetsToReturn(SinkTask):
    def put(self, records):
        self.seen = len(records)

    def pre_commit(self, offsets):
        self.pre_committed = dict(offsets)  # no return: a forgotten `return offsets`


class CommitsNothing(SinkTask):
    def put(self, records):
        pass

    def pre_commit(self, offsets):
        return {}


def test_pre_commit_returning_none_commits_what_was_put():
    with SinkTaskRunner(ForgetsToReturn, {"topics": "t"}) as runner:
        runner.put(sink_records("t", ["a", "b", "c"]))
        assert runner.commit() == {("t", 0): 3}
        assert runner.task.pre_committed == {("t", 0): 3}


def test_pre_commit_returning_an_empty_dict_commits_nothing():
    with SinkTaskRunner(CommitsNothing, {"topics": "t"}) as runner:
        runner.put(sink_records("t", ["a", "b"]))
        assert runner.commit() == {}


# -- records ------------------------------------------------------------------------------


def test_a_wrong_argument_type_names_the_argument():
    with pytest.raises(TypeError) as e:
        SourceRecord({"id": 1}, "orders")
    assert "argument 'topic' must be a str" in str(e.value)
    assert 'SourceRecord("orders", {"id": 1})' in str(e.value)
    with pytest.raises(TypeError, match="argument 'kafka_partition' must be an int or None, got str"):
        SourceRecord("orders", {}, kafka_partition="0")
    with pytest.raises(TypeError, match="SinkRecord\\(\\): argument 'offset' must be an int, got str"):
        SinkRecord("t", 0, "12")
    with pytest.raises(TypeError, match="argument 'partition' must be an int"):
        SinkRecord("t", None, 1)
    # What is right still works.
    assert SourceRecord("orders", {"id": 1}, kafka_partition=2).kafka_partition == 2


def test_help_of_the_record_classes_documents_every_argument():
    text = pydoc.render_doc(SourceRecord, renderer=pydoc.plaintext)
    for argument in ("topic:", "value:", "key:", "source_partition:", "source_offset:", "kafka_partition:"):
        assert argument in text, argument
    assert "The value as Python data" in text
    sink = pydoc.render_doc(SinkRecord, renderer=pydoc.plaintext)
    for argument in ("partition:", "offset:", "timestamp_type:"):
        assert argument in sink, argument
    # Equality, no order: `<` raises Python's own TypeError, as for dicts.
    a, b = SourceRecord("t", 1), SourceRecord("t", 1)
    assert a == b
    with pytest.raises(TypeError, match="not supported"):
        a < b  # noqa: B015


# -- None config values -------------------------------------------------------------------


def test_a_none_config_value_is_refused_by_name():
    cd = ConfigDef().define("topic", str).define("size", int, 5)
    with pytest.raises(TypeError, match="the value of 'size' is None; leave the key out"):
        cd.parse({"topic": "t", "size": None})
    with pytest.raises(TypeError, match="the value of 'size' is None"):
        SinkTaskRunner(ForgetsToReturn, {"topics": "t", "size": None})


# -- ConnectorRunner ----------------------------------------------------------------------


class TableTask(SourceTask):
    def poll(self):
        return None


class Tables(SourceConnector):
    config_def = ConfigDef().define("tables", list, doc="Tables to copy").define("prefix", str, "")
    task_class = TableTask

    def start(self, config):
        self.tables = self.config_def.parse(config)["tables"]
        self.stopped = False

    def task_configs(self, max_tasks):
        groups = [self.tables[i::max_tasks] for i in range(min(max_tasks, len(self.tables)))]
        return [{"tables": ",".join(g), "count": len(g), "strict": True} for g in groups]

    def validate(self, config):
        errors = super().validate(config)
        if config.get("prefix", "").endswith("."):
            errors.setdefault("prefix", []).append("must not end with a dot")
        return errors

    def stop(self):
        self.stopped = True


class TooManyTasks(Tables):
    def task_configs(self, max_tasks):
        return [{"tables": t} for t in self.tables]


class NoneInTaskConfig(Tables):
    def task_configs(self, max_tasks):
        return [{"tables": None}]


def test_connector_runner_task_configs_as_the_tasks_receive_them():
    with ConnectorRunner(Tables, {"tables": ["a", "b", "c"]}) as runner:
        assert runner.task_configs(max_tasks=2) == [
            {"tables": "a,c", "count": "2", "strict": "true"},
            {"tables": "b", "count": "1", "strict": "true"},
        ]
        assert runner.task_class is TableTask
        assert runner.context.connector == "test-connector"
        connector = runner.connector
    assert connector.stopped


def test_connector_runner_checks_task_configs_as_the_worker_does():
    with ConnectorRunner(TooManyTasks, {"tables": "a,b,c"}) as runner:
        with pytest.raises(PluginError, match="has generated 3 tasks, which is greater than 2"):
            runner.task_configs(max_tasks=2)
    with ConnectorRunner(NoneInTaskConfig, {"tables": "a"}) as runner:
        with pytest.raises(PluginError, match="task config 0: the value of 'tables' is None"):
            runner.task_configs()


def test_connector_runner_validate_reports_config_def_and_own_errors():
    assert ConnectorRunner.validate(Tables, {"tables": "a"}) == {}
    assert list(ConnectorRunner.validate(Tables, {})) == ["tables"]
    assert ConnectorRunner.validate(Tables, {"tables": "a", "prefix": "x."}) == {
        "prefix": ["must not end with a dot"]
    }


def test_connector_runner_refuses_what_is_not_a_connector():
    with pytest.raises(ConfigError):
        ConnectorRunner(TableTask, {})


class ListsSink(SinkConnector):
    task_class = ForgetsToReturn


def test_connector_runner_default_task_configs_of_a_sink():
    with ConnectorRunner(ListsSink, {"topics": "t"}) as runner:
        assert runner.task_configs(max_tasks=2) == [{"topics": "t"}, {"topics": "t"}]
