"""``evaluate``: score models on a JSONL test set, save the report, print its summary.

Scorers are chosen by name (`SCORERS`); models as ``NAME=MODEL`` (a deployment ARN or name, a model id, or
``base``). With two models the paired comparison is printed too. Handlers import the evaluation layer when they
run. This module only parses, calls the library and prints.
"""

from __future__ import annotations

import argparse
from typing import Any

from ._args import Commands, existing_file, new_directory, no_progress_option, positive_int
from ._context import EXIT_OK, EXIT_PROBLEMS, Context, UsageError

#: The scorers ``--scorer`` names, each built with its defaults (``label_accuracy``: labels from the test set).
SCORERS = ("exact_match", "label_accuracy", "rouge_l", "json_valid", "contains")


def _scorer(name: str) -> Any:
    from ..evaluation import Contains, ExactMatch, JsonValid, LabelAccuracy, RougeL

    factories: dict[str, Any] = {
        "exact_match": ExactMatch,
        "label_accuracy": LabelAccuracy,
        "rouge_l": RougeL,
        "json_valid": JsonValid,
        "contains": Contains,
    }
    return factories[name]()


def _models(values: list[str], ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    from .invoke import resolve_model

    models: dict[str, Any] = {}
    for value in values:
        name, sep, model = value.partition("=")
        if not sep:
            name, model = (value if value == "base" else "tuned"), value
        if not name or not model:
            raise UsageError(f"--model {value!r}: expected NAME=MODEL (e.g. tuned=my-deployment, base=base)")
        if name in models:
            raise UsageError(f"--model: the name {name!r} is given twice")
        models[name] = resolve_model(model, ctx.transport(args))
    return models


def _cmd_evaluate(args: argparse.Namespace, ctx: Context) -> int:
    from ..evaluation import evaluate

    scorer_names = list(dict.fromkeys(args.scorer or ["exact_match"]))
    models = _models(args.model, ctx, args)
    report = evaluate(
        models,
        args.test,
        scorers=[_scorer(name) for name in scorer_names],
        concurrency=args.concurrency,
        progress=not args.no_progress,
        max_examples=args.max_examples,
        max_tokens=args.max_tokens,
    )
    saved = report.save(args.output)
    errors = sum(summary.errors for summary in report.summary.values())
    if args.json:
        names = list(models)
        comparison = report.compare(names[1], names[0]).model_dump(mode="json") if len(names) == 2 else None
        ctx.json({"report": str(saved), **report.to_dict(), "comparison": comparison})
    else:
        ctx.print(report.to_markdown())
        names = list(models)
        if len(names) == 2:
            ctx.print("")
            ctx.print(report.compare(names[1], names[0]).to_markdown())
        ctx.print("")
        ctx.print(f"report saved to {saved}")
    if errors:
        ctx.error(f"{errors} call(s) failed; their rows are in the report")
        return EXIT_PROBLEMS
    return EXIT_OK


def register(commands: Commands) -> None:
    """Add ``evaluate`` to the top-level parser."""
    p = commands.add(
        "evaluate",
        _cmd_evaluate,
        aws=True,
        json=True,
        help="score models on a JSONL test set; save the report and print its summary",
        description="Each test record's last assistant message is the reference; the rest is the prompt. "
        "Every model answers every record, every scorer scores every answer; the report (outputs.jsonl, "
        "summary.json) is saved to --output. Exit status 1 when calls failed.",
    )
    p.add_argument("test", type=existing_file, metavar="TEST_JSONL", help="the test set (Bedrock messages JSONL)")
    p.add_argument(
        "--model",
        action="append",
        required=True,
        metavar="NAME=MODEL",
        help="a model to evaluate, repeatable: a deployment ARN or name, a model id, or 'base' (e.g. "
        "--model tuned=my-pt --model base=base)",
    )
    p.add_argument(
        "--scorer",
        action="append",
        choices=SCORERS,
        help="a scorer, repeatable (default exact_match); label_accuracy takes its labels from the test set",
    )
    p.add_argument("--output", type=new_directory, required=True, metavar="DIR", help="where to save the report")
    p.add_argument("--max-examples", type=positive_int, metavar="N", help="only the first N records")
    p.add_argument("--concurrency", type=positive_int, default=8, metavar="N", help="parallel calls per model")
    p.add_argument("--max-tokens", type=positive_int, default=1024, metavar="N", help="reply budget per example")
    no_progress_option(p, "no progress bars")
