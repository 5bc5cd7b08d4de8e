"""Shared fixtures: Apache Kafka (one KRaft node for the whole session), the test-owned
PostgreSQL, and standalone Conveyor workers started as a user would start them (the
``conveyor`` command). A failed test's report ends with the broker's log file and its tail."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from helpers import Broker, WorkerProcess  # noqa: E402
from postgres import TestPostgres  # noqa: E402

from kafka import ApacheKafka  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
_brokers: list[ApacheKafka] = []


@pytest.fixture(scope="session")
def kafka(tmp_path_factory) -> ApacheKafka:
    """Apache Kafka with one plaintext listener, shared by the session's tests."""
    node = ApacheKafka(tmp_path_factory.mktemp("kafka"))
    _brokers.append(node)
    yield node
    node.stop()
    _brokers.remove(node)


@pytest.fixture(scope="session")
def broker(kafka) -> Broker:
    return Broker(kafka.bootstrap, kafka)


@pytest.fixture(scope="session")
def postgres() -> TestPostgres:
    """The test-owned PostgreSQL: the one ``scripts/test.sh`` started (``CONVEYOR_TEST_PG_DIR``),
    or one of this session's own."""
    shared = os.environ.get("CONVEYOR_TEST_PG_DIR")
    if shared:
        directory = Path(shared)
        yield TestPostgres(directory, int((directory / "port").read_text()))
        return
    pg = TestPostgres.start(Path(tempfile.mkdtemp(prefix="conveyor-pg-")))
    yield pg
    pg.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and _brokers:
        for node in _brokers:
            report.sections.append(
                (f"Apache Kafka log ({node.log})", node.log_tail(30)),
            )
    return report


@pytest.fixture
def start_worker(tmp_path, broker):
    """Starts standalone workers (``conveyor standalone``); stops them after the test."""
    started: list[WorkerProcess] = []

    def start(*connector_files, extra: dict | None = None, config_dir=None, name="worker", **kw):
        w = WorkerProcess.standalone(
            tmp_path,
            broker.bootstrap,
            connector_files,
            extra=extra or {},
            config_dir=config_dir,
            name=name,
            **kw,
        )
        started.append(w)
        return w

    yield start
    for w in started:
        w.kill()
