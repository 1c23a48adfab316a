"""examples/quickstart.ipynb is its generator's output and runs top to bottom on LocalBedrock, warning-free.

The notebook runs in a real kernel (nbclient) with every warning an error, except tqdm's own, which tqdm.auto
catches itself on the way to its text fallback: those are let through to stderr, and the test fails on any
warning text there. Plots must arrive as images, not as ``<Figure size ...>`` reprs.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: Run first in the kernel: warnings become errors (a cell that warns fails); tqdm's warnings are printed instead,
#: because tqdm.auto swallows its own TqdmWarning raised as an error and the test could not see it.
_STRICT_WARNINGS = """import warnings
warnings.simplefilter("error")
from tqdm import TqdmWarning
warnings.simplefilter("always", TqdmWarning)"""


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


def _outputs(cell: Any) -> list[Any]:
    return list(cell.get("outputs", []))


def test_the_notebook_runs_without_warnings_and_shows_its_plots(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel inherits the environment: without the suite's emulated date it runs as a user's would.
    monkeypatch.delenv("LOCAL_BEDROCK_DATE", raising=False)
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    pytest.importorskip("matplotlib")
    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(_STRICT_WARNINGS))
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()  # raises CellExecutionError naming the failing cell (a warning turned error included)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    outputs = [o for c in code_cells for o in _outputs(c)]
    assert [o for o in outputs if o.output_type == "error"] == []
    assert all(c.execution_count for c in code_cells)
    stdout = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.get("name") == "stdout")
    stderr = "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.get("name") == "stderr")
    shown = [o for o in outputs if o.output_type in ("execute_result", "display_data")]
    texts = [o.get("data", {}).get("text/plain", "") for o in shown]
    assert "Completed" in stdout + stderr + "".join(texts)  # the job's status (and its progress bar)
    assert "Warning" not in stderr, stderr  # TqdmWarning, BillingWarning, anything
    # A figure's text/plain is its repr; Jupyter shows the image beside it, so every figure must carry one.
    bare = [o for o in shown if "<Figure size" in o.get("data", {}).get("text/plain", "")]
    assert [o for o in bare if "image/png" not in o.get("data", {})] == []
    plot_cell = next(c for c in code_cells if "metrics.plot(" in c.source)
    assert any("image/png" in o.get("data", {}) for o in _outputs(plot_cell)), _outputs(plot_cell)
    evaluation_cell = next(c for c in code_cells if "evaluate(" in c.source)
    html = "".join(o.get("data", {}).get("text/html", "") for o in _outputs(evaluation_cell))
    assert "Confusion matrix of base" in html and "data:image/png;base64," in html
    # LabelAccuracy() with labels from the test set: one (other) column, not one per free-text reply.
    assert html.count("<th>(other)</th>") >= 1
