"""A Python connector's `validate` is user code: however long it takes, it runs off the
worker's async runtime, so the REST API and the herder keep answering meanwhile."""

from __future__ import annotations

import textwrap
from concurrent.futures import ThreadPoolExecutor

from helpers import wait_until

PLUGINS = textwrap.dedent(
    """
    import os
    import threading
    import time

    from conveyor import SourceConnector, SourceTask


    class Idle(SourceTask):
        def poll(self):
            time.sleep(0.1)
            return []


    class SlowValidate(SourceConnector):
        task_class = Idle

        def validate(self, config):
            gate = config["gate.dir"]
            open(os.path.join(gate, f"started-{threading.get_ident()}"), "w").close()
            while not os.path.exists(os.path.join(gate, "release")):
                time.sleep(0.05)
            return {}
    """
)

# More validations at once than the async runtime has threads (one per core): had they run
# there, the last ones could not start and nothing else would be served.
CONCURRENT = 8


def test_slow_validations_do_not_stall_the_rest_api(tmp_path, start_worker):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slow_plugins.py").write_text(PLUGINS)
    gate = tmp_path / "gate"
    gate.mkdir()
    worker = start_worker(extra={"plugin.path": plugins})
    config = {"connector.class": "slow_plugins:SlowValidate", "gate.dir": str(gate), "name": "slow"}

    def validate(_):
        return worker.rest.put(
            "/connector-plugins/slow_plugins:SlowValidate/config/validate", config, timeout=180
        )

    with ThreadPoolExecutor(CONCURRENT) as pool:
        answers = pool.map(validate, range(CONCURRENT))
        try:
            wait_until(
                lambda: len(list(gate.glob("started-*"))) == CONCURRENT,
                60,
                what=f"{CONCURRENT} validations running at once",
            )
            # Every validation is still waiting for the gate: the API answers all the same.
            assert worker.rest.get("/connectors", timeout=20).json() == []
            assert worker.rest.get("/health", timeout=20).status_code == 200
            assert not (gate / "release").exists()
        finally:
            (gate / "release").touch()
        results = list(answers)
    for r in results:
        assert r.status_code == 200, r.text
        assert r.json()["error_count"] == 0, r.json()
