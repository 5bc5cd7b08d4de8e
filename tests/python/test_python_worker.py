"""The in-process `conveyor.Worker` against tansu: connectors defined in this very module,
`async def` tasks, the REST-like methods, peek, offsets across a worker restart."""

from __future__ import annotations

import asyncio
import time

import conveyor
import pytest
from conveyor import (
    ConfigDef,
    Schema,
    SinkConnector,
    SinkTask,
    SourceConnector,
    SourceRecord,
    SourceTask,
    Struct,
    Transformation,
)
from conveyor.errors import AlreadyExistsError, BadRequestError, NotFoundError, PluginError
from helpers import unique, wait_until

ITEM = Schema.struct({"id": Schema.int64(), "label": Schema.string()}, name="Item")
RECEIVED: dict[str, list] = {}


class ItemsTask(SourceTask):
    async def start(self, config):  # type: ignore[override]
        stored = self.context.offset_storage_reader.offset({"items": "all"})
        self.next = stored["id"] + 1 if stored else 1
        self.limit = int(config["limit"])

    async def poll(self):  # type: ignore[override]
        await asyncio.sleep(0.01)
        if self.next > self.limit:
            return None
        batch = [
            SourceRecord(
                self.config["topic"],
                Struct(ITEM, id=n, label=f"item {n}"),
                key=str(n),
                source_partition={"items": "all"},
                source_offset={"id": n},
            )
            for n in range(self.next, min(self.next + 10, self.limit + 1))
        ]
        self.next += len(batch)
        return batch


class Items(SourceConnector):
    config_def = ConfigDef().define("topic", str).define("limit", int, 50)
    task_class = ItemsTask


class Collect(SinkTask):
    async def put(self, records):  # type: ignore[override]
        await asyncio.sleep(0)
        RECEIVED.setdefault(self.config["name"], []).extend(r.value for r in records)


class Collector(SinkConnector):
    task_class = Collect


class Label(Transformation):
    def apply(self, record):
        return record.replace(value=record.value.replace(label=record.value["label"].upper()))


class Fails(SourceTask):
    def start(self, config):
        raise RuntimeError("no data source configured")

    def poll(self):
        return None


class FailingSource(SourceConnector):
    task_class = Fails


@pytest.fixture
def worker_config():
    return {
        "offset.flush.interval.ms": 200,
        "consumer.fetch.wait.max.ms": 10,
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
    }


def test_python_connectors_in_an_in_process_worker(broker, tmp_path, worker_config):
    topic = broker.create_topic(unique("items"))
    sink = unique("collector")
    offsets = tmp_path / "offsets.json"
    with conveyor.Worker(broker.bootstrap, config=worker_config, offset_storage_file=offsets) as worker:
        info = worker.create_connector(
            "items",
            {
                "connector.class": Items,
                "topic": topic,
                "limit": 30,
                "transforms": "label",
                "transforms.label.type": Label,
            },
        )
        assert info["type"] == "source" and info["name"] == "items"
        worker.create_connector(sink, {"connector.class": Collector, "topics": topic})
        worker.wait_running("items")
        worker.wait_running(sink)
        assert sorted(worker.connectors()) == sorted(["items", sink])
        wait_until(lambda: len(RECEIVED.get(sink, [])) >= 30, 60, what="30 records in the sink")
        got = RECEIVED[sink]
        assert [v["id"] for v in got] == list(range(1, 31))
        assert got[0]["label"] == "ITEM 1" and got[0].schema == ITEM

        peeked = worker.peek(topic, 3)
        assert [r.offset for r in peeked] == [0, 1, 2]
        assert peeked[0].value.to_dict() == {"id": 1, "label": "ITEM 1"}
        assert peeked[0].key == "1"

        worker.pause("items")
        assert worker.status("items")["connector"]["state"] == "PAUSED"
        worker.resume("items")
        worker.wait_running("items")
        assert worker.tasks("items")[0]["config"]["task.class"] == "test_python_worker.ItemsTask"
        wait_until(
            lambda: (
                worker.offsets("items")["offsets"] == [{"partition": {"items": "all"}, "offset": {"id": 30}}]
            ),
            30,
            what="offsets committed",
        )

        with pytest.raises(AlreadyExistsError):
            worker.create_connector("items", {"connector.class": Items, "topic": topic})
        with pytest.raises(NotFoundError):
            worker.status("nope")
        with pytest.raises(BadRequestError, match='Missing required configuration "topic"'):
            worker.create_connector("bad", {"connector.class": Items})

    assert worker.closed
    # A new worker resumes from the offsets file.
    with conveyor.Worker(broker.bootstrap, config=worker_config, offset_storage_file=offsets) as worker:
        worker.create_connector(
            "items",
            {
                "connector.class": Items,
                "topic": topic,
                "limit": 40,
                "transforms": "label",
                "transforms.label.type": Label,
            },
        )
        worker.create_connector(sink, {"connector.class": Collector, "topics": topic})
        wait_until(lambda: len(RECEIVED[sink]) >= 40, 60, what="the next 10 records")
        worker.delete("items")
        assert worker.connectors() == [sink]
    assert [v["id"] for v in RECEIVED[sink]] == list(range(1, 41))


def test_wait_running_raises_with_the_trace_of_a_failed_task(broker, worker_config):
    with conveyor.Worker(broker.bootstrap, config=worker_config) as worker:
        worker.create_connector("fails", {"connector.class": FailingSource})
        with pytest.raises(PluginError, match="fails task 0 is FAILED") as e:
            worker.wait_running("fails")
        assert "RuntimeError: no data source configured" in e.value.trace
        assert "Traceback (most recent call last)" in e.value.trace


def test_validate_plugins_and_rest_listener(broker, worker_config):
    with conveyor.Worker(broker.bootstrap, config=worker_config, listeners="http://127.0.0.1:0") as worker:
        result = worker.validate({"connector.class": Items, "name": "x", "limit": "many"})
        errors = {c["value"]["name"]: c["value"]["errors"] for c in result["configs"]}
        assert errors["limit"] == ["Invalid value many for configuration limit: Not a number of type LONG"]
        assert result["error_count"] == 2
        keys = worker.plugin_config("test_python_worker.Items")
        assert [k["name"] for k in keys] == ["topic", "limit"]
        assert worker.rest_url and worker.rest_url.startswith("http://127.0.0.1:")
        import requests

        assert requests.get(worker.rest_url + "/connectors", timeout=10).json() == []


def test_peek_of_a_missing_topic_and_an_unreachable_broker(broker):
    with pytest.raises(NotFoundError, match="does not exist"):
        conveyor.peek(unique("missing"), bootstrap_servers=broker.bootstrap, timeout=5)
    started = time.monotonic()
    with pytest.raises(conveyor.errors.KafkaError):
        conveyor.peek("t", bootstrap_servers="127.0.0.1:1", timeout=1)
    assert time.monotonic() - started < 30


class Reverse(conveyor.Converter):
    """Strings written reversed; a header converter too."""

    def configure(self, config, is_key):
        self.suffix = config.get("suffix", "")

    def from_connect_data(self, topic, schema, value):
        return None if value is None else (str(value)[::-1] + self.suffix).encode()

    def to_connect_data(self, topic, data):
        if data is None:
            return None, None
        text = data.decode()
        return Schema.string(), text[: len(text) - len(self.suffix)][::-1]

    def from_connect_header(self, topic, key, schema, value):
        return str(value)[::-1].encode()

    def to_connect_header(self, topic, key, data):
        return None, data.decode()[::-1]


class IsOdd(conveyor.Predicate):
    def test(self, record):
        return record.value["n"] % 2 == 1


class Numbers(SourceTask):
    def start(self, config):
        self.n = 0

    def poll(self):
        time.sleep(0.01)
        self.n += 1
        return [SourceRecord(self.config["topic"], {"n": self.n}, headers={"h": f"x{self.n}"})]


class NumbersSource(SourceConnector):
    task_class = Numbers


class Texts(SourceTask):
    def poll(self):
        time.sleep(0.01)
        return [SourceRecord(self.config["topic"], "hello", key="k", headers={"h": "abc"})]


class TextsSource(SourceConnector):
    task_class = Texts


class Raising(SourceConnector):
    task_class = Texts

    def task_configs(self, max_tasks):
        self.context.raise_error(ConnectionError("the upstream API is gone"))
        return [dict(self.config)]


def test_python_converter_predicate_and_connector_context(broker, worker_config):
    odd_topic, text_topic = broker.create_topic(unique("odd")), broker.create_topic(unique("txt"))
    sink = unique("texts")
    with conveyor.Worker(broker.bootstrap, config=worker_config) as worker:
        # A built-in Filter with a Python predicate drops the odd numbers.
        worker.create_connector(
            "numbers",
            {
                "connector.class": NumbersSource,
                "topic": odd_topic,
                "transforms": "odd",
                "transforms.odd.type": "Filter",
                "transforms.odd.predicate": "isOdd",
                "predicates": "isOdd",
                "predicates.isOdd.type": IsOdd,
            },
        )
        # A Python converter for values and headers, on both sides.
        converter = {"value.converter": Reverse, "value.converter.suffix": "!", "header.converter": Reverse}
        worker.create_connector("texts", {"connector.class": TextsSource, "topic": text_topic, **converter})
        worker.create_connector(sink, {"connector.class": Collector, "topics": text_topic, **converter})
        worker.wait_running(sink)
        wait_until(lambda: len(worker.peek(odd_topic, 3)) == 3, 30, what="three even numbers")
        numbers = worker.peek(odd_topic, 3)
        assert [r.value for r in numbers] == [{"n": 2}, {"n": 4}, {"n": 6}]
        raw = worker.peek(text_topic, 1, value_converter="ByteArrayConverter")
        assert raw[0].value == b"olleh!" and raw[0].headers == (("h", "cba"),)
        wait_until(lambda: RECEIVED.get(sink), 30, what="texts in the sink")
        assert RECEIVED[sink][0] == "hello"

        worker.create_connector("raising", {"connector.class": Raising, "topic": text_topic})
        status = wait_until(
            lambda: (s := worker.status("raising"))["connector"]["state"] == "FAILED" and s,
            30,
            what="the connector FAILED",
        )
        trace = status["connector"]["trace"]
        assert "ConnectionError: the upstream API is gone" in trace, trace


class FailsOnBad(conveyor.Converter):
    """Upper-cases on the way out and lower-cases on the way in; refuses one value each way."""

    def from_connect_data(self, topic, schema, value):
        if value == "bad":
            raise ValueError("cannot write 'bad'")
        return str(value).upper().encode()

    def to_connect_data(self, topic, data):
        if data == b"BOOM":
            raise ValueError("cannot read 'BOOM'")
        return Schema.string(), data.decode().lower()


class FiveAtOnce(SourceTask):
    def start(self, config):
        self.sent = False

    def poll(self):
        if self.sent:
            time.sleep(0.05)
            return []
        self.sent = True
        return [SourceRecord(self.config["topic"], v) for v in ["a", "bad", "b", "boom", "c"]]


class FiveAtOnceSource(SourceConnector):
    task_class = FiveAtOnce


def test_a_python_converter_failure_stays_with_its_record_in_a_batch(broker, worker_config):
    # The converter gets each poll's and each consumed batch's records at once: a failing
    # record is skipped (errors.tolerance=all) and the others of its batch go through, in order.
    topic, sink = broker.create_topic(unique("batch")), unique("batch-sink")
    tolerant = {"value.converter": FailsOnBad, "errors.tolerance": "all"}
    with conveyor.Worker(broker.bootstrap, config=worker_config) as worker:
        worker.create_connector("five", {"connector.class": FiveAtOnceSource, "topic": topic, **tolerant})
        wait_until(lambda: len(worker.peek(topic, 4)) == 4, 30, what="four records written")
        raw = worker.peek(topic, 5, value_converter="StringConverter")
        assert [r.value for r in raw] == ["A", "B", "BOOM", "C"]
        worker.create_connector(sink, {"connector.class": Collector, "topics": topic, **tolerant})
        wait_until(lambda: len(RECEIVED.get(sink, [])) == 3, 30, what="three records read")
        assert RECEIVED[sink] == ["a", "b", "c"]
