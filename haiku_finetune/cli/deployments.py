"""Deployment commands: ``deployments list/delete/orphans``.

Handlers import the deployment layer when they run. Deleting asks first through the one prompt
(:mod:`._prompt`). This module only parses, calls the library and prints.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from ._args import Parser, Subparsers, non_negative_float
from ._context import EXIT_OK, EXIT_PROBLEMS, PROG, Context
from ._format import table

if TYPE_CHECKING:
    from ..deployment import ProvisionedDeployment


def _deployment_summary(dep: ProvisionedDeployment) -> dict[str, Any]:
    return {
        "name": dep.name,
        "arn": dep.arn,
        "status": dep.status,
        "model_units": dep.model_units,
        "commitment": dep.commitment,
    }


def _cmd_deployments_list(args: argparse.Namespace, ctx: Context) -> int:
    from ..deployment import ProvisionedDeployment

    deps = list(ProvisionedDeployment.list(transport=ctx.transport(args)))
    if args.json:
        ctx.json([_deployment_summary(d) for d in deps])
    elif not deps:
        ctx.print("no Provisioned Throughput deployments found")
    else:
        rows = [(d.name, d.status, d.model_units, d.arn) for d in deps]
        ctx.print(table(("name", "status", "model units", "arn"), rows))
    return EXIT_OK


def _cmd_deployments_delete(args: argparse.Namespace, ctx: Context) -> int:
    from ..deployment import ProvisionedDeployment

    dep = ProvisionedDeployment.attach(args.deployment, transport=ctx.transport(args))
    if not args.yes:
        from ._prompt import confirm

        question = f"Delete Provisioned Throughput {dep.name} ({dep.arn})?"
        if not confirm(question, no_terminal=f"refusing to delete {dep.name} without confirmation: pass --yes"):
            ctx.print("not deleted")
            return EXIT_OK
    dep.delete()
    ctx.print(f"deleted {dep.name}")
    return EXIT_OK


def _cmd_deployments_orphans(args: argparse.Namespace, ctx: Context) -> int:
    from datetime import datetime, timedelta, timezone

    from ..deployment import find_orphans

    if args.older_than is None:
        # No age filter: every tagged deployment, even one whose creation time is ahead of this machine's clock.
        orphans = find_orphans(now=datetime.max.replace(tzinfo=timezone.utc), transport=ctx.transport(args))
    else:
        orphans = find_orphans(older_than=timedelta(hours=args.older_than), transport=ctx.transport(args))
    if args.json:
        ctx.json([_deployment_summary(d) for d in orphans])
    elif not orphans:
        ctx.print("no deployments created by haiku-finetune are running")
    else:
        rows = [(d.name, d.status, d.model_units, d.arn) for d in orphans]
        ctx.print(table(("name", "status", "model units", "arn"), rows))
        ctx.print(
            f"{len(orphans)} deployment(s) created by haiku-finetune are still billed by the hour; "
            f"delete one with: {PROG} deployments delete NAME"
        )
    return EXIT_PROBLEMS if orphans else EXIT_OK


def register(sub: Subparsers, aws: Parser, as_json: Parser) -> None:
    """Add this group's subcommands to the top-level parser."""
    # deployments
    p = sub.add_parser("deployments", help="list and delete Provisioned Throughput; find forgotten ones")
    deps = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=Parser)
    d = deps.add_parser("list", parents=[aws, as_json], help="list Provisioned Throughput deployments")
    d.set_defaults(handler=_cmd_deployments_list)
    d = deps.add_parser("delete", parents=[aws], help="delete a Provisioned Throughput (stops its billing)")
    d.add_argument("deployment", metavar="DEPLOYMENT", help="name or ARN")
    d.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    d.set_defaults(handler=_cmd_deployments_delete)
    d = deps.add_parser(
        "orphans",
        parents=[aws, as_json],
        help="list deployments created by haiku-finetune that are still running (exit 1 if any)",
    )
    d.add_argument("--older-than", type=non_negative_float, metavar="HOURS", help="only those older than this")
    d.set_defaults(handler=_cmd_deployments_orphans)
