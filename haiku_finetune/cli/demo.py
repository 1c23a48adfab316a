"""``demo``: the whole fine-tuning workflow, offline on LocalBedrock or, with ``--aws``, on a real account.

The workflow itself is `haiku_finetune.demo`; this module only turns options into
`DemoOptions`, lends it the one prompt and the one transport, and prints.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ._args import Commands, confirm_option, new_directory, no_progress_option
from ._context import EXIT_OK, EXIT_PROBLEMS, Context, UsageError


def _cmd_demo(args: argparse.Namespace, ctx: Context) -> int:
    from ..demo import DemoOptions, run_demo, run_lifecycle_demo

    if args.lifecycle:
        if args.aws:
            raise UsageError("--lifecycle runs offline only (two LocalBedrock emulators at today's date)")
        return EXIT_OK if run_lifecycle_demo(out=ctx.out) else EXIT_PROBLEMS
    if args.aws and not args.bucket:
        raise UsageError("--aws needs --bucket: an existing S3 bucket in the region, for the data and the output")
    if not args.aws and (args.bucket or args.keep or args.yes):
        raise UsageError("--bucket, --keep and --yes only apply with --aws")
    options = DemoOptions(
        output=args.output,
        aws=args.aws,
        assume_yes=args.yes,
        progress=not args.no_progress,
        region=args.region,
        profile=args.profile,
        bucket=args.bucket,
        role_name=args.role_name,
        keep=args.keep,
        confirm=_confirm_billable,
    )
    result = run_demo(options, out=ctx.out, transport=ctx.transport(args) if args.aws else None)
    return EXIT_OK if result.ok else EXIT_PROBLEMS


def _confirm_billable(question: str) -> bool:
    from ._prompt import confirm

    return confirm(question, no_terminal="no terminal to ask on: pass --yes to agree to billable steps up front")


def register(commands: Commands) -> None:
    """Add ``demo`` to the top-level parser."""
    p = commands.add(
        "demo",
        _cmd_demo,
        aws=True,
        help="run the whole fine-tuning workflow offline on LocalBedrock (under a minute)",
        description="Sample data -> convert -> validate -> split -> IAM role -> upload -> plan -> job -> "
        "metrics and loss plot -> Provisioned Throughput -> invoke -> evaluate base vs tuned -> clean up. "
        "Offline on LocalBedrock unless --aws.",
    )
    p.add_argument(
        "--output",
        type=new_directory,
        default=Path("haiku-finetune-demo"),
        metavar="DIR",
        help="where to write files (default ./haiku-finetune-demo)",
    )
    p.add_argument(
        "--aws", action="store_true", help="run against your real AWS account (billable; asks first, cleans up)"
    )
    p.add_argument("--bucket", metavar="NAME", help="with --aws: an S3 bucket in the region for data and output")
    p.add_argument(
        "--role-name", default="haiku-finetune-demo", metavar="NAME", help="with --aws: the service role to ensure"
    )
    confirm_option(p, "with --aws: do not ask before billable steps")
    p.add_argument("--keep", action="store_true", help="with --aws: keep the custom model at the end")
    no_progress_option(p, "no progress bars")
    p.add_argument(
        "--lifecycle",
        action="store_true",
        help="instead: show the plan refusing Claude 3 Haiku in us-west-2 today and passing with its successor",
    )
