"""The face hands on the datasets and errors names from those modules' own ``__all__``, and stays light."""

from __future__ import annotations

import subprocess
import sys

import haiku_finetune as hf
from haiku_finetune import datasets, errors


def _fresh(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_face_hands_on_every_dataset_name_and_nothing_else_from_datasets() -> None:
    from haiku_finetune import _EXPORTS

    assert _EXPORTS["datasets"] == tuple(datasets.__all__)
    for name in datasets.__all__:
        assert getattr(hf, name) is getattr(datasets, name), name


def test_the_face_hands_on_the_exception_classes_but_not_the_raise_helpers() -> None:
    classes = {name for name in errors.__all__ if isinstance(getattr(errors, name), type)}
    assert classes and classes <= set(hf.__all__)
    assert all(issubclass(getattr(hf, name), errors.HaikuFinetuneError) for name in classes)
    assert "raise_for_client_error" in errors.__all__
    assert "raise_for_client_error" not in hf.__all__
    assert not hasattr(hf, "raise_for_client_error")


def test_importing_the_datasets_toolkit_loads_no_aws_or_orjson_code() -> None:
    heavy = ("boto3", "botocore", "orjson", "pydantic")
    code = f"import sys, haiku_finetune.datasets; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    assert _fresh(code) == ""


def test_a_dataset_name_resolves_from_a_fresh_import_of_the_toolkit() -> None:
    code = (
        "import haiku_finetune.datasets as d\n"
        "print('missing:', [n for n in d.__all__ if getattr(d, n, None) is None])\n"
        "print('unlisted:', sorted(set(d.__all__) - set(dir(d))))"
    )
    assert _fresh(code) == "missing: []\nunlisted: []"


def test_an_unknown_dataset_name_is_an_attribute_error() -> None:
    import pytest

    with pytest.raises(AttributeError, match="no_such_name"):
        _ = datasets.no_such_name
