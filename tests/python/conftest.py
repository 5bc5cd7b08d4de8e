"""Shared fixtures: a real Kafka-protocol broker (tansu) per test session, and standalone
Conveyor workers started as a user would start them (the ``conveyor`` command)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers import Broker, WorkerProcess, free_port  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TANSU_VERSION = "0.6.0"


def _cache_dir() -> Path:
    base = os.environ.get("CONVEYOR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "conveyor"
    )
    return Path(base)


def tansu_binary() -> str:
    """The tansu broker: $TANSU, ../shared/bin/tansu, the cache, or built with cargo."""
    candidates = [
        os.environ.get("TANSU"),
        str(ROOT.parent / "shared" / "bin" / "tansu"),
        str(_cache_dir() / "tansu" / "bin" / "tansu"),
        shutil.which("tansu"),
    ]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    root = _cache_dir() / "tansu"
    print(f"building tansu {TANSU_VERSION} into {root} (about 7 minutes, once)", file=sys.stderr)
    subprocess.run(
        [
            "cargo",
            "install",
            "tansu",
            "--version",
            TANSU_VERSION,
            "--locked",
            "--features",
            "dynostore",
            "--root",
            str(root),
        ],
        check=True,
    )
    return str(root / "bin" / "tansu")


@pytest.fixture(scope="session")
def broker(tmp_path_factory) -> Broker:
    """A tansu broker on a free port for the whole session."""
    port = free_port()
    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                tansu_binary(),
                "broker",
                "--storage-engine",
                "memory://tansu/",
                "--listener-url",
                f"tcp://127.0.0.1:{port}",
                "--advertised-listener-url",
                f"tcp://127.0.0.1:{port}",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"tansu exited early: {log.read_text()}") from None
            time.sleep(0.1)
    b = Broker(f"127.0.0.1:{port}", proc, log)
    yield b
    b.stop()


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
