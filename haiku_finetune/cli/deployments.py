"""Deployment commands: ``deployments create/list/show/delete/orphans [--delete]``.

Handlers import the deployment layer when they run. Buying and deleting ask first through the one prompt
(`_prompt`); ``--yes`` agrees up front and is required when there is no terminal. This module only
parses, calls the library and prints.
"""

from __future__ import annotations

import argparse
import inspect
import warnings
from typing import TYPE_CHECKING, Any

from ._args import Commands, confirm_option, non_negative_float, positive_float, positive_int, wait_options
from ._context import EXIT_OK, EXIT_PROBLEMS, PROG, Context, UsageError
from ._format import field_lines, table

if TYPE_CHECKING:
    from ..deployment import ProvisionedDeployment
    from ..orphans import Orphan
    from ..pricing import Pricing


def _deployment_summary(dep: ProvisionedDeployment) -> dict[str, Any]:
    return {
        "name": dep.name,
        "arn": dep.arn,
        "status": dep.status,
        "model_units": dep.model_units,
        "commitment": dep.commitment,
    }


def _guard_options(args: argparse.Namespace, create: Any) -> dict[str, Any]:
    """The cost-safety keywords of ``ProvisionedDeployment.create`` the flags ask for (``--max-lifetime``,
    ``--guard``), refused in one line when this version of the library does not take them.

    The seam for the guard options: a new one is a flag in `register` and a line here.
    """
    wanted: dict[str, Any] = {}
    if args.max_lifetime is not None:
        wanted["max_lifetime"] = args.max_lifetime * 3600.0
    if args.guard is not None:
        wanted["guard"] = args.guard
    accepted = inspect.signature(create).parameters
    missing = [name for name in wanted if name not in accepted]
    if missing:
        flags = ", ".join("--" + name.replace("_", "-") for name in missing)
        raise UsageError(f"{flags}: this version of haiku_finetune cannot guard a deployment's lifetime")
    return wanted


def _cmd_deployments_create(args: argparse.Namespace, ctx: Context) -> int:
    from ..deployment import BillingWarning, ProvisionedDeployment

    guard = _guard_options(args, ProvisionedDeployment.create)
    term = (
        f" with a {args.commitment} commitment (it cannot be deleted before the term ends)" if args.commitment else ""
    )
    lifetime = f"; deleted after {args.max_lifetime:g} h by a guard" if args.max_lifetime is not None else ""
    # With --json, standard output is one JSON document: what is said goes to stderr.
    say = (lambda text: ctx.err.write(text + "\n")) if args.json else ctx.print
    say(
        f"Provisioned Throughput for {args.model}: {args.model_units} model unit(s){term}. It is billed every "
        f"hour until it is deleted{lifetime}."
    )
    if not args.yes:
        from ._prompt import confirm

        if not confirm(
            "Buy it (billing starts now)?",
            no_terminal="refusing to buy Provisioned Throughput without confirmation: pass --yes",
        ):
            say("nothing bought")
            return EXIT_OK
    transport = ctx.transport(args)
    with warnings.catch_warnings():
        # The user has just agreed to the bill: the library's reminder would say it a second time.
        warnings.simplefilter("ignore", BillingWarning)
        dep = ProvisionedDeployment.create(
            args.model,
            model_units=args.model_units,
            name=args.name,
            commitment=args.commitment,
            transport=transport,
            **guard,
        )
        ctx.err.write(f"created {dep.name} ({dep.arn}); delete it with: {PROG} deployments delete {dep.name}\n")
        if not args.no_wait:
            dep.wait(timeout=args.timeout, progress=not args.no_progress)
    if args.json:
        ctx.json(_deployment_summary(dep))
    else:
        ctx.print(f"{dep.name}: {dep.status} ({dep.arn})")
        ctx.print(f"invoke it with: {PROG} invoke {dep.arn} 'your prompt'")
    return EXIT_OK


def _cmd_deployments_show(args: argparse.Namespace, ctx: Context) -> int:
    from ..deployment import ProvisionedDeployment

    dep = ProvisionedDeployment.attach(args.deployment, transport=ctx.transport(args))
    summary = {**_deployment_summary(dep), "failure_message": dep.failure_message}
    if args.json:
        ctx.json(summary)
    else:
        for line in field_lines(summary, 14):
            ctx.print(line)
    return EXIT_PROBLEMS if dep.status == "Failed" else EXIT_OK


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


def _age(orphan: Orphan) -> str:
    if orphan.age is None:
        return "?"
    hours = max(orphan.age.total_seconds(), 0.0) / 3600.0
    return f"{hours:.1f}h" if hours < 48 else f"{hours / 24:.1f}d"


#: Per kind: the table's first heading, what the listing says is billing, and the AWS CLI line that removes one.
_KINDS: dict[str, tuple[str, str, str]] = {
    "custom-model": (
        "custom model",
        "custom model(s) created by haiku-finetune have no deployment; each is billed for storage monthly "
        "until deleted",
        "aws bedrock delete-custom-model --model-identifier NAME",
    ),
    "customization-job": (
        "customization job",
        "customization job(s) started by haiku-finetune are still training (billed per token trained)",
        "aws bedrock stop-model-customization-job --job-identifier NAME",
    ),
    "batch-inference-job": (
        "batch inference job",
        "batch inference job(s) started by haiku-finetune are still to run or running (billed per token)",
        "aws bedrock stop-model-invocation-job --job-identifier ARN",
    ),
    "guard-schedule": (
        "guard schedule",
        "guard schedule(s) outlived their deployment (they bill nothing)",
        "aws scheduler delete-schedule --name NAME",
    ),
}


def _pricing(args: argparse.Namespace) -> Pricing | None:
    if args.price_per_model_unit_hour is None and args.price_per_model_month is None:
        return None
    from ..pricing import Pricing

    return Pricing(
        provisioned_per_model_unit_hour=args.price_per_model_unit_hour,
        model_storage_per_month=args.price_per_model_month,
    )


def _cost(orphan: Orphan, pricing: Pricing | None) -> float | None:
    cost = orphan.cost_so_far(pricing) if pricing is not None else None
    return None if cost is None else round(cost, 2)


def _cmd_deployments_orphans(args: argparse.Namespace, ctx: Context) -> int:
    from datetime import timedelta

    from ..orphans import find_billed

    older_than = timedelta(hours=args.older_than or 0.0)
    pricing = _pricing(args)
    # The service's clock decides ages (see orphans.service_now), so one created a moment ago is listed too.
    found = find_billed(older_than=older_than, transport=ctx.transport(args))
    listed = found if args.models else [o for o in found if o.kind == "provisioned-throughput"]
    if args.json:
        ctx.json(
            [
                {
                    "kind": o.kind,
                    "name": o.name,
                    "arn": o.arn,
                    "status": o.status,
                    "model_units": o.model_units,
                    "age_hours": None if o.age is None else round(o.age.total_seconds() / 3600.0, 3),
                    "cost_so_far": _cost(o, pricing),
                }
                for o in listed
            ]
        )
    elif not listed:
        ctx.print("no deployments created by haiku-finetune are running")
    if not args.json:
        _print_orphans(args, ctx, listed, pricing)
    if args.delete and listed:
        return _delete_orphans(args, ctx, listed)
    return EXIT_PROBLEMS if listed else EXIT_OK


def _print_orphans(args: argparse.Namespace, ctx: Context, listed: list[Orphan], pricing: Pricing | None) -> None:
    """One table per kind, each followed by what it bills and how to remove one."""
    cost = ("cost so far",) if pricing is not None else ()
    throughputs = [o for o in listed if o.kind == "provisioned-throughput"]
    if throughputs:
        rows = [(o.name, o.status, o.model_units, _age(o), *_cells(o, pricing), o.arn) for o in throughputs]
        ctx.print(table(("name", "status", "model units", "age", *cost, "arn"), rows))
        ctx.print(
            f"{len(throughputs)} deployment(s) created by haiku-finetune are still billed by the hour; "
            f"delete one with: {PROG} deployments delete NAME"
            + ("" if args.delete else f", or all of them with: {PROG} deployments orphans --delete")
        )
    region = ctx.transport(args).region
    for kind, (heading, billing, command) in _KINDS.items():
        these = [o for o in listed if o.kind == kind]
        if not these:
            continue
        if kind == "guard-schedule":
            rows = [(o.name, _age(o), o.arn) for o in these]
            ctx.print(table((heading, "age", "deployment it guarded (gone)"), rows))
        else:
            rows = [(o.name, o.status, _age(o), *_cells(o, pricing), o.arn) for o in these]
            ctx.print(table((heading, "status", "age", *cost, "arn"), rows))
        remove = "" if args.delete else f", or all of them with: {PROG} deployments orphans --all --delete"
        ctx.print(f"{len(these)} {billing}; remove one with: {command} --region {region}{remove}")


def _cells(orphan: Orphan, pricing: Pricing | None) -> tuple[str, ...]:
    if pricing is None:
        return ()
    cost = _cost(orphan, pricing)
    return (f"{cost:.2f} {pricing.currency}" if cost is not None else "?",)


def _delete_orphans(args: argparse.Namespace, ctx: Context, listed: list[Orphan]) -> int:
    """Delete or stop what was listed once the user agrees (``--yes`` agrees up front).

    With ``--json`` the outcome lines go to standard error, so standard output stays one JSON document.
    """
    from ..errors import HaikuFinetuneError
    from ..orphans import stop_billing

    if not args.yes:
        if args.json:  # the question would be printed into the JSON
            raise UsageError("--json with --delete needs --yes")
        from ._prompt import confirm

        question, action = _removal(listed)
        if not confirm(question, no_terminal=f"refusing to {action} without confirmation: pass --yes"):
            ctx.print("not deleted")
            return EXIT_PROBLEMS  # they are still billed
    failed = 0
    for orphan in listed:
        try:
            done = stop_billing(orphan, transport=ctx.transport(args))
        except HaikuFinetuneError as error:
            failed += 1
            ctx.error(f"could not remove {orphan.kind} {orphan.name}: {error}")
            continue
        if args.json:
            ctx.err.write(f"{done} {orphan.name}\n")
        else:
            ctx.print(f"{done} {orphan.name}")
    return EXIT_PROBLEMS if failed else EXIT_OK


#: How the question counts each kind, and whether removing it is a deletion (else the job is stopped).
_REMOVALS: dict[str, tuple[str, bool]] = {
    "provisioned-throughput": ("Provisioned Throughput(s)", True),
    "custom-model": ("custom model(s) (for good, with their trained weights)", True),
    "guard-schedule": ("stale guard schedule(s)", True),
    "customization-job": ("customization job(s)", False),
    "batch-inference-job": ("batch inference job(s)", False),
}


def _removal(listed: list[Orphan]) -> tuple[str, str]:
    """The y/N question and the same action for the refusal, e.g. ``("Delete these 2 Provisioned Throughput(s),
    and stop these 1 customization job(s)?", "delete 2 Provisioned Throughput(s), and stop 1 customization job(s)")``.
    """
    clauses = []
    for verb, deleting in (("delete", True), ("stop", False)):
        counts = [(sum(o.kind == kind for o in listed), name) for kind, (name, d) in _REMOVALS.items() if d == deleting]
        parts = [f"{n} {name}" for n, name in counts if n]
        if parts:
            clauses.append((verb, parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]))
    question = ", and ".join(f"{verb} these {what}" for verb, what in clauses)
    return question[0].upper() + question[1:] + "?", ", and ".join(f"{verb} {what}" for verb, what in clauses)


def _deployment_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("deployment", metavar="DEPLOYMENT", help="name or ARN")


def register(commands: Commands) -> None:
    """Add this group's subcommands to the top-level parser."""
    # deployments
    deps = commands.group("deployments", help="buy, list, show and delete Provisioned Throughput; find forgotten ones")
    d = deps.add(
        "create",
        _cmd_deployments_create,
        aws=True,
        json=True,
        help="buy Provisioned Throughput for a custom model (billed hourly until deleted)",
        description="Say what will be billed, ask to confirm (--yes agrees up front; it is required when there "
        "is no terminal), buy the Provisioned Throughput and wait until it is InService.",
    )
    d.add_argument("model", metavar="MODEL", help="the custom model's name or ARN")
    d.add_argument("--model-units", type=positive_int, default=1, metavar="N", help="model units (default 1)")
    d.add_argument("--name", metavar="NAME", help="deployment name (default: generated from the model's)")
    d.add_argument(
        "--commitment",
        choices=("OneMonth", "SixMonths"),
        help="a commitment term (cheaper per hour, but it cannot be deleted before the term ends)",
    )
    d.add_argument(
        "--max-lifetime",
        type=positive_float,
        metavar="HOURS",
        help="have a guard delete it after this many hours, whatever happens to this command",
    )
    d.add_argument("--guard", choices=("scheduler", "watchdog"), help="with --max-lifetime: what deletes it")
    confirm_option(d, "buy without asking")
    d.add_argument("--no-wait", action="store_true", help="return at once, while it is still Creating")
    wait_options(d, timeout_help="wait at most this", default_timeout=3600.0)
    d = deps.add(
        "show", _cmd_deployments_show, aws=True, json=True, help="show a deployment's status, model units, commitment"
    )
    _deployment_argument(d)
    deps.add("list", _cmd_deployments_list, aws=True, json=True, help="list Provisioned Throughput deployments")
    d = deps.add(
        "delete", _cmd_deployments_delete, aws=True, help="delete a Provisioned Throughput (stops its billing)"
    )
    _deployment_argument(d)
    confirm_option(d, "do not ask for confirmation")
    d = deps.add(
        "orphans",
        _cmd_deployments_orphans,
        aws=True,
        json=True,
        help="list deployments created by haiku-finetune that are still running (exit 1 if any)",
    )
    d.add_argument("--older-than", type=non_negative_float, metavar="HOURS", help="only those older than this")
    d.add_argument(
        "--all",
        "--models",
        dest="models",
        action="store_true",
        help="also list custom models created by haiku-finetune that no deployment uses (billed for storage), "
        "its customization and batch inference jobs still running and guard schedules whose deployment is gone",
    )
    d.add_argument(
        "--delete",
        action="store_true",
        help="after a y/N question, delete the listed deployments (with --all also delete the custom models, "
        "for good, stop the jobs and delete the stale guard schedules)",
    )
    d.add_argument(
        "--price-per-model-unit-hour",
        type=non_negative_float,
        metavar="PRICE",
        help="show each deployment's cost so far at this price (the library ships no prices)",
    )
    d.add_argument(
        "--price-per-model-month",
        type=non_negative_float,
        metavar="PRICE",
        help="show each custom model's storage cost so far at this monthly price",
    )
    confirm_option(d, "with --delete: delete without asking")
