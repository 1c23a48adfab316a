"""The ``haiku-finetune`` command: the parser, the dispatch to one handler, and what every failure looks like.

Subcommands map one to one onto library calls; the command groups (`data`, `jobs`,
`deployments`, `models`, `local`, `demo`) parse, call the library and print. Exit status: 0
when all is well, 1 when problems were found (invalid data, a failing preflight check, a failed job, orphaned
deployments) or a call failed, 2 for a usage error (bad arguments, a missing file). Every failure is one line on
stderr naming what is wrong; a traceback is shown only with ``-vv``, as a DEBUG log record. A reader that
stops early (``... | head``) is no failure to report: the command ends quietly, with exit status 1.

This module must stay light: building the parser imports no AWS, pydantic or emulator code (handlers import
what they need when they run), so ``haiku-finetune --help`` starts fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from .._version import __version__
from . import data, demo, deployments, evaluate, invoke, jobs, local, models, search
from ._args import Commands, Parser, aws_options, json_option, verbose_option
from ._context import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, PROG, Context, Handler, UsageError
from ._format import one_line, os_error

if TYPE_CHECKING:
    from .._transport import BedrockTransport

__all__ = ["build_parser", "main"]

_log = logging.getLogger("haiku_finetune.cli")


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``haiku-finetune`` command (every subcommand, with ``--help``)."""
    parser = Parser(
        prog=PROG,
        description=(
            "Fine-tune Anthropic Claude 3 Haiku in Amazon Bedrock: check data, plan and run jobs, read metrics, "
            "manage deployments, and run the whole workflow offline with 'haiku-finetune demo'."
        ),
        epilog="Exit status: 0 ok, 1 problems found, 2 usage error.",
        parents=[verbose_option(top=True)],
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=Parser)
    commands = Commands(sub, aws_options(), json_option())
    for group in (data, jobs, search, deployments, invoke, evaluate, models, local, demo):
        group.register(commands)
    _add_verbose_everywhere(parser)
    return parser


def _add_verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """Let ``-v`` follow any subcommand too (``haiku-finetune jobs list -v``), not only the program name."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                if not any(isinstance(a, argparse._SubParsersAction) for a in child._actions):
                    child.add_argument(
                        "-v",
                        "--verbose",
                        action="count",
                        default=argparse.SUPPRESS,
                        help="log what the library does to stderr (-v: INFO, -vv: DEBUG)",
                    )
                _add_verbose_everywhere(child)


def _configure_logging(verbosity: int, err: TextIO) -> logging.Handler | None:
    """Send the library's log records to stderr: INFO with ``-v``, DEBUG with ``-vv``; nothing otherwise."""
    if verbosity <= 0:
        return None
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    library = logging.getLogger("haiku_finetune")
    library.addHandler(handler)
    library.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)
    return handler


def main(argv: Sequence[str] | None = None, *, transport: BedrockTransport | None = None) -> int:
    """Run the ``haiku-finetune`` command.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).
        transport: The transport AWS commands use (default: one built from ``--profile``/``--region``/
            ``--endpoint-url`` and the environment). Tests and embedding programs pass a ``LocalBedrock``
            transport here.

    Returns:
        The exit status: 0 ok, 1 problems found, 2 usage error (130 when interrupted).
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version and usage errors
        return done.code if isinstance(done.code, int) else (EXIT_OK if done.code is None else EXIT_USAGE)
    # Errors name the whole command, as argparse's own do: "haiku-finetune jobs show: error: ...".
    where = " ".join([PROG, args.command, *([args.action] if getattr(args, "action", None) else [])])
    ctx = Context(transport, sys.stdout, sys.stderr, where)
    handler: Handler = args.handler
    verbosity: int = getattr(args, "verbose", 0)
    library = logging.getLogger("haiku_finetune")
    level_before = library.level
    log_handler = _configure_logging(verbosity, ctx.err)
    try:
        return _run(handler, args, ctx)
    finally:
        ctx.close()
        if log_handler is not None:  # leave logging as it was: main() is also called in-process (tests, programs)
            library.removeHandler(log_handler)
            library.setLevel(level_before)


def _run(handler: Handler, args: argparse.Namespace, ctx: Context) -> int:
    """Run one handler and turn every way it can fail into one line and an exit status."""
    from .._files import UnsafePathError
    from ..errors import (
        ConnectionFailedError,
        CredentialsError,
        DatasetValidationError,
        HaikuFinetuneError,
        MissingExtraError,
    )

    try:
        return handler(args, ctx)
    except (UsageError, MissingExtraError) as error:
        ctx.error(str(error))
        return EXIT_USAGE
    except UnsafePathError as error:  # a FIFO or device given as a file, an output that is the input: usage
        ctx.error(one_line(str(error)))
        return EXIT_USAGE
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError, FileExistsError) as error:
        ctx.error(os_error(error))
        return EXIT_USAGE
    except DatasetValidationError as error:
        # Bad data: the problems themselves are the answer, one per line with its line number.
        headline = str(error).strip().splitlines()[0] if str(error).strip() else "invalid data"
        ctx.error(headline)
        for issue in error.issues:
            line = getattr(issue, "line", None)
            at = f"line {line}: " if line is not None else ""
            ctx.err.write(f"  {at}[{getattr(issue, 'code', '?')}] {getattr(issue, 'message', issue)}\n")
        return EXIT_PROBLEMS
    except CredentialsError as error:
        ctx.error(one_line(str(error)))
        return EXIT_PROBLEMS
    except ConnectionFailedError as error:
        url = getattr(args, "endpoint_url", None)
        hint = f"is anything serving {url}? check --endpoint-url" if url else "check your network, proxy and --region"
        ctx.error(f"{one_line(str(error))} ({hint})")
        return EXIT_PROBLEMS
    except HaikuFinetuneError as error:
        ctx.error(one_line(str(error)))
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        ctx.err.write(f"{ctx.where}: interrupted\n")
        return 130
    except OSError as error:  # a full disk, a file too large, an I/O error: the system's reason and the file
        if isinstance(error, BrokenPipeError) and _output_closed(ctx.out):
            # Whoever read the output stopped early (`... | head`): no failure to report, and no one to report it to.
            _discard_output(ctx.out)
            return EXIT_PROBLEMS
        _log.debug("%s failed", ctx.where, exc_info=True)
        if error.filename is None:  # naming no file, it is no user's to fix (a library bug): as below
            return _unexpected(error, ctx)
        ctx.error(os_error(error))
        return EXIT_PROBLEMS
    except Exception as error:  # noqa: BLE001 - the command's last line of defence: one line, never a traceback
        _log.debug("%s failed", ctx.where, exc_info=True)
        return _unexpected(error, ctx)


def _unexpected(error: Exception, ctx: Context) -> int:
    """Report a failure no one foresaw in one line, asking for a report."""
    ctx.error(
        f"{type(error).__name__}: {one_line(str(error)) or 'unexpected failure'} "
        "(run again with -vv for the details, and please report it)"
    )
    return EXIT_PROBLEMS


def _output_closed(out: TextIO) -> bool:
    """Whether nobody reads ``out`` any more (a pipe whose reader left), as opposed to another pipe breaking."""
    try:
        out.flush()
    except BrokenPipeError:
        return True
    except (OSError, ValueError):
        return False
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a StringIO in a test): not what broke
        return False
    if not hasattr(select, "poll"):  # no way to ask (Windows): trust that the output is what broke
        return True
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))


def _discard_output(out: TextIO) -> None:
    """Point ``out``'s file descriptor at /dev/null, so what is still buffered (flushed when the interpreter exits)
    cannot fail a second time with ``Exception ignored ... BrokenPipeError``."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):  # not a file (a StringIO in a test): there is nothing to flush
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
