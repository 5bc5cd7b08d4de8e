"""The example plugin package, installed with pip as a user would: its entry points work in
a standalone worker against tansu, `conveyor plugins` lists them, and its own tests pass."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import conveyor_cmd, read_lines, unique, wait_until, write_properties

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "python-connector"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """pip-installs the example into this environment (once), from a copy so that the build
    leaves nothing in the source tree."""
    copy = tmp_path_factory.mktemp("example") / "python-connector"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", str(copy)],
        check=True,
    )
    return copy


def test_entry_points_are_listed_with_their_version(installed):
    out = subprocess.run(
        [*conveyor_cmd(), "plugins", "--json"], capture_output=True, text=True, check=True
    ).stdout
    plugins = json.loads(out)
    # Entry point names are listed as aliases.
    for expected in (
        {
            "class": "conveyor_example.counter.CounterSource",
            "type": "source",
            "version": "0.1.0",
            "aliases": ["counter"],
        },
        {
            "class": "conveyor_example.jsonl_sink.JsonLinesSink",
            "type": "sink",
            "version": "0.1.0",
            "aliases": ["jsonl-sink"],
        },
        {
            "class": "conveyor_example.uppercase.UppercaseField",
            "type": "transformation",
            "version": "0.1.0",
            "aliases": ["uppercase"],
        },
    ):
        assert expected in plugins


def test_example_connectors_by_entry_point_name(installed, tmp_path, broker, start_worker):
    topic = broker.create_topic(unique("numbers"))
    out = tmp_path / "numbers.jsonl"
    source = write_properties(
        tmp_path / "counter.properties",
        {
            "name": "counter",
            "connector.class": "counter",
            "topic": topic,
            "max.messages": 500,
            "batch.size": 50,
            "transforms": "up",
            "transforms.up.type": "uppercase",
            "transforms.up.field": "text",
        },
    )
    sink = write_properties(
        tmp_path / "sink.properties",
        {
            "name": "to-file",
            "connector.class": "jsonl-sink",
            "topics": topic,
            "path": out,
        },
    )
    worker = start_worker(
        source,
        sink,
        extra={
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
        },
    )
    worker.rest.wait_running("counter")
    worker.rest.wait_running("to-file")
    wait_until(lambda: len(read_lines(out)) >= 500, 60, what="500 lines in the sink file")
    assert worker.stop() == 0
    lines = [json.loads(line) for line in read_lines(out)]
    assert lines == [{"id": n, "text": f"MESSAGE {n}"} for n in range(1, 501)]


def test_the_examples_own_tests_pass(installed):
    r = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(installed / "tests")],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stdout + r.stderr
