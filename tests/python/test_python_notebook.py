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
