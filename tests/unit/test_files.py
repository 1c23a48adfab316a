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


def test_inputs_symlinks_and_devices_are_refused_before_writing(tmp_path: Path) -> None:
    from haiku_finetune._files import UnsafePathError

    src = tmp_path / "in.txt"
    src.write_bytes(b"data")
    with pytest.raises(UnsafePathError, match="is the input file"):
        atomic_write(src, b"x", inputs=[src])
    link = tmp_path / "link"
    link.symlink_to(src)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        atomic_write(link, b"x")
    dangling = tmp_path / "dangling"
    dangling.symlink_to("nowhere")
    with pytest.raises(UnsafePathError, match="symbolic link"):
        atomic_write(dangling, b"x")
    with pytest.raises(UnsafePathError, match="directory"):
        atomic_write(tmp_path, b"x")
    with pytest.raises(UnsafePathError, match="character device"):
        atomic_write("/dev/null", b"x")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert src.read_bytes() == b"data" and link.is_symlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dangling", "in.txt", "link"]


def test_an_existing_file_keeps_its_mode(tmp_path: Path) -> None:
    target = tmp_path / "secret.jsonl"
    target.write_bytes(b"old")
    target.chmod(0o600)
    atomic_write(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600 and target.read_bytes() == b"new"


def test_write_many_is_all_or_nothing(tmp_path: Path) -> None:
    from haiku_finetune._files import UnsafePathError, atomic_write_many

    def broken() -> Iterator[bytes]:
        yield b"half"
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError):
        atomic_write_many([(tmp_path / "a", b"one"), (tmp_path / "b", broken())])
    assert list(tmp_path.iterdir()) == []
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafePathError, match="FIFO"):
        atomic_write_many([(tmp_path / "a", b"one"), (tmp_path / "fifo", b"two")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]
    assert atomic_write_many([(tmp_path / "a", b"one"), (tmp_path / "b", b"two")]) == [tmp_path / "a", tmp_path / "b"]
    assert (tmp_path / "b").read_bytes() == b"two"


def test_regular_input_refuses_a_fifo_without_opening_it(tmp_path: Path) -> None:
    from haiku_finetune._files import UnsafePathError, regular_input

    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafePathError, match="FIFO"):
        regular_input(tmp_path / "fifo")  # open() would block: no writer
    with pytest.raises(FileNotFoundError):
        regular_input(tmp_path / "missing")
    with pytest.raises(IsADirectoryError):
        regular_input(tmp_path)
    (tmp_path / "f").write_bytes(b"")
    (tmp_path / "l").symlink_to(tmp_path / "f")
    assert regular_input(tmp_path / "l") == tmp_path / "l"  # a link to a regular file is fine to read
