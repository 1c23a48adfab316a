"""What every command handler shares: exit statuses, the usage-error type, and the command's context.

This module must stay light (stdlib only at import time): the parser and ``--help`` load it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from .._transport import BedrockTransport

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "PROG", "Context", "Handler", "UsageError"]

#: Exit status: everything is fine.
EXIT_OK = 0
#: Exit status: problems were found (bad data, failing checks, a failed job, orphans) or a call failed.
EXIT_PROBLEMS = 1
#: Exit status: the command line was wrong or an input file could not be read.
EXIT_USAGE = 2

PROG = "haiku-finetune"


class UsageError(Exception):
    """A mistake in how the command was called; reported in one line with exit status 2."""


class Context:
    """What every command gets besides its arguments: output streams and a way to reach AWS.

    Args:
        transport: A transport to use instead of building one from ``--profile``/``--region``/``--endpoint-url``.
        out: Standard output.
        err: Standard error.
        where: The command, for error lines (``haiku-finetune jobs show``).
    """

    def __init__(
        self, transport: BedrockTransport | None, out: TextIO, err: TextIO | None = None, where: str = PROG
    ) -> None:
        self.injected_transport = transport
        self._transport = transport
        self.out = out
        self.err = err if err is not None else sys.stderr
        self.where = where

    def transport(self, args: argparse.Namespace) -> BedrockTransport:
        """Return the injected transport, or the one built (once) from the AWS options and the environment."""
        if self._transport is None:
            from ._transport import transport_from_args

            self._transport = transport_from_args(args)
        return self._transport

    def close(self) -> None:
        """Close the transport this context built (an injected one belongs to the caller)."""
        built, self._transport = self._transport, self.injected_transport
        if built is not None and built is not self.injected_transport:
            close = getattr(built, "close", None)
            if close is not None:
                close()

    def print(self, *parts: object) -> None:
        """Print to standard output."""
        print(*parts, file=self.out)

    def json(self, value: Any) -> None:
        """Print ``value`` as indented JSON."""
        print(json.dumps(value, indent=2, default=str, ensure_ascii=False), file=self.out)

    def error(self, message: str) -> None:
        """Print one error line on standard error, prefixed with the command (``haiku-finetune jobs show``)."""
        self.err.write(f"{self.where}: error: {message}\n")


Handler = Callable[[argparse.Namespace, Context], int]
