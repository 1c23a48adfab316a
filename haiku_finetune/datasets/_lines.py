"""Reading JSON Lines in bounded memory: an over-long line is skipped, never held.

Lines are read with ``readline(limit)`` (C speed, like iterating over the file, but bounded). No line longer
than `MAX_LINE_BYTES` is ever held in memory: the reader skips to its newline and reports it as a
`LongLine`, and when `MAX_SKIP_BYTES` go by without a newline (``/dev/zero`` piped in, a binary
file) it stops reading altogether. So memory stays within a few MiB, and the time for any input is bounded by
what it takes to read ``MAX_SKIP_BYTES`` past the last newline.

Why 4 MiB: a valid record holds at most 32,000 tokens. Even granting every token 32 characters (long runs of
spaces or repeated characters are the longest tokens; ordinary text averages 3-4 characters a token) and every
character the 4 bytes of the widest UTF-8 sequence, a valid record is under 32,000 x 32 x 4 = 4,096,000 bytes.
A line over 4 MiB (4,194,304 bytes) can therefore only fail ``record_too_long``, so it is reported
``line_too_long`` without being parsed.

This module must not parse or judge records: it only cuts bytes into lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO, Final

__all__ = ["MAX_LINE_BYTES", "MAX_SKIP_BYTES", "READ_LIMIT", "LongLine", "lines", "skip_long_line"]

#: The longest line read as a record, without its newline (see the module docstring for why no valid record is
#: longer).
MAX_LINE_BYTES: Final = 4 * 1024 * 1024
#: An over-long line running on this far without a newline ends the reading of the file.
MAX_SKIP_BYTES: Final = 64 * 1024 * 1024
#: The ``readline`` limit: a line of MAX_LINE_BYTES and its newline. A piece this long that does not end in a
#: newline is the start of an over-long line.
READ_LIMIT: Final = MAX_LINE_BYTES + 1
_SKIP_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class LongLine:
    """A line over `MAX_LINE_BYTES`, skipped.

    Attributes:
        size: Bytes skipped (the whole line when ``stopped`` is false, else as far as reading went).
        stopped: True when no newline came within `MAX_SKIP_BYTES` and reading stopped there.
    """

    size: int
    stopped: bool = False

    def message(self) -> str:
        """The one-line explanation for a ``line_too_long`` issue."""
        if self.stopped:
            return (
                f"no newline in the {self.size:,} bytes after this line began; this is not a JSON Lines file "
                "(or a stream without end): stopped reading here, the rest was not checked"
            )
        return (
            f"the line is {self.size:,} bytes, more than the {MAX_LINE_BYTES:,} any record within the 32,000-token "
            "limit can take; it was skipped unread: split or shorten the record (is it one line per record?)"
        )


def skip_long_line(readline: Callable[[int], bytes], already: int) -> LongLine:
    """Read past the rest of an over-long line, in bounded pieces, up to its newline or MAX_SKIP_BYTES.

    Args:
        readline: The stream's ``readline``.
        already: The bytes of the line read so far.
    """
    skipped = already
    while skipped <= MAX_SKIP_BYTES:
        piece = readline(_SKIP_CHUNK)
        skipped += len(piece)
        if not piece or piece[-1] == 10:
            return LongLine(skipped)
    return LongLine(skipped, stopped=True)


def lines(stream: BinaryIO) -> Iterator[bytes | LongLine]:
    """Yield the lines of ``stream`` (with their newline), a `LongLine` in place of each over-long one.

    Reading stops after a `LongLine` with ``stopped`` set.
    """
    readline = stream.readline
    while raw := readline(READ_LIMIT):
        if len(raw) == READ_LIMIT and raw[-1] != 10:
            long = skip_long_line(readline, len(raw))
            yield long
            if long.stopped:
                return
            continue
        yield raw
