"""Conveyor's Schema Registry and its Avro converter, judged by confluent-kafka-python: its
``SchemaRegistryClient`` against every endpoint (error codes included), its Avro serializer
feeding Conveyor sinks, and its Avro deserializer reading what Conveyor sources write."""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest
import requests
from helpers import conveyor_cmd, free_port, read_lines, unique, wait_until, write_properties

sr = pytest.importorskip("confluent_kafka.schema_registry")
avro_serde = pytest.importorskip("confluent_kafka.schema_registry.avro")
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient  # noqa: E402
from confluent_kafka.schema_registry.error import SchemaRegistryError  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402

AVRO = "io.confluent.connect.avro.AvroConverter"

USER_V1 = {
    "type": "record",
    "name": "User",
    "namespace": "com.example",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "balance", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    ],
}
USER_V2 = {
    **USER_V1,
    "fields": [*USER_V1["fields"], {"name": "email", "type": ["null", "string"], "default": None}],
}
INCOMPATIBLE = {**USER_V1, "fields": [{"name": "id", "type": "string"}]}


class RegistryProcess:
    def __init__(self, proc, url, log):
        self.proc, self.url, self.log = proc, url, log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_registry(tmp_path, bootstrap, topic, name="registry", extra=None, port=None) -> RegistryProcess:
    port = port or free_port()
    props = write_properties(
        tmp_path / f"{name}.properties",
        {
            "bootstrap.servers": bootstrap,
            "listeners": f"http://127.0.0.1:{port}",
            "kafkastore.topic": topic,
            "kafkastore.topic.replication.factor": 1,
            **(extra or {}),
        },
    )
    log = tmp_path / f"{name}.log"
    out = open(log, "ab")
    proc = subprocess.Popen(
        [*conveyor_cmd(), "schema-registry", str(props)], stdout=out, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    r = RegistryProcess(proc, url, log)

    def up():
        if proc.poll() is not None:
            raise AssertionError(f"registry exited with {proc.returncode}:\n{r.log_text()}")
        return requests.get(url + "/subjects", timeout=5).status_code == 200

    try:
        wait_until(up, 60, what="the schema registry")
    except BaseException:
        r.stop()
        raise
    return r


@pytest.fixture(scope="module")
def registry(tmp_path_factory, broker):
    r = start_registry(tmp_path_factory.mktemp("registry"), broker.bootstrap, unique("_schemas"))
    yield r
    r.stop()


def client(url) -> SchemaRegistryClient:
    return SchemaRegistryClient({"url": url})


def avro(schema: dict) -> Schema:
    return Schema(json.dumps(schema), "AVRO")


def error_of(call) -> SchemaRegistryError:
    with pytest.raises(SchemaRegistryError) as e:
        call()
    return e.value


def test_every_endpoint_answers_the_confluent_client(registry):
    c = client(registry.url)
    subject = unique("users") + "-value"
    assert sorted(c.get_schema_types()) == ["AVRO", "JSON", "PROTOBUF"]

    id1 = c.register_schema(subject, avro(USER_V1))
    assert c.register_schema(subject, avro(USER_V1)) == id1  # idempotent
    assert c.get_schema(id1).schema_type == "AVRO"
    assert json.loads(c.get_schema(id1).schema_str)["name"] == "User"
    assert subject in c.get_subjects()
    assert c.get_versions(subject) == [1]
    v1 = c.get_version(subject, 1)
    assert (v1.schema_id, v1.version, v1.subject) == (id1, 1, subject)
    found = c.lookup_schema(subject, avro(USER_V1))
    assert (found.schema_id, found.version) == (id1, 1)
    assert c.get_schema_versions(id1)[0].subject == subject
    assert c.get_subjects_by_schema_id(id1) == [subject]

    # Compatibility: an optional field is a BACKWARD-compatible change, a type change is not.
    assert c.get_compatibility() == "BACKWARD"
    assert c.test_compatibility(subject, avro(USER_V2)) is True
    assert c.test_compatibility(subject, avro(INCOMPATIBLE)) is False
    assert c.test_compatibility_all_versions(subject, avro(INCOMPATIBLE)) is False
    id2 = c.register_schema(subject, avro(USER_V2))
    assert id2 != id1
    assert c.get_latest_version(subject).version == 2
    e = error_of(lambda: c.register_schema(subject, avro(INCOMPATIBLE)))
    assert (e.http_status_code, e.error_code) == (409, 409), e
    assert "incompatible" in e.error_message

    # Per-subject config and the global one.
    e = error_of(lambda: c.get_compatibility(subject))
    assert e.error_code == 40408
    assert c.set_compatibility(subject, "NONE") == {"compatibility": "NONE"}
    assert c.get_compatibility(subject) == "NONE"
    assert c.get_config(subject).compatibility_level == "NONE"
    assert c.delete_config(subject).compatibility_level == "NONE"
    e = error_of(lambda: c.set_compatibility(subject, "SIDEWAYS"))
    assert (e.http_status_code, e.error_code) == (422, 42203)

    # Modes.
    assert c.get_global_mode() == "READWRITE"
    assert c.update_mode(subject, "READONLY") == "READONLY"
    assert c.get_mode(subject) == "READONLY"
    e = error_of(lambda: c.register_schema(subject, avro({**USER_V2, "doc": "changed"})))
    assert e.error_code == 42205
    assert c.delete_mode(subject) == "READONLY"
    e = error_of(lambda: c.get_mode(subject))
    assert e.error_code == 40409

    # Not found and invalid input.
    assert error_of(lambda: c.get_schema(999_999)).error_code == 40403
    assert error_of(lambda: c.get_versions("nope-value")).error_code == 40401
    assert error_of(lambda: c.get_version(subject, 42)).error_code == 40402
    assert error_of(lambda: c.lookup_schema("nope-value", avro(USER_V1))).error_code == 40401
    fresh = client(registry.url)
    assert error_of(lambda: fresh.lookup_schema(subject, avro({**USER_V1, "doc": "x"}))).error_code == 40403
    e = error_of(lambda: c.register_schema(subject, Schema('{"type": "record"}', "AVRO")))
    assert (e.http_status_code, e.error_code) == (422, 42201)
    r = requests.get(f"{registry.url}/subjects/{subject}/versions/zero", timeout=10)
    assert (r.status_code, r.json()["error_code"]) == (422, 42202)
    r = requests.get(f"{registry.url}/subjects/{subject}/versions/1/schema", timeout=10)
    assert json.loads(r.text)["name"] == "User"

    # Deletes: soft, then permanent.
    e = error_of(lambda: c.delete_version(subject, 2, permanent=True))
    assert e.error_code == 40407
    assert c.delete_version(subject, 2) == 2
    assert error_of(lambda: c.delete_version(subject, 2)).error_code == 40406
    assert c.get_versions(subject) == [1]
    assert c.delete_version(subject, 2, permanent=True) == 2
    assert error_of(lambda: c.delete_subject(subject, permanent=True)).error_code == 40405
    assert c.delete_subject(subject) == [1]
    assert subject not in c.get_subjects()
    assert subject in c.get_subjects(deleted=True)
    assert error_of(lambda: c.delete_subject(subject)).error_code == 40404
    assert c.delete_subject(subject, permanent=True) == [1]
    assert subject not in c.get_subjects(deleted=True)


def test_schemas_survive_a_restart_on_the_same_topic(tmp_path, broker):
    topic = unique("_schemas")
    first = start_registry(tmp_path, broker.bootstrap, topic, name="first")
    try:
        sid = client(first.url).register_schema("keep-value", avro(USER_V1))
    finally:
        first.stop()
    second = start_registry(tmp_path, broker.bootstrap, topic, name="second")
    try:
        c = client(second.url)
        assert c.get_schema(sid).schema_str
        assert c.get_version("keep-value", 1).schema_id == sid
        # The next schema gets a new id.
        assert c.register_schema("keep-value", avro(USER_V2)) == sid + 1
    finally:
        second.stop()
    # The topic holds Confluent's keys and values.
    records = broker.consume(topic, 2)
    keys = [json.loads(m.key()) for m in records]
    assert keys[0] == {"keytype": "SCHEMA", "subject": "keep-value", "version": 1, "magic": 1}
    value = json.loads(records[0].value())
    assert (value["subject"], value["version"], value["id"], value["deleted"]) == (
        "keep-value",
        1,
        sid,
        False,
    )


def avro_producer(broker, registry_url, schema: dict, topic: str):
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry.avro import AvroSerializer

    serializer = AvroSerializer(client(registry_url), json.dumps(schema))
    producer = Producer({"bootstrap.servers": broker.bootstrap, "linger.ms": 5})

    def send(values):
        for v in values:
            producer.produce(topic, value=serializer(v, SerializationContext(topic, MessageField.VALUE)))
        assert producer.flush(30) == 0

    return send


def avro_worker(start_worker, registry_url, **extra):
    return start_worker(
        extra={
            "value.converter": AVRO,
            "value.converter.schema.registry.url": registry_url,
            **extra,
        }
    )


def test_avro_serializer_records_reach_a_file_sink_and_a_schema_evolves(
    tmp_path, broker, registry, start_worker
):
    from decimal import Decimal

    topic = broker.create_topic(unique("avro-users"))
    out = tmp_path / "users.jsonl"
    worker = avro_worker(start_worker, registry.url)
    worker.create("sink", {"connector.class": "FileStreamSink", "topics": topic, "file": out})
    worker.rest.wait_running("sink")
    send_v1 = avro_producer(broker, registry.url, USER_V1, topic)
    send_v1([{"id": i, "name": f"user {i}", "balance": Decimal("12.34") + i} for i in range(3)])
    wait_until(lambda: len(read_lines(out)) >= 3, 60, what="v1 records in the sink file")
    # The file sink writes values as Connect's Struct.toString() does.
    assert read_lines(out)[:3] == [f"Struct{{id={i},name=user {i},balance={12 + i}.34}}" for i in range(3)]

    # An optional field is added while the connector runs.
    send_v2 = avro_producer(broker, registry.url, USER_V2, topic)
    send_v2([{"id": 10, "name": "new", "balance": Decimal("1.00"), "email": "new@example.com"}])
    wait_until(lambda: len(read_lines(out)) >= 4, 60, what="the v2 record in the sink file")
    assert read_lines(out)[-1] == "Struct{id=10,name=new,balance=1.00,email=new@example.com}"
    assert client(registry.url).get_versions(f"{topic}-value") == [1, 2]
    assert worker.rest.status("sink")["tasks"][0]["state"] == "RUNNING"


def test_bad_bytes_go_to_the_dead_letter_queue_naming_the_id(tmp_path, broker, registry, start_worker):
    topic = broker.create_topic(unique("avro-bad"))
    dlq = unique("avro-dlq")
    out = tmp_path / "good.jsonl"
    worker = avro_worker(start_worker, registry.url)
    worker.create(
        "sink",
        {
            "connector.class": "FileStreamSink",
            "topics": topic,
            "file": out,
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": 1,
            "errors.deadletterqueue.context.headers.enable": "true",
        },
    )
    worker.rest.wait_running("sink")
    broker.produce(topic, [b"not avro", bytes([0, 0, 1, 0x86, 0xA0, 1])], one_per_batch=True)
    avro_producer(broker, registry.url, USER_V1, topic)([{"id": 1, "name": "ok", "balance": b"\x01"}])
    wait_until(lambda: len(read_lines(out)) >= 1, 60, what="the good record")
    dead = broker.consume(dlq, 2)
    messages = [dict(m.headers())["__connect.errors.exception.message"].decode() for m in dead]
    assert "Unknown magic byte" in messages[0]
    assert "id 100000" in messages[1]
    assert worker.rest.status("sink")["tasks"][0]["state"] == "RUNNING"


SOURCE = textwrap.dedent(
    """
    from decimal import Decimal

    from conveyor import Schema, SourceConnector, SourceRecord, SourceTask, Struct

    ORDER = Schema.struct(
        {"id": Schema.int64(), "item": Schema.string(optional=True), "price": Schema.decimal(2)},
        name="com.example.Order",
    )


    class OrdersTask(SourceTask):
        def start(self, config):
            self.topic = config["topic"]
            self.done = False

        def poll(self):
            if self.done:
                return None
            self.done = True
            return [SourceRecord(self.topic, Struct(ORDER, id=i, item=None if i == 2 else f"item {i}",
                                                    price=Decimal("9.99")),
                                 value_schema=ORDER, key=str(i), key_schema=Schema.string(),
                                 source_partition={"p": 0}, source_offset={"i": i})
                    for i in range(3)]


    class Orders(SourceConnector):
        task_class = OrdersTask
    """
)


def test_conveyor_source_records_are_read_by_the_avro_deserializer(tmp_path, broker, registry, start_worker):
    from decimal import Decimal

    from confluent_kafka.schema_registry.avro import AvroDeserializer

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "avro_orders.py").write_text(SOURCE)
    topic = broker.create_topic(unique("avro-orders"))
    worker = start_worker(
        extra={
            "plugin.path": plugins,
            "key.converter": AVRO,
            "key.converter.schema.registry.url": registry.url,
            "value.converter": AVRO,
            "value.converter.schema.registry.url": registry.url,
        }
    )
    worker.create("orders", {"connector.class": "avro_orders:Orders", "topic": topic})
    messages = broker.consume(topic, 3, timeout=60)
    assert len(messages) == 3, worker.log_text()
    deserializer = AvroDeserializer(client(registry.url))
    values = [deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)) for m in messages]
    keys = [deserializer(m.key(), SerializationContext(topic, MessageField.KEY)) for m in messages]
    assert keys == ["0", "1", "2"]
    assert values[0] == {"id": 0, "item": "item 0", "price": Decimal("9.99")}
    assert values[2]["item"] is None
    c = client(registry.url)
    registered = json.loads(c.get_latest_version(f"{topic}-value").schema.schema_str)
    assert registered["name"] == "Order" and registered["namespace"] == "com.example"
    assert registered["connect.name"] == "com.example.Order"


def test_registry_down_is_retried_and_the_task_recovers(tmp_path, broker, start_worker):
    topic_log = unique("_schemas")
    reg = start_registry(tmp_path, broker.bootstrap, topic_log, name="flaky")
    port = reg.url.rsplit(":", 1)[1]
    topic = broker.create_topic(unique("avro-retry"))
    avro_producer(broker, reg.url, USER_V1, topic)([{"id": 1, "name": "a", "balance": b"\x01"}])
    reg.stop()
    out = tmp_path / "retry.jsonl"
    worker = avro_worker(start_worker, reg.url)
    worker.create("sink", {"connector.class": "FileStreamSink", "topics": topic, "file": out})
    worker.rest.wait_running("sink")
    # The schema cannot be fetched: the task waits instead of failing or skipping the record.
    wait_until(lambda: "unreachable" in worker.log_text(), 60, what="a retry in the worker log")
    assert read_lines(out) == []
    assert worker.rest.status("sink")["tasks"][0]["state"] == "RUNNING"
    back = start_registry(tmp_path, broker.bootstrap, topic_log, name="back", port=int(port))
    try:
        wait_until(lambda: len(read_lines(out)) >= 1, 90, what="the record after the registry came back")
    finally:
        back.stop()


def test_a_worker_serves_the_registry(tmp_path, broker, start_worker):
    port = free_port()
    worker = start_worker(
        extra={
            "schema.registry.listeners": f"http://127.0.0.1:{port}",
            "schema.registry.kafkastore.topic": unique("_schemas"),
            "schema.registry.kafkastore.topic.replication.factor": 1,
        }
    )
    c = client(f"http://127.0.0.1:{port}")
    sid = c.register_schema("w-value", avro(USER_V1))
    assert c.get_schema(sid).schema_str
    assert worker.rest.get("/connectors").status_code == 200


# -- JSON Schema ------------------------------------------------------------------------------

JSON_SCHEMA = "io.confluent.connect.json.JsonSchemaConverter"
PROTOBUF = "io.confluent.connect.protobuf.ProtobufConverter"

ORDER_JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Order",
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "item": {"type": "string"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["id", "tags"],
}


def test_json_schema_serializer_records_reach_a_file_sink(tmp_path, broker, registry, start_worker):
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry.json_schema import JSONSerializer

    topic = broker.create_topic(unique("json-orders"))
    out = tmp_path / "orders.txt"
    worker = start_worker(
        extra={"value.converter": JSON_SCHEMA, "value.converter.schema.registry.url": registry.url}
    )
    worker.create("sink", {"connector.class": "FileStreamSink", "topics": topic, "file": out})
    worker.rest.wait_running("sink")
    serializer = JSONSerializer(json.dumps(ORDER_JSON_SCHEMA), client(registry.url))
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    ctx = SerializationContext(topic, MessageField.VALUE)
    producer.produce(topic, value=serializer({"id": 1, "item": "book", "tags": ["a", "b"]}, ctx))
    producer.produce(topic, value=serializer({"id": 2, "tags": []}, ctx))
    assert producer.flush(30) == 0
    wait_until(lambda: len(read_lines(out)) >= 2, 60, what="JSON Schema records in the sink file")
    assert read_lines(out) == ["Struct{id=1,item=book,tags=[a, b]}", "Struct{id=2,tags=[]}"]
    assert client(registry.url).get_latest_version(f"{topic}-value").schema.schema_type == "JSON"


def test_conveyor_source_records_are_read_by_the_json_schema_deserializer(
    tmp_path, broker, registry, start_worker
):
    from confluent_kafka.schema_registry.json_schema import JSONDeserializer

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "json_orders.py").write_text(SOURCE)
    topic = broker.create_topic(unique("json-src"))
    worker = start_worker(
        extra={
            "plugin.path": plugins,
            "value.converter": JSON_SCHEMA,
            "value.converter.schema.registry.url": registry.url,
        }
    )
    worker.create("orders", {"connector.class": "json_orders:Orders", "topic": topic})
    messages = broker.consume(topic, 3, timeout=60)
    assert len(messages) == 3, worker.log_text()
    # The deserializer validates each document against the registered schema.
    deserializer = JSONDeserializer(None, schema_registry_client=client(registry.url))
    values = [deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)) for m in messages]
    assert values[0] == {"id": 0, "item": "item 0", "price": 9.99}
    assert values[2]["item"] is None
    registered = json.loads(client(registry.url).get_latest_version(f"{topic}-value").schema.schema_str)
    assert registered["title"] == "com.example.Order"
    assert registered["properties"]["id"]["connect.type"] == "int64"


# -- Protobuf ---------------------------------------------------------------------------------


def user_message_class(package: str):
    """A Protobuf message class built at run time (no protoc here): package.User."""
    from google.protobuf import descriptor_pb2, descriptor_pool
    from google.protobuf.message_factory import GetMessageClass

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name=f"{package}/user.proto", package=package, syntax="proto3")
    m = fdp.message_type.add(name="User")
    m.field.add(name="id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    m.field.add(name="name", number=2, type=F.TYPE_STRING, label=F.LABEL_OPTIONAL)
    m.field.add(name="tags", number=3, type=F.TYPE_STRING, label=F.LABEL_REPEATED)
    m.field.add(name="score", number=4, type=F.TYPE_DOUBLE, label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return GetMessageClass(pool.FindMessageTypeByName(f"{package}.User"))


def test_protobuf_serializer_records_reach_a_file_sink(tmp_path, broker, registry, start_worker):
    from confluent_kafka import Producer
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    User = user_message_class("pbsink")
    topic = broker.create_topic(unique("pb-users"))
    out = tmp_path / "users.txt"
    worker = start_worker(
        extra={"value.converter": PROTOBUF, "value.converter.schema.registry.url": registry.url}
    )
    worker.create("sink", {"connector.class": "FileStreamSink", "topics": topic, "file": out})
    worker.rest.wait_running("sink")
    serializer = ProtobufSerializer(User, client(registry.url), {"use.deprecated.format": False})
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    ctx = SerializationContext(topic, MessageField.VALUE)
    producer.produce(topic, value=serializer(User(id=5, name="ann", tags=["x", "y"], score=1.5), ctx))
    producer.produce(topic, value=serializer(User(id=6), ctx))
    assert producer.flush(30) == 0
    wait_until(lambda: len(read_lines(out)) >= 2, 60, what="Protobuf records in the sink file")
    assert read_lines(out) == [
        "Struct{id=5,name=ann,tags=[x, y],score=1.5}",
        "Struct{id=6,name=,tags=[],score=0.0}",
    ]


PB_SOURCE = textwrap.dedent(
    """
    from conveyor import Schema, SourceConnector, SourceRecord, SourceTask, Struct

    USER = Schema.struct(
        {"id": Schema.int64(), "name": Schema.string(optional=True),
         "tags": Schema.array(Schema.string()), "score": Schema.float64()},
        name="pbsrc.User",
    )


    class UsersTask(SourceTask):
        def start(self, config):
            self.topic = config["topic"]
            self.done = False

        def poll(self):
            if self.done:
                return None
            self.done = True
            return [SourceRecord(self.topic, Struct(USER, id=i, name=None if i == 1 else f"u{i}",
                                                    tags=["t"] * i, score=i / 2),
                                 value_schema=USER, source_partition={"p": 0}, source_offset={"i": i})
                    for i in range(2)]


    class Users(SourceConnector):
        task_class = UsersTask
    """
)


def test_conveyor_source_records_are_read_by_the_protobuf_deserializer(
    tmp_path, broker, registry, start_worker
):
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer

    User = user_message_class("pbsrc")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "pb_users.py").write_text(PB_SOURCE)
    topic = broker.create_topic(unique("pb-src"))
    worker = start_worker(
        extra={
            "plugin.path": plugins,
            "value.converter": PROTOBUF,
            "value.converter.schema.registry.url": registry.url,
        }
    )
    worker.create("users", {"connector.class": "pb_users:Users", "topic": topic})
    messages = broker.consume(topic, 2, timeout=60)
    assert len(messages) == 2, worker.log_text()
    deserializer = ProtobufDeserializer(User, {"use.deprecated.format": False}, client(registry.url))
    users = [deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)) for m in messages]
    assert (users[0].id, users[0].name, list(users[0].tags), users[0].score) == (0, "u0", [], 0.0)
    # A null name is absent from the message; this class (no presence) reads it as "".
    assert (users[1].id, users[1].name, list(users[1].tags), users[1].score) == (1, "", ["t"], 0.5)
    schema = client(registry.url).get_latest_version(f"{topic}-value").schema
    assert schema.schema_type == "PROTOBUF"
    assert "message User" in schema.schema_str


PB_LOGICAL_SOURCE = textwrap.dedent(
    """
    import datetime
    from decimal import Decimal

    from conveyor import Schema, SourceConnector, SourceRecord, SourceTask, Struct

    PAYMENT = Schema.struct(
        {"id": Schema.int64(), "amount": Schema.decimal(2), "fee": Schema.decimal(3, optional=True),
         "day": Schema.date(), "at": Schema.time(), "ts": Schema.timestamp()},
        name="pblogical.Payment",
    )
    UTC = datetime.timezone.utc
    ROWS = [
        (1, Decimal("12.34"), Decimal("-0.005"), datetime.date(2024, 2, 29),
         datetime.time(13, 45, 30, 123000), datetime.datetime(2024, 2, 29, 13, 45, 30, 123000, tzinfo=UTC)),
        (2, Decimal("-98765.43"), None, datetime.date(1969, 12, 31), datetime.time(0, 0),
         datetime.datetime(1969, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
    ]


    class PaymentsTask(SourceTask):
        def start(self, config):
            self.topic = config["topic"]
            self.done = False

        def poll(self):
            if self.done:
                return None
            self.done = True
            return [SourceRecord(self.topic, Struct(PAYMENT, id=i, amount=a, fee=f, day=d, at=t, ts=ts),
                                 value_schema=PAYMENT, source_partition={"p": 0}, source_offset={"i": i})
                    for i, a, f, d, t, ts in ROWS]


    class Payments(SourceConnector):
        task_class = PaymentsTask
    """
)


def logical_pool():
    """A descriptor pool with the files Confluent's serializers treat as built in."""
    from confluent_kafka.schema_registry.confluent import meta_pb2
    from confluent_kafka.schema_registry.confluent.type import decimal_pb2
    from google.protobuf import descriptor_pb2, descriptor_pool, timestamp_pb2
    from google.type import date_pb2, timeofday_pb2

    pool = descriptor_pool.DescriptorPool()
    for module in (descriptor_pb2, meta_pb2, decimal_pb2, date_pb2, timeofday_pb2, timestamp_pb2):
        pool.AddSerializedFile(module.DESCRIPTOR.serialized_pb)
    return pool


def payment_message_class(package: str, decimal_meta: dict[str, str] | None = None):
    """package.Payment with Confluent's Decimal and Google's Date, TimeOfDay and Timestamp, built
    at run time from those types' own descriptors (as confluent-kafka ships them)."""
    from confluent_kafka.schema_registry.confluent import meta_pb2
    from google.protobuf import descriptor_pb2
    from google.protobuf.message_factory import GetMessageClass

    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name=f"{package}/payment.proto", package=package, syntax="proto3"
    )
    fdp.dependency.extend(
        [
            "confluent/meta.proto",
            "confluent/type/decimal.proto",
            "google/type/date.proto",
            "google/type/timeofday.proto",
            "google/protobuf/timestamp.proto",
        ]
    )
    m = fdp.message_type.add(name="Payment")
    m.field.add(name="id", number=1, type=F.TYPE_INT64, label=F.LABEL_OPTIONAL)
    amount = m.field.add(
        name="amount",
        number=2,
        type=F.TYPE_MESSAGE,
        type_name=".confluent.type.Decimal",
        label=F.LABEL_OPTIONAL,
    )
    for key, value in (decimal_meta or {}).items():
        amount.options.Extensions[meta_pb2.field_meta].params[key] = value
    for number, (name, type_name) in enumerate(
        [
            ("fee", ".confluent.type.Decimal"),
            ("day", ".google.type.Date"),
            ("at", ".google.type.TimeOfDay"),
            ("ts", ".google.protobuf.Timestamp"),
        ],
        start=3,
    ):
        m.field.add(
            name=name, number=number, type=F.TYPE_MESSAGE, type_name=type_name, label=F.LABEL_OPTIONAL
        )
    pool = logical_pool()
    pool.Add(fdp)
    return GetMessageClass(pool.FindMessageTypeByName(f"{package}.Payment"))


def unscaled(decimal_message) -> int:
    return int.from_bytes(decimal_message.value, "big", signed=True)


def test_conveyor_logical_types_are_confluent_protobuf_types(tmp_path, broker, registry, start_worker):
    """Decimal, Date, Time and Timestamp are written as confluent.type.Decimal, google.type.Date,
    google.type.TimeOfDay and google.protobuf.Timestamp, imported (not referenced) as Confluent's
    ProtobufConverter does, and read by confluent-kafka's ProtobufDeserializer."""
    import datetime

    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer

    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "pb_payments.py").write_text(PB_LOGICAL_SOURCE)
    topic = broker.create_topic(unique("pb-logical-src"))
    worker = start_worker(
        extra={
            "plugin.path": plugins,
            "value.converter": PROTOBUF,
            "value.converter.schema.registry.url": registry.url,
        }
    )
    worker.create("payments", {"connector.class": "pb_payments:Payments", "topic": topic})
    messages = broker.consume(topic, 2, timeout=60)
    assert len(messages) == 2, worker.log_text()

    registered = client(registry.url).get_latest_version(f"{topic}-value").schema
    text = registered.schema_str
    for imported in (
        "confluent/meta.proto",
        "confluent/type/decimal.proto",
        "google/type/date.proto",
        "google/type/timeofday.proto",
        "google/protobuf/timestamp.proto",
    ):
        assert f'import "{imported}";' in text, text
    assert "confluent.type.Decimal amount = 2" in text, text
    assert '{ key: "scale", value: "2" }' in text, text
    assert "google.type.Date day = 4" in text and "google.type.TimeOfDay at = 5" in text, text
    assert "google.protobuf.Timestamp ts = 6" in text, text
    assert registered.references == []

    Payment = payment_message_class("pblogical")
    deserializer = ProtobufDeserializer(Payment, {"use.deprecated.format": False}, client(registry.url))
    first, second = [
        deserializer(m.value(), SerializationContext(topic, MessageField.VALUE)) for m in messages
    ]

    assert first.id == 1
    assert (unscaled(first.amount), first.amount.scale, first.amount.precision) == (1234, 2, 4)
    assert (unscaled(first.fee), first.fee.scale, first.fee.precision) == (-5, 3, 1)
    assert (first.day.year, first.day.month, first.day.day) == (2024, 2, 29)
    assert (first.at.hours, first.at.minutes, first.at.seconds, first.at.nanos) == (13, 45, 30, 123_000_000)
    assert first.ts.ToDatetime(tzinfo=datetime.timezone.utc) == datetime.datetime(
        2024, 2, 29, 13, 45, 30, 123000, tzinfo=datetime.timezone.utc
    )
    assert (unscaled(second.amount), second.amount.scale) == (-9876543, 2)
    assert not second.HasField("fee")
    assert (second.day.year, second.day.month, second.day.day) == (1969, 12, 31)
    assert (second.at.hours, second.at.minutes, second.at.seconds, second.at.nanos) == (0, 0, 0, 0)
    assert (second.ts.seconds, second.ts.nanos) == (-1, 999_000_000)


PB_CAPTURE_SINK = textwrap.dedent(
    """
    import json

    from conveyor import SinkConnector, SinkTask


    class CaptureTask(SinkTask):
        def start(self, config):
            self.path = config["file"]

        def put(self, records):
            with open(self.path, "a") as out:
                for r in records:
                    v = r.value
                    out.write(json.dumps({
                        "id": v["id"], "amount": str(v["amount"]), "day": v["day"].isoformat(),
                        "at": v["at"].isoformat(), "ts": v["ts"].isoformat(),
                        "schemas": {n: [s.name, s.parameters] for n, s in v.schema.fields.items()
                                    if n != "id"},
                    }) + "\\n")


    class Capture(SinkConnector):
        task_class = CaptureTask
    """
)


def test_protobuf_serializer_logical_types_reach_a_sink(tmp_path, broker, registry, start_worker):
    """confluent-kafka's ProtobufSerializer writes Confluent's Decimal (with its precision and scale
    in confluent.field_meta), Google's Date, TimeOfDay and Timestamp; a Conveyor sink gets Connect's
    Decimal, Date, Time and Timestamp."""
    import datetime

    from confluent_kafka import Producer
    from confluent_kafka.schema_registry.protobuf import ProtobufSerializer

    Payment = payment_message_class("pblogicalsink", {"precision": "10", "scale": "2"})
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "pb_capture.py").write_text(PB_CAPTURE_SINK)
    topic = broker.create_topic(unique("pb-logical-sink"))
    out = tmp_path / "payments.jsonl"
    worker = start_worker(
        extra={
            "plugin.path": plugins,
            "value.converter": PROTOBUF,
            "value.converter.schema.registry.url": registry.url,
        }
    )
    worker.create("sink", {"connector.class": "pb_capture:Capture", "topics": topic, "file": out})
    worker.rest.wait_running("sink")

    def payment(id_, unscaled_value, scale, day, at, ts):
        p = Payment(id=id_)
        p.amount.value = unscaled_value.to_bytes((unscaled_value.bit_length() + 8) // 8, "big", signed=True)
        p.amount.scale = scale
        p.amount.precision = len(str(abs(unscaled_value)))
        p.day.year, p.day.month, p.day.day = day
        p.at.hours, p.at.minutes, p.at.seconds, p.at.nanos = at
        p.ts.FromDatetime(ts)
        return p

    utc = datetime.timezone.utc
    serializer = ProtobufSerializer(Payment, client(registry.url), {"use.deprecated.format": False})
    producer = Producer({"bootstrap.servers": broker.bootstrap})
    ctx = SerializationContext(topic, MessageField.VALUE)
    producer.produce(
        topic,
        value=serializer(
            payment(
                1,
                1234,
                2,
                (2024, 2, 29),
                (13, 45, 30, 123_000_000),
                datetime.datetime(2024, 2, 29, 13, 45, 30, 123000, tzinfo=utc),
            ),
            ctx,
        ),
    )
    # The message's own scale (1) differs from the field's (2): the value is rescaled.
    producer.produce(
        topic,
        value=serializer(
            payment(
                2, 75, 1, (1999, 12, 31), (23, 59, 59, 999_000_000), datetime.datetime(1970, 1, 1, tzinfo=utc)
            ),
            ctx,
        ),
    )
    assert producer.flush(30) == 0
    wait_until(lambda: len(read_lines(out)) >= 2, 60, what="Protobuf records in the capturing sink")

    # The serializer registers the built-in imports without references; the registry resolves them.
    registered = client(registry.url).get_latest_version(f"{topic}-value").schema
    assert registered.references == []
    rows = [json.loads(line) for line in read_lines(out)]
    assert [(r["id"], r["amount"], r["day"], r["at"], r["ts"]) for r in rows] == [
        (1, "12.34", "2024-02-29", "13:45:30.123000", "2024-02-29T13:45:30.123000+00:00"),
        (2, "7.50", "1999-12-31", "23:59:59.999000", "1970-01-01T00:00:00+00:00"),
    ]
    schemas = rows[0]["schemas"]
    assert schemas["amount"][0] == "org.apache.kafka.connect.data.Decimal"
    assert schemas["amount"][1]["scale"] == "2"
    assert schemas["amount"][1]["connect.decimal.precision"] == "10"
    assert schemas["day"][0] == "org.apache.kafka.connect.data.Date"
    assert schemas["at"][0] == "org.apache.kafka.connect.data.Time"
    assert schemas["ts"][0] == "org.apache.kafka.connect.data.Timestamp"
    assert worker.rest.status("sink")["tasks"][0]["state"] == "RUNNING"


# -- The in-process Worker --------------------------------------------------------------------


def test_the_in_process_worker_serves_an_embedded_registry(tmp_path, broker):
    import conveyor

    topic = broker.create_topic(unique("embedded-avro"))
    out = tmp_path / "out.txt"
    config = {
        "schema.registry.url": "embedded",
        "schema.registry.kafkastore.topic": unique("_schemas"),
        "value.converter": AVRO,
    }
    with conveyor.Worker(broker.bootstrap, config=config) as worker:
        url = worker.schema_registry_url
        assert url and url.startswith("http://127.0.0.1:")
        worker.create_connector(
            "sink", {"connector.class": "FileStreamSink", "topics": topic, "file": str(out)}
        )
        avro_producer(broker, url, USER_V1, topic)([{"id": 3, "name": "c", "balance": b"\x01"}])
        wait_until(lambda: read_lines(out), 60, what="the record read through the embedded registry")
        assert read_lines(out) == ["Struct{id=3,name=c,balance=0.01}"]
        assert client(url).get_subjects() == [f"{topic}-value"]


def test_two_registries_on_one_topic_agree_on_ids(tmp_path, broker):
    """Writes sent to both registries at once get distinct ids that both registries answer
    alike: one writer is elected through the Kafka group, the other forwards to it."""
    from concurrent.futures import ThreadPoolExecutor

    topic = unique("_schemas")
    extra = {"schema.registry.group.id": unique("sr-election")}
    a = start_registry(tmp_path, broker.bootstrap, topic, name="a", extra=extra)
    b = start_registry(tmp_path, broker.bootstrap, topic, name="b", extra=extra)
    try:
        # Both took part in the round that elected the writer.
        wait_until(lambda: all("schema registry leader" in r.log_text() for r in (a, b)), 60, what="a writer")

        def register(args):
            url, i = args
            schema = {"type": "record", "name": f"T{i}", "fields": [{"name": "f", "type": "long"}]}
            return i, client(url).register_schema(f"election-{i}-value", avro(schema))

        jobs = [(a.url if i % 2 else b.url, i) for i in range(16)]
        with ThreadPoolExecutor(8) as pool:
            ids = dict(pool.map(register, jobs))
        assert len(set(ids.values())) == 16, ids
        for r in (a, b):
            c = client(r.url)
            wait_until(lambda c=c: len([s for s in c.get_subjects() if s.startswith("election-")]) == 16, 30)
            for i, sid in ids.items():
                assert json.loads(c.get_schema(sid).schema_str)["name"] == f"T{i}"
    finally:
        a.stop()
        b.stop()
