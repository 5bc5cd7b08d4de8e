"""Apache Kafka for the tests and benchmarks: the broker's jars from Maven Central, resolved once
into the cache, and a single KRaft node (broker and controller in one process) on free ports.

    python tests/services/kafka.py fetch      # resolve the jars (scripts/test.sh does this)
    python tests/services/kafka.py run        # a broker in the foreground, for trying things

A test asks for listeners; each gets a free port. The controller and the inter-broker listener
are plaintext and internal, so a test can make every client-facing listener secure and still
create SCRAM users or topics through ``admin_bootstrap``.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
POM = HERE / "kafka" / "pom.xml"
LOG4J = HERE / "kafka" / "log4j2.yaml"


def cache_dir() -> Path:
    base = os.environ.get("CONVEYOR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "conveyor"
    )
    return Path(base)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kafka_version() -> str:
    """The version pinned in the pom (its one home)."""
    m = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    assert m, f"no <kafka.version> in {POM}"
    return m.group(1)


class MissingTool(RuntimeError):
    """Java or Maven is not installed: the message says what to install."""


def _require(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if not path:
        raise MissingTool(
            f"`{tool}` was not found on PATH. The tests run Apache Kafka from Maven Central's jars and "
            f"need Java 17 or newer and Maven: on Debian, `apt-get install {package}`."
        )
    return path


def _java_major(java: str) -> int:
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return 0
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def libs_dir(version: str | None = None) -> Path:
    return cache_dir() / "kafka" / (version or kafka_version()) / "libs"


def ensure_jars(verbose: bool = True) -> Path:
    """Resolves the broker's jars into the cache once; later calls only check the marker."""
    libs = libs_dir()
    marker = libs / ".complete"
    if marker.exists():
        return libs
    java = _require("java", "openjdk-17-jre-headless")
    if _java_major(java) < 17:
        raise MissingTool(f"Apache Kafka {kafka_version()} needs Java 17 or newer; `{java}` is older.")
    mvn = _require("mvn", "maven")
    if verbose:
        print(
            f"==> Apache Kafka {kafka_version()}: resolving its jars from Maven Central into {libs}",
            flush=True,
        )
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-f",
        str(POM),
        f"-Dmaven.repo.local={cache_dir() / 'm2'}",
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}",
    ]
    # Maven's own lines ("Downloaded from central: ...") are the progress a first run shows.
    out = None if verbose else subprocess.DEVNULL
    result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT if not verbose else None)
    if result.returncode != 0:
        raise RuntimeError(
            f"resolving Apache Kafka's jars failed (exit {result.returncode}): {' '.join(cmd)}"
        )
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    marker.write_text(kafka_version())
    return libs


@dataclass
class Listener:
    """A client-facing listener. ``protocol`` is Kafka's security protocol (PLAINTEXT, SSL,
    SASL_PLAINTEXT, SASL_SSL); ``props`` are broker settings for it without the
    ``listener.name.<name>.`` prefix (keystores, JAAS configs, client auth)."""

    name: str
    protocol: str = "PLAINTEXT"
    props: dict[str, str] = field(default_factory=dict)
    port: int = 0

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"


class ApacheKafka:
    """One running KRaft node. ``bootstrap`` is the first listener's address."""

    def __init__(
        self,
        workdir: Path | None = None,
        listeners: list[Listener] | None = None,
        extra: dict[str, str] | None = None,
        jvm_opts: list[str] | None = None,
        heap: str = "768m",
    ):
        self.libs = ensure_jars(verbose=False)
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="apache-kafka-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.listeners = listeners or [Listener("PLAINTEXT")]
        for listener in self.listeners:
            listener.port = listener.port or free_port()
        self.internal_port = free_port()
        self.controller_port = free_port()
        self.log = self.workdir / "kafka.log"
        self.properties = self.workdir / "server.properties"
        self.properties.write_text(self._server_properties(extra or {}))
        self.java = _require("java", "openjdk-17-jre-headless")
        self._jvm = [
            self.java,
            f"-Xmx{heap}",
            "-Xms256m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={LOG4J}",
            *(jvm_opts or []),
            "-cp",
            f"{self.libs}/*",
        ]
        self.proc: subprocess.Popen | None = None
        self._format()
        self.start()

    @property
    def bootstrap(self) -> str:
        return self.listeners[0].address

    @property
    def admin_bootstrap(self) -> str:
        """The internal plaintext listener: no authentication, for test set-up only."""
        return f"127.0.0.1:{self.internal_port}"

    def listener(self, name: str) -> Listener:
        return next(entry for entry in self.listeners if entry.name == name)

    def _server_properties(self, extra: dict[str, str]) -> str:
        names = [entry.name for entry in self.listeners]
        assert "INTERNAL" not in names and "CONTROLLER" not in names, "reserved listener names"
        listeners = [f"{entry.name}://{entry.address}" for entry in self.listeners]
        protocols = [f"{entry.name}:{entry.protocol}" for entry in self.listeners]
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": ",".join(
                [
                    *listeners,
                    f"INTERNAL://127.0.0.1:{self.internal_port}",
                    f"CONTROLLER://127.0.0.1:{self.controller_port}",
                ]
            ),
            "advertised.listeners": ",".join([*listeners, f"INTERNAL://127.0.0.1:{self.internal_port}"]),
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "INTERNAL",
            "listener.security.protocol.map": ",".join(
                [*protocols, "INTERNAL:PLAINTEXT", "CONTROLLER:PLAINTEXT"]
            ),
            "log.dirs": str(self.workdir / "data"),
            # One node: every internal topic has one replica, and fewer partitions start faster.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "5",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "transaction.state.log.num.partitions": "5",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "num.partitions": "1",
            "num.network.threads": "2",
            "num.io.threads": "4",
            "log.segment.bytes": str(64 * 1024 * 1024),
        }
        for entry in self.listeners:
            prefix = f"listener.name.{entry.name.lower()}."
            for k, v in entry.props.items():
                props[k if k.startswith("listener.name.") else prefix + k] = v
        props.update(extra)
        return "".join(f"{k}={v}\n" for k, v in props.items())

    def _format(self) -> None:
        # The tool may log a line before the id: the id is the last line.
        printed = subprocess.run(
            [*self._jvm, "kafka.tools.StorageTool", "random-uuid"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        cluster_id = printed[-1] if printed else uuid.uuid4().hex[:22]
        result = subprocess.run(
            [*self._jvm, "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.properties)],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"formatting Kafka's storage failed:\n{result.stdout}\n{result.stderr}")

    def start(self, timeout: float = 90) -> None:
        """Starts the broker (again, after ``stop``, on the same ports and data)."""
        out = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [*self._jvm, "kafka.Kafka", str(self.properties)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Apache Kafka exited with {self.proc.returncode}:\n{self.log_tail(60)}")
            if "Kafka Server started" in self.log.read_text(errors="replace"):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"Apache Kafka did not start within {timeout}s:\n{self.log_tail(60)}")

    def log_tail(self, lines: int = 40) -> str:
        if not self.log.exists():
            return ""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, timeout: float = 30) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "fetch"
    try:
        if command == "fetch":
            print(f"Apache Kafka {kafka_version()} jars in {ensure_jars(verbose=True)}")
            return 0
        if command == "run":
            kafka = ApacheKafka()
            print(f"Apache Kafka {kafka_version()} on {kafka.bootstrap} (log: {kafka.log}); Ctrl-C stops it")
            # `kill` (SIGTERM) stops the broker too, rather than leaving the JVM running alone.
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            try:
                kafka.proc.wait()
            except KeyboardInterrupt:
                kafka.stop()
            return 0
    except MissingTool as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"usage: {argv[0]} fetch|run", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
