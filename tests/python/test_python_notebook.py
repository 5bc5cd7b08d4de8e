"""The quickstart notebook runs top to bottom (embedded broker, no services needed)."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "notebooks" / "quickstart.ipynb"


def outputs(nb) -> str:
    text = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            text.append(out.get("text") or out.get("data", {}).get("text/plain", ""))
    return "\n".join(text)


def test_quickstart_notebook_runs_top_to_bottom(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = outputs(nb)
    assert "the sink received" in text
    assert "'fahrenheit': 69.8" in text, "the Python SMT ran"
    assert "PAUSED" in text
    assert "'partition': {'sensors': 'all'}" in text, "source offsets were committed"
    assert "closed: True" in text


def test_worker_log_lines_stay_out_of_notebook_cells(tmp_path):
    """In a Jupyter kernel the in-process worker logs to memory: no cell shows its lines, and
    `worker.logs()` returns them."""
    cells = [
        "import time, conveyor\n"
        "from conveyor import SourceConnector, SourceTask, SourceRecord\n"
        "import logging\n"
        "class T(SourceTask):\n"
        "    def poll(self):\n"
        "        logging.getLogger('nb.plugin').warning('a warning from the task')\n"
        "        time.sleep(0.1)\n"
        "        return [SourceRecord('nb-ticks', {'n': 1})]\n"
        "class Ticks(SourceConnector):\n"
        "    task_class = T\n"
        "w = conveyor.Worker('embedded', log_level='INFO')\n"
        "w.create_connector('nb-ticks', {'connector.class': Ticks})\n"
        "w.wait_running('nb-ticks')\n"
        "print('started')",
        "time.sleep(2)\nprint('in memory:', sum('nb-ticks' in line for line in w.logs(10_000)) > 0)\n"
        "print('plugin lines:', sum('a warning from the task' in line for line in w.logs(10_000)) > 0)\n"
        "logging.getLogger('nb.user').warning('the user warns')",
        "w.close()\nprint('closed')",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    text = outputs(nb)
    assert "started" in text and "closed" in text
    assert "in memory: True" in text, text
    # INFO lines of the worker (connector and task starting, stopping) reach no cell.
    assert " INFO " not in text and "nb-ticks-0" not in text, text
    # The plugin's own warnings go to the worker log; the notebook's own still show.
    assert "plugin lines: True" in text, text
    assert "a warning from the task" not in text, text
    assert "the user warns" in text, text
