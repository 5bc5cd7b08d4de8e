"""Test helpers: the broker handle, a worker process, a tiny REST client, and polling."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(
    predicate: Callable[[], Any], timeout: float = 30, interval: float = 0.2, what: str = "condition"
):
    """Polls ``predicate`` until it returns a truthy value; returns it or fails with ``what``."""
    deadline = time.time() + timeout
    last: Any = None
    while time.time() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - report the last failure below
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Broker:
    """A client's view of a running Kafka broker: admin, produce, consume. ``client`` holds the
    settings every client needs on top of ``bootstrap.servers`` (security, for a secured one)."""

    def __init__(self, bootstrap: str, node=None, client: dict | None = None):
        self.bootstrap = bootstrap
        self.node = node
        self.client = dict(client or {})

    def _config(self, **kw) -> dict:
        return {"bootstrap.servers": self.bootstrap, **self.client, **kw}

    def admin(self):
        from confluent_kafka.admin import AdminClient

        return AdminClient(self._config())

    def create_topic(self, name: str, partitions: int = 1) -> str:
        """Creates a topic through the Admin API; an existing one is fine."""
        from confluent_kafka.admin import NewTopic

        admin = self.admin()  # keep a reference: the futures die with the client
        futures = admin.create_topics([NewTopic(name, partitions, 1)])
        for f in futures.values():
            try:
                f.result(timeout=30)
            except Exception as e:  # noqa: BLE001
                if "already exists" not in str(e).lower() and "TOPIC_ALREADY_EXISTS" not in str(e):
                    raise
        return name

    def produce(
        self,
        topic: str,
        values: Iterable[bytes | str | None],
        key: bytes | None = None,
        headers=None,
        one_per_batch: bool = False,
    ):
        """Produces values in order; ``one_per_batch`` writes each record as its own batch."""
        from confluent_kafka import Producer

        p = Producer(self._config(**{"linger.ms": 0 if one_per_batch else 5}))
        for v in values:
            p.produce(topic, value=v, key=key, headers=headers)
            if one_per_batch:
                assert p.flush(30) == 0, "produce did not complete"
            p.poll(0)
        assert p.flush(30) == 0, "produce did not complete"

    def consume(self, topic: str, count: int, timeout: float = 30) -> list:
        """Reads ``count`` messages from the start of ``topic`` (all partitions)."""
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer(
            self._config(
                **{"group.id": unique("reader"), "enable.auto.commit": False, "fetch.wait.max.ms": 50}
            )
        )
        md = c.list_topics(topic, timeout=10)
        parts = [TopicPartition(topic, p, 0) for p in md.topics[topic].partitions]
        c.assign(parts)
        out = []
        deadline = time.time() + timeout
        while len(out) < count and time.time() < deadline:
            m = c.poll(0.5)
            if m is None or m.error():
                continue
            out.append(m)
        c.close()
        return out

    def committed(self, group: str, topic: str, partitions: int = 1) -> dict[int, int]:
        from confluent_kafka import Consumer, TopicPartition

        c = Consumer(self._config(**{"group.id": group, "enable.auto.commit": False}))
        res = c.committed([TopicPartition(topic, p) for p in range(partitions)], timeout=10)
        c.close()
        return {tp.partition: tp.offset for tp in res}


class Rest:
    """A minimal Kafka Connect REST client (what a user's script would do). ``base`` may be
    ``https://``; ``verify`` (a CA file), ``auth`` (user, password) and ``cert`` (certificate
    and key files) are passed to every request, as ``requests`` takes them."""

    def __init__(self, base: str, *, verify: Any = True, auth: Any = None, cert: Any = None):
        self.base = base.rstrip("/")
        self.verify = verify
        self.auth = auth
        self.cert = cert

    def using(self, **changes) -> Rest:
        """The same client with other ``verify``/``auth``/``cert`` settings."""
        options = {"verify": self.verify, "auth": self.auth, "cert": self.cert, **changes}
        return Rest(self.base, **options)

    def request(self, method: str, path: str, body: Any = None, **kw) -> requests.Response:
        kw.setdefault("timeout", 60)
        kw.setdefault("verify", self.verify)
        kw.setdefault("auth", self.auth)
        kw.setdefault("cert", self.cert)
        return requests.request(method, self.base + path, json=body, **kw)

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path: str, body: Any = None, **kw):
        return self.request("PUT", path, body, **kw)

    def delete(self, path: str, **kw):
        return self.request("DELETE", path, **kw)

    def status(self, name: str) -> dict:
        r = self.get(f"/connectors/{name}/status")
        r.raise_for_status()
        return r.json()

    def wait_running(self, name: str, tasks: int = 1, timeout: float = 60) -> dict:
        def ok():
            s = self.status(name)
            running = [t for t in s["tasks"] if t["state"] == "RUNNING"]
            return s if s["connector"]["state"] == "RUNNING" and len(running) >= tasks else None

        return wait_until(ok, timeout, what=f"{name} RUNNING with {tasks} task(s)")

    def wait_state(self, name: str, state: str, task: int | None = 0, timeout: float = 60) -> dict:
        def ok():
            s = self.status(name)
            if task is None:
                return s if s["connector"]["state"] == state else None
            return s if s["tasks"] and s["tasks"][task]["state"] == state else None

        return wait_until(ok, timeout, what=f"{name} task {task} {state}")


def write_properties(path: Path, props: dict[str, Any]) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return path


def conveyor_cmd() -> list[str]:
    """How to run the installed CLI (the console script next to this Python)."""
    exe = Path(sys.executable).with_name("conveyor")
    if exe.exists():
        return [str(exe)]
    return [sys.executable, "-m", "conveyor"]


class WorkerProcess:
    """A ``conveyor standalone`` or ``distributed`` process with its REST client. ``scheme``
    (``http`` or ``https``) is the listener's; ``rest_options`` (``verify``, ``auth``,
    ``cert``) go to the client."""

    def __init__(
        self,
        proc: subprocess.Popen,
        port: int,
        log: Path,
        args: list[str],
        env: dict,
        scheme: str = "http",
        rest_options: dict | None = None,
    ):
        self.proc = proc
        self.port = port
        self.log = log
        self.args = args
        self.env = env
        self.scheme = scheme
        self.rest_options = dict(rest_options or {})
        self.rest = Rest(f"{scheme}://127.0.0.1:{port}", **self.rest_options)

    @classmethod
    def standalone(
        cls,
        tmp: Path,
        bootstrap: str,
        connector_files=(),
        extra=None,
        config_dir=None,
        name="worker",
        port: int | None = None,
        wait: bool = True,
        offsets_file=None,
        stdin=None,
        env: dict | None = None,
        scheme: str = "http",
        rest_options: dict | None = None,
    ):
        port = port or free_port()
        props = {
            "bootstrap.servers": bootstrap,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "offset.storage.file.filename": offsets_file or (tmp / f"{name}.offsets"),
            "offset.flush.interval.ms": 500,
            "listeners": f"{scheme}://127.0.0.1:{port}",
            "consumer.fetch.wait.max.ms": 50,
        }
        props.update(extra or {})
        worker_file = write_properties(tmp / f"{name}.properties", props)
        args = [*conveyor_cmd(), "standalone", str(worker_file), *map(str, connector_files)]
        if config_dir:
            args += ["--config-dir", str(config_dir)]
        return cls.launch(
            args,
            port,
            tmp / f"{name}.log",
            wait=wait,
            stdin=stdin,
            env=env,
            scheme=scheme,
            rest_options=rest_options,
        )

    @classmethod
    def distributed(
        cls,
        tmp: Path,
        bootstrap: str,
        group: str,
        name: str,
        extra=None,
        port: int | None = None,
        wait: bool = True,
        env: dict | None = None,
        scheme: str = "http",
        rest_options: dict | None = None,
    ):
        """A ``conveyor distributed`` worker of ``group`` (internal topics named after it)."""
        port = port or free_port()
        props = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "config.storage.topic": f"{group}-configs",
            "offset.storage.topic": f"{group}-offsets",
            "status.storage.topic": f"{group}-status",
            "config.storage.replication.factor": 1,
            "offset.storage.replication.factor": 1,
            "status.storage.replication.factor": 1,
            "offset.storage.partitions": 3,
            "status.storage.partitions": 2,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "offset.flush.interval.ms": 500,
            "listeners": f"{scheme}://127.0.0.1:{port}",
            "consumer.fetch.wait.max.ms": 50,
        }
        props.update(extra or {})
        worker_file = write_properties(tmp / f"{name}.properties", props)
        args = [*conveyor_cmd(), "distributed", str(worker_file)]
        env = dict(os.environ if env is None else env)
        env.setdefault("RUST_LOG", "info,conveyor::rest=debug,conveyor::herder::distributed=debug")
        return cls.launch(
            args, port, tmp / f"{name}.log", wait=wait, env=env, scheme=scheme, rest_options=rest_options
        )

    @classmethod
    def launch(
        cls,
        args: list[str],
        port: int,
        log: Path,
        wait: bool = True,
        env=None,
        stdin=None,
        scheme: str = "http",
        rest_options: dict | None = None,
    ):
        env = dict(os.environ if env is None else env)
        env.setdefault("CONVEYOR_LOG_LEVEL", "INFO")
        out = open(log, "ab")
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, stdin=stdin)
        w = cls(proc, port, log, args, env, scheme=scheme, rest_options=rest_options)
        if wait:
            w.wait_healthy()
        return w

    def wait_healthy(self, timeout: float = 60):
        def ok():
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_text()}")
            return self.rest.get("/health").status_code == 200

        wait_until(ok, timeout, what="worker /health")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self, timeout: float = 60) -> int:
        """Graceful stop (SIGTERM), as a service manager would; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"worker did not stop within {timeout}s:\n{self.log_text()}") from None
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self, wait: bool = True) -> WorkerProcess:
        """Stops and starts the same worker. The process is replaced in this object, so the
        fixture that started it still stops it after the test."""
        self.stop()
        started = WorkerProcess.launch(
            self.args,
            self.port,
            self.log,
            wait=False,
            env=self.env,
            scheme=self.scheme,
            rest_options=self.rest_options,
        )
        self.proc = started.proc
        if wait:
            self.wait_healthy()
        return self

    def wait_exit(self, timeout: float = 60) -> int:
        """Waits for a worker that must stop by itself (a refused config); returns its exit code."""
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"worker still running after {timeout}s:\n{self.log_text()}") from None

    def create(self, name: str, config: dict, **kw) -> dict:
        r = self.rest.post(
            "/connectors", {"name": name, "config": {k: str(v) for k, v in config.items()}, **kw}
        )
        assert r.status_code == 201, r.text
        return r.json()


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def dump(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
