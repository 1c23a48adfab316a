"""Atomic file writes: write to a temporary file beside the target, then rename, so a reader (or a crash) never
sees a half-written file."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike[str], data: bytes | Iterable[bytes]) -> Path:
    """Write ``data`` (bytes, or an iterable of byte chunks) to ``path`` atomically.

    The parent directory must exist. On any error the target is left as it was and the temporary file is
    removed. A new file gets the mode ``open()`` would give it (0666 less the umask, where it can be read).

    Returns:
        The path written.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise FileNotFoundError(f"directory does not exist: {target.parent}")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        mode = _new_file_mode()
        if mode is not None:
            os.fchmod(fd, mode)  # mkstemp makes 0600; a written dataset should get what open() would give it
        with os.fdopen(fd, "wb") as out:
            if isinstance(data, (bytes, bytearray, memoryview)):
                out.write(data)
            else:
                for chunk in data:
                    out.write(chunk)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


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
