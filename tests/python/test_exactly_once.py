"""Exactly-once source connectors (KIP-618) on Apache Kafka: transactional source tasks whose
records and offsets commit together, zombie fencing, connector-defined boundaries, Connect's
validation texts, and a ``read_committed`` consumer that sees every sequence number once."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from helpers import WorkerProcess, unique, wait_until
from test_postgres import PG, query

PLUGINS = Path(__file__).parent / "plugins_eos"
RUST_SEQ = "conveyor.testing.SequenceSourceConnector"
PY_SEQ = "eos_sequence:SequenceSource"
JSON_VALUES = {
    "value.converter": "org.apache.kafka.connect.json.JsonConverter",
    "value.converter.schemas.enable": "false",
}


@pytest.fixture
def eos_db(postgres):
    """A database of the test's own in the test-owned PostgreSQL, dropped afterwards."""
    import psycopg

    PG["port"] = postgres.port
    name = unique("conveyor_eos").replace("-", "_")
    with psycopg.connect(dbname="test", autocommit=True, **PG) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    yield name
    with psycopg.connect(dbname="test", autocommit=True, **PG) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def eos_env() -> dict:
    env = dict(os.environ)
    env["CONVEYOR_TEST_CONNECTORS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), env.get("PYTHONPATH")]))
    return env


@pytest.fixture
def eos_cluster(tmp_path, broker):
    """Distributed workers of one group with ``exactly.once.source.support`` (enabled by
    default); kills what is left after the test."""
    started: list[WorkerProcess] = []
    group = unique("eos")

    def start(name: str, support: str = "enabled", wait: bool = True) -> WorkerProcess:
        w = WorkerProcess.distributed(
            tmp_path,
            broker.bootstrap,
            group=group,
            name=name,
            wait=wait,
            env=eos_env(),
            extra={"exactly.once.source.support": support},
        )
        started.append(w)
        return w

    start.group = group
    yield start
    for w in started:
        w.kill()


def read_committed(
    broker, topic: str, idle: float = 3.0, isolation: str = "read_committed", limit: float = 15.0
) -> list[dict]:
    """Every value a consumer with ``isolation`` reads from the start of ``topic``, until
    nothing new arrives for ``idle`` seconds (or ``limit`` seconds have passed)."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": unique("reader"),
            "enable.auto.commit": False,
            "isolation.level": isolation,
            "fetch.wait.max.ms": 50,
        }
    )
    md = c.list_topics(topic, timeout=10)
    c.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
    out, last = [], time.monotonic()
    deadline = last + limit
    while time.monotonic() - last < idle and time.monotonic() < deadline:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        out.append(json.loads(m.value()))
        last = time.monotonic()
    c.close()
    return out


def per_task(values: list[dict]) -> dict[int, list[int]]:
    seqs: dict[int, list[int]] = {}
    for v in values:
        v = v.get("payload", v)  # JsonConverter's envelope when schemas.enable=true
        seqs.setdefault(v["task"], []).append(v["seq"])
    return seqs


def task_states(worker: WorkerProcess, name: str) -> list[dict]:
    r = worker.rest.get(f"/connectors/{name}/status")
    return r.json().get("tasks", []) if r.status_code == 200 else []


def running(worker: WorkerProcess, name: str, count: int) -> bool:
    tasks = task_states(worker, name)
    return len(tasks) == count and all(t["state"] == "RUNNING" for t in tasks)


def validate(worker: WorkerProcess, config: dict) -> dict[str, list[str]]:
    cls = config["connector.class"]
    r = worker.rest.put(f"/connector-plugins/{cls}/config/validate", {k: str(v) for k, v in config.items()})
    assert r.status_code == 200, r.text
    return {c["value"]["name"]: c["value"]["errors"] for c in r.json()["configs"]}


def test_validation_speaks_connect(eos_cluster, broker, tmp_path):
    enabled = eos_cluster("on")
    base = {"name": "x", "topic": "t"}
    fs = {**base, "connector.class": "FileStreamSource", "file": str(tmp_path / "f")}
    errors = validate(enabled, {**fs, "exactly.once.support": "required"})
    assert errors["exactly.once.support"] == [
        "The connector does not implement the API required for preflight validation of exactly-once "
        "source support. Please consult the documentation for the connector to determine whether it "
        "supports exactly-once semantics, and then consider reconfiguring the connector to use the "
        'value "requested" for this property (which will disable this preflight check and allow the '
        "connector to be created)."
    ]
    errors = validate(enabled, {**fs, "transaction.boundary": "connector"})
    assert errors["transaction.boundary"] == [
        "The connector does not support connector-defined transaction boundaries with the given "
        "configuration. Please reconfigure it to use a different transaction boundary definition."
    ]
    errors = validate(
        enabled, {**fs, "exactly.once.support": "maybe", "transaction.boundary.interval.ms": "-1"}
    )
    assert (
        errors["exactly.once.support"]
        == [
            "Invalid value maybe for configuration exactly.once.support: "
            "String must be one of (case insensitive): REQUESTED, REQUIRED"
        ]
        or "String must be one of (case insensitive)" in errors["exactly.once.support"][0]
    )
    assert errors["transaction.boundary.interval.ms"] == [
        "Invalid value -1 for configuration transaction.boundary.interval.ms: Value must be at least 0"
    ]
    for cls in (RUST_SEQ, PY_SEQ):
        ok = validate(
            enabled,
            {
                **base,
                "connector.class": cls,
                "exactly.once.support": "required",
                "transaction.boundary": "connector",
            },
        )
        assert not any(ok.values()), ok
    # Creating a connector that validation refuses is a 400 with the same text.
    r = enabled.rest.post(
        "/connectors", {"name": "bad", "config": {**fs, "name": "bad", "transaction.boundary": "connector"}}
    )
    assert r.status_code == 400 and "connector-defined transaction boundaries" in r.json()["message"]


def test_required_on_a_worker_without_support(eos_cluster):
    disabled = eos_cluster("off", support="disabled")
    errors = validate(
        disabled, {"name": "x", "topic": "t", "connector.class": RUST_SEQ, "exactly.once.support": "required"}
    )
    assert errors["exactly.once.support"] == [
        "This worker does not have exactly-once source support enabled."
    ]


def test_standalone_refuses_exactly_once(tmp_path, broker):
    w = WorkerProcess.standalone(
        tmp_path, broker.bootstrap, extra={"exactly.once.source.support": "enabled"}, wait=False
    )
    try:
        code = w.proc.wait(60)
    finally:
        w.kill()
    assert code != 0
    assert "Kafka Connect in standalone mode does not support exactly-once source connectors." in w.log_text()


@pytest.mark.parametrize("cls", [RUST_SEQ, PY_SEQ], ids=["rust", "python"])
def test_every_number_exactly_once_through_kills_and_a_task_count_change(eos_cluster, broker, cls):
    topic = broker.create_topic(unique("seq"), partitions=3)
    w1, w2 = eos_cluster("w1"), eos_cluster("w2")
    config = {"connector.class": cls, "topic": topic, "tasks.max": 3, "batch.size": 20, **JSON_VALUES}
    w1.create("seq", config)
    wait_until(lambda: running(w1, "seq", 3), 60, what="3 tasks running")
    time.sleep(2)
    # kill -9 one worker mid-stream; a new one joins.
    w2.kill()
    w3 = eos_cluster("w3")
    wait_until(lambda: running(w1, "seq", 3), 90, what="tasks running again after a kill")
    time.sleep(2)
    # A task count change: a new generation, the old one fenced.
    r = w1.rest.put("/connectors/seq/config", {**{k: str(v) for k, v in config.items()}, "tasks.max": "2"})
    assert r.status_code == 200, r.text
    wait_until(lambda: running(w1, "seq", 2), 60, what="2 tasks running")
    time.sleep(2)
    w1.kill()
    wait_until(lambda: running(w3, "seq", 2), 90, what="tasks running on the last worker")
    time.sleep(2)
    r = w3.rest.put("/connectors/seq/stop")
    assert r.status_code in (202, 204), r.text
    wait_until(lambda: task_states(w3, "seq") == [], 60, what="connector stopped")

    seqs = per_task(read_committed(broker, topic))
    assert set(seqs) == {0, 1, 2}, seqs.keys()
    for task, numbers in seqs.items():
        assert numbers == list(range(len(numbers))), f"task {task}: duplicates, gaps or disorder"
    assert all(len(n) > 20 for n in seqs.values()), {t: len(n) for t, n in seqs.items()}
    # Something was written and then aborted or left unfinished by the kills (Kafka saw more
    # than the committed consumer): what read_uncommitted reads may repeat numbers.
    uncommitted = per_task(read_committed(broker, topic, idle=1.0, isolation="read_uncommitted"))
    assert sum(map(len, uncommitted.values())) >= sum(map(len, seqs.values()))

    # Connect's task-count record for the last generation, in the config topic.
    records = broker_records(broker, f"{eos_cluster.group}-configs")
    counts = [json.loads(v)["task-count"] for k, v in records if k == "tasks-fencing-seq"]
    assert counts and counts[-1] == 2, counts


def broker_records(broker, topic: str, isolation: str = "read_committed") -> list[tuple[str, str]]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer(
        {
            "bootstrap.servers": broker.bootstrap,
            "group.id": unique("cfg"),
            "enable.auto.commit": False,
            "isolation.level": isolation,
        }
    )
    md = c.list_topics(topic, timeout=10)
    c.assign([TopicPartition(topic, p, 0) for p in md.topics[topic].partitions])
    out, last = [], time.monotonic()
    while time.monotonic() - last < 2:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        out.append((m.key().decode(), m.value().decode() if m.value() else None))
        last = time.monotonic()
    c.close()
    return out


def first_arrivals(broker, topic: str, timeout: float = 60) -> dict[str, float]:
    """When a ``read_uncommitted`` and a ``read_committed`` consumer, polled side by side from
    the start of ``topic``, each got their first record (monotonic seconds)."""
    from confluent_kafka import Consumer, TopicPartition

    consumers = {}
    for isolation in ("read_uncommitted", "read_committed"):
        c = Consumer(
            {
                "bootstrap.servers": broker.bootstrap,
                "group.id": unique("first"),
                "isolation.level": isolation,
                "fetch.wait.max.ms": 10,
            }
        )
        c.assign([TopicPartition(topic, 0, 0)])
        consumers[isolation] = c
    seen: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(seen) < 2 and time.monotonic() < deadline:
        for isolation, c in consumers.items():
            if isolation not in seen:
                m = c.poll(0.02)
                if m is not None and not m.error():
                    seen[isolation] = time.monotonic()
    for c in consumers.values():
        c.close()
    return seen


def test_interval_boundary_commits_on_the_interval(eos_cluster, broker):
    topic = broker.create_topic(unique("interval"))
    w = eos_cluster("w")
    w.create(
        "seq",
        {
            "connector.class": RUST_SEQ,
            "topic": topic,
            "transaction.boundary": "interval",
            "transaction.boundary.interval.ms": 4000,
            "poll.interval.ms": 50,
            **JSON_VALUES,
        },
    )
    # Records reach Kafka at once, but stay invisible to read_committed until the interval
    # has passed (with transaction.boundary=poll they would be visible within a poll).
    seen = first_arrivals(broker, topic)
    assert set(seen) == {"read_uncommitted", "read_committed"}, seen
    assert seen["read_committed"] - seen["read_uncommitted"] >= 2.5, seen
    time.sleep(5)
    seqs = per_task(read_committed(broker, topic, idle=1.0))[0]
    assert len(seqs) > 40 and seqs == list(range(len(seqs)))


def test_connector_defined_boundaries_with_abort(eos_cluster, broker):
    topic = broker.create_topic(unique("boundary"))
    w = eos_cluster("w")
    w.create(
        "seq",
        {
            "connector.class": PY_SEQ,
            "topic": topic,
            "transaction.boundary": "connector",
            "batch.size": 7,
            **JSON_VALUES,
        },
    )
    wait_until(lambda: len(read_committed(broker, topic, idle=0.5)) >= 30, 60, what="committed records")
    seqs = per_task(read_committed(broker, topic))[0]
    # Committed after seq % 10 == 4, aborted after seq % 10 == 9: only 0-4, 10-14, ... remain,
    # and the aborted numbers are never polled again (their offsets were committed).
    expected = [n for n in range(max(seqs) + 1) if n % 10 <= 4]
    assert seqs == expected


def test_a_fenced_zombie_fails_with_connects_message(eos_cluster, broker):
    from confluent_kafka import Producer

    topic = broker.create_topic(unique("zombie"))
    w = eos_cluster("w")
    w.create("seq", {"connector.class": RUST_SEQ, "topic": topic, **JSON_VALUES})
    wait_until(lambda: running(w, "seq", 1), 60, what="task running")
    # Another producer takes the task's transactional id: the task is now a zombie.
    p = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": f"{eos_cluster.group}-seq-0"})
    p.init_transactions(30)

    def failed():
        tasks = task_states(w, "seq")
        return tasks and tasks[0]["state"] == "FAILED" and tasks[0]

    task = wait_until(failed, 60, what="the fenced task failing")
    del p  # lets librdkafka close the fencing producer's connections now
    assert "ProducerFencedException: There is a newer producer with the same transactionalId" in task["trace"]
    seqs = per_task(read_committed(broker, topic))[0]
    assert seqs == list(range(len(seqs)))


def test_the_leader_fences_the_previous_generation_before_the_next_starts(eos_cluster, broker):
    """Connect's zombie fencing: a producer left over from the previous generation (task 1 of
    2) holds an open transaction when the connector goes down to 1 task. Before the new task
    starts, the group's leader fences every transactional id of the previous generation (asked
    by the workers whose tasks wait, through ``PUT /connectors/seq/fence``), so the leftover
    can never commit, and writes the task-count record."""
    from confluent_kafka import KafkaException, Producer

    topic = broker.create_topic(unique("fence"), partitions=2)
    w1, w2 = eos_cluster("w1"), eos_cluster("w2")
    config = {"connector.class": RUST_SEQ, "topic": topic, "tasks.max": 2, "batch.size": 5, **JSON_VALUES}
    w1.create("seq", config)
    wait_until(lambda: running(w1, "seq", 2), 60, what="2 tasks running")
    leftover_id = f"{eos_cluster.group}-seq-1"
    zombie = Producer({"bootstrap.servers": broker.bootstrap, "transactional.id": leftover_id})
    zombie.init_transactions(30)
    zombie.begin_transaction()
    zombie.produce(topic, json.dumps({"task": 1, "seq": -1, "zombie": True}).encode())
    zombie.flush(30)

    r = w2.rest.put("/connectors/seq/config", {**{k: str(v) for k, v in config.items()}, "tasks.max": "1"})
    assert r.status_code == 200, r.text

    # The old generation's task 0 may still show RUNNING for a moment: the task-count record of
    # the new generation is what says the fencing round is over.
    def new_generation_counted() -> bool:
        records = broker_records(broker, f"{eos_cluster.group}-configs")
        counts = [json.loads(v)["task-count"] for k, v in records if k == "tasks-fencing-seq"]
        return counts[-1:] == [1]

    wait_until(new_generation_counted, 90, what="the task-count record of the new generation")
    wait_until(lambda: running(w1, "seq", 1), 60, what="the new generation's task running")
    with pytest.raises(KafkaException):
        zombie.commit_transaction(30)
    del zombie

    values = read_committed(broker, topic)
    assert not [v for v in values if v.get("zombie")], "the leftover producer's record was committed"
    assert per_task(values)[0] == list(range(len(per_task(values)[0])))
    records = broker_records(broker, f"{eos_cluster.group}-configs")
    counts = [json.loads(v)["task-count"] for k, v in records if k == "tasks-fencing-seq"]
    assert counts[-2:] == [2, 1], counts

    # One worker fenced, and it was the leader; the other asked it to.
    fenced = [w for w in (w1, w2) if "Fencing out 2 task producers for source connector seq" in w.log_text()]
    assert len(fenced) == 1, [w.log.name for w in fenced]
    assert "leader computed the assignment" in fenced[0].log_text()
    follower = w2 if fenced[0] is w1 else w1
    if "Performing preflight zombie check for connector seq" in follower.log_text():
        assert "Forwarding zombie fencing request for connector seq to leader" in follower.log_text()

    # The internal endpoint: reached through any worker, answered by the leader.
    for w in (w1, w2):
        assert w.rest.put("/connectors/seq/fence").status_code == 204
        r = w.rest.put("/connectors/nope/fence")
        assert r.status_code == 404, r.text
        assert r.json()["message"] == "Connector nope not found"


def test_a_connector_offsets_topic_holds_the_offsets_and_resumes_the_task(eos_cluster, broker):
    """``offsets.storage.topic``: the task writes its offsets to the connector's own topic
    (created, compacted) in its transactions, not to the worker's; after a stop and a resume
    the task goes on from them."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    topic = broker.create_topic(unique("own_offsets"))
    own = unique("seq-offsets")
    w = eos_cluster("w")
    config = {
        "connector.class": RUST_SEQ,
        "topic": topic,
        "batch.size": 10,
        "offsets.storage.topic": own,
        **JSON_VALUES,
    }
    w.create("seq", config)
    wait_until(lambda: running(w, "seq", 1), 60, what="task running")
    time.sleep(2)

    def stop():
        r = w.rest.put("/connectors/seq/stop")
        assert r.status_code in (202, 204), r.text
        wait_until(lambda: task_states(w, "seq") == [], 60, what="connector stopped")

    stop()
    first = per_task(read_committed(broker, topic))[0]
    assert len(first) >= 10

    def seq_offsets(offsets_topic: str) -> list[int]:
        return [
            json.loads(v)["seq"]
            for k, v in broker_records(broker, offsets_topic, isolation="read_committed")
            if v and json.loads(k) == ["seq", {"task": 0}]
        ]

    committed = seq_offsets(own)
    assert committed and committed[-1] == first[-1], (committed[-3:], first[-3:])
    assert seq_offsets(f"{eos_cluster.group}-offsets") == [], "offsets went to the worker's topic"
    admin = AdminClient({"bootstrap.servers": broker.bootstrap})
    described = admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, own)])
    configs = next(iter(described.values())).result(30)
    assert configs["cleanup.policy"].value == "compact"
    r = w.rest.get("/connectors/seq/offsets")
    assert r.status_code == 200, r.text
    assert r.json()["offsets"] == [{"partition": {"task": 0}, "offset": {"seq": first[-1]}}]

    r = w.rest.put("/connectors/seq/resume")
    assert r.status_code in (202, 204), r.text
    wait_until(lambda: running(w, "seq", 1), 60, what="task running again")
    time.sleep(2)
    stop()
    both = per_task(read_committed(broker, topic))[0]
    assert len(both) > len(first)
    assert both == list(range(len(both))), "the task did not resume from the connector's offsets"
    assert seq_offsets(own)[-1] == both[-1]


def test_a_connector_offsets_topic_without_exactly_once(eos_cluster, broker):
    """``offsets.storage.topic`` on a worker with ``exactly.once.source.support=disabled``:
    as in Connect, the connector's own topic holds its offsets (with a copy in the worker's,
    Connect's secondary write) and a task on a new worker resumes from that topic first."""
    from confluent_kafka import Consumer, Producer, TopicPartition

    topic = broker.create_topic(unique("own_offsets_alo"))
    own = unique("seq-offsets-alo")
    w = eos_cluster("w", support="disabled")
    config = {
        "connector.class": RUST_SEQ,
        "topic": topic,
        "batch.size": 10,
        "offsets.storage.topic": own,
        **JSON_VALUES,
    }
    w.create("seq", config)
    wait_until(lambda: running(w, "seq", 1), 60, what="task running")
    time.sleep(2)
    r = w.rest.put("/connectors/seq/stop")
    assert r.status_code in (202, 204), r.text
    wait_until(lambda: task_states(w, "seq") == [], 60, what="connector stopped")
    first = per_task(read_committed(broker, topic))[0]
    assert len(first) >= 10 and first == list(range(len(first)))

    def seq_offsets(offsets_topic: str) -> list[int]:
        return [
            json.loads(v)["seq"]
            for k, v in broker_records(broker, offsets_topic)
            if v and json.loads(k) == ["seq", {"task": 0}]
        ]

    committed = seq_offsets(own)
    assert committed and committed[-1] == first[-1], (committed[-3:], first[-3:])
    assert seq_offsets(f"{eos_cluster.group}-offsets")[-1] == first[-1]
    r = w.rest.get("/connectors/seq/offsets")
    assert r.status_code == 200, r.text
    assert r.json()["offsets"] == [{"partition": {"task": 0}, "offset": {"seq": first[-1]}}]

    # A later offset, in the connector's topic alone (on the partition of the task's
    # entries, so that it is the latest): a task that reads the worker's topic, or reads the
    # connector's only after it, would not skip ahead to it.
    c = Consumer(
        {"bootstrap.servers": broker.bootstrap, "group.id": unique("p"), "enable.auto.commit": False}
    )
    md = c.list_topics(own, timeout=10)
    c.assign([TopicPartition(own, p, 0) for p in md.topics[own].partitions])
    partition, deadline = None, time.monotonic() + 30
    while partition is None and time.monotonic() < deadline:
        m = c.poll(0.5)
        if m is not None and not m.error() and json.loads(m.key()) == ["seq", {"task": 0}]:
            partition = m.partition()
    c.close()
    assert partition is not None
    skip_to = first[-1] + 1000
    p = Producer({"bootstrap.servers": broker.bootstrap})
    compact = {"separators": (",", ":")}  # Connect's JsonConverter bytes
    key, value = json.dumps(["seq", {"task": 0}], **compact), json.dumps({"seq": skip_to}, **compact)
    p.produce(own, key=key, value=value, partition=partition)
    assert p.flush(30) == 0

    w.kill()
    w2 = eos_cluster("w2", support="disabled")
    r = w2.rest.put("/connectors/seq/resume")
    assert r.status_code in (202, 204), r.text
    wait_until(lambda: running(w2, "seq", 1), 60, what="task running on the new worker")
    wait_until(
        lambda: len(per_task(read_committed(broker, topic, idle=1.0))[0]) > len(first),
        60,
        what="more records",
    )
    later = per_task(read_committed(broker, topic, idle=1.0))[0][len(first) :]
    assert later[0] == skip_to + 1, f"resumed at {later[0]}, not after the connector topic's {skip_to}"
    assert later == list(range(skip_to + 1, skip_to + 1 + len(later)))


def test_exactly_once_end_to_end_into_postgresql(eos_cluster, broker, eos_db):
    """An exactly-once source (with aborted transactions and a kill -9) into the PostgreSQL
    sink with delivery.guarantee=exactly_once: every committed number is one row, no aborted
    number is a row."""
    topic = broker.create_topic(unique("eos_pg"))
    w1, w2 = eos_cluster("w1"), eos_cluster("w2")
    schema_json = {
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
    }
    w1.create(
        "seq",
        {
            "connector.class": RUST_SEQ,
            "topic": topic,
            "transaction.boundary": "connector",
            "commit.every": 5,
            "abort.every": 10,
            "batch.size": 7,
            **schema_json,
        },
    )
    w1.create(
        "pg",
        {
            "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
            "topics": topic,
            "connection.url": f"jdbc:postgresql://127.0.0.1:{PG['port']}/{eos_db}",
            "connection.user": "postgres",
            "connection.password": "secret",
            "auto.create": "true",
            "insert.mode": "insert",
            "pk.mode": "none",
            "delivery.guarantee": "exactly_once",
            **schema_json,
        },
    )
    wait_until(lambda: running(w1, "seq", 1) and running(w1, "pg", 1), 60, what="source and sink running")
    time.sleep(3)
    w2.kill()
    wait_until(lambda: running(w1, "seq", 1) and running(w1, "pg", 1), 90, what="running after a kill")
    time.sleep(3)
    r = w1.rest.put("/connectors/seq/stop")
    assert r.status_code in (202, 204), r.text
    committed = per_task(read_committed(broker, topic))[0]
    assert len(committed) > 20

    def rows():
        try:
            return [s for (s,) in query(eos_db, f'SELECT seq FROM "{topic}" ORDER BY seq')]
        except Exception:  # noqa: BLE001 - the table appears with the first batch
            return []

    wait_until(lambda: len(rows()) >= len(committed), 60, what="rows for every committed record")
    time.sleep(2)
    assert rows() == committed
    assert all(n % 10 <= 4 for n in committed), "an aborted record reached a read_committed reader"
    assert committed == [n for n in range(max(committed) + 1) if n % 10 <= 4]


def test_preparing_neither_fences_nor_counts_tasks(eos_cluster, broker):
    """The rolling-upgrade step, as in Connect: tasks write without transactions, and as zombie
    fencing and its task-count record come only with ``enabled``, the config topic gets no
    ``tasks-fencing-`` record."""
    topic = broker.create_topic(unique("preparing"))
    w = eos_cluster("w", support="preparing")
    w.create("seq", {"connector.class": RUST_SEQ, "topic": topic, "tasks.max": 2, **JSON_VALUES})
    wait_until(lambda: running(w, "seq", 2), 60, what="2 tasks running")
    # No task initialized a transactional producer: the log has no fenced or transactional
    # errors, and records flow.
    assert read_committed(broker, topic, idle=1.0)
    records = broker_records(broker, f"{eos_cluster.group}-configs")
    assert any(k.startswith("task-seq-") for k, _ in records), records
    assert not [r for r in records if r[0].startswith("tasks-fencing-")], records
    assert "Transaction" not in w.log_text()
