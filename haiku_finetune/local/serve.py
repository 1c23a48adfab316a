"""The standalone LocalBedrock server: the one implementation behind ``haiku-finetune local serve`` and
``python -m haiku_finetune.local``.

Both take the same options with the same defaults
([`add_serve_arguments`][haiku_finetune.local.serve.add_serve_arguments]) and run
[`run_serve`][haiku_finetune.local.serve.run_serve]: start
the emulator, print ``export`` lines that point boto3 (and the AWS CLI, and this library) at it, serve until
Ctrl-C or SIGTERM, stop cleanly. This module must not define an emulator behaviour of its own: it only starts
[`LocalBedrock`][haiku_finetune.local.LocalBedrock] with what the command line says.

Emulated time runs at `DEFAULT_TIME_SCALE` (60) emulated seconds per real second by default: a two-hour
job takes two minutes, a deployment comes up in 20 s, and emulated timestamps stay within a day of the real
clock for the first 24 minutes of serving (they run ahead by 59 s per real second).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import TextIO

# The one declaration of the options and their default time scale, shared with 'haiku-finetune local serve'; it
# lives in the CLI, which must not import the emulator, and imports nothing heavy.
from ..cli.local import DEFAULT_TIME_SCALE, add_serve_arguments

__all__ = ["DEFAULT_TIME_SCALE", "add_serve_arguments", "run_serve", "serve_main"]


def run_serve(
    args: argparse.Namespace,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    prog: str = "python -m haiku_finetune.local",
) -> int:
    """Serve LocalBedrock as ``args`` (from [`add_serve_arguments`][haiku_finetune.local.serve.add_serve_arguments])
    say, until Ctrl-C or SIGTERM.

    Args:
        args: Parsed ``port``, ``time_scale``, ``seed``, ``date`` (a ``datetime.date`` or None) and ``region``.
        out: Where the ``export`` lines go (default: standard output).
        err: Where a failure to start is reported, in one line (default: standard error).
        prog: The command's name, for that line.

    Returns:
        The exit status: 0 after a clean stop, 1 when the emulator could not start (e.g. the port is taken).
    """
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    from . import ACCOUNT, LocalBedrock

    local = LocalBedrock(time_scale=args.time_scale, seed=args.seed, port=args.port, date=args.date, region=args.region)
    with _sigterm_interrupts():
        try:
            try:
                local.start()
            except OSError as error:
                err.write(
                    f"{prog}: error: LocalBedrock could not start on port {args.port}: {error.strerror or error}\n"
                )
                return 1
            env = local.session_env()
            print(
                f"# LocalBedrock: emulated account {ACCOUNT}, region {local.region}, Bedrock at {local.endpoint_url}",
                file=out,
            )
            print(f"# Emulated date {local.date.isoformat()} (UTC): it decides each model's lifecycle.", file=out)
            print(f"# Emulated time runs {args.time_scale:g} times as fast as real time.", file=out)
            print("# Run these lines in another shell to point boto3, the AWS CLI or haiku-finetune at it:", file=out)
            for key, value in sorted(env.items()):
                print(f"export {key}={value}", file=out)
            print("# Serving until Ctrl-C.", file=out, flush=True)
            threading.Event().wait()
        except KeyboardInterrupt:
            print("# LocalBedrock stopped", file=out, flush=True)
        finally:
            local.stop()
    return 0


def serve_main(argv: Sequence[str] | None = None) -> int:
    """``python -m haiku_finetune.local [--port N] [--time-scale X] [--seed N] [--date D] [--region R]``."""
    parser = argparse.ArgumentParser(
        prog="python -m haiku_finetune.local",
        description="Start LocalBedrock on 127.0.0.1 and print 'export' lines (endpoint URLs and dummy "
        "credentials) for any boto3 program or the AWS CLI. Runs until Ctrl-C. Same as 'haiku-finetune local serve'.",
    )
    add_serve_arguments(parser)
    return run_serve(parser.parse_args(argv))


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Make SIGTERM stop the server as Ctrl-C does (``docker stop``, ``kill``), when running in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
