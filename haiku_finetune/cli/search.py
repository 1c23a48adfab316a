"""``search``: a hyperparameter grid search, one fine-tuning job per combination, ranked by validation loss.

The job is described as for ``jobs create`` (flags or ``--spec``); ``--grid NAME=V1,V2`` names the values to try.
The plan (every trial and its estimated billed tokens) is printed first and confirmed through `_prompt`
(``--yes`` off a terminal); ``--plan-only`` stops there. Handlers import the search layer when they run. This
module only parses, calls the library and prints.
"""

from __future__ import annotations

import argparse
import io
from typing import Any

from ._args import Commands, confirm_option, positive_int, wait_options
from ._context import EXIT_OK, EXIT_PROBLEMS, Context, UsageError
from .jobs import job_fields, job_options

#: The hyperparameters ``--grid`` may search (snake_case, as :class:`~haiku_finetune.Hyperparameters` names them).
GRID_NAMES = (
    "epoch_count",
    "batch_size",
    "learning_rate_multiplier",
    "early_stopping_threshold",
    "early_stopping_patience",
)


def parse_grid(values: list[str]) -> dict[str, list[int | float]]:
    """``["learning_rate_multiplier=0.5,1", "epoch_count=2,3"]`` → ``{name: [values]}``.

    Raises:
        UsageError: Not ``NAME=V1,V2``, an unknown name, a name given twice, or a value that is not a number.
    """
    grid: dict[str, list[int | float]] = {}
    for value in values:
        name, sep, items = value.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not items.strip():
            raise UsageError(f"--grid {value!r}: expected NAME=V1,V2 (e.g. learning_rate_multiplier=0.5,1)")
        if name not in GRID_NAMES:
            raise UsageError(f"--grid {value!r}: unknown hyperparameter {name!r}; one of {', '.join(GRID_NAMES)}")
        if name in grid:
            raise UsageError(f"--grid: {name} is given twice (list all its values in one --grid)")
        parsed: list[int | float] = []
        for item in items.split(","):
            text = item.strip()
            try:
                parsed.append(int(text) if text.lstrip("-").isdigit() else float(text))
            except ValueError:
                raise UsageError(f"--grid {name}: not a number: {text!r}") from None
        grid[name] = parsed
    return grid


def _cmd_search(args: argparse.Namespace, ctx: Context) -> int:
    from .._names import generate_name
    from ..errors import WaitTimeoutError
    from ..search import search

    fields = job_fields(args)
    grid = parse_grid(args.grid)
    # One prefix for the plan and the run, so the trials confirmed are the trials submitted.
    fields["job_name"] = fields.get("job_name") or generate_name("hp-search", "job", reserve=len("-t00"))
    transport = ctx.transport(args)
    common: dict[str, Any] = {"grid": grid, "budget": args.budget, "transport": transport}
    shown = io.StringIO()
    try:
        plan = search(fields, plan_only=True, out=shown, **common)
    except ValueError as error:  # a grid over --budget, no validation data: refused before anything runs
        raise UsageError(str(error)) from None
    (ctx.err if args.json else ctx.out).write(shown.getvalue())
    if args.plan_only:
        if args.json:
            ctx.json(plan.model_dump(mode="json"))
        return EXIT_OK
    if not args.yes:
        from ._prompt import confirm

        question = f"Submit {len(plan.trials)} customization job(s), at most {args.max_parallel} at a time?"
        if not confirm(question, no_terminal="refusing to submit the search without confirmation: pass --yes"):
            ctx.print("not submitted")
            return EXIT_OK
    try:
        result = search(
            fields,
            max_parallel=args.max_parallel,
            timeout=args.timeout,
            progress=not args.no_progress,
            **common,
        )
    except WaitTimeoutError as error:
        ctx.error(str(error))
        partial = getattr(error, "result", None)
        if partial is not None:
            ctx.print(partial.to_markdown())
        return EXIT_PROBLEMS
    if args.json:
        best = result.best
        ctx.json({**result.model_dump(mode="json"), "best": best.model_dump(mode="json") if best else None})
    else:
        ctx.print(result.to_markdown())
        if result.best is not None:
            ctx.print("")
            ctx.print(f"best: {result.best.job_name} (validation loss {result.best.objective:g}) {result.best.values}")
    return EXIT_OK if result.best is not None else EXIT_PROBLEMS


def register(commands: Commands) -> None:
    """Add ``search`` to the top-level parser."""
    p = commands.add(
        "search",
        _cmd_search,
        aws=True,
        json=True,
        help="grid-search hyperparameters: one job per combination, ranked by validation loss",
        description="Plan every combination of the --grid values (printed with the estimated billed tokens), ask "
        "to confirm (--yes agrees up front; it is required when there is no terminal), run the jobs a few at a "
        "time and print the leaderboard. The job is given as for 'jobs create'; it needs validation data. Exit "
        "status 1 when no trial finished with a validation loss.",
    )
    job_options(p)
    p.add_argument(
        "--grid",
        action="append",
        required=True,
        metavar="NAME=V1,V2",
        help="values to try for one hyperparameter, repeatable (e.g. --grid learning_rate_multiplier=0.5,1)",
    )
    p.add_argument("--budget", type=positive_int, metavar="N", help="refuse a grid of more than N jobs")
    p.add_argument("--max-parallel", type=positive_int, default=2, metavar="N", help="jobs at once (default 2)")
    p.add_argument("--plan-only", action="store_true", help="print the plan and submit nothing")
    confirm_option(p, "submit without asking")
    wait_options(p, timeout_help="give up waiting after this")
