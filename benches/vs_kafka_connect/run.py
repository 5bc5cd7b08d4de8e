"""Conveyor side by side with Apache Kafka Connect 4.x, on one Apache Kafka broker, in one run.

Kafka Connect's jars come from Maven Central (``kafka_connect.py``) and its workers start as
Kafka's ``connect-standalone.sh`` / ``connect-distributed.sh`` start them, with their default heap
(``-Xms256M -Xmx2G``). For each workload both systems get the same worker properties file and
the same connector properties files (W4 names each system's own JDBC sink, and W5's files name
each system's own group and topics). Each workload runs ``--rounds`` times per system, the order
alternating between rounds; the table shows medians and the ratio Conveyor / Connect.

Workloads (``--workloads``):

- W1: FileStreamSource to Kafka, ``--records`` lines of ``--record-bytes``.
- W2: Kafka to FileStreamSink, the same records (StringConverter).
- W3: Kafka to FileStreamSink with JsonConverter (``schemas.enable=true``) and five SMTs (Cast,
  ReplaceField, InsertField, TimestampConverter, MaskField).
- W4: Kafka to PostgreSQL in upsert mode: Conveyor's JDBC sink against Debezium's JDBC sink on
  Kafka Connect (``--w4-records`` records over ``--w4-keys`` keys, JSON with schemas).
- W5: distributed, 3 workers, a 12-task sink: a 4th worker's start to its first task RUNNING,
  then ``kill -9`` of a worker to every task RUNNING again; with each system's defaults, then
  with equal settings (``scheduled.rebalance.max.delay.ms=0``, ``session.timeout.ms=10000``,
  ``heartbeat.interval.ms=3000``).
- W6: one idle standalone worker with 20 FileStreamSink connectors: RSS and threads.

How W1-W4 are measured, per system and round:

1. Idle: the worker starts with its connector file while there is nothing to move (W1's input
   file does not exist yet; the sinks' consumer groups are committed at the end of their
   topics). Timed: process start -> ``GET /connectors`` answers -> connector and task RUNNING.
   After ``--settle`` seconds the idle RSS is read (VmRSS); then the worker stops (SIGTERM).
2. Run: the data is made available (the input file appears, the groups go back to offset 0) and
   the worker starts again. Progress (records in the topic, lines in the output file, or the
   highest ``seq`` in the table) and the process's own CPU time (``/proc/<pid>/stat`` utime +
   stime of all its threads; neither system starts child processes) are sampled every
   ``--interval`` seconds. The window runs from the last sample with no record moved to the
   first with all of them moved: records/s and CPU seconds per million records come from it.
   Peak RSS is VmHWM at the end. The result is then checked (every record arrived).

The targets from issue 12 are printed next to the figures (they are not asserted):
on W1-W4 Conveyor does at least 2x Connect's records per CPU-second (CPU per record <= 0.5x), at
no more than 1/10 of its RSS, and starts in at most 1/10 of its time; on W5 it recovers at least
10x faster with the defaults and is no slower with equal settings.

Needs Java 17+ and Maven (Apache Kafka and Kafka Connect from Maven Central), PostgreSQL's
server packages for W4, and Conveyor's release build in the running virtualenv.

    python benches/vs_kafka_connect/run.py [--workloads W1,W2,W3,W4,W5,W6] [--records 1000000]
        [--record-bytes 1024] [--rounds 3] [--w4-records N] [--w4-keys N] [--w5-timeout 900]
        [--w6-connectors 20] [--settle 5] [--systems conveyor,connect] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import kafka_connect  # noqa: E402
from _common import ROOT, Kafka, conveyor_cmd, free_port  # noqa: E402

CONVEYOR = "Conveyor"
CONNECT = "Kafka Connect"
SYSTEM_KEYS = {"conveyor": CONVEYOR, "connect": CONNECT}
CLK_TCK = os.sysconf("SC_CLK_TCK")
STRING_CONVERTER = "org.apache.kafka.connect.storage.StringConverter"
JSON_CONVERTER = "org.apache.kafka.connect.json.JsonConverter"
FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"


def short(system: str) -> str:
    return "conveyor" if system == CONVEYOR else "connect"


# --------------------------------------------------------------------------- processes


def write_properties(path: Path, props: dict) -> Path:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    return path


def read_properties(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            k, _, v = line.partition("=")
            out[k.strip()] = v.strip()
    return out


def command(system: str, mode: str, worker: Path, connectors: list[Path], logs: Path) -> list[str]:
    if system == CONVEYOR:
        return [*conveyor_cmd(), mode, str(worker), *(str(c) for c in connectors)]
    return kafka_connect.command(mode, worker, connectors, logs)


class Process:
    """A worker process of either system, with its REST address and /proc readings."""

    def __init__(self, system: str, cmd: list[str], log: Path, port: int):
        self.system = system
        self.log = log
        self.base = f"http://127.0.0.1:{port}"
        self.worker_id = f"127.0.0.1:{port}"
        with open(log, "ab") as out:
            self.started = time.monotonic()
            self.popen = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def cpu_seconds(self) -> float:
        """utime + stime of every thread of the process (children not included)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
        raise KeyError(key)

    def rss_mb(self) -> float:
        return self._status("VmRSS") / 1024

    def peak_rss_mb(self) -> float:
        return self._status("VmHWM") / 1024

    def threads(self) -> int:
        return self._status("Threads")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def _check_alive(self, what: str) -> None:
        if not self.alive():
            raise RuntimeError(
                f"{self.system} exited ({self.popen.returncode}) while waiting for {what}; "
                f"log {self.log}:\n{self.log_tail()}"
            )

    def get(self, path: str, timeout: float = 5) -> requests.Response | None:
        try:
            return requests.get(self.base + path, timeout=timeout)
        except requests.RequestException:
            return None

    def wait_rest(self, timeout: float) -> float:
        """Seconds from process start to the first 200 from ``GET /connectors``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive("its REST API")
            r = self.get("/connectors", timeout=1)
            if r is not None and r.status_code == 200:
                return time.monotonic() - self.started
            time.sleep(0.02)
        raise RuntimeError(f"{self.system}: REST did not answer within {timeout:.0f} s; log {self.log}")

    def check_not_failed(self, names) -> None:
        """Raises with the trace when a connector or one of its tasks is FAILED."""
        for name in names:
            r = self.get(f"/connectors/{name}/status", timeout=5)
            if r is None or r.status_code != 200:
                continue
            status = r.json()
            for part in [status["connector"], *status["tasks"]]:
                if part["state"] == "FAILED":
                    raise RuntimeError(
                        f"{self.system}: connector {name} FAILED:\n{(part.get('trace') or '')[:3000]}"
                    )

    def wait_running(self, expected: dict[str, int], timeout: float) -> float:
        """Seconds from process start until every connector in ``expected`` and its
        ``expected[name]`` tasks are RUNNING. A FAILED connector or task is an error."""
        deadline = time.monotonic() + timeout
        pending = dict(expected)
        while time.monotonic() < deadline:
            self._check_alive("its tasks to run")
            for name in list(pending):
                r = self.get(f"/connectors/{name}/status", timeout=2)
                if r is None or r.status_code != 200:
                    continue
                status = r.json()
                states = [status["connector"]["state"], *(t["state"] for t in status["tasks"])]
                if "FAILED" in states:
                    self.check_not_failed([name])
                if len(status["tasks"]) == pending[name] and all(s == "RUNNING" for s in states):
                    del pending[name]
            if not pending:
                return time.monotonic() - self.started
            time.sleep(0.02)
        raise RuntimeError(
            f"{self.system}: {sorted(pending)} not RUNNING within {timeout:.0f} s; log {self.log}"
        )

    def stop(self, timeout: float = 60) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        if self.alive():
            self.popen.kill()
        self.popen.wait(60)


# --------------------------------------------------------------------------- the run's setting


@dataclass
class Env:
    args: argparse.Namespace
    kafka: Kafka
    work: Path
    port: int  # the standalone workers' REST port (one worker runs at a time)
    systems: list[str]
    pg: object | None = None
    pg_dsn: dict = field(default_factory=dict)
    debezium: Path | None = None
    debezium_error: str | None = None

    def plugin_path(self, *extra: Path) -> str:
        return ",".join(str(p) for p in [kafka_connect.connect_file_plugin_path(), *extra])

    def standalone_worker(self, name: str, extra: dict | None = None) -> Path:
        """One worker properties file, given to both systems."""
        props = {
            "bootstrap.servers": self.kafka.bootstrap,
            "key.converter": STRING_CONVERTER,
            "value.converter": STRING_CONVERTER,
            "offset.storage.file.filename": self.work / f"{name}.offsets",
            # Kafka's config/connect-standalone.properties sets 10000 (the default is 60000).
            "offset.flush.interval.ms": 10000,
            "listeners": f"http://127.0.0.1:{self.port}",
            "plugin.path": self.plugin_path(),
            **(extra or {}),
        }
        return write_properties(self.work / f"{name}-worker.properties", props)


def set_group_offsets(env: Env, group: str, topic: str, offsets: list[int], timeout: float = 90) -> None:
    """Commits ``offsets`` (one per partition) for ``group`` from outside the group; retries
    while the group still has members (a worker that just stopped may not have left yet)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": env.kafka.bootstrap, "group.id": group, "enable.auto.commit": False}
    )
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                consumer.commit(
                    offsets=[TopicPartition(topic, p, o) for p, o in enumerate(offsets)], asynchronous=False
                )
                return
            except Exception as e:  # noqa: BLE001 - group not empty yet: retry until the deadline
                if time.monotonic() > deadline:
                    raise RuntimeError(f"could not set the offsets of group {group}: {e!r}") from e
                time.sleep(1)
    finally:
        consumer.close()


def end_offsets(env: Env, topic: str, partitions: int = 1) -> list[int]:
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({"bootstrap.servers": env.kafka.bootstrap, "group.id": f"probe-{uuid.uuid4().hex[:6]}"})
    try:
        return [
            c.get_watermark_offsets(TopicPartition(topic, p), timeout=10, cached=False)[1]
            for p in range(partitions)
        ]
    finally:
        c.close()


def produce(env: Env, topic: str, values, keys=None) -> int:
    from confluent_kafka import Producer

    p = Producer(
        {
            "bootstrap.servers": env.kafka.bootstrap,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.kbytes": 1_048_576,
        }
    )
    n = 0
    for i, value in enumerate(values):
        key = keys(i) if keys else None
        while True:
            try:
                p.produce(topic, value=value, key=key)
                break
            except BufferError:
                p.poll(0.1)
        n += 1
        if n % 20_000 == 0:
            p.poll(0)
    if p.flush(300) != 0:
        raise RuntimeError(f"producing to {topic} did not complete")
    return n


# --------------------------------------------------------------------------- progress probes


class TopicProgress:
    """Records written to a topic since the probe was made (high watermarks)."""

    def __init__(self, env: Env, topic: str, partitions: int = 1):
        from confluent_kafka import Consumer, TopicPartition

        self.consumer = Consumer({"bootstrap.servers": env.kafka.bootstrap, "group.id": "probe"})
        self.tps = [TopicPartition(topic, p) for p in range(partitions)]
        self.base = self._total()

    def _total(self) -> int:
        return sum(self.consumer.get_watermark_offsets(tp, timeout=10, cached=False)[1] for tp in self.tps)

    def __call__(self) -> int:
        return self._total() - self.base

    def close(self) -> None:
        self.consumer.close()


class LineProgress:
    """Lines appended to a file (read incrementally)."""

    def __init__(self, path: Path):
        self.path = path
        self.pos = 0
        self.lines = 0

    def __call__(self) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                while chunk := f.read(1 << 22):
                    self.lines += chunk.count(b"\n")
                    self.pos += len(chunk)
        except FileNotFoundError:
            pass
        return self.lines

    def close(self) -> None:
        pass


class TableProgress:
    """``max(seq) + 1`` of a table (an index on ``seq`` keeps it cheap)."""

    def __init__(self, env: Env, table: str):
        import psycopg

        self.conn = psycopg.connect(**env.pg_dsn, autocommit=True)
        self.sql = f"SELECT coalesce(max(seq) + 1, 0) FROM {table}"

    def __call__(self) -> int:
        return self.conn.execute(self.sql).fetchone()[0]

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------------------- W1-W4


@dataclass
class Workload:
    """A standalone workload: the files both systems get and how to stage and probe it."""

    key: str
    title: str
    records: int
    worker: Callable[[str], Path]
    connectors: Callable[[str], list[Path]]
    expected: dict[str, int]
    before_idle: Callable[[str], None]
    before_run: Callable[[str], None]
    probe: Callable[[str], object]
    check: Callable[[str], str | None]  # an error text, or None
    interval: float = 0.05
    notes: list[str] = field(default_factory=list)


def line_of(i: int, size: int) -> str:
    head = f"{i:010d} "
    return head + "x" * (size - len(head))


def w1(env: Env) -> Workload:
    n, size = env.args.records, env.args.record_bytes
    topic = env.kafka.create_topic("w1-data")
    master = env.work / "w1-input.master"
    with open(master, "w") as f:
        for i in range(n):
            f.write(line_of(i, size) + "\n")
    input_path = env.work / "w1-input.txt"
    worker = env.standalone_worker("w1")
    connector = write_properties(
        env.work / "w1-source.properties",
        {
            "name": "w1-source",
            "connector.class": FILE_SOURCE,
            "tasks.max": 1,
            "file": input_path,
            "topic": topic,
        },
    )
    offsets = env.work / "w1.offsets"
    base: dict[str, int] = {}

    def before_idle(system):
        input_path.unlink(missing_ok=True)
        offsets.unlink(missing_ok=True)

    def before_run(system):
        offsets.unlink(missing_ok=True)
        input_path.unlink(missing_ok=True)
        base[system] = end_offsets(env, topic)[0]
        os.link(master, input_path)

    def check(system):
        got = end_offsets(env, topic)[0] - base[system]
        return None if got == n else f"{got} records in {topic}, expected {n}"

    return Workload(
        "W1",
        f"FileStreamSource -> Kafka, {n:,} lines of {size} B",
        n,
        lambda s: worker,
        lambda s: [connector],
        {"w1-source": 1},
        before_idle,
        before_run,
        lambda s: TopicProgress(env, topic),
        check,
    )


def file_sink_workload(env: Env, key: str, title: str, topic: str, extra: dict) -> Workload:
    n = env.args.records
    out = env.work / f"{key.lower()}-out.txt"
    name = f"{key.lower()}-sink"
    worker = env.standalone_worker(key.lower())
    connector = write_properties(
        env.work / f"{name}.properties",
        {"name": name, "connector.class": FILE_SINK, "tasks.max": 1, "file": out, "topics": topic, **extra},
    )
    group = f"connect-{name}"
    first_lines: dict[str, str] = {}

    def before_idle(system):
        out.unlink(missing_ok=True)
        set_group_offsets(env, group, topic, end_offsets(env, topic))

    def before_run(system):
        out.unlink(missing_ok=True)
        set_group_offsets(env, group, topic, [0])

    def check(system):
        lines = LineProgress(out)()
        with open(out, errors="replace") as f:
            first_lines[system] = f.readline().rstrip("\n")
        return None if lines == n else f"{lines} lines in {out}, expected {n}"

    w = Workload(
        key,
        title,
        n,
        lambda s: worker,
        lambda s: [connector],
        {name: 1},
        before_idle,
        before_run,
        lambda s: LineProgress(out),
        check,
    )
    w.first_lines = first_lines
    return w


def w2(env: Env) -> Workload:
    n, size = env.args.records, env.args.record_bytes
    topic = env.kafka.create_topic("w2-data")
    produce(env, topic, (line_of(i, size).encode() for i in range(n)))
    return file_sink_workload(env, "W2", f"Kafka -> FileStreamSink, {n:,} records of {size} B", topic, {})


W3_SCHEMA = {
    "type": "struct",
    "name": "bench.Order",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int64", "optional": False},
        {"field": "customer", "type": "string", "optional": False},
        {"field": "qty", "type": "int32", "optional": False},
        {"field": "price", "type": "double", "optional": False},
        {"field": "created", "type": "int64", "optional": False},
        {"field": "card", "type": "string", "optional": False},
        {"field": "internal", "type": "string", "optional": True},
        {"field": "note", "type": "string", "optional": False},
    ],
}

# The five SMTs of W3, as both systems get them.
W3_TRANSFORMS = {
    "transforms": "cast,fields,insert,ts,mask",
    "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
    "transforms.cast.spec": "qty:int64,price:float32",
    "transforms.fields.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "transforms.fields.exclude": "internal",
    "transforms.fields.renames": "customer:client",
    "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.insert.topic.field": "source_topic",
    "transforms.insert.offset.field": "source_offset",
    "transforms.ts.type": "org.apache.kafka.connect.transforms.TimestampConverter$Value",
    "transforms.ts.field": "created",
    "transforms.ts.target.type": "string",
    "transforms.ts.format": "yyyy-MM-dd'T'HH:mm:ss.SSS",
    "transforms.mask.type": "org.apache.kafka.connect.transforms.MaskField$Value",
    "transforms.mask.fields": "card",
    "transforms.mask.replacement": "****",
}


def w3_value(i: int, size: int) -> bytes:
    payload = {
        "id": i,
        "customer": f"customer-{i % 977}",
        "qty": i % 50,
        "price": (i % 1000) / 4,
        "created": 1_700_000_000_000 + i * 1000,
        "card": f"4111-1111-1111-{i % 10000:04d}",
        "internal": f"internal-{i}",
        "note": "",
    }
    value = {"schema": W3_SCHEMA, "payload": payload}
    pad = size - len(json.dumps(value, separators=(",", ":")))
    payload["note"] = "n" * max(pad, 0)
    return json.dumps(value, separators=(",", ":")).encode()


def w3(env: Env) -> Workload:
    n, size = env.args.records, env.args.record_bytes
    topic = env.kafka.create_topic("w3-data")
    produce(env, topic, (w3_value(i, size) for i in range(n)))
    extra = {
        "key.converter": STRING_CONVERTER,
        "value.converter": JSON_CONVERTER,
        "value.converter.schemas.enable": "true",
        **W3_TRANSFORMS,
    }
    return file_sink_workload(
        env,
        "W3",
        f"Kafka -> FileStreamSink, JsonConverter (schemas) + 5 SMTs, {n:,} records of ~{size} B",
        topic,
        extra,
    )


# Debezium's JDBC sink reads a record_key primary key from a struct key only.
W4_KEY_SCHEMA = {
    "type": "struct",
    "name": "bench.OrderKey",
    "optional": False,
    "fields": [{"field": "id", "type": "int64", "optional": False}],
}
W4_SCHEMA = {
    "type": "struct",
    "name": "bench.Order",
    "optional": False,
    "fields": [
        {"field": "id", "type": "int64", "optional": False},
        {"field": "customer", "type": "string", "optional": False},
        {"field": "item", "type": "string", "optional": True},
        {"field": "qty", "type": "int32", "optional": False},
        {"field": "price", "type": "double", "optional": False},
        {"field": "paid", "type": "boolean", "optional": False},
        {"field": "seq", "type": "int64", "optional": False},
    ],
}
W4_DDL = (
    "CREATE TABLE {t} (id BIGINT PRIMARY KEY, customer TEXT NOT NULL, item TEXT NULL, qty INT NOT NULL, "
    "price DOUBLE PRECISION NOT NULL, paid BOOLEAN NOT NULL, seq BIGINT NOT NULL); CREATE INDEX ON {t} (seq)"
)


def w4(env: Env) -> Workload:
    import psycopg

    n = env.args.w4_records or env.args.records
    keys = env.args.w4_keys or max(1, n // 10)
    topic = env.kafka.create_topic("w4-data")

    def value(seq: int) -> bytes:
        payload = {
            "id": seq % keys,
            "customer": f"customer-{seq % 977}",
            "item": f"item-{seq}",
            "qty": seq % 50,
            "price": (seq % 1000) / 4,
            "paid": seq % 3 == 0,
            "seq": seq,
        }
        return json.dumps({"schema": W4_SCHEMA, "payload": payload}).encode()

    produce(
        env,
        topic,
        (value(i) for i in range(n)),
        keys=lambda i: json.dumps({"schema": W4_KEY_SCHEMA, "payload": {"id": i % keys}}).encode(),
    )
    last = {}
    for seq in range(n):
        last[seq % keys] = seq
    expected = (len(last), sum(last.values()))
    url = f"jdbc:postgresql://127.0.0.1:{env.pg_dsn['port']}/{env.pg_dsn['dbname']}"
    converters = {
        "key.converter": JSON_CONVERTER,
        "key.converter.schemas.enable": "true",
        "value.converter": JSON_CONVERTER,
        "value.converter.schemas.enable": "true",
    }
    worker = env.standalone_worker(
        "w4", {"plugin.path": env.plugin_path(*([env.debezium] if env.debezium else []))}
    )
    files = {
        CONVEYOR: write_properties(
            env.work / "w4-conveyor-sink.properties",
            {
                "name": "w4-sink",
                "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
                "tasks.max": 1,
                "topics": topic,
                "connection.url": url,
                "connection.user": "postgres",
                "connection.password": "postgres",
                "insert.mode": "upsert",
                "pk.mode": "record_key",
                "pk.fields": "id",
                "table.name.format": "w4_conveyor",
                **converters,
            },
        ),
        CONNECT: write_properties(
            env.work / "w4-connect-sink.properties",
            {
                "name": "w4-sink",
                "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
                "tasks.max": 1,
                "topics": topic,
                "connection.url": url,
                "connection.username": "postgres",
                "connection.password": "postgres",
                "insert.mode": "upsert",
                "primary.key.mode": "record_key",
                "primary.key.fields": "id",
                "collection.name.format": "w4_connect",
                **converters,
            },
        ),
    }
    table = {CONVEYOR: "w4_conveyor", CONNECT: "w4_connect"}
    group = "connect-w4-sink"

    def reset_table(system):
        with psycopg.connect(**env.pg_dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE IF EXISTS {table[system]}")
            for statement in W4_DDL.format(t=table[system]).split("; "):
                conn.execute(statement)
            conn.execute("CHECKPOINT")

    def before_idle(system):
        reset_table(system)
        set_group_offsets(env, group, topic, end_offsets(env, topic))

    def before_run(system):
        reset_table(system)
        set_group_offsets(env, group, topic, [0])

    def check(system):
        with psycopg.connect(**env.pg_dsn) as conn:
            got = conn.execute(f"SELECT count(*), sum(seq) FROM {table[system]}").fetchone()
        got = (got[0], int(got[1] or 0))
        return (
            None if got == expected else f"{table[system]} has (rows, sum(seq)) = {got}, expected {expected}"
        )

    w = Workload(
        "W4",
        f"Kafka -> PostgreSQL upsert, {n:,} records over {keys:,} keys (JSON with schemas)",
        n,
        lambda s: worker,
        lambda s: [files[s]],
        {"w4-sink": 1},
        before_idle,
        before_run,
        lambda s: TableProgress(env, table[s]),
        check,
        interval=0.1,
    )
    w.notes.append(
        "W4: Conveyor runs its JDBC sink (io.confluent.connect.jdbc.JdbcSinkConnector); Kafka Connect "
        f"runs Debezium's JDBC sink {kafka_connect.debezium_version()} "
        "(io.debezium.connector.jdbc.JdbcSinkConnector) with the PostgreSQL driver. Same worker file, "
        "each its own connector file; the table exists beforehand (primary key id, index on seq)."
    )
    return w


def window(samples: list[tuple[float, int, float]], records: int) -> tuple[float, float]:
    """(seconds, CPU seconds) from the last sample with nothing moved to the first with all."""
    end = next(i for i, s in enumerate(samples) if s[1] >= records)
    start = max((i for i in range(end) if samples[i][1] == 0), default=None)
    if start is None:
        raise RuntimeError("records moved before the first sample; lower --interval")
    return samples[end][0] - samples[start][0], samples[end][2] - samples[start][2]


def standalone_round(env: Env, w: Workload, system: str, round_: int) -> dict:
    args = env.args
    tag = f"{w.key.lower()}-{short(system)}-r{round_ + 1}"
    logs = env.work / "logs"
    cmd = command(system, "standalone", w.worker(system), w.connectors(system), logs)
    result: dict = {}

    # 1. idle: start-up times and idle RSS
    w.before_idle(system)
    p = Process(system, cmd, logs / f"{tag}-idle.log", env.port)
    try:
        result["rest_s"] = p.wait_rest(args.start_timeout)
        result["running_s"] = p.wait_running(w.expected, args.start_timeout)
        time.sleep(args.settle)
        result["idle_rss_mb"] = p.rss_mb()
        result["idle_threads"] = p.threads()
    finally:
        p.stop()

    # 2. run: records/s, CPU, peak RSS
    w.before_run(system)
    probe = w.probe(system)
    p = Process(system, cmd, logs / f"{tag}-run.log", env.port)
    samples: list[tuple[float, int, float]] = []
    try:
        deadline = time.monotonic() + args.timeout
        next_status = time.monotonic() + 1
        while True:
            t = time.monotonic()
            done = probe()
            samples.append((t, done, p.cpu_seconds()))
            if done >= w.records:
                break
            p._check_alive(f"{w.records:,} records (moved {done:,})")
            if t > next_status:  # a failed task moves nothing more: stop waiting for it
                p.check_not_failed(w.expected)
                next_status = t + 1
            if t > deadline:
                raise RuntimeError(
                    f"{system}: {done:,} of {w.records:,} records after {args.timeout:.0f} s; log {p.log}"
                )
            time.sleep(w.interval)
        result["peak_rss_mb"] = p.peak_rss_mb()
        seconds, cpu = window(samples, w.records)
        result["records_per_s"] = w.records / seconds
        result["cpu_s_per_m"] = cpu / w.records * 1_000_000
    finally:
        p.stop()
        probe.close()
    error = w.check(system)
    if error:
        result["check"] = error
    return result


# --------------------------------------------------------------------------- W5


def placement(p: Process, name: str) -> dict[int, str] | None:
    r = p.get(f"/connectors/{name}/status", timeout=5)
    if r is None or r.status_code != 200:
        return None
    return {t["id"]: t["worker_id"] for t in r.json()["tasks"] if t["state"] == "RUNNING"}


def wait_for(predicate, timeout: float, what: str, procs: list[Process], poll: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        for p in procs:
            p._check_alive(what)
        time.sleep(poll)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")


W5_EQUAL = {"scheduled.rebalance.max.delay.ms": 0, "session.timeout.ms": 10000, "heartbeat.interval.ms": 3000}


def w5_round(env: Env, system: str, setting: str, round_: int) -> dict:
    tasks = env.args.w5_tasks
    group = f"w5-{short(system)}-{setting}-r{round_ + 1}-{uuid.uuid4().hex[:4]}"
    topic = env.kafka.create_topic(f"{group}-data", partitions=tasks)
    logs = env.work / "logs"
    connector = write_properties(
        env.work / f"{group}-sink.properties",
        {
            "name": "w5-sink",
            "connector.class": FILE_SINK,
            "tasks.max": tasks,
            "topics": topic,
            "file": os.devnull,
        },
    )
    procs: list[Process] = []

    def start_worker(i: int) -> Process:
        port = free_port()
        props = {
            "bootstrap.servers": env.kafka.bootstrap,
            "group.id": group,
            "config.storage.topic": f"{group}-configs",
            "offset.storage.topic": f"{group}-offsets",
            "status.storage.topic": f"{group}-status",
            "config.storage.replication.factor": 1,
            "offset.storage.replication.factor": 1,
            "status.storage.replication.factor": 1,
            "key.converter": STRING_CONVERTER,
            "value.converter": STRING_CONVERTER,
            "offset.flush.interval.ms": 10000,
            "listeners": f"http://127.0.0.1:{port}",
            "rest.advertised.host.name": "127.0.0.1",
            "rest.advertised.port": port,
            "plugin.path": env.plugin_path(),
            **(W5_EQUAL if setting == "equal" else {}),
        }
        worker = write_properties(env.work / f"{group}-w{i}.properties", props)
        p = Process(
            system, command(system, "distributed", worker, [], logs), logs / f"{group}-w{i}.log", port
        )
        procs.append(p)
        return p

    try:
        # The first worker creates the internal topics; the other two join once it answers.
        # (Three Conveyor workers started at the same instant can race on creating them: one
        # may read the new config topic's cleanup.policy as empty and refuse to start.)
        first = [start_worker(0)]
        first[0].wait_rest(env.args.start_timeout)
        first += [start_worker(1), start_worker(2)]
        for p in first[1:]:
            p.wait_rest(env.args.start_timeout)
        body = {"name": "w5-sink", "config": read_properties(connector)}

        def created():
            try:
                r = requests.post(first[0].base + "/connectors", json=body, timeout=30)
            except requests.RequestException:
                return False
            return r.status_code in (201, 409) and (r.status_code == 201 or "already exists" in r.text)

        wait_for(created, 120, "the connector to be created", first, poll=1)
        alive = {p.worker_id for p in first}

        def spread(workers: set[str]):
            q = placement(first[0], "w5-sink")
            return q if q and len(q) == tasks and set(q.values()) == workers else None

        wait_for(lambda: spread(alive), 180, f"{tasks} tasks RUNNING on 3 workers", procs)

        fourth = start_worker(3)
        join_ready = fourth.wait_rest(env.args.start_timeout)

        def joined():
            q = placement(first[0], "w5-sink")
            return q and fourth.worker_id in q.values()

        wait_for(joined, 300, "a task RUNNING on the 4th worker", procs)
        join_s = time.monotonic() - fourth.started
        alive.add(fourth.worker_id)
        try:
            wait_for(lambda: spread(alive), 120, f"{tasks} tasks RUNNING on 4 workers", procs)
        except RuntimeError:
            pass  # a cluster that leaves one worker short still has a worker to kill
        time.sleep(4)
        q = placement(first[0], "w5-sink") or {}
        victim = next(p for p in procs[1:] if p.worker_id in q.values())
        victim.kill()
        killed = time.monotonic()
        alive.discard(victim.worker_id)
        procs.remove(victim)

        def recovered():
            r = placement(first[0], "w5-sink")
            return r and len(r) == tasks and set(r.values()) <= alive

        wait_for(recovered, env.args.w5_timeout, f"every task RUNNING after kill -9 ({setting})", procs)
        return {"join_s": join_s, "join_rest_s": join_ready, "recover_s": time.monotonic() - killed}
    finally:
        for p in procs:
            p.kill()


# --------------------------------------------------------------------------- W6


def w6_round(env: Env, system: str, round_: int) -> dict:
    count = env.args.w6_connectors
    worker = env.standalone_worker("w6")
    connectors = []
    for i in range(count):
        topic = f"w6-t{i:02d}"
        connectors.append(
            write_properties(
                env.work / f"w6-sink-{i:02d}.properties",
                {
                    "name": f"w6-sink-{i:02d}",
                    "connector.class": FILE_SINK,
                    "tasks.max": 1,
                    "topics": topic,
                    "file": env.work / f"w6-out-{i:02d}.txt",
                },
            )
        )
    logs = env.work / "logs"
    p = Process(
        system,
        command(system, "standalone", worker, connectors, logs),
        logs / f"w6-{short(system)}-r{round_ + 1}.log",
        env.port,
    )
    try:
        rest = p.wait_rest(env.args.start_timeout)
        running = p.wait_running({f"w6-sink-{i:02d}": 1 for i in range(count)}, env.args.start_timeout)
        time.sleep(env.args.settle)
        return {"rest_s": rest, "running_s": running, "idle_rss_mb": p.rss_mb(), "idle_threads": p.threads()}
    finally:
        p.stop()


# --------------------------------------------------------------------------- the table


STANDALONE_METRICS = [
    ("records/s", "records_per_s", "{:,.0f}", None, ""),
    ("CPU s per 1M records", "cpu_s_per_m", "{:.2f}", 0.5, "<= 0.50x (2x records/CPU-s)"),
    ("idle RSS MB", "idle_rss_mb", "{:.1f}", 0.1, "<= 0.10x"),
    ("peak RSS MB", "peak_rss_mb", "{:.1f}", 0.1, "<= 0.10x"),
    ("start -> REST s", "rest_s", "{:.2f}", 0.1, "<= 0.10x"),
    ("start -> task RUNNING s", "running_s", "{:.2f}", 0.1, "<= 0.10x"),
    ("idle threads", "idle_threads", "{:.0f}", None, ""),
]


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def table_rows(
    results: dict, workloads: list[str], systems: list[str], w5_settings: list[str]
) -> list[list[str]]:
    rows = []

    def row(workload, label, values: dict[str, float | None], fmt, target, target_text):
        cells = [workload, label]
        for s in (CONVEYOR, CONNECT):
            v = values.get(s)
            cells.append("-" if s not in systems else ("n/a" if v is None else fmt.format(v)))
        ours, theirs = values.get(CONVEYOR), values.get(CONNECT)
        ratio = ours / theirs if ours is not None and theirs else None
        cells.append("-" if ratio is None else f"{ratio:.2f}x")
        cells.append(target_text or "-")
        cells.append("-" if target is None or ratio is None else ("met" if ratio <= target else "not met"))
        rows.append(cells)

    for w in workloads:
        per = results.get(w, {})
        if w in ("W1", "W2", "W3", "W4"):
            for label, key, fmt, target, text in STANDALONE_METRICS:
                vals = {s: median([r[key] for r in per.get(s, []) if key in r]) for s in systems}
                row(w, label, vals, fmt, target, text)
        elif w == "W5":
            for setting, recover_target, recover_text in (
                ("defaults", 0.1, "<= 0.10x (10x faster)"),
                ("equal", 1.0, "<= 1.00x (no slower)"),
            ):
                if setting not in w5_settings:
                    continue
                per_setting = per.get(setting, {})
                for label, key, target, text in (
                    (f"{setting}: 4th worker start -> its first task RUNNING s", "join_s", None, ""),
                    (f"{setting}: kill -9 -> all tasks RUNNING s", "recover_s", recover_target, recover_text),
                ):
                    vals = {s: median([r[key] for r in per_setting.get(s, []) if key in r]) for s in systems}
                    row(w, label, vals, "{:.1f}", target, text)
        elif w == "W6":
            for label, key, fmt in (
                ("idle RSS MB", "idle_rss_mb", "{:.1f}"),
                ("idle threads", "idle_threads", "{:.0f}"),
                ("start -> all RUNNING s", "running_s", "{:.2f}"),
            ):
                vals = {s: median([r[key] for r in per.get(s, []) if key in r]) for s in systems}
                row(w, label, vals, fmt, None, "")
    return rows


def print_table(rows: list[list[str]]) -> None:
    header = ["workload", "metric", CONVEYOR, CONNECT, "Conveyor/Connect", "target", "met"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    right = {2, 3, 4}

    def line(cells):
        out = []
        for i, c in enumerate(cells):
            out.append(str(c).rjust(widths[i]) if i in right else str(c).ljust(widths[i]))
        return "| " + " | ".join(out) + " |"

    print(line(header))
    print(
        "|"
        + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2) for i, w in enumerate(widths))
        + "|"
    )
    for r in rows:
        print(line(r))


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    system = f"{platform.system()} {platform.release()}"
    return f"{os.cpu_count()} CPUs ({model or platform.machine()}), {mem_gb:.0f} GiB, {system}"


def conveyor_version() -> str:
    r = subprocess.run([*conveyor_cmd(), "version"], capture_output=True, text=True)
    return (r.stdout or r.stderr).strip().splitlines()[0] if (r.stdout or r.stderr).strip() else "?"


# --------------------------------------------------------------------------- main


def run_rounds(what: str, systems: list[str], rounds: int, run, describe, errors: list[str]) -> dict:
    """``run(system, round)`` for every round and system, the order alternating between rounds;
    {system: [result, ...]}. A failed run is reported and the others go on."""
    out: dict[str, list[dict]] = {}
    for r in range(rounds):
        for system in systems if r % 2 == 0 else systems[::-1]:
            label = f"  {what} round {r + 1} {system:<13}"
            try:
                res = run(system, r)
            except Exception as e:  # noqa: BLE001 - report, then go on
                errors.append(f"{what} round {r + 1} {system}: {e}")
                print(f"{label} FAILED: {e}", flush=True)
                traceback.print_exc(limit=2)
                continue
            out.setdefault(system, []).append(res)
            print(f"{label} {describe(res)}", flush=True)
            if "check" in res:
                errors.append(f"{what} round {r + 1} {system}: {res['check']}")
    return out


def describe_standalone(res: dict) -> str:
    return (
        f"{res['records_per_s']:>10,.0f} rec/s  {res['cpu_s_per_m']:7.2f} CPU s/1M  "
        f"idle {res['idle_rss_mb']:7.1f} MB  peak {res['peak_rss_mb']:7.1f} MB  "
        f"REST {res['rest_s']:5.2f} s  RUNNING {res['running_s']:5.2f} s"
        + (f"  CHECK: {res['check']}" if "check" in res else "")
    )


def describe_w5(res: dict) -> str:
    return (
        f"4th worker: REST {res['join_rest_s']:5.2f} s, first task RUNNING {res['join_s']:6.1f} s; "
        f"kill -9 -> all RUNNING {res['recover_s']:6.1f} s"
    )


def describe_w6(res: dict) -> str:
    return (
        f"idle {res['idle_rss_mb']:7.1f} MB, {res['idle_threads']} threads; "
        f"all RUNNING {res['running_s']:5.2f} s"
    )


def start_postgres(env: Env, tmp: Path) -> None:
    sys.path.insert(0, str(ROOT / "tests" / "services"))
    import psycopg
    from postgres import TestPostgres

    pg_dir = Path(tempfile.mkdtemp(prefix="conveyor-vs-connect-pg-"))
    env.pg = TestPostgres.start(pg_dir)
    with psycopg.connect(
        host="127.0.0.1", port=env.pg.port, user="postgres", dbname="test", autocommit=True
    ) as c:
        c.execute("CREATE DATABASE bench")
    env.pg_dsn = {"host": "127.0.0.1", "port": env.pg.port, "user": "postgres", "dbname": "bench"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6", help="comma-separated, e.g. W1,W3")
    parser.add_argument("--records", type=int, default=1_000_000, help="records of W1-W3 (and W4 by default)")
    parser.add_argument(
        "--record-bytes", type=int, default=1024, help="bytes per W1/W2 line and W3 JSON value"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds per workload and system (order alternates)"
    )
    parser.add_argument("--w4-records", type=int, default=0, help="records of W4 (default: --records)")
    parser.add_argument("--w4-keys", type=int, default=0, help="distinct keys of W4 (default: records / 10)")
    parser.add_argument("--w5-tasks", type=int, default=12)
    parser.add_argument(
        "--w5-settings",
        default="defaults,equal",
        help="defaults, equal or both (Connect's defaults take ~5 min a round)",
    )
    parser.add_argument(
        "--w5-timeout", type=float, default=900, help="seconds to wait for recovery after kill -9"
    )
    parser.add_argument("--w6-connectors", type=int, default=20)
    parser.add_argument(
        "--settle", type=float, default=5, help="seconds between RUNNING and the idle RSS reading"
    )
    parser.add_argument("--interval", type=float, default=0.05, help="sampling interval of W1-W3 (W4: 0.1 s)")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds one W1-W4 run may take")
    parser.add_argument("--start-timeout", type=float, default=300, help="seconds a worker may take to start")
    parser.add_argument("--systems", default="conveyor,connect", help="conveyor, connect or both")
    parser.add_argument("--json", type=Path, help="also write every round's figures to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (logs, files)")
    args = parser.parse_args()

    workloads = [w.strip().upper() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in workloads if w not in ("W1", "W2", "W3", "W4", "W5", "W6")]
    if unknown:
        parser.error(f"unknown workloads {unknown}")
    systems = [SYSTEM_KEYS[s.strip()] for s in args.systems.split(",") if s.strip()]
    w5_settings = [s.strip() for s in args.w5_settings.split(",") if s.strip()]
    if set(w5_settings) - {"defaults", "equal"}:
        parser.error("--w5-settings takes defaults, equal or both")

    started = datetime.now(timezone.utc)
    print(f"==> {started:%Y-%m-%d %H:%M} UTC on {machine()}", flush=True)
    if CONNECT in systems:
        kafka_connect.ensure_connect()
    print(
        f"    Conveyor {conveyor_version()} ({conveyor_cmd()[0]}); Apache Kafka Connect "
        f"{kafka_connect.connect_version()}; broker: Apache Kafka {kafka_version()}",
        flush=True,
    )
    work = Path(tempfile.mkdtemp(prefix="conveyor-vs-connect-"))
    (work / "logs").mkdir()
    print(f"    work directory: {work}", flush=True)
    kafka = Kafka()
    env = Env(args=args, kafka=kafka, work=work, port=free_port(), systems=systems)
    results: dict = {}
    notes: list[str] = []
    errors: list[str] = []
    try:
        if "W4" in workloads:
            if CONNECT in systems:
                try:
                    env.debezium = kafka_connect.ensure_debezium_jdbc()
                except RuntimeError as e:
                    env.debezium_error = str(e)
                    notes.append(
                        "W4: Debezium's JDBC sink did not resolve from Maven Central, so Kafka Connect "
                        f"has no JDBC sink to run: {e.args[0].splitlines()[0]}"
                    )
                    print(f"!!  {notes[-1]}", flush=True)
            try:
                start_postgres(env, work)
            except Exception as e:  # noqa: BLE001 - the other workloads still run
                notes.append(f"W4 skipped: PostgreSQL did not start: {e}")
                print(f"!!  {notes[-1]}", flush=True)
                workloads.remove("W4")
        builders = {"W1": w1, "W2": w2, "W3": w3, "W4": w4}
        for key in workloads:
            if key in builders:
                print(f"\n==> {key}: preparing", flush=True)
                w = builders[key](env)
                print(f"==> {w.key}: {w.title}", flush=True)
                notes.extend(w.notes)
                runs = [s for s in systems if not (key == "W4" and s == CONNECT and env.debezium is None)]
                results[key] = run_rounds(
                    key,
                    runs,
                    args.rounds,
                    lambda s, r, w=w: standalone_round(env, w, s, r),
                    describe_standalone,
                    errors,
                )
                for system, first in getattr(w, "first_lines", {}).items():
                    print(f"  first output line, {system}: {first[:160]}", flush=True)
            elif key == "W5":
                print(
                    f"\n==> W5: distributed, 3 workers + 1, a {args.w5_tasks}-task FileStreamSink; "
                    f"settings: {', '.join(w5_settings)}",
                    flush=True,
                )
                results["W5"] = {
                    setting: run_rounds(
                        f"W5 {setting}",
                        systems,
                        args.rounds,
                        lambda s, r, setting=setting: w5_round(env, s, setting, r),
                        describe_w5,
                        errors,
                    )
                    for setting in w5_settings
                }
            elif key == "W6":
                print(
                    f"\n==> W6: one idle standalone worker, {args.w6_connectors} FileStreamSink connectors",
                    flush=True,
                )
                for i in range(args.w6_connectors):
                    kafka.create_topic(f"w6-t{i:02d}")
                results["W6"] = run_rounds(
                    "W6", systems, args.rounds, lambda s, r: w6_round(env, s, r), describe_w6, errors
                )
    finally:
        kafka.stop()
        if env.pg is not None:
            env.pg.stop()
            shutil.rmtree(env.pg.directory, ignore_errors=True)

    print()
    print(
        f"Conveyor vs Apache Kafka Connect {kafka_connect.connect_version()}, "
        f"medians of {args.rounds} rounds, "
        f"{started:%Y-%m-%d}, {machine()}"
    )
    w4_records = args.w4_records or args.records
    sizes = {
        "W1": f"W1-W3: {args.records:,} records of {args.record_bytes} B",
        "W4": f"W4: {w4_records:,} records over {args.w4_keys or max(1, w4_records // 10):,} keys",
        "W5": f"W5: {args.w5_tasks} tasks, settings {', '.join(w5_settings)}",
        "W6": f"W6: {args.w6_connectors} connectors",
    }
    shown = [sizes["W1"]] if {"W1", "W2", "W3"} & set(workloads) else []
    shown += [sizes[w] for w in ("W4", "W5", "W6") if w in workloads]
    print("; ".join(shown))
    print()
    print_table(table_rows(results, workloads, systems, w5_settings))
    for note in notes:
        print(f"\nNote: {note}")
    if errors:
        print("\nErrors:")
        for e in errors:
            print(f"  {e}")
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "date": started.isoformat(),
                    "machine": machine(),
                    "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                    "connect_version": kafka_connect.connect_version(),
                    "results": results,
                    "notes": notes,
                    "errors": errors,
                },
                indent=2,
            )
        )
    if args.keep or errors:
        print(f"\nwork directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if errors else 0


def kafka_version() -> str:
    from kafka import kafka_version as version

    return version()


if __name__ == "__main__":
    sys.exit(main())
