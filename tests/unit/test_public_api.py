"""The public surface: explicit, typed, and light to import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import haiku_finetune as hf


def test_every_public_name_exists_once() -> None:
    for name in hf.__all__:
        assert hasattr(hf, name), name
    assert len(set(hf.__all__)) == len(hf.__all__)


def test_package_is_typed() -> None:
    assert (Path(hf.__file__).parent / "py.typed").is_file()


def test_version_is_a_string() -> None:
    assert isinstance(hf.__version__, str)
    assert hf.__version__[0].isdigit()


def test_import_pulls_in_no_optional_extra() -> None:
    code = (
        "import sys, haiku_finetune; "
        "heavy = [m for m in ('pandas', 'matplotlib', 'moto', 'jsonschema', 'flask') if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing haiku_finetune imported optional extras: {out}"


def test_every_public_dataset_name_is_re_exported() -> None:
    missing = [name for name in hf.datasets.__all__ if name not in hf.__all__]
    assert not missing, f"haiku_finetune.datasets names missing from haiku_finetune.__all__: {missing}"
    for name in hf.datasets.__all__:
        assert getattr(hf, name) is getattr(hf.datasets, name), name
