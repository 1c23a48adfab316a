"""``local serve``: run LocalBedrock, the offline emulator, until Ctrl-C.

The emulator is imported when the command runs (it needs the ``local`` extra). Serving itself is the
emulator's one entry point, ``haiku_finetune.local.serve.run_serve`` (also behind ``python -m
haiku_finetune.local``), so both commands behave the same.
"""

from __future__ import annotations

import argparse
import inspect
import socket
from typing import Any

from ._args import Parser, Subparsers, port, positive_float
from ._context import EXIT_OK, Context, UsageError


def _cmd_local_serve(args: argparse.Namespace, ctx: Context) -> int:
    if args.port:
        _check_port_free(args.port)
    try:
        from ..local.serve import run_serve
    except ImportError:  # an emulator without the shared entry point: serve it here, the way it always was
        return _serve_here(args, ctx)
    return run_serve(args, out=ctx.out, err=ctx.err, prog=ctx.where)


def _serve_here(args: argparse.Namespace, ctx: Context) -> int:
    import threading

    from ..local import ACCOUNT, REGION, LocalBedrock

    options: dict[str, Any] = {"time_scale": args.time_scale, "seed": args.seed}
    if args.port:
        if "port" not in inspect.signature(LocalBedrock).parameters:
            raise UsageError("--port: this LocalBedrock cannot listen on a chosen port; leave --port out")
        options["port"] = args.port
    local = LocalBedrock(**options)
    try:
        local.start()
    except OSError as error:
        raise UsageError(f"cannot start LocalBedrock: {error.strerror or error} (try another --port)") from None
    try:
        env = local.session_env()
        ctx.print(f"# LocalBedrock: emulated account {ACCOUNT}, region {REGION}, Bedrock at {local.endpoint_url}")
        ctx.print("# Run these lines in another shell to point boto3, the AWS CLI or haiku-finetune at it:")
        for key, value in sorted(env.items()):
            ctx.print(f"export {key}={value}")
        ctx.print("# Serving until Ctrl-C.")
        ctx.out.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            ctx.print("# LocalBedrock stopped")
    finally:
        local.stop()
    return EXIT_OK


def _check_port_free(port: int) -> None:
    """Fail in one line, before starting anything, when another process listens on ``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise UsageError(
                f"port {port} on 127.0.0.1 is already in use: choose another --port, or stop what listens there"
            ) from None


#: The same default as ``python -m haiku_finetune.local`` (``haiku_finetune.local.serve.DEFAULT_TIME_SCALE``),
#: written here so that building the parser does not import the emulator.
_DEFAULT_TIME_SCALE = 60.0


def register(sub: Subparsers, aws: Parser, as_json: Parser) -> None:
    """Add this group's subcommands to the top-level parser."""
    # local
    p = sub.add_parser("local", help="run LocalBedrock, the offline emulator")
    loc = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    s = loc.add_parser(
        "serve",
        help="start LocalBedrock and print the environment that points boto3 at it",
        description="Start LocalBedrock on 127.0.0.1 and print 'export' lines (endpoint URLs and dummy "
        "credentials) for any boto3 program or the AWS CLI. Runs until Ctrl-C. Needs the 'local' extra.",
    )
    s.add_argument(
        "--time-scale",
        type=positive_float,
        default=_DEFAULT_TIME_SCALE,
        metavar="X",
        help=f"emulated seconds per real second, above 0 (default {_DEFAULT_TIME_SCALE:g}: a 2-hour job takes 2 min)",
    )
    s.add_argument("--seed", type=int, default=0, help="seed of loss curves and fault injection")
    s.add_argument(
        "--port",
        type=port,
        default=0,
        metavar="N",
        help="port of the Bedrock endpoint on 127.0.0.1 (default: a free one)",
    )
    s.set_defaults(handler=_cmd_local_serve)
