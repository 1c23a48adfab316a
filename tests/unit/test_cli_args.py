"""The CLI's path argument types refuse unwritable places in one line naming the path and the directory."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from haiku_finetune.cli._args import new_directory, output_file


def test_output_file_accepts_a_file_in_a_writable_directory(tmp_path: Path) -> None:
    assert output_file(str(tmp_path / "out.jsonl")) == tmp_path / "out.jsonl"


def test_output_file_refuses_a_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.jsonl"
    with pytest.raises(argparse.ArgumentTypeError, match=r"directory .*missing does not exist"):
        output_file(str(target))


def test_output_file_refuses_a_parent_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(argparse.ArgumentTypeError, match=r"plain is a file, not a directory"):
        output_file(str(tmp_path / "plain" / "out.jsonl"))


def test_new_directory_refuses_an_ancestor_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(argparse.ArgumentTypeError, match=r"plain is a file, not a directory"):
        new_directory(str(tmp_path / "plain" / "a" / "b"))


@pytest.mark.parametrize("check", [output_file, new_directory])
def test_read_only_directory_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, check: Callable[[str], Path]
) -> None:
    # Permissions cannot be relied on (root ignores them), so the directory reads as not writable to the check.
    monkeypatch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path)
    with pytest.raises(argparse.ArgumentTypeError, match=r"directory .* is not writable"):
        check(str(tmp_path / "new"))
