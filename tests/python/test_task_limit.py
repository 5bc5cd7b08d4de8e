"""The worker's task limit (``worker.tasks.max``): a connector asking for an absurd number of tasks
is refused with a clear error, tasks past the limit fail with the reason in their status, and the
worker stays healthy and small either way."""

from __future__ import annotations

from pathlib import Path

from helpers import unique, wait_until

LIMIT_TEXT = (
    "Invalid value 100000 for configuration tasks.max: this worker runs at most 1000 tasks "
    "(worker.tasks.max); lower tasks.max, or raise worker.tasks.max in the worker config if the "
    "worker can hold that many tasks"
)


def _proc_status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "Threads"):
            out[key] = int(value.split()[0])
    return out


def _sink(tmp_path, topic: str, tasks_max) -> dict:
    return {
        "connector.class": "FileStreamSink",
        "topics": topic,
        "file": str(tmp_path / f"{unique('out')}.txt"),
        "tasks.max": str(tasks_max),
    }


def test_absurd_tasks_max_is_refused_and_the_worker_stays_healthy(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("limit"))
    worker = start_worker()
    before = _proc_status(worker.proc.pid)

    # Create, as a hostile or careless user would.
    r = worker.rest.post("/connectors", {"name": "greedy", "config": _sink(tmp_path, topic, 100000)})
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["error_code"] == 400
    assert body["message"].startswith(
        "Connector configuration is invalid and contains the following 1 error(s):\n" + LIMIT_TEXT
    ), body["message"]

    # The same through PUT .../config, and validation says so on tasks.max.
    r = worker.rest.put("/connectors/greedy/config", _sink(tmp_path, topic, 100000))
    assert r.status_code == 400 and LIMIT_TEXT in r.json()["message"], r.text
    r = worker.rest.put(
        "/connector-plugins/FileStreamSinkConnector/config/validate",
        {**_sink(tmp_path, topic, 100000), "name": "greedy"},
    )
    assert r.status_code == 200, r.text
    infos = r.json()
    assert infos["error_count"] == 1
    tasks_max = next(c for c in infos["configs"] if c["value"]["name"] == "tasks.max")
    assert tasks_max["value"]["errors"] == [LIMIT_TEXT]

    # Nothing was created, nothing grew, and the worker still does its job.
    assert worker.rest.get("/connectors").json() == []
    assert worker.rest.get("/connectors/greedy/status").status_code == 404
    assert worker.rest.get("/health").status_code == 200
    after = _proc_status(worker.proc.pid)
    assert after["VmRSS"] - before["VmRSS"] < 50 * 1024, (before, after)
    assert after["Threads"] - before["Threads"] < 10, (before, after)
    worker.create("modest", _sink(tmp_path, topic, 2))
    worker.rest.wait_running("modest", tasks=2)


def test_tasks_past_the_worker_limit_fail_and_say_why(tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("limit"), partitions=2)
    worker = start_worker(extra={"worker.tasks.max": 3})
    worker.create("first", _sink(tmp_path, topic, 2))
    worker.rest.wait_running("first", tasks=2)

    # tasks.max=2 is within the limit, but the worker has room for one more task only.
    worker.create("second", _sink(tmp_path, topic, 2))

    def settled():
        s = worker.rest.status("second")
        return s if [t["state"] for t in s["tasks"]] == ["RUNNING", "FAILED"] else None

    status = wait_until(settled, 60, what="second-0 RUNNING and second-1 FAILED")
    assert status["connector"]["state"] == "RUNNING"
    trace = status["tasks"][1]["trace"]
    assert trace.startswith(
        "org.apache.kafka.connect.errors.ConnectException: Task second-1 was not started: this worker "
        "already runs 3 tasks, the most worker.tasks.max=3 allows."
    ), trace
    assert worker.rest.get("/health").status_code == 200

    # A tasks.max above this worker's own limit is refused at creation.
    r = worker.rest.post("/connectors", {"name": "third", "config": _sink(tmp_path, topic, 4)})
    assert r.status_code == 400 and "this worker runs at most 3 tasks (worker.tasks.max)" in r.text, r.text

    # Room made, the failed task restarts.
    assert worker.rest.delete("/connectors/first").status_code == 204
    assert worker.rest.post("/connectors/second/tasks/1/restart").status_code == 204
    wait_until(
        lambda: [t["state"] for t in worker.rest.status("second")["tasks"]] == ["RUNNING", "RUNNING"],
        60,
        what="second-1 RUNNING after the restart",
    )
