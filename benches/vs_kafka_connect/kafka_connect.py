"""Apache Kafka Connect for the side-by-side benchmark: its jars from Maven Central, resolved once
into the cache as tests/services/kafka.py resolves the broker's, and worker processes started as
Kafka's ``connect-standalone.sh`` and ``connect-distributed.sh`` start them.

    python benches/vs_kafka_connect/kafka_connect.py fetch   # resolve Connect and Debezium's JDBC sink

What the scripts do (Kafka 4.x ``bin/``): ``connect-standalone.sh`` / ``connect-distributed.sh``
set ``KAFKA_HEAP_OPTS=-Xms256M -Xmx2G`` and ``-Dlog4j2.configurationFile=config/connect-log4j2.yaml``
when unset and exec ``kafka-run-class.sh`` with ``org.apache.kafka.connect.cli.ConnectStandalone``
or ``ConnectDistributed``; ``kafka-run-class.sh`` adds its default JVM performance and JMX options
and puts every jar of ``libs/`` on the classpath except ``connect-file-*.jar``, which Kafka's
quickstart loads through ``plugin.path``. The same command line is built here, with ``libs/``
being the jars Maven resolves for ``connect/pom.xml`` (Connect's modules and their dependencies;
the distribution's ``libs/`` also carries the broker, Streams and the tools, which Connect does
not load).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests" / "services"))

from kafka import MissingTool, _java_major, _require, cache_dir  # noqa: E402

CONNECT_POM = HERE / "connect" / "pom.xml"
DEBEZIUM_POM = HERE / "debezium-jdbc" / "pom.xml"
DEBEZIUM_POSTGRES_POM = HERE / "debezium-postgres" / "pom.xml"
LOG4J = HERE / "connect" / "log4j2.properties"

# connect-standalone.sh / connect-distributed.sh
HEAP_OPTS = ["-Xms256M", "-Xmx2G"]
# kafka-run-class.sh: KAFKA_JVM_PERFORMANCE_OPTS and KAFKA_JMX_OPTS defaults
JVM_PERFORMANCE_OPTS = [
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-Djava.awt.headless=true",
]
JMX_OPTS = [
    "-Dcom.sun.management.jmxremote=true",
    "-Dcom.sun.management.jmxremote.authenticate=false",
    "-Dcom.sun.management.jmxremote.ssl=false",
]
MAIN_CLASS = {
    "standalone": "org.apache.kafka.connect.cli.ConnectStandalone",
    "distributed": "org.apache.kafka.connect.cli.ConnectDistributed",
}


def _pom_property(pom: Path, name: str) -> str:
    m = re.search(rf"<{re.escape(name)}>([^<]+)</{re.escape(name)}>", pom.read_text())
    assert m, f"no <{name}> in {pom}"
    return m.group(1)


def connect_version() -> str:
    return _pom_property(CONNECT_POM, "connect.version")


def debezium_version() -> str:
    return _pom_property(DEBEZIUM_POM, "debezium.version")


def home() -> Path:
    """Where this Connect version's jars live: ``libs/`` (the classpath) and ``plugins/``, whose
    folders are ``plugin.path`` entries: ``plugins/file`` holds the FileStream connectors,
    ``plugins/jdbc`` Debezium's JDBC sink (one plugin folder each, as Connect expects)."""
    return cache_dir() / "kafka-connect" / connect_version()


def _resolve(pom: Path, out: Path, extra: list[str], verbose: bool) -> None:
    java = _require("java", "openjdk-17-jre-headless")
    if _java_major(java) < 17:
        raise MissingTool(
            f"Apache Kafka Connect {connect_version()} needs Java 17 or newer; `{java}` is older."
        )
    mvn = _require("mvn", "maven")
    tmp = out.with_name(out.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-f",
        str(pom),
        f"-Dmaven.repo.local={cache_dir() / 'm2'}",
        "dependency:copy-dependencies",
        "-DincludeScope=runtime",
        *extra,
        f"-DoutputDirectory={tmp}",
    ]
    result = subprocess.run(
        cmd,
        stdout=None if verbose else subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if result.returncode != 0:
        errors = [line for line in (result.stdout or "").splitlines() if "[ERROR]" in line][:3]
        raise RuntimeError(
            f"resolving {pom.parent.name} failed (exit {result.returncode}): {' '.join(cmd)}\n"
            + "\n".join(errors)
        )
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(out)


def ensure_connect(verbose: bool = True) -> Path:
    """Resolves Connect's jars once: ``libs/`` for the classpath, and the FileStream connectors'
    jar in ``plugins/file/connect-file/`` (the distribution keeps it off the classpath)."""
    libs = home() / "libs"
    marker = libs / ".complete"
    if marker.exists():
        return libs
    if verbose:
        print(f"==> Apache Kafka Connect {connect_version()}: resolving its jars into {home()}", flush=True)
    _resolve(CONNECT_POM, libs, [], verbose)
    plugin = connect_file_plugin_path() / "connect-file"
    shutil.rmtree(plugin, ignore_errors=True)
    plugin.mkdir(parents=True)
    for jar in libs.glob("connect-file-*.jar"):
        jar.rename(plugin / jar.name)
    marker.write_text(connect_version())
    return libs


def connect_file_plugin_path() -> Path:
    """The ``plugin.path`` entry with the FileStream connectors."""
    return home() / "plugins" / "file"


def ensure_debezium_jdbc(verbose: bool = True) -> Path:
    """Debezium's JDBC sink connector and the PostgreSQL driver, one plugin folder; returns the
    ``plugin.path`` entry that holds it. Raises RuntimeError, with Maven's errors, when they do
    not resolve."""
    entry = home() / "plugins" / "jdbc"
    plugin = entry / f"debezium-connector-jdbc-{debezium_version()}"
    marker = plugin / ".complete"
    if marker.exists():
        return entry
    if verbose:
        print(f"==> Debezium JDBC sink {debezium_version()}: resolving its jars into {plugin}", flush=True)
    # The Connect runtime provides Kafka's classes, and Jackson: a second jackson-databind in the
    # plugin clashes with the modules the runtime's ServiceLoader finds (Hibernate fails with
    # "Jdk8Module not a subtype").
    _resolve(
        DEBEZIUM_POM,
        plugin,
        [
            "-DexcludeGroupIds=org.apache.kafka",
            "-DexcludeArtifactIds=jackson-core,jackson-databind,jackson-annotations,slf4j-api",
        ],
        verbose,
    )
    marker.write_text(debezium_version())
    return entry


def ensure_debezium_postgres(verbose: bool = True) -> Path:
    """Debezium's PostgreSQL source connector, one plugin folder; returns the ``plugin.path``
    entry that holds it. Raises RuntimeError, with Maven's errors, when it does not resolve."""
    version = _pom_property(DEBEZIUM_POSTGRES_POM, "debezium.version")
    entry = home() / "plugins" / "debezium-postgres"
    plugin = entry / f"debezium-connector-postgres-{version}"
    marker = plugin / ".complete"
    if marker.exists():
        return entry
    if verbose:
        print(f"==> Debezium PostgreSQL connector {version}: resolving its jars into {plugin}", flush=True)
    _resolve(
        DEBEZIUM_POSTGRES_POM,
        plugin,
        [
            "-DexcludeGroupIds=org.apache.kafka",
            "-DexcludeArtifactIds=jackson-core,jackson-databind,jackson-annotations,slf4j-api",
        ],
        verbose,
    )
    marker.write_text(version)
    return entry


def classpath(libs: Path) -> str:
    """``libs/*`` as kafka-run-class.sh builds it: every jar but connect-file's."""
    jars = sorted(p for p in libs.glob("*.jar") if not p.name.startswith("connect-file-"))
    return ":".join(str(p) for p in jars)


def command(mode: str, worker_properties: Path, connector_files: list[Path], logs_dir: Path) -> list[str]:
    """The java command line connect-standalone.sh / connect-distributed.sh run."""
    libs = ensure_connect(verbose=False)
    return [
        _require("java", "openjdk-17-jre-headless"),
        *HEAP_OPTS,
        *JVM_PERFORMANCE_OPTS,
        *JMX_OPTS,
        f"-Dkafka.logs.dir={logs_dir}",
        f"-Dlog4j2.configurationFile={LOG4J}",
        "-cp",
        classpath(libs),
        MAIN_CLASS[mode],
        str(worker_properties),
        *(str(f) for f in connector_files),
    ]


def main(argv: list[str]) -> int:
    if len(argv) > 1 and argv[1] != "fetch":
        print(f"usage: {argv[0]} fetch", file=sys.stderr)
        return 2
    try:
        print(f"Apache Kafka Connect {connect_version()} jars in {ensure_connect()}")
        print(f"FileStream connectors in {connect_file_plugin_path()}")
    except MissingTool as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        print(f"Debezium JDBC sink in {ensure_debezium_jdbc()}")
    except RuntimeError as e:
        print(f"Debezium's JDBC sink did not resolve: {e}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
