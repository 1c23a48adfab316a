"""atomic_write: all or nothing, and the file mode open() would give."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from haiku_finetune._files import atomic_write


def test_writes_bytes_or_chunks(tmp_path: Path) -> None:
    assert atomic_write(tmp_path / "a.txt", b"one") == tmp_path / "a.txt"
    atomic_write(tmp_path / "a.txt", iter([b"two", b"three"]))
    assert (tmp_path / "a.txt").read_bytes() == b"twothree"


def test_a_failure_midway_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "data.jsonl"
    target.write_bytes(b"old\n")

    def chunks() -> Iterator[bytes]:
        yield b"new, partial"
        raise RuntimeError("the source broke")

    with pytest.raises(RuntimeError, match="the source broke"):
        atomic_write(target, chunks())
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.jsonl"]


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        atomic_write(tmp_path / "nope" / "a.txt", b"x")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the umask is read from /proc")
def test_a_new_file_gets_the_mode_open_would_give(tmp_path: Path) -> None:
    previous = os.umask(0o027)
    try:
        atomic_write(tmp_path / "a.txt", b"x")
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640  # not mkstemp's 0600
