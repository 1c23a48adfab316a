"""Type checkers see the lazy faces' names, and only those: a misspelt name is an error, not ``Any`` (the module
``__getattr__`` of the package face and of ``haiku_finetune.datasets`` is hidden from them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_mypy_knows_the_faces_names_and_refuses_others(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    program = tmp_path / "uses_the_face.py"
    program.write_text(
        "import haiku_finetune\n"
        "import haiku_finetune.datasets\n"
        "job: type[haiku_finetune.CustomizationJob] = haiku_finetune.CustomizationJob\n"
        "report = haiku_finetune.datasets.validate_file\n"
        "error = haiku_finetune.ConflictError\n"
        "haiku_finetune.CustomisationJob\n"
        "haiku_finetune.datasets.validate_fle\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(tmp_path / "cache"), str(program)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in done.stdout.splitlines() if ": error:" in line]
    assert [line.split(":")[1] for line in errors] == ["6", "7"], done.stdout
    assert all("has no attribute" in line for line in errors)
