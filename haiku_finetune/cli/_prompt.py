"""The one y/N confirmation prompt of the command (deleting a deployment, billable demo steps).

It asks only on a terminal: with no terminal to ask on it refuses, so a script never hangs on a question and
never agrees by accident. This module must not decide what is confirmed, only ask.
"""

from __future__ import annotations

import sys
from typing import TextIO

from ._context import UsageError

__all__ = ["NoTerminalError", "confirm"]


class NoTerminalError(UsageError):
    """There is no terminal to ask on; the message says which flag agrees up front."""


def confirm(
    question: str, *, no_terminal: str = "no terminal to ask on: pass --yes", stdin: TextIO | None = None
) -> bool:
    """Ask ``question [y/N]`` on the terminal; only ``y`` or ``yes`` (any case) agree.

    Args:
        question: The question, without ``[y/N]``.
        no_terminal: The message of the error raised when standard input is not a terminal.
        stdin: Standard input (default ``sys.stdin``); only its ``isatty()`` is consulted.

    Returns:
        True when the user agreed.

    Raises:
        NoTerminalError: Standard input is not a terminal.
    """
    stream = stdin if stdin is not None else sys.stdin
    if stream is None or not stream.isatty():
        raise NoTerminalError(no_terminal)
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")
