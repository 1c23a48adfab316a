"""Argument types, shared options and the subcommand builder of the command's parser.

Each type checks one value and fails with one line naming it (argparse makes that exit status 2). An option that
several commands take is declared once here, so it has the same name, type and meaning everywhere; `Commands`
adds one subcommand with its handler and the shared option sets it takes. This module must stay light: ``--help``
loads it, so nothing here imports the AWS layers or pydantic.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import math
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NoReturn, TypeAlias, TypeVar

from ._context import EXIT_USAGE, Handler, UsageError
from ._transport import endpoint_url

__all__ = [
    "Commands",
    "Parser",
    "Subparsers",
    "aws_options",
    "confirm_option",
    "existing_file",
    "fraction",
    "json_option",
    "losses",
    "new_directory",
    "no_progress_option",
    "non_negative_float",
    "output_file",
    "parsed",
    "port",
    "positive_float",
    "positive_int",
    "verbose_option",
    "wait_options",
]


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


N = TypeVar("N", int, float)

#: What ``add_subparsers(parser_class=Parser)`` returns; `Commands` adds the subcommands to one. (A string: the
#: class is generic only to type checkers.)
Subparsers: TypeAlias = "argparse._SubParsersAction[Parser]"


def existing_file(value: str) -> Path:
    """An input file that exists and is not a directory."""
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a directory, not a file")
    return path


def _writable_directory(value: str, directory: Path) -> None:
    """Refuse ``value`` in one line when ``directory``, where it would be written, is missing, a file or read-only."""
    if not directory.exists():
        raise argparse.ArgumentTypeError(
            f"cannot write {value}: directory {directory} does not exist (create it first)"
        )
    if not directory.is_dir():
        raise argparse.ArgumentTypeError(f"cannot write {value}: {directory} is a file, not a directory")
    # Creating an entry in a directory takes write and search (execute) permission on it.
    if not os.access(directory, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write {value}: directory {directory} is not writable")


def output_file(value: str) -> Path:
    """A file to write: its directory must exist and be writable, and it must not be a directory itself."""
    path = Path(value)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a directory: name a file to write")
    if value.endswith(("/", os.sep)):  # Path() drops the slash: "out/" would be written as a file named "out"
        raise argparse.ArgumentTypeError(f"{value} ends in a slash, as a directory does: name a file to write")
    if os.path.basename(value) == ".":  # Path() drops it too: "out/." would be written as a file named "out"
        raise argparse.ArgumentTypeError(f"{value} names a directory (it ends in /.): name a file to write")
    _writable_directory(value, path.parent if str(path.parent) else Path("."))
    return path


def new_directory(value: str) -> Path:
    """An output directory: created if missing, but not an existing file, and under a writable directory."""
    path = Path(value)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is an existing file, not a directory: choose another --output")
    ancestor = path.absolute()
    while not ancestor.exists():
        ancestor = ancestor.parent
    _writable_directory(value, ancestor)
    return path


def fraction(value: str) -> float:
    """A number strictly between 0 and 1."""
    number = _number(value)
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value}")
    return number


def parsed(value: str, convert: Callable[[str], N], what: str) -> N:
    """``convert(value)``, or the one-line refusal ``not <what>: '<value>'`` when it raises ``ValueError``."""
    try:
        return convert(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not {what}: {value!r}") from None


def positive_int(value: str) -> int:
    """A whole number of at least 1."""
    number = parsed(value, int, "a whole number")
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def port(value: str) -> int:
    """A TCP port from 0 (the system picks a free one) to 65535."""
    number = parsed(value, int, "a port number")
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"a port is between 0 and 65535, got {value}")
    return number


def non_negative_float(value: str) -> float:
    """A finite number of at least 0."""
    number = _number(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {value}")
    return number


def positive_float(value: str) -> float:
    """A finite number above 0."""
    number = _number(value)
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {value}")
    return number


#: The shape of an AWS region name (``us-west-2``, ``eu-central-2``), as LocalBedrock checks it.
_REGION_NAME = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_date(value: str) -> _dt.date:
    """A calendar date written ``YYYY-MM-DD`` (``fromisoformat`` alone also takes ``20260910`` on 3.11+)."""
    if _ISO_DATE.fullmatch(value):
        try:
            return _dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise argparse.ArgumentTypeError(f"not a date of the form YYYY-MM-DD: {value!r}")


def region_name(value: str) -> str:
    """A name of the shape of an AWS region (``us-west-2``)."""
    if not _REGION_NAME.fullmatch(value):
        raise argparse.ArgumentTypeError(f"not an AWS region name such as 'us-west-2': {value!r}")
    return value


def _number(value: str) -> float:
    number = parsed(value, float, "a number")
    if not math.isfinite(number):
        raise argparse.ArgumentTypeError(f"not a finite number: {value!r}")
    return number


def losses(values: Sequence[str]) -> list[float]:
    """Parse ``--losses`` given as separate words, commas, or both."""
    parsed: list[float] = []
    for word in values:
        for item in word.replace(",", " ").split():
            try:
                number = float(item)
            except ValueError:
                raise UsageError(f"--losses: not a number: {item!r}") from None
            if not math.isfinite(number):
                raise UsageError(f"--losses: not a finite number: {item!r}")
            parsed.append(number)
    if not parsed:
        raise UsageError("--losses needs at least one validation loss")
    return parsed


def verbose_option(*, top: bool) -> Parser:
    """``-v/--verbose``: on the top-level parser (default 0), and on every subcommand (left unset unless given)."""
    parent = Parser(add_help=False)
    parent.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0 if top else argparse.SUPPRESS,
        help="log what the library does to stderr (-v: INFO, -vv: DEBUG)",
    )
    return parent


def aws_options() -> Parser:
    """``--region``, ``--profile`` and ``--endpoint-url``: how the command reaches AWS."""
    parent = Parser(add_help=False)
    group = parent.add_argument_group("AWS")
    group.add_argument("--region", help="AWS region (default: the profile's, else us-west-2)")
    group.add_argument("--profile", help="named AWS profile to use (default: AWS_PROFILE, else the default chain)")
    group.add_argument(
        "--endpoint-url",
        type=endpoint_url,
        metavar="URL",
        help="send Bedrock and Bedrock Runtime calls to this URL (e.g. LocalBedrock's)",
    )
    return parent


def json_option() -> Parser:
    """``--json``: machine-readable output."""
    parent = Parser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parent


def confirm_option(parser: argparse.ArgumentParser, help: str) -> None:
    """``-y/--yes``: agree up front to what the command would ask (``help`` says to what, for this command)."""
    parser.add_argument("-y", "--yes", action="store_true", help=help)


def no_progress_option(parser: argparse.ArgumentParser, help: str = "no progress bar") -> None:
    """``--no-progress``: wait or work without drawing progress bars on stderr."""
    parser.add_argument("--no-progress", action="store_true", help=help)


def wait_options(
    parser: argparse.ArgumentParser,
    *,
    timeout_help: str,
    default_timeout: float | None = None,
    progress_help: str = "no progress bar",
) -> None:
    """``--timeout SECONDS`` (``default_timeout``: none, wait as long as it takes) and ``--no-progress``: how a
    command that waits for something to finish waits, with each option's help in this command's words."""
    parser.add_argument(
        "--timeout", type=non_negative_float, default=default_timeout, metavar="SECONDS", help=timeout_help
    )
    no_progress_option(parser, progress_help)


class Commands:
    """Where a command group adds its subcommands: ``haiku-finetune NAME``, or ``haiku-finetune GROUP NAME`` in a
    `group`.

    Each subcommand is one `add`: its name, the handler that runs it, its help, and which shared option sets it
    takes (``aws``: ``--region``/``--profile``/``--endpoint-url``; ``json``: ``--json``), so no group builds those
    options again or forgets to set a handler.

    Args:
        sub: The subparsers the commands are added to.
        aws: The ``--region``/``--profile``/``--endpoint-url`` parent parser (`aws_options`).
        as_json: The ``--json`` parent parser (`json_option`).
    """

    def __init__(self, sub: Subparsers, aws: Parser, as_json: Parser) -> None:
        self._sub = sub
        self._aws = aws
        self._json = as_json

    def add(
        self,
        name: str,
        handler: Handler,
        *,
        aws: bool = False,
        json: bool = False,
        help: str,
        description: str | None = None,
        epilog: str | None = None,
    ) -> Parser:
        """Add subcommand ``name``, run by ``handler``; return its parser, for the command's own arguments."""
        parents = [parent for parent, wanted in ((self._aws, aws), (self._json, json)) if wanted]
        parser = self._sub.add_parser(name, parents=parents, help=help, description=description, epilog=epilog)
        parser.set_defaults(handler=handler)
        return parser

    def group(
        self, name: str, *, help: str, description: str | None = None, dest: str = "action", metavar: str = "ACTION"
    ) -> Commands:
        """Add ``name`` as a command of subcommands (``jobs``: ``jobs create``, ``jobs list``, ...), one required;
        the one chosen is ``args.<dest>``."""
        parser = self._sub.add_parser(name, help=help, description=description)
        sub = parser.add_subparsers(dest=dest, metavar=metavar, required=True, parser_class=Parser)
        return Commands(sub, self._aws, self._json)
