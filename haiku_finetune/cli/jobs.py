"""Job commands: ``plan`` and ``jobs create/list/show/wait/stop/metrics``.

``jobs create`` (and ``search``, which shares its options) takes the job from flags, a JSON or YAML spec file
(``--spec``; the keys are [`JobSpec`][haiku_finetune.jobs.JobSpec]'s field names), or both, flags winning. Handlers
import the jobs layer when they run, so the parser (and ``--help``) never loads it. This module only parses,
calls the library and prints; the one question it asks goes through `_prompt`.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._constants import JOB_STATUSES, TERMINAL_JOB_STATUSES
from ._args import (
    Commands,
    confirm_option,
    existing_file,
    non_negative_float,
    output_file,
    positive_int,
    wait_options,
)
from ._context import EXIT_OK, EXIT_PROBLEMS, Context, UsageError
from ._format import field_lines, json_ready, table

if TYPE_CHECKING:
    from ..hyperparameters import Hyperparameters
    from ..jobs import CustomizationJob
    from ..pricing import Pricing


def _hyperparameters(args: argparse.Namespace, base: Any = None) -> Hyperparameters:
    """The flags' hyperparameters over ``base`` (a spec file's mapping, API camelCase or snake_case names)."""
    from ..errors import HyperparameterError
    from ..hyperparameters import Hyperparameters

    values = {
        "epoch_count": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate_multiplier": args.learning_rate_multiplier,
        "early_stopping_threshold": args.early_stopping_threshold,
        "early_stopping_patience": args.early_stopping_patience,
    }
    chosen = {k: v for k, v in values.items() if v is not None}
    try:
        if base is None:
            return Hyperparameters(**chosen)
        if not isinstance(base, dict):
            raise UsageError("--spec: 'hyperparameters' must be a mapping of names to values")
        if any(any(c.isupper() for c in str(key)) for key in base):  # the API's camelCase names
            from_api = Hyperparameters.from_api({str(k): v for k, v in base.items()})
            start = {name: getattr(from_api, name) for name in from_api.model_fields_set}
        else:
            start = {str(k): v for k, v in base.items()}
        return Hyperparameters(**{**start, **chosen})
    except HyperparameterError as error:
        raise UsageError(str(error)) from None
    except TypeError as error:
        raise UsageError(f"--spec: hyperparameters: {error}") from None


#: The keys a ``--spec`` file may hold: :class:`~haiku_finetune.jobs.JobSpec`'s fields (pricing comes from a flag).
SPEC_KEYS = (
    "training_data",
    "validation_data",
    "output_uri",
    "role_arn",
    "staging_uri",
    "base_model",
    "job_name",
    "custom_model_name",
    "hyperparameters",
    "kms_key_id",
    "vpc_config",
    "job_tags",
    "model_tags",
)
#: Spec keys and the flags that override them.
_FLAG_OF_KEY = {
    "training_data": "training",
    "validation_data": "validation",
    "output_uri": "output_uri",
    "role_arn": "role_arn",
    "staging_uri": "staging_uri",
    "base_model": "base_model",
    "job_name": "job_name",
    "custom_model_name": "model_name",
}
_REQUIRED = {"training_data": "--training", "output_uri": "--output-uri", "role_arn": "--role-arn"}


def read_spec(path: Path) -> dict[str, Any]:
    """Read a job spec file: JSON (``.json``) or YAML (``.yaml``/``.yml``, needs PyYAML), a mapping of spec keys.

    Raises:
        UsageError: The file is not valid JSON/YAML, not a mapping, names an unknown key, or is YAML without
            PyYAML installed.
    """
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            yaml: Any = importlib.import_module("yaml")  # optional, and untyped: looked up by name
        except ImportError:
            raise UsageError(
                f"--spec {path}: reading YAML needs PyYAML, which is not installed (pip install pyyaml), "
                "or write the spec as JSON"
            ) from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise UsageError(f"--spec {path}: not valid YAML: {str(error).splitlines()[0]}") from None
    else:
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(f"--spec {path}: not valid JSON: {error}") from None
    if not isinstance(loaded, dict):
        raise UsageError(f"--spec {path}: expected a mapping of job fields, got {type(loaded).__name__}")
    unknown = sorted(set(map(str, loaded)) - set(SPEC_KEYS))
    if unknown:
        raise UsageError(f"--spec {path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(SPEC_KEYS)}")
    return {str(k): v for k, v in loaded.items()}


def job_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The job's fields (``CustomizationJob.create`` keywords) from ``--spec`` and the flags, flags winning.

    Raises:
        UsageError: A required field is missing from both, or the spec file is unreadable.
    """
    fields: dict[str, Any] = read_spec(args.spec) if getattr(args, "spec", None) else {}
    for key, flag in _FLAG_OF_KEY.items():
        value = getattr(args, flag, None)
        if value is not None:
            fields[key] = value
    fields["hyperparameters"] = _hyperparameters(args, fields.get("hyperparameters"))
    missing = [flag for key, flag in _REQUIRED.items() if not fields.get(key)]
    if missing:
        raise UsageError(f"missing {', '.join(missing)} (give the flag, or its key in a --spec file)")
    pricing = _pricing(args)
    if pricing is not None:
        fields["pricing"] = pricing
    return fields


def _pricing(args: argparse.Namespace) -> Pricing | None:
    if args.price_per_1k_training_tokens is None:
        return None
    from ..pricing import Pricing

    return Pricing(training_per_1k_tokens=args.price_per_1k_training_tokens)


def _cmd_plan(args: argparse.Namespace, ctx: Context) -> int:
    from ..jobs import CustomizationJob

    transport = ctx.transport(args)
    plan = CustomizationJob.plan(
        training_data=args.training,
        validation_data=args.validation,
        output_uri=args.output_uri,
        role_arn=args.role_arn,
        staging_uri=args.staging_uri,
        hyperparameters=_hyperparameters(args),
        base_model=args.base_model,
        job_name=args.job_name,
        custom_model_name=args.model_name,
        pricing=_pricing(args),
        transport=transport,
    )
    if args.json:
        ctx.json({"ok": plan.ok, **plan.model_dump(mode="json")})
    else:
        ctx.print(str(plan))
    return EXIT_OK if plan.ok else EXIT_PROBLEMS


def _cmd_jobs_create(args: argparse.Namespace, ctx: Context) -> int:
    from ..jobs import CustomizationJob

    fields = job_fields(args)
    transport = ctx.transport(args)
    try:
        plan = CustomizationJob.plan(**fields, transport=transport)
    except (TypeError, ValueError) as error:  # a spec value of the wrong kind: nothing was sent
        raise UsageError(f"the job: {error}") from None
    # Show the plan first, on stderr with --json so standard output stays one JSON document.
    (ctx.err.write(str(plan) + "\n") if args.json else ctx.print(str(plan)))
    if not plan.ok:
        ctx.error("a preflight check failed: nothing was submitted")
        return EXIT_PROBLEMS
    if not args.yes:
        from ._prompt import confirm

        question = f"Submit customization job {plan.job_name} (billed per token trained)?"
        if not confirm(question, no_terminal=f"refusing to submit {plan.job_name} without confirmation: pass --yes"):
            ctx.print("not submitted")
            return EXIT_OK
    # The plan's names, so the job submitted is the job shown.
    fields.update(job_name=plan.job_name, custom_model_name=plan.custom_model_name)
    job = CustomizationJob.create(**fields, transport=transport)
    if args.wait and not _wait(job, args, ctx):
        return EXIT_PROBLEMS
    if args.json:
        ctx.json(_job_summary(job))
    else:
        ctx.print(f"submitted {job.name} ({job.arn}): {job.status}")
        if not args.wait:
            ctx.print(f"follow it with: haiku-finetune jobs wait {job.name}")
    return EXIT_OK


def _job_summary(job: CustomizationJob) -> dict[str, Any]:
    return {
        "name": job.name,
        "arn": job.arn,
        "status": job.status,
        "stage": job.stage,
        "failure_message": job.failure_message,
    }


def _cmd_jobs_list(args: argparse.Namespace, ctx: Context) -> int:
    from ..jobs import CustomizationJob

    params: dict[str, Any] = {"transport": ctx.transport(args)}
    if args.status:
        params["status"] = args.status
    if args.name_contains:
        params["name_contains"] = args.name_contains
    jobs = list(CustomizationJob.list(**params))
    if args.limit:
        jobs = jobs[: args.limit]
    if args.json:
        ctx.json([_job_summary(job) for job in jobs])
    elif not jobs:
        ctx.print("no customization jobs found")
    else:
        ctx.print(table(("name", "status", "arn"), [(j.name, j.status, j.arn) for j in jobs]))
    return EXIT_OK


def _attach(args: argparse.Namespace, ctx: Context) -> CustomizationJob:
    from ..jobs import CustomizationJob

    return CustomizationJob.attach(args.job, transport=ctx.transport(args))


def _cmd_jobs_show(args: argparse.Namespace, ctx: Context) -> int:
    job = _attach(args, ctx)
    summary = _job_summary(job)
    summary["hyperparameters"] = job.hyperparameters.resolved()
    if args.json:
        ctx.json(summary)
    else:
        for line in field_lines(summary, 18):
            ctx.print(line)
    return EXIT_PROBLEMS if job.status in ("Failed", "Stopped") else EXIT_OK


def _wait(job: CustomizationJob, args: argparse.Namespace, ctx: Context) -> bool:
    """Wait for ``job`` as ``--timeout`` and ``--no-progress`` say; False (said on stderr) when it failed,
    stopped or outlasted the timeout."""
    from ..errors import JobError, WaitTimeoutError

    try:
        job.wait(timeout=args.timeout, progress=not args.no_progress)
    except (JobError, WaitTimeoutError) as error:
        ctx.error(str(error))
        return False
    return True


def _cmd_jobs_wait(args: argparse.Namespace, ctx: Context) -> int:
    job = _attach(args, ctx)
    if not _wait(job, args, ctx):
        return EXIT_PROBLEMS
    ctx.print(f"{job.name}: {job.status}")
    return EXIT_OK


def _cmd_jobs_stop(args: argparse.Namespace, ctx: Context) -> int:
    job = _attach(args, ctx)
    # Decide here, from a fresh status, rather than after job.stop(): it quietly does nothing for a job that has
    # ended, and "stop requested" would then be untrue. Nothing is left running either way, hence exit 0.
    if job.status in TERMINAL_JOB_STATUSES:
        ctx.print(f"{job.name}: already finished (status {job.status}); nothing to stop")
        return EXIT_OK
    if job.status == "Stopping":
        ctx.print(f"{job.name}: already stopping; nothing sent")
        return EXIT_OK
    job.stop()
    ctx.print(f"{job.name}: stop requested (status {job.status})")
    return EXIT_OK


def _cmd_jobs_metrics(args: argparse.Namespace, ctx: Context) -> int:
    job = _attach(args, ctx)
    metrics = job.metrics()
    early = metrics.early_stopping()
    if args.plot:
        metrics.plot(args.plot)
    if args.json:
        ctx.json(
            {
                "job": job.arn,
                "validation_losses": metrics.epoch_validation_losses(),
                "best_validation_loss": metrics.best_validation_loss,
                "training": [json_ready(r) for r in metrics.training],
                "validation": [json_ready(r) for r in metrics.validation],
                "early_stopping": json_ready(early),
                "plot": str(args.plot) if args.plot else None,
            }
        )
        return EXIT_OK
    ctx.print(metrics.table())
    ctx.print("")
    ctx.print(str(early))
    if args.plot:
        ctx.print(f"loss plot written to {args.plot}")
    return EXIT_OK


def _hyperparameter_options(parser: argparse.ArgumentParser) -> None:
    from ..base_models import DEFAULT_BASE_MODEL

    ranges = DEFAULT_BASE_MODEL.hyperparameters  # the help states the default profile's ranges, never a copy
    group = parser.add_argument_group("hyperparameters (documented defaults when left out)")
    group.add_argument("--epochs", type=int, metavar="N", help=ranges["epoch_count"].brief())
    group.add_argument("--batch-size", type=int, metavar="N", help=ranges["batch_size"].brief())
    group.add_argument(
        "--learning-rate-multiplier", type=float, metavar="X", help=ranges["learning_rate_multiplier"].brief()
    )
    group.add_argument(
        "--early-stopping-threshold", type=float, metavar="X", help=ranges["early_stopping_threshold"].brief()
    )
    group.add_argument(
        "--early-stopping-patience", type=int, metavar="N", help=ranges["early_stopping_patience"].brief()
    )


def _base_model() -> str:
    from ..base_models import BASE_MODEL_ID

    return BASE_MODEL_ID


def _job_flags(parser: argparse.ArgumentParser, *, required: bool, base_model: str | None) -> None:
    """A job's fields and hyperparameters as flags, written once for ``plan``, ``jobs create`` and ``search``.

    ``plan`` has no ``--spec``, so it requires the data, output and role flags and defaults the base model here;
    the others leave them optional because a spec file may supply them.
    """
    parser.add_argument(
        "--training", required=required, metavar="PATH_OR_S3", help="training data (local JSONL or s3://)"
    )
    parser.add_argument("--validation", metavar="PATH_OR_S3", help="validation data (local JSONL or s3://)")
    parser.add_argument("--output-uri", required=required, metavar="S3", help="s3:// prefix for the job's output")
    parser.add_argument("--role-arn", required=required, metavar="ARN", help="the service role Bedrock assumes")
    parser.add_argument("--staging-uri", metavar="S3", help="s3:// prefix where local data is uploaded")
    parser.add_argument("--base-model", default=base_model, metavar="ID", help="base model id (default: Haiku)")
    parser.add_argument("--job-name", metavar="NAME")
    parser.add_argument("--model-name", metavar="NAME", help="custom model name")
    parser.add_argument(
        "--price-per-1k-training-tokens",
        type=non_negative_float,
        metavar="USD",
        help="training price, to estimate the cost (the library ships no prices)",
    )
    _hyperparameter_options(parser)


def job_options(parser: argparse.ArgumentParser) -> None:
    """The options describing a job, as ``jobs create`` and ``search`` take them (``--spec`` or flags)."""
    parser.add_argument(
        "--spec",
        type=existing_file,
        metavar="FILE",
        help="a JSON or YAML (needs PyYAML) file of job fields: training_data, output_uri, role_arn, "
        "validation_data, staging_uri, hyperparameters, ...; flags override it",
    )
    _job_flags(parser, required=False, base_model=None)


def _job_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("job", metavar="JOB", help="job name or ARN")


def register(commands: Commands) -> None:
    """Add this group's subcommands to the top-level parser."""
    # plan
    p = commands.add(
        "plan",
        _cmd_plan,
        aws=True,
        json=True,
        help="preflight a customization job and estimate it, submitting nothing",
        description="Run every preflight check of a customization job (data, hyperparameters, role, bucket, "
        "names, base model) and estimate tokens, steps and cost. Nothing is created. Exit status 1 when a "
        "check fails.",
    )
    _job_flags(p, required=True, base_model=_base_model())

    # jobs
    jobs = commands.group("jobs", help="create, list, inspect, wait for, stop customization jobs; read their metrics")
    j = jobs.add(
        "create",
        _cmd_jobs_create,
        aws=True,
        json=True,
        help="plan, confirm and submit a customization job",
        description="Run the preflight checks and print the plan, ask to confirm (--yes agrees up front; it is "
        "required when there is no terminal), then validate and upload local data and submit the job. Exit "
        "status 1 when a check fails (nothing is submitted) or, with --wait, when the job fails.",
    )
    job_options(j)
    confirm_option(j, "submit without asking")
    j.add_argument("--wait", action="store_true", help="wait for the job to finish")
    wait_options(j, timeout_help="with --wait: give up after this", progress_help="with --wait: no progress bar")
    j = jobs.add("list", _cmd_jobs_list, aws=True, json=True, help="list customization jobs (newest first)")
    j.add_argument("--status", choices=JOB_STATUSES, help="only this status")
    j.add_argument("--name-contains", metavar="TEXT")
    j.add_argument("--limit", type=positive_int, metavar="N", help="show at most N jobs")
    j = jobs.add("show", _cmd_jobs_show, aws=True, json=True, help="show a job's status, stage and settings")
    _job_argument(j)
    j = jobs.add(
        "wait",
        _cmd_jobs_wait,
        aws=True,
        help="wait for a job to finish (exit 1 if it fails or stops)",
        description="Poll gently with a progress bar until the job finishes. Ctrl-C stops waiting, not the job.",
    )
    _job_argument(j)
    wait_options(j, timeout_help="give up after this long")
    j = jobs.add("stop", _cmd_jobs_stop, aws=True, help="ask Bedrock to stop a running job")
    _job_argument(j)
    j = jobs.add(
        "metrics",
        _cmd_jobs_metrics,
        aws=True,
        json=True,
        help="per-epoch losses and the early-stopping explanation",
        description="Read the job's training and validation metrics from S3, print them per epoch, and explain "
        "early stopping. --plot writes a loss plot (needs the 'plot' extra).",
    )
    _job_argument(j)
    j.add_argument("--plot", type=output_file, metavar="FILE", help="write a loss plot (PNG, SVG or PDF by extension)")
