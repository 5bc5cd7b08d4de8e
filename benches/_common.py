"""Shared pieces of the benchmark scripts: Apache Kafka, a worker process, RSS."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "services"))

from kafka import ApacheKafka  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cache_dir() -> Path:
    return Path(os.environ.get("CONVEYOR_CACHE") or Path.home() / ".cache" / "conveyor")


class Kafka:
    """Apache Kafka (one KRaft node, from the jars the test suite uses) for one benchmark run."""

    def __init__(self):
        self.node = ApacheKafka(heap="1g")
        self.bootstrap = self.node.bootstrap

    def create_topic(self, name: str, partitions: int = 1) -> str:
        from confluent_kafka.admin import AdminClient, NewTopic

        admin = AdminClient({"bootstrap.servers": self.bootstrap})
        for f in admin.create_topics([NewTopic(name, partitions, 1)]).values():
            f.result(timeout=30)
        return name

    def stop(self):
        self.node.stop()
        shutil.rmtree(self.node.workdir, ignore_errors=True)


def conveyor_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("conveyor")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "conveyor"]


class Worker:
    """A `conveyor standalone` process, or with a `group` a `conveyor distributed` one."""

    def __init__(
        self,
        workdir: Path,
        bootstrap: str,
        extra: dict | None = None,
        group: str | None = None,
        name: str = "worker",
    ):
        self.port = free_port()
        props = {
            "bootstrap.servers": bootstrap,
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "offset.flush.interval.ms": "1000",
            "listeners": f"http://127.0.0.1:{self.port}",
        }
        if group:
            props.update(
                {
                    "group.id": group,
                    **{f"{t}.storage.topic": f"{group}-{t}" for t in ("config", "offset", "status")},
                    **{f"{t}.storage.replication.factor": 1 for t in ("config", "offset", "status")},
                }
            )
        else:
            props["offset.storage.file.filename"] = workdir / "offsets"
        props.update(extra or {})
        (workdir / f"{name}.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        self.log = open(workdir / f"{name}.log", "wb")
        self.started = time.time()
        self.proc = subprocess.Popen(
            [*conveyor_cmd(), "distributed" if group else "standalone", str(workdir / f"{name}.properties")],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "CONVEYOR_LOG_LEVEL": "WARN"},
        )
        self.base = f"http://127.0.0.1:{self.port}"
        self.worker_id = f"127.0.0.1:{self.port}"
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if requests.get(self.base + "/health", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("worker did not start")

    def create(self, name: str, config: dict):
        r = requests.post(
            self.base + "/connectors",
            json={"name": name, "config": {k: str(v) for k, v in config.items()}},
            timeout=30,
        )
        r.raise_for_status()

    def connectors(self) -> list[str]:
        return requests.get(self.base + "/connectors", timeout=30).json()

    def delete(self, name: str):
        requests.delete(self.base + f"/connectors/{name}", timeout=60).raise_for_status()

    def rss_mb(self) -> float:
        return rss_mb(self.proc.pid)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(60)

    def kill(self):
        self.proc.kill()
        self.proc.wait(60)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
