"""Safe file writes and reads: every file the library writes goes through `atomic_write` (or
`atomic_write_many` for outputs that come in a set), every data file it reads through
`regular_input`.

A write goes to a temporary file beside the target, then a rename, so a reader (or a crash) never sees a
half-written file. Before writing, the target is checked, because a rename replaces whatever the path names:

- an output that is one of the inputs (the same file by device and inode, so hard links and ``a/../a`` count) is
  refused: writing it would destroy the data being read;
- a symbolic link at the output path is refused: the rename would replace the link with a regular file and leave
  the file it pointed to unchanged, which surprises everyone (write to the link's target instead);
- an existing path that is not a regular file (a FIFO, a character or block device such as ``/dev/null``, a
  socket, a directory) is refused: a rename would replace a device node with a regular file;
- an existing regular file keeps its permission bits (a 0600 file stays 0600); a new file gets what ``open()``
  would give it (0666 less the umask).

The checks and the rename are not one atomic step: a path changed by another process in between is not caught.
They guard against mistakes, not against an attacker who can write to the directory.

This module must not know about datasets, S3 or anything above it: only paths and bytes.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import HaikuFinetuneError

__all__ = ["UnsafePathError", "atomic_write", "atomic_write_many", "regular_input"]

PathLike = str | os.PathLike[str]
Data = bytes | Iterable[bytes]


class UnsafePathError(HaikuFinetuneError, ValueError):
    """A path the library refuses to write or read: the input itself, a symlink, a FIFO, a device, a socket.

    The message is one line naming the path, what it is and what to do instead.
    """


def atomic_write(path: PathLike, data: Data, *, inputs: Iterable[PathLike] = ()) -> Path:
    """Write ``data`` (bytes, or an iterable of byte chunks) to ``path`` atomically.

    The parent directory must exist. On any error the target is left as it was and the temporary file is
    removed. A new file gets the mode ``open()`` would give it (0666 less the umask, where it can be read); an
    existing file keeps its mode.

    Args:
        path: The file to write.
        data: The bytes, or an iterable of byte chunks (consumed once, while writing).
        inputs: Files the data is read from: an output that is one of them (by inode) is refused.

    Returns:
        The path written.

    Raises:
        UnsafePathError: ``path`` is one of ``inputs``, a symbolic link, or exists and is not a regular file.
        FileNotFoundError: The parent directory does not exist.
        OSError: Writing failed (a full disk, a file-size limit); its ``filename`` is ``path``.
    """
    return atomic_write_many([(path, data)], inputs=inputs)[0]


def atomic_write_many(items: Sequence[tuple[PathLike, Data]], *, inputs: Iterable[PathLike] = ()) -> list[Path]:
    """Write several files all or nothing: every target is checked first, every file is written to a temporary
    file, and only then are they renamed into place, one after the other.

    When something fails before the renames, no target changed. When a rename itself fails (rare: a full or
    read-only disk shows up while writing, not while renaming), the targets already renamed that did not exist
    before are removed again; one that did exist keeps the new content.

    Args:
        items: ``(path, data)`` pairs, as for `atomic_write`; the paths must be distinct files.
        inputs: Files the data is read from: an output that is one of them is refused.

    Returns:
        The paths written, in order.

    Raises:
        UnsafePathError: As `atomic_write`, or two outputs are the same file.
        FileNotFoundError: A parent directory does not exist.
    """
    targets = [Path(path) for path, _ in items]
    read = _identities(inputs)
    modes: list[int | None] = []
    claimed: dict[tuple[int, int], Path] = {}
    for target in targets:
        modes.append(_check_output(target, read))
        key = _identity_of(target)
        if key is not None and key in claimed:
            raise UnsafePathError(f"{target} and {claimed[key]} are the same file; give two different outputs")
        if key is not None:
            claimed[key] = target
    if len({os.path.abspath(t) for t in targets}) < len(targets):
        raise UnsafePathError(f"the same output path is given twice: {[str(t) for t in targets]}")
    new_mode = _new_file_mode()
    temporaries: list[str] = []
    try:
        for target, (_, data), mode in zip(targets, items, modes, strict=True):
            temporaries.append(_write_temporary(target, data, mode if mode is not None else new_mode))
    except BaseException:
        for tmp in temporaries:
            Path(tmp).unlink(missing_ok=True)
        raise
    renamed: list[Path] = []
    try:
        for tmp, target in zip(temporaries, targets, strict=True):
            os.replace(tmp, target)
            renamed.append(target)
    except BaseException:
        for tmp in temporaries[len(renamed) :]:
            Path(tmp).unlink(missing_ok=True)
        for target, mode in zip(renamed, modes, strict=False):
            if mode is None:  # it did not exist before: take it away again
                target.unlink(missing_ok=True)
        raise
    return targets


def regular_input(path: PathLike, *, what: str = "input file") -> Path:
    """Check that ``path`` names an existing regular file (a symlink to one is fine), without opening it.

    ``os.stat`` first, so a FIFO with no writer is refused instead of blocking ``open()`` forever, and a device
    such as ``/dev/zero`` is refused instead of being read without end.

    Args:
        path: The file to read.
        what: How to name it in errors (e.g. ``"dataset file"``).

    Returns:
        The path.

    Raises:
        FileNotFoundError: It does not exist.
        IsADirectoryError: It is a directory.
        UnsafePathError: It is a FIFO, a device or a socket.
    """
    source = Path(path)
    try:
        info = os.stat(source)
    except FileNotFoundError:
        raise FileNotFoundError(f"{what} not found: {source}") from None
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(f"{what} is a directory, not a file: {source}")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(
            f"{what} {source} is {_kind(info.st_mode)}, not a regular file; save the data to a file first "
            "(or pass an open binary stream, e.g. '-' for stdin where the command offers it)"
        )
    return source


def _check_output(target: Path, inputs: set[tuple[int, int]]) -> int | None:
    """Refuse an unsafe output; return the existing file's permission bits (None when it does not exist)."""
    if not target.parent.is_dir():
        raise FileNotFoundError(f"directory does not exist: {target.parent}")
    try:
        info = os.lstat(target)
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePathError(
            f"output {target} is a symbolic link; it is not followed or replaced: write to the file it points to "
            f"({os.path.realpath(target)}) or remove the link"
        )
    if stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"output {target} is a directory; give a file path inside it")
    if not stat.S_ISREG(info.st_mode):
        raise UnsafePathError(
            f"output {target} is {_kind(info.st_mode)}, not a regular file; it was left alone: write to a regular "
            "file instead"
        )
    if (info.st_dev, info.st_ino) in inputs:
        raise UnsafePathError(
            f"output {target} is the input file; writing it would destroy the data being read: choose another output"
        )
    return stat.S_IMODE(info.st_mode)


def _identities(paths: Iterable[PathLike]) -> set[tuple[int, int]]:
    found = set()
    for path in paths:
        key = _identity_of(Path(path), follow=True)
        if key is not None:
            found.add(key)
    return found


def _identity_of(path: Path, *, follow: bool = False) -> tuple[int, int] | None:
    try:
        info = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return None
    return info.st_dev, info.st_ino


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _write_temporary(target: Path, data: Data, mode: int | None) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        if mode is not None:
            os.fchmod(fd, mode)  # mkstemp makes 0600; keep the old file's mode, or give what open() would
        writing = False  # an error while writing (not while producing ``data``) is named after the target
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in (data,) if isinstance(data, (bytes, bytearray, memoryview)) else data:
                    writing = True
                    out.write(chunk)
                    writing = False
                writing = True  # closing flushes what is buffered
        except OSError as error:
            if writing:
                raise _named(error, target) from error
            raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def _named(error: OSError, target: Path) -> OSError:
    """``error`` naming ``target`` (a failed ``write()``, e.g. a full disk, names no file), of the same subclass."""
    if error.filename is not None or error.errno is None:
        return error
    return OSError(error.errno, error.strerror, str(target))


def _new_file_mode() -> int | None:
    """The mode ``open()`` gives a new file (0666 less the umask), or None where the umask cannot be read.

    The umask is read from /proc (Linux): setting it to read it back would race with other threads creating
    files. Elsewhere the file keeps mkstemp's private 0600, the conservative choice.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        return None
    return None
