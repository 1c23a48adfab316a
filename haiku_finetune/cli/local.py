"""``local serve``: run LocalBedrock, the offline emulator, until Ctrl-C.

The emulator is imported when the command runs (it needs the ``local`` extra). Serving itself is the
emulator's one entry point, ``haiku_finetune.local.serve.run_serve`` (also behind ``python -m
haiku_finetune.local``), and both commands take the options `add_serve_arguments` declares, so they behave the
same.
"""

from __future__ import annotations

import argparse
import socket

from ._args import Commands, iso_date, port, positive_float, region_name
from ._context import Context, UsageError


def _cmd_local_serve(args: argparse.Namespace, ctx: Context) -> int:
    if args.port:
        _check_port_free(args.port)
    try:
        from ..local.serve import run_serve
    except ImportError as error:  # moto, behind the 'local' extra
        raise UsageError(
            f"local serve needs the 'local' extra ({error.name or error}): pip install 'haiku-finetune[local]'"
        ) from None
    return run_serve(args, out=ctx.out, err=ctx.err, prog=ctx.where)


def _check_port_free(port: int) -> None:
    """Fail in one line, before starting anything, when another process listens on ``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise UsageError(
                f"port {port} on 127.0.0.1 is already in use: choose another --port, or stop what listens there"
            ) from None


#: Emulated seconds per real second when serving (``haiku_finetune.local.serve.DEFAULT_TIME_SCALE`` is this one).
DEFAULT_TIME_SCALE = 60.0
#: The emulator's ``haiku_finetune.local.REGION``, ``haiku_finetune.local.clock.MAX_TIME_SCALE`` and
#: ``haiku_finetune.local.clock.DATE_VARIABLE``, written here so that building the parser does not import the
#: emulator (a test pins them to the emulator's).
_DEFAULT_REGION = "us-west-2"
_MAX_TIME_SCALE = 86_400.0
_DATE_VARIABLE = "LOCAL_BEDROCK_DATE"


def _time_scale(value: str) -> float:
    """Emulated seconds per real second: above 0 and at most what the emulator's clock takes."""
    scale = positive_float(value)
    if scale > _MAX_TIME_SCALE:
        raise argparse.ArgumentTypeError(f"must be at most {_MAX_TIME_SCALE:g}, got {value}")
    return scale


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--time-scale``, ``--seed``, ``--port``, ``--date`` and ``--region`` to ``parser``.

    The one declaration of the serving options, for ``haiku-finetune local serve`` and ``python -m
    haiku_finetune.local`` alike: it lives here, not in ``haiku_finetune.local``, because the CLI's parser must not
    import the emulator, while the emulator may use the CLI's light parsers.
    """
    parser.add_argument(
        "--time-scale",
        type=_time_scale,
        default=DEFAULT_TIME_SCALE,
        metavar="X",
        help=f"emulated seconds per real second, above 0 and up to {_MAX_TIME_SCALE:g} "
        f"(default {DEFAULT_TIME_SCALE:g}: a 2-hour job takes 2 min)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of identifiers, loss curves and fault injection")
    parser.add_argument(
        "--port",
        type=port,
        default=0,
        metavar="N",
        help="port of the Bedrock endpoint on 127.0.0.1 (default 0: a free one)",
    )
    parser.add_argument(
        "--date",
        type=iso_date,
        default=None,
        metavar="YYYY-MM-DD",
        help=f"emulated date at start, midnight UTC (default: ${_DATE_VARIABLE}, else today); each base "
        "model's lifecycle follows it",
    )
    parser.add_argument(
        "--region",
        type=region_name,
        default=_DEFAULT_REGION,
        metavar="NAME",
        help="emulated region: ARNs, the printed AWS_REGION and each base model's lifecycle "
        f"(default {_DEFAULT_REGION})",
    )


def register(commands: Commands) -> None:
    """Add this group's subcommands to the top-level parser."""
    # local
    loc = commands.group("local", help="run LocalBedrock, the offline emulator")
    s = loc.add(
        "serve",
        _cmd_local_serve,
        help="start LocalBedrock and print the environment that points boto3 at it",
        description="Start LocalBedrock on 127.0.0.1 and print 'export' lines (endpoint URLs and dummy "
        "credentials) for any boto3 program or the AWS CLI. Runs until Ctrl-C. Needs the 'local' extra.",
    )
    add_serve_arguments(s)
