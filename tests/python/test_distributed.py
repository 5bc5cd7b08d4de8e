"""Distributed mode: several ``conveyor distributed`` processes on loopback forming one Connect
cluster through Apache Kafka, with state in the internal topics."""

from __future__ import annotations

import json
import re
import time
from collections import Counter

import pytest
from helpers import WorkerProcess, read_lines, unique, wait_until


@pytest.fixture
def cluster(tmp_path, broker):
    """Starts distributed workers of one group; kills whatever is left after the test."""
    started: list[WorkerProcess] = []
    group = unique("cluster")

    def start(name: str, wait: bool = True, **kw) -> WorkerProcess:
        kw.setdefault("group", group)
        w = WorkerProcess.distributed(tmp_path, broker.bootstrap, name=name, wait=wait, **kw)
        started.append(w)
        return w

    start.group = group
    yield start
    for w in started:
        w.kill()


def statuses(worker: WorkerProcess) -> dict:
    r = worker.rest.get("/connectors", params={"expand": "status"})
    assert r.status_code == 200, r.text
    return {name: v["status"] for name, v in r.json().items()}


def placement(status: dict) -> dict[tuple[str, int], str]:
    """(connector, task) -> worker_id of every RUNNING task."""
    return {
        (name, t["id"]): t["worker_id"]
        for name, s in status.items()
        for t in s["tasks"]
        if t["state"] == "RUNNING"
    }


def all_running(worker: WorkerProcess, expected_tasks: dict[str, int], alive: set[str]) -> dict | None:
    """The status when every connector and expected task runs on a live worker, else None."""
    s = statuses(worker)
    for name, count in expected_tasks.items():
        st = s.get(name)
        if not st or st["connector"]["state"] != "RUNNING" or st["connector"]["worker_id"] not in alive:
            return None
        if len(st["tasks"]) != count:
            return None
        if any(t["state"] != "RUNNING" or t["worker_id"] not in alive for t in st["tasks"]):
            return None
    return s


def wait_cluster(predicate, timeout: float, what: str, worker: WorkerProcess):
    """``wait_until`` that shows the cluster's statuses when it times out."""
    try:
        return wait_until(predicate, timeout, what=what)
    except AssertionError as e:
        raise AssertionError(f"{e}\nstatuses: {json.dumps(statuses(worker), indent=1)}") from None


def task_starts(workers: list[WorkerProcess]) -> Counter:
    """How many times each task was started, from the workers' logs."""
    starts: Counter = Counter()
    pattern = re.compile(r"task\{connector=(\S+) task=(\d+)\}: \S+: task starting")
    for w in workers:
        for m in pattern.finditer(w.log_text()):
            starts[(m.group(1), int(m.group(2)))] += 1
    return starts


def committed_offsets(worker: WorkerProcess, connector: str) -> list[int]:
    """The committed offsets of a connector (``GET /connectors/{c}/offsets``), as numbers: a
    FileStreamSource's file position, or a sink's consumer offset per partition."""
    r = worker.rest.get(f"/connectors/{connector}/offsets")
    assert r.status_code == 200, r.text
    return [next(iter(o["offset"].values())) for o in r.json()["offsets"]]


def worker_id(w: WorkerProcess) -> str:
    return f"127.0.0.1:{w.port}"


def test_tasks_spread_move_without_restarts_and_survive_a_kill(cluster, broker, tmp_path):
    topic = broker.create_topic(unique("lines"), partitions=6)
    source_file, sink_file = tmp_path / "in.txt", tmp_path / "out.txt"
    source_file.write_text("".join(f"line-{i}\n" for i in range(3000)))
    workers = [cluster(f"w{i}") for i in range(1, 4)]
    w1 = workers[0]
    w1.create(
        "src",
        {"connector.class": "FileStreamSource", "file": source_file, "topic": topic, "tasks.max": 1},
    )
    w1.create(
        "sink",
        {"connector.class": "FileStreamSink", "file": sink_file, "topics": topic, "tasks.max": 6},
    )
    expected = {"src": 1, "sink": 6}
    alive = {worker_id(w) for w in workers}

    def balanced(spread: list[int]):
        s = all_running(w1, expected, alive)
        counts = Counter(placement(s).values()) if s else Counter()
        return s if set(counts) == alive and sorted(counts.values()) == spread else None

    # Tasks spread over all three workers, evenly (7 tasks: 3, 2, 2).
    status = wait_cluster(lambda: balanced([2, 2, 3]), 90, "all tasks RUNNING, spread evenly", w1)
    wait_until(lambda: len(read_lines(sink_file)) >= 3000, 60, what="first 3000 lines")

    # A fourth worker: some tasks move to it; the others are never restarted.
    before = placement(status)
    starts_before = task_starts(workers)
    w4 = cluster("w4")
    workers.append(w4)
    alive.add(worker_id(w4))

    def moved_to_w4():
        s = all_running(w1, expected, alive)
        return s if s and worker_id(w4) in placement(s).values() else None

    wait_cluster(moved_to_w4, 60, "a task RUNNING on the fourth worker", w1)
    after = placement(wait_cluster(lambda: balanced([1, 2, 2, 2]), 60, "tasks spread over four", w1))
    starts_after = task_starts(workers)
    moved = {t for t in before if after[t] != before[t]}
    assert moved, (before, after)
    for t in before:
        if t in moved:
            assert after[t] == worker_id(w4), (t, before[t], after[t])
        else:
            assert starts_after[t] == starts_before[t], f"{t} was restarted without moving"

    # kill -9 the worker running the source task once every offset is committed, the source's
    # (its position is the whole file) and the sink's (all 6000 records): everything then runs
    # elsewhere, the source resumes where the killed one stopped and nothing is replayed.
    victim = next(w for w in workers if worker_id(w) == after[("src", 0)])
    with open(source_file, "a") as f:
        f.write("".join(f"line-{i}\n" for i in range(3000, 6000)))
    wait_until(lambda: len(read_lines(sink_file)) >= 6000, 60, what="lines flowing before the kill")
    wait_until(
        lambda: committed_offsets(w1, "src") == [source_file.stat().st_size],
        60,
        what="the source's offset committed at the end of the file",
    )
    wait_until(
        lambda: sum(committed_offsets(w1, "sink")) == 6000,
        60,
        what="the sink's consumer offsets committed for all 6000 records",
    )
    victim.kill()
    killed_at = time.time()
    alive.discard(worker_id(victim))
    survivor = next(w for w in workers if w is not victim)
    wait_cluster(
        lambda: all_running(survivor, expected, alive), 60, "all tasks RUNNING after the kill", survivor
    )
    recovered_in = time.time() - killed_at
    print(f"all tasks RUNNING again {recovered_in:.1f} s after kill -9")
    with open(source_file, "a") as f:
        f.write("".join(f"line-{i}\n" for i in range(6000, 9000)))
    want = {f"line-{i}" for i in range(9000)}
    wait_until(lambda: want <= set(read_lines(sink_file)), 120, what="every line in the sink file")
    lines = read_lines(sink_file)
    dupes = len(lines) - len(set(lines))
    print(f"{dupes} lines replayed after the kill (at-least-once)")
    assert set(lines) == want
    # Everything was committed before the kill, so nothing is replayed.
    assert dupes == 0, Counter(line for line, n in Counter(lines).items() if n > 1)


def test_targets_and_configs_come_back_from_kafka(cluster, broker, tmp_path):
    topic = broker.create_topic(unique("t"))
    a, b = cluster("a"), cluster("b")
    for name in ("running", "paused", "stopped"):
        a.create(
            name,
            {
                "connector.class": "FileStreamSink",
                "file": tmp_path / f"{name}.txt",
                "topics": topic,
                "tasks.max": 2,
            },
        )
    assert b.rest.put("/connectors/paused/pause").status_code == 202
    assert a.rest.put("/connectors/stopped/stop").status_code == 204
    wait_until(lambda: statuses(b)["paused"]["connector"]["state"] == "PAUSED", 60, what="paused")
    wait_until(
        lambda: (
            statuses(a)["stopped"]["connector"]["state"] == "STOPPED"
            and statuses(a)["stopped"]["tasks"] == []
        ),
        60,
        what="stopped, with no tasks",
    )
    assert a.stop() == 0
    assert b.stop() == 0

    c = cluster("c")
    assert sorted(c.rest.get("/connectors").json()) == ["paused", "running", "stopped"]

    def back():
        s = statuses(c)
        states = {n: (s[n]["connector"]["state"], [t["state"] for t in s[n]["tasks"]]) for n in s}
        return states == {
            "running": ("RUNNING", ["RUNNING", "RUNNING"]),
            "paused": ("PAUSED", ["PAUSED", "PAUSED"]),
            "stopped": ("STOPPED", []),
        }

    wait_until(back, 60, what="every connector back in its target state")
    assert c.rest.get("/connectors/running/config").json()["file"] == str(tmp_path / "running.txt")

    # The config topic holds Kafka Connect's record format.
    records = broker.consume(f"{cluster.group}-configs", 1000, timeout=8)
    by_key = {m.key().decode(): m.value() for m in records}
    assert json.loads(by_key["connector-running"])["properties"]["topics"] == topic
    assert json.loads(by_key["target-state-stopped"]) == {"state": "PAUSED", "state.v2": "STOPPED"}
    assert json.loads(by_key["target-state-paused"]) == {"state": "PAUSED", "state.v2": "PAUSED"}
    assert json.loads(by_key["commit-running"]) == {"tasks": 2}


def test_a_stored_connector_that_cannot_start_fails_alone(cluster, broker, tmp_path):
    """Records in the config topic that no longer start (a name with control characters,
    written before names were checked, with task configs) fail only that connector: running
    and joining workers stay healthy."""
    topic = broker.create_topic(unique("t"))
    a = cluster("a")
    source = tmp_path / "in.txt"
    source.write_text("a\n")
    config = {"connector.class": "FileStreamSource", "file": str(source), "topic": topic}
    configs = f"{cluster.group}-configs"
    for name in ("bad\x07name", "bad\x00name"):
        properties = {**config, "name": name}
        broker.produce(configs, [json.dumps({"properties": properties})], key=f"connector-{name}".encode())
    task = {
        **config,
        "name": "bad\x00name",
        "task.class": "org.apache.kafka.connect.file.FileStreamSourceTask",
    }
    broker.produce(configs, [json.dumps({"properties": task})], key=b"task-bad\x00name-0")
    broker.produce(configs, [json.dumps({"tasks": 1})], key=b"commit-bad\x00name")
    a.create("good", config)
    b = cluster("b")  # joins, and is healthy

    def failed(worker, name):
        s = statuses(worker).get(name)
        return s if s and s["connector"]["state"] == "FAILED" else None

    for name, code in (("bad\x07name", "7"), ("bad\x00name", "0")):
        s = wait_until(lambda name=name: failed(b, name), 60, what=f"{name!r} FAILED")
        assert f"following ASCII chars: {code}" in s["connector"]["trace"], s
    wait_until(
        lambda: [t["state"] for t in statuses(a)["bad\x00name"]["tasks"]] == ["FAILED"],
        60,
        what="task FAILED",
    )
    wait_until(lambda: all_running(a, {"good": 1}, {a.rest.base[7:], b.rest.base[7:]}), 60, what="good runs")
    for w in (a, b):
        assert w.rest.get("/health").status_code == 200
        assert w.proc.poll() is None
    assert a.rest.delete("/connectors/bad%00name").status_code == 204
    wait_until(lambda: "bad\x00name" not in a.rest.get("/connectors").json(), 30, what="deleted")


def test_writes_to_a_follower_are_forwarded_even_when_the_leader_dies(cluster, broker, tmp_path):
    topic = broker.create_topic(unique("t"))
    x, y = cluster("x"), cluster("y")
    wait_until(lambda: "Joined group" in y.log_text() and "Joined group" in x.log_text(), 30, what="joined")
    config = {"connector.class": "FileStreamSink", "file": tmp_path / "o.txt", "topics": topic}
    # A write to the follower is forwarded to the leader and says so in the follower's log. The
    # leader can change while connectors are created (each one means a rebalance), so try both.
    forwarded = "forwarding the request to the leader"
    follower = None
    for i in range(6):
        w = (x, y)[i % 2]
        before = w.log_text().count(forwarded)
        created = w.create(f"c{i}", config)
        assert created["name"] == f"c{i}"
        if w.log_text().count(forwarded) > before:
            follower = w
            break
    assert follower is not None, "no write was forwarded"
    leader = y if follower is x else x
    wait_until(
        lambda: "c" + str(i) in leader.rest.get("/connectors").json(), 30, what="visible on the leader"
    )
    dup = leader.rest.post("/connectors", {"name": f"c{i}", "config": {k: str(v) for k, v in config.items()}})
    assert dup.status_code == 409
    assert dup.json() == {"error_code": 409, "message": f"Connector c{i} already exists"}
    missing = follower.rest.put("/connectors/nope/pause")
    assert missing.status_code == 404
    assert missing.json()["message"] == "Connector nope not found"

    # The leader dies; a write sent to the follower waits for the new leader instead of failing.
    leader.kill()
    started = time.time()
    r = follower.rest.post(
        "/connectors",
        {"name": "after-leader-died", "config": {k: str(v) for k, v in config.items()}},
        timeout=90,
    )
    assert r.status_code == 201, r.text
    print(f"write answered {time.time() - started:.1f} s after the leader died")
    # Either the forward failed and was retried, or the request waited for the rebalance that
    # made this worker the leader: both answer without an error.
    wait_until(
        lambda: (
            statuses(follower).get("after-leader-died", {}).get("connector", {}).get("state") == "RUNNING"
        ),
        60,
        what="the new connector RUNNING",
    )


def test_workers_with_other_internal_topics_are_refused(cluster, broker, tmp_path):
    first = cluster("first")
    wait_until(lambda: "Joined group" in first.log_text(), 30, what="first joined")
    other = cluster(
        "other",
        wait=False,
        extra={"config.storage.topic": f"{cluster.group}-other-configs"},
    )
    code = other.proc.wait(60)
    assert code != 0
    log = other.log_text()
    assert "differ from the rest of group" in log and "-other-configs" in log, log
    assert first.rest.get("/health").status_code == 200


def test_internal_topic_that_is_not_compacted_is_refused(cluster, broker):
    from confluent_kafka.admin import NewTopic

    group = unique("bad")
    name = f"{group}-configs"
    admin = broker.admin()
    for f in admin.create_topics([NewTopic(name, 1, 1, config={"cleanup.policy": "delete"})]).values():
        f.result(30)
    w = cluster("w", group=group, wait=False)
    assert w.proc.wait(60) != 0
    log = w.log_text()
    assert "cleanup.policy=compact" in log and name in log, log


def test_restart_through_any_worker_restarts_the_tasks_where_they_run(cluster, broker, tmp_path):
    topic = broker.create_topic(unique("t"), partitions=2)
    a, b = cluster("a"), cluster("b")
    a.create(
        "s",
        {"connector.class": "FileStreamSink", "file": tmp_path / "s.txt", "topics": topic, "tasks.max": 2},
    )
    alive = {worker_id(a), worker_id(b)}
    wait_cluster(lambda: all_running(b, {"s": 2}, alive), 60, "both tasks RUNNING", b)
    starts = task_starts([a, b])
    assert starts[("s", 0)] == starts[("s", 1)] == 1, starts
    r = b.rest.post("/connectors/s/restart", params={"includeTasks": "true"})
    assert r.status_code == 202, r.text
    assert {t["state"] for t in r.json()["tasks"]} == {"RESTARTING"}
    wait_until(
        lambda: task_starts([a, b])[("s", 0)] == 2 and task_starts([a, b])[("s", 1)] == 2,
        60,
        what="both tasks started again, wherever they run",
    )
    wait_cluster(lambda: all_running(a, {"s": 2}, alive), 60, "both tasks RUNNING again", a)
    # A single task restart goes to the worker that runs it.
    r = a.rest.post("/connectors/s/tasks/1/restart")
    assert r.status_code == 204, r.text
    wait_until(lambda: task_starts([a, b])[("s", 1)] == 3, 60, what="task 1 started a third time")
    assert task_starts([a, b])[("s", 0)] == 2
