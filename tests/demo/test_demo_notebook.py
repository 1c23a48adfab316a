"""examples/quickstart.ipynb is its generator's output and runs top to bottom on LocalBedrock."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_quickstart_notebook", EXAMPLES / "make_quickstart_notebook.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_notebook_is_up_to_date() -> None:
    pytest.importorskip("nbformat")
    committed = (EXAMPLES / "quickstart.ipynb").read_text(encoding="utf-8")
    assert committed == _generator().render(), "run: python examples/make_quickstart_notebook.py"


def test_the_notebook_runs(tmp_path: Path) -> None:
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert [o for c in code_cells for o in c.get("outputs", []) if o.output_type == "error"] == []
    assert all(c.execution_count for c in code_cells)
    text = "".join(o.get("text", "") for c in code_cells for o in c.get("outputs", []) if o.output_type == "stream")
    assert "Completed" in text
