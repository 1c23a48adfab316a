"""The ``haiku-finetune`` command: everyday fine-tuning tasks from a shell, and the offline demo.

Subcommands map one to one onto library calls; this module only parses arguments, calls the library and
prints. Exit status: 0 when all is well, 1 when problems were found (invalid data, a failing preflight check, a
failed job, orphaned deployments) or an AWS call failed, 2 for a usage error (bad arguments, a missing file),
always with a one-line message on stderr. ``--json`` prints machine-readable output where it is useful.

Heavy modules (the emulator, matplotlib, the jobs and deployment layers) are imported inside the commands that
need them, so ``haiku-finetune --help`` and the dataset commands start fast and work without the extras.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from . import __version__
from ._transport import BedrockTransport
from .errors import DatasetValidationError, HaikuFinetuneError, HyperparameterError, MissingExtraError

if TYPE_CHECKING:
    from .deployment import ProvisionedDeployment
    from .hyperparameters import Hyperparameters
    from .jobs import CustomizationJob
    from .metrics import TrainingMetrics
    from .pricing import Pricing

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "UsageError", "build_parser", "main"]

#: Exit status: everything is fine.
EXIT_OK = 0
#: Exit status: problems were found (bad data, failing checks, a failed job, orphans) or a call failed.
EXIT_PROBLEMS = 1
#: Exit status: the command line was wrong or an input file could not be read.
EXIT_USAGE = 2

PROG = "haiku-finetune"


class UsageError(Exception):
    """A mistake in how the command was called; reported in one line with exit status 2."""


class _Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


class _Context:
    """What every command gets besides its arguments: output streams and a way to reach AWS."""

    def __init__(self, transport: BedrockTransport | None, out: TextIO, err: TextIO, where: str = PROG) -> None:
        self._transport = transport
        self.out = out
        self.err = err
        self.where = where

    def transport(self, args: argparse.Namespace) -> BedrockTransport:
        """Return the injected transport, or one built from ``--profile`` / ``--region`` (and the environment)."""
        if self._transport is not None:
            return self._transport
        import boto3

        profile = getattr(args, "profile", None)
        region = getattr(args, "region", None)
        session = boto3.Session(profile_name=profile, region_name=region)
        self._transport = BedrockTransport(session=session, region=region)
        return self._transport

    def print(self, *parts: object) -> None:
        """Print to standard output."""
        print(*parts, file=self.out)

    def json(self, value: Any) -> None:
        """Print ``value`` as indented JSON."""
        print(json.dumps(value, indent=2, default=str, ensure_ascii=False), file=self.out)

    def error(self, message: str) -> None:
        """Print one error line on standard error, prefixed with the command (``haiku-finetune jobs show``)."""
        self.err.write(f"{self.where}: error: {message}\n")


Handler = Callable[[argparse.Namespace, _Context], int]


# -- helpers -------------------------------------------------------------------------------------------------


def _existing_file(value: str) -> Path:
    path = Path(value)
    if not path.exists():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"{value} is a directory, not a file")
    return path


def _fraction(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < number < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {value}")
    return number


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return number


def _non_negative_float(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {value}")
    return number


def _losses(values: Sequence[str]) -> list[float]:
    """Parse ``--losses`` given as separate words, commas, or both."""
    losses: list[float] = []
    for word in values:
        for item in word.replace(",", " ").split():
            try:
                number = float(item)
            except ValueError:
                raise UsageError(f"--losses: not a number: {item!r}") from None
            if not math.isfinite(number):
                raise UsageError(f"--losses: not a finite number: {item!r}")
            losses.append(number)
    if not losses:
        raise UsageError("--losses needs at least one validation loss")
    return losses


def _table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Render a plain-text table with a header rule; numbers right-aligned."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    numeric = [all(_is_number(row[i]) for row in cells) if cells else False for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "-"
    return True


def _issue_lines(source: str, issues: Iterable[Any], kind: str) -> list[str]:
    """Format issues compiler-style: ``FILE:LINE: error [code] message``."""
    lines = []
    for issue in issues:
        where = f"{source}:{issue.line}" if getattr(issue, "line", None) is not None else source
        lines.append(f"{where}: {kind} [{issue.code}] {issue.message}")
    return lines


def _model_dump(value: Any) -> Any:
    """Return a JSON-ready form of a pydantic model, a dataclass-ish object or a plain value."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


# -- dataset commands -----------------------------------------------------------------------------------------


def _cmd_validate(args: argparse.Namespace, ctx: _Context) -> int:
    from .datasets import validate_file, validate_files

    if args.validation is not None:
        both = validate_files(args.file, args.validation, max_issues=args.max_issues)
        if args.json:
            ctx.json(both.to_dict())
            return EXIT_OK if both.ok else EXIT_PROBLEMS
        reports = [both.train, *([both.validation] if both.validation is not None else [])]
        cross_errors, cross_warnings, ok = both.cross_errors, both.cross_warnings, both.ok
    else:
        report = validate_file(args.file, split=args.split, max_issues=args.max_issues)
        if args.json:
            ctx.json(report.to_dict())
            return EXIT_OK if report.ok else EXIT_PROBLEMS
        reports, cross_errors, cross_warnings, ok = [report], [], [], report.ok

    paths = [str(args.file), str(args.validation)]
    for path, rep in zip(paths, reports, strict=False):
        for text in _issue_lines(path, rep.errors, "error"):
            ctx.print(text)
        if not args.quiet:
            for text in _issue_lines(path, rep.warnings, "warning"):
                ctx.print(text)
    for text in _issue_lines("training + validation", cross_errors, "error"):
        ctx.print(text)
    if not args.quiet:
        for text in _issue_lines("training + validation", cross_warnings, "warning"):
            ctx.print(text)
    for path, rep in zip(paths, reports, strict=False):
        errors = len(rep.errors) + rep.omitted_errors
        warnings = len(rep.warnings) + rep.omitted_warnings
        verdict = "valid" if rep.ok else "INVALID"
        more = (
            f" (only the first {len(rep.errors) + len(rep.warnings)} listed: raise --max-issues to see more)"
            if rep.omitted_errors or rep.omitted_warnings
            else ""
        )
        ctx.print(
            f"{path}: {verdict} as {rep.split} data: {rep.stats.records} records, {errors} error(s), "
            f"{warnings} warning(s){more}"
        )
    if cross_errors or cross_warnings:
        ctx.print(f"training + validation: {len(cross_errors)} error(s), {len(cross_warnings)} warning(s)")
    return EXIT_OK if ok else EXIT_PROBLEMS


def _cmd_convert(args: argparse.Namespace, ctx: _Context) -> int:
    from .datasets import convert_csv, convert_openai_chat, convert_prompt_completion

    if args.src.resolve() == Path(args.dst).resolve():
        raise UsageError("SRC and DST are the same file; write the converted data somewhere else")
    if args.format == "prompt-completion":
        result = convert_prompt_completion(args.src, args.dst, system=args.system)
    elif args.format == "openai":
        result = convert_openai_chat(args.src, args.dst, drop_unsupported=args.drop_unsupported)
    else:
        result = convert_csv(
            args.src,
            args.dst,
            user_column=args.user_column,
            assistant_column=args.assistant_column,
            system_column=args.system_column,
            system=args.system,
        )
    if args.json:
        ctx.json(result.to_dict())
        return EXIT_OK if result.ok else EXIT_PROBLEMS
    for text in _issue_lines(str(args.src), result.errors, "error"):
        ctx.print(text)
    if result.destination is None:
        ctx.print(f"nothing written: {len(result.errors)} problem(s) with {args.src}")
        return EXIT_PROBLEMS
    dropped = f", {result.dropped} dropped on purpose" if result.dropped else ""
    ctx.print(
        f"wrote {result.written} record(s) to {result.destination}{dropped}; "
        f"{len(result.errors)} input line(s) could not be converted"
    )
    if result.ok:
        ctx.print(f"next: {PROG} validate {result.destination}")
    return EXIT_OK if result.ok else EXIT_PROBLEMS


def _cmd_split(args: argparse.Namespace, ctx: _Context) -> int:
    from .datasets import DatasetBuilder

    src: Path = args.src
    stem = src.name[: -len(".jsonl")] if src.name.endswith(".jsonl") else src.stem
    train_out = Path(args.train_out) if args.train_out else src.with_name(f"{stem}.train.jsonl")
    val_out = Path(args.validation_out) if args.validation_out else src.with_name(f"{stem}.validation.jsonl")
    if len({src.resolve(), train_out.resolve(), val_out.resolve()}) < 3:
        raise UsageError("the source and the two outputs must be three different files")
    builder = DatasetBuilder.from_jsonl(src)
    try:
        if args.validation_size is not None:
            train, validation = builder.split(validation_size=args.validation_size, seed=args.seed)
        else:
            train, validation = builder.split(validation_fraction=args.validation_fraction, seed=args.seed)
    except DatasetValidationError:
        raise
    except ValueError as error:
        raise UsageError(str(error)) from None
    train.write(train_out)
    validation.write(val_out, split="validation")
    if args.json:
        ctx.json(
            {
                "train": {"path": str(train_out), "records": len(train), "sha256": train.sha256()},
                "validation": {"path": str(val_out), "records": len(validation), "sha256": validation.sha256()},
                "seed": args.seed,
            }
        )
    else:
        ctx.print(f"train:      {len(train):>6} records -> {train_out}")
        ctx.print(f"validation: {len(validation):>6} records -> {val_out}")
    return EXIT_OK


def _cmd_stats(args: argparse.Namespace, ctx: _Context) -> int:
    from .datasets import validate_file

    report = validate_file(args.file, split=args.split)
    if args.json:
        ctx.json({"file": str(args.file), "ok": report.ok, "stats": report.stats.to_dict()})
    else:
        ctx.print(str(args.file))
        ctx.print(str(report.stats))
        if not report.ok:
            errors = len(report.errors) + report.omitted_errors
            ctx.print(f"{errors} validation error(s): '{PROG} validate {args.file}' lists them")
    return EXIT_OK if report.ok else EXIT_PROBLEMS


def _cmd_simulate(args: argparse.Namespace, ctx: _Context) -> int:
    from .early_stopping import simulate_early_stopping

    losses = _losses(args.losses)
    try:
        result = simulate_early_stopping(losses, threshold=args.threshold, patience=args.patience)
    except ValueError as error:
        raise UsageError(str(error)) from None
    if args.json:
        ctx.json(result.model_dump(mode="json"))
        return EXIT_OK
    rows = []
    for epoch, (loss, improved) in enumerate(zip(losses, result.improved, strict=False), 1):
        note = "best" if epoch == result.best_epoch else ""
        if epoch == result.stopped_epoch:
            note = (note + ", stopped here").lstrip(", ")
        rows.append((epoch, loss, "yes" if improved else ("reference" if epoch == 1 else "no"), note))
    ctx.print(_table(("epoch", "validation loss", "improved", "note"), rows))
    ignored = len(losses) - result.epochs_run
    if ignored:
        ctx.print(f"({ignored} later epoch(s) would not run)")
    ctx.print("")
    ctx.print(result.explanation)
    return EXIT_OK


# -- jobs and plans -------------------------------------------------------------------------------------------


def _hyperparameters(args: argparse.Namespace) -> Hyperparameters:
    from .hyperparameters import Hyperparameters

    values = {
        "epoch_count": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate_multiplier": args.learning_rate_multiplier,
        "early_stopping_threshold": args.early_stopping_threshold,
        "early_stopping_patience": args.early_stopping_patience,
    }
    chosen = {k: v for k, v in values.items() if v is not None}
    try:
        return Hyperparameters(**chosen)
    except HyperparameterError as error:
        raise UsageError(str(error)) from None


def _pricing(args: argparse.Namespace) -> Pricing | None:
    if args.price_per_1k_training_tokens is None:
        return None
    from .pricing import Pricing

    return Pricing(training_per_1k_tokens=args.price_per_1k_training_tokens)


def _cmd_plan(args: argparse.Namespace, ctx: _Context) -> int:
    from .jobs import CustomizationJob

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


def _job_summary(job: CustomizationJob) -> dict[str, Any]:
    return {
        "name": job.name,
        "arn": job.arn,
        "status": job.status,
        "stage": job.stage,
        "failure_message": job.failure_message,
    }


def _cmd_jobs_list(args: argparse.Namespace, ctx: _Context) -> int:
    from .jobs import CustomizationJob

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
        ctx.print(_table(("name", "status", "arn"), [(j.name, j.status, j.arn) for j in jobs]))
    return EXIT_OK


def _attach(args: argparse.Namespace, ctx: _Context) -> CustomizationJob:
    from .jobs import CustomizationJob

    return CustomizationJob.attach(args.job, transport=ctx.transport(args))


def _cmd_jobs_show(args: argparse.Namespace, ctx: _Context) -> int:
    job = _attach(args, ctx)
    summary = _job_summary(job)
    summary["hyperparameters"] = job.hyperparameters.resolved()
    if args.json:
        ctx.json(summary)
    else:
        for key, value in summary.items():
            if value is not None:
                ctx.print(f"{key + ':':<18}{value}")
    return EXIT_PROBLEMS if job.status in ("Failed", "Stopped") else EXIT_OK


def _cmd_jobs_wait(args: argparse.Namespace, ctx: _Context) -> int:
    from .errors import JobError, WaitTimeoutError

    job = _attach(args, ctx)
    try:
        job.wait(timeout=args.timeout, progress=not args.no_progress)
    except (JobError, WaitTimeoutError) as error:
        ctx.error(str(error))
        return EXIT_PROBLEMS
    ctx.print(f"{job.name}: {job.status}")
    return EXIT_OK


def _cmd_jobs_stop(args: argparse.Namespace, ctx: _Context) -> int:
    job = _attach(args, ctx)
    # Decide here, from a fresh status, rather than after job.stop(): it quietly does nothing for a job that has
    # ended, and "stop requested" would then be untrue. Nothing is left running either way, hence exit 0.
    from .jobs import TERMINAL_STATUSES

    if job.status in TERMINAL_STATUSES:
        ctx.print(f"{job.name}: already finished (status {job.status}); nothing to stop")
        return EXIT_OK
    if job.status == "Stopping":
        ctx.print(f"{job.name}: already stopping; nothing sent")
        return EXIT_OK
    job.stop()
    ctx.print(f"{job.name}: stop requested (status {job.status})")
    return EXIT_OK


def _cmd_jobs_metrics(args: argparse.Namespace, ctx: _Context) -> int:
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
                "training": [_model_dump(r) for r in metrics.training],
                "validation": [_model_dump(r) for r in metrics.validation],
                "early_stopping": _model_dump(early),
                "plot": str(args.plot) if args.plot else None,
            }
        )
        return EXIT_OK
    ctx.print(metrics_table(metrics))
    ctx.print("")
    ctx.print(str(early))
    if args.plot:
        ctx.print(f"loss plot written to {args.plot}")
    return EXIT_OK


def metrics_table(metrics: TrainingMetrics) -> str:
    """Return a per-epoch table: training steps, mean training loss, validation loss, and the best epoch.

    Args:
        metrics: A :class:`~haiku_finetune.metrics.TrainingMetrics` value.
    """
    steps: dict[int, int] = {}
    for row in metrics.training:
        steps[row.epoch] = steps.get(row.epoch, 0) + 1
    step_counts = [steps[epoch] for epoch in sorted(steps)]
    training = metrics.epoch_training_losses()
    validation = metrics.epoch_validation_losses()
    best = metrics.best_epoch
    rows = []
    for index in range(max(len(training), len(validation))):
        rows.append(
            (
                index + 1,
                step_counts[index] if index < len(step_counts) else None,
                training[index] if index < len(training) else None,
                validation[index] if index < len(validation) else None,
                "best" if index + 1 == best else "",
            )
        )
    return _table(("epoch", "steps", "mean training loss", "validation loss", "note"), rows)


# -- deployments ----------------------------------------------------------------------------------------------


def _deployment_summary(dep: ProvisionedDeployment) -> dict[str, Any]:
    return {
        "name": dep.name,
        "arn": dep.arn,
        "status": dep.status,
        "model_units": dep.model_units,
        "commitment": dep.commitment,
    }


def _cmd_deployments_list(args: argparse.Namespace, ctx: _Context) -> int:
    from .deployment import ProvisionedDeployment

    deps = list(ProvisionedDeployment.list(transport=ctx.transport(args)))
    if args.json:
        ctx.json([_deployment_summary(d) for d in deps])
    elif not deps:
        ctx.print("no Provisioned Throughput deployments found")
    else:
        rows = [(d.name, d.status, d.model_units, d.arn) for d in deps]
        ctx.print(_table(("name", "status", "model units", "arn"), rows))
    return EXIT_OK


def _cmd_deployments_delete(args: argparse.Namespace, ctx: _Context) -> int:
    from .deployment import ProvisionedDeployment

    dep = ProvisionedDeployment.attach(args.deployment, transport=ctx.transport(args))
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"refusing to delete {dep.name} without confirmation: pass --yes")
        answer = input(f"Delete Provisioned Throughput {dep.name} ({dep.arn})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            ctx.print("not deleted")
            return EXIT_OK
    dep.delete()
    ctx.print(f"deleted {dep.name}")
    return EXIT_OK


def _cmd_deployments_orphans(args: argparse.Namespace, ctx: _Context) -> int:
    from datetime import datetime, timedelta, timezone

    from .deployment import find_orphans

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
        ctx.print(_table(("name", "status", "model units", "arn"), rows))
        ctx.print(
            f"{len(orphans)} deployment(s) created by haiku-finetune are still billed by the hour; "
            f"delete one with: {PROG} deployments delete NAME"
        )
    return EXIT_PROBLEMS if orphans else EXIT_OK


# -- local emulator and demo ----------------------------------------------------------------------------------


def _cmd_local_serve(args: argparse.Namespace, ctx: _Context) -> int:
    import threading

    from .local import ACCOUNT, REGION, LocalBedrock

    local = LocalBedrock(time_scale=args.time_scale, seed=args.seed)
    local.start()
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


def _cmd_demo(args: argparse.Namespace, ctx: _Context) -> int:
    from .demo import DemoOptions, run_demo

    if args.aws and not args.bucket:
        raise UsageError("--aws needs --bucket: an existing S3 bucket in the region, for the data and the output")
    if not args.aws and (args.bucket or args.keep or args.yes):
        raise UsageError("--bucket, --keep and --yes only apply with --aws")
    options = DemoOptions(
        output=Path(args.output),
        aws=args.aws,
        assume_yes=args.yes,
        progress=not args.no_progress,
        region=args.region,
        profile=args.profile,
        bucket=args.bucket,
        role_name=args.role_name,
        keep=args.keep,
    )
    result = run_demo(options, out=ctx.out, transport=ctx._transport if args.aws else None)
    return EXIT_OK if result.ok else EXIT_PROBLEMS


# -- the parser -----------------------------------------------------------------------------------------------


def _aws_options() -> _Parser:
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("AWS")
    group.add_argument("--region", help="AWS region (default: the profile's, else us-west-2)")
    group.add_argument("--profile", help="named AWS profile to use")
    return parent


def _json_option() -> _Parser:
    parent = _Parser(add_help=False)
    parent.add_argument("--json", action="store_true", help="print JSON instead of text")
    return parent


def _hyperparameter_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("hyperparameters (documented defaults when left out)")
    group.add_argument("--epochs", type=int, metavar="N", help="epochCount, 1-10 (default 2)")
    group.add_argument("--batch-size", type=int, metavar="N", help="batchSize, 4-256 (default 32)")
    group.add_argument(
        "--learning-rate-multiplier", type=float, metavar="X", help="learningRateMultiplier, 0.1-2 (default 1)"
    )
    group.add_argument(
        "--early-stopping-threshold", type=float, metavar="X", help="earlyStoppingThreshold, 0-0.1 (default 0.001)"
    )
    group.add_argument(
        "--early-stopping-patience", type=int, metavar="N", help="earlyStoppingPatience, 1-10 (default 2)"
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser of the ``haiku-finetune`` command (every subcommand, with ``--help``)."""
    aws, as_json = _aws_options(), _json_option()
    parser = _Parser(
        prog=PROG,
        description=(
            "Fine-tune Anthropic Claude 3 Haiku in Amazon Bedrock: check data, plan and run jobs, read metrics, "
            "manage deployments, and run the whole workflow offline with 'haiku-finetune demo'."
        ),
        epilog="Exit status: 0 ok, 1 problems found, 2 usage error.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)

    # validate
    p = sub.add_parser(
        "validate",
        parents=[as_json],
        help="check a training (and validation) file against every Bedrock rule",
        description="Check JSONL training data line by line; every problem is listed with its line number. "
        "Exit status 1 when the data has errors (warnings alone do not fail).",
    )
    p.add_argument("file", type=_existing_file, metavar="FILE", help="JSONL file in the Messages format")
    p.add_argument(
        "--split", choices=("train", "validation"), default="train", help="which limits apply (default: train)"
    )
    p.add_argument(
        "--validation", type=_existing_file, metavar="FILE", help="also check a validation file and cross-file rules"
    )
    p.add_argument("--max-issues", type=_positive_int, default=1000, metavar="N", help="list at most N (default 1000)")
    p.add_argument("-q", "--quiet", action="store_true", help="list errors only, not warnings")
    p.set_defaults(handler=_cmd_validate)

    # convert
    p = sub.add_parser(
        "convert",
        help="convert prompt/completion, OpenAI chat or CSV data to the Messages format",
        description="Convert data to the JSONL Messages format Claude 3 Haiku fine-tuning takes. Bad input lines "
        "are listed with their numbers (exit status 1); the output is written atomically.",
    )
    conv = p.add_subparsers(dest="format", metavar="FORMAT", required=True, parser_class=_Parser)
    c = conv.add_parser(
        "prompt-completion",
        parents=[as_json],
        help='{"prompt", "completion"} JSONL (the format of other Bedrock models)',
        description='Convert {"prompt": ..., "completion": ...} JSONL records to the Messages format.',
    )
    _src_dst(c)
    c.add_argument("--system", metavar="TEXT", help="system prompt to add to every record")
    c.set_defaults(handler=_cmd_convert)
    c = conv.add_parser(
        "openai",
        parents=[as_json],
        help="OpenAI chat fine-tuning JSONL",
        description='Convert OpenAI chat JSONL ({"messages": [...]}); system messages move to the top-level '
        "system prompt. Tool calls, images and names are refused unless --drop-unsupported.",
    )
    _src_dst(c)
    c.add_argument("--drop-unsupported", action="store_true", help="drop tool calls, images and names")
    c.set_defaults(handler=_cmd_convert)
    c = conv.add_parser(
        "csv",
        parents=[as_json],
        help="a CSV file with a prompt column and a reply column",
        description="Convert a CSV file with a header row: one record per row.",
    )
    _src_dst(c)
    c.add_argument("--user-column", default="prompt", metavar="NAME", help="column with the user turn (prompt)")
    c.add_argument(
        "--assistant-column", default="completion", metavar="NAME", help="column with the reply (completion)"
    )
    c.add_argument("--system-column", metavar="NAME", help="column with a per-row system prompt")
    c.add_argument("--system", metavar="TEXT", help="system prompt for every record")
    c.set_defaults(handler=_cmd_convert)

    # split
    p = sub.add_parser(
        "split",
        parents=[as_json],
        help="split a JSONL file into training and validation files",
        description="Shuffle deterministically (by --seed) and split into training and validation files that "
        "respect the Bedrock limits.",
    )
    p.add_argument("src", type=_existing_file, metavar="SRC", help="JSONL file in the Messages format")
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--validation-fraction", type=_fraction, default=0.1, metavar="F", help="share for validation (default 0.1)"
    )
    size.add_argument("--validation-size", type=_positive_int, metavar="N", help="records for validation")
    p.add_argument("--seed", type=int, default=0, help="shuffle seed (default 0)")
    p.add_argument("--train-out", metavar="PATH", help="training output (default SRC stem + .train.jsonl)")
    p.add_argument("--validation-out", metavar="PATH", help="validation output (default SRC stem + .validation.jsonl)")
    p.set_defaults(handler=_cmd_split)

    # stats
    p = sub.add_parser(
        "stats",
        parents=[as_json],
        help="record, turn and token statistics of a JSONL file",
        description="Print records, turns, system prompts and estimated tokens per record of a Messages file.",
    )
    p.add_argument("file", type=_existing_file, metavar="FILE")
    p.add_argument("--split", choices=("train", "validation"), default="train", help="which limits apply")
    p.set_defaults(handler=_cmd_stats)

    # simulate-early-stopping
    p = sub.add_parser(
        "simulate-early-stopping",
        parents=[as_json],
        help="apply Bedrock's early-stopping rules to per-epoch validation losses",
        description="Show at which epoch training would stop and which checkpoint is best.",
        epilog="Example (the documented table): --losses 0.9 0.8 0.7 0.66 0.64 0.65 0.65 --threshold 0 --patience 2",
    )
    p.add_argument("--losses", nargs="+", required=True, metavar="LOSS", help="validation loss per epoch")
    p.add_argument(
        "--threshold", type=_non_negative_float, default=0.001, help="earlyStoppingThreshold (default 0.001)"
    )
    p.add_argument("--patience", type=_positive_int, default=2, help="earlyStoppingPatience (default 2)")
    p.set_defaults(handler=_cmd_simulate)

    # plan
    p = sub.add_parser(
        "plan",
        parents=[aws, as_json],
        help="preflight a customization job and estimate it, submitting nothing",
        description="Run every preflight check of a customization job (data, hyperparameters, role, bucket, "
        "names, base model) and estimate tokens, steps and cost. Nothing is created. Exit status 1 when a "
        "check fails.",
    )
    p.add_argument("--training", required=True, metavar="PATH_OR_S3", help="training data (local JSONL or s3://)")
    p.add_argument("--validation", metavar="PATH_OR_S3", help="validation data (local JSONL or s3://)")
    p.add_argument("--output-uri", required=True, metavar="S3", help="s3:// prefix for the job's output")
    p.add_argument("--role-arn", required=True, metavar="ARN", help="the service role Bedrock assumes")
    p.add_argument("--staging-uri", metavar="S3", help="s3:// prefix where local data would be uploaded")
    p.add_argument("--base-model", default=_base_model(), metavar="ID", help="base model id (default: Haiku)")
    p.add_argument("--job-name", metavar="NAME")
    p.add_argument("--model-name", metavar="NAME", help="custom model name")
    p.add_argument(
        "--price-per-1k-training-tokens",
        type=_non_negative_float,
        metavar="USD",
        help="training price, to estimate the cost (the library ships no prices)",
    )
    _hyperparameter_options(p)
    p.set_defaults(handler=_cmd_plan)

    # jobs
    p = sub.add_parser("jobs", help="list, inspect, wait for, stop customization jobs; read their metrics")
    jobs = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    j = jobs.add_parser("list", parents=[aws, as_json], help="list customization jobs (newest first)")
    j.add_argument(
        "--status", choices=("InProgress", "Completed", "Failed", "Stopping", "Stopped"), help="only this status"
    )
    j.add_argument("--name-contains", metavar="TEXT")
    j.add_argument("--limit", type=_positive_int, metavar="N", help="show at most N jobs")
    j.set_defaults(handler=_cmd_jobs_list)
    j = jobs.add_parser("show", parents=[aws, as_json], help="show a job's status, stage and settings")
    j.add_argument("job", metavar="JOB", help="job name or ARN")
    j.set_defaults(handler=_cmd_jobs_show)
    j = jobs.add_parser(
        "wait",
        parents=[aws],
        help="wait for a job to finish (exit 1 if it fails or stops)",
        description="Poll gently with a progress bar until the job finishes. Ctrl-C stops waiting, not the job.",
    )
    j.add_argument("job", metavar="JOB", help="job name or ARN")
    j.add_argument("--timeout", type=_non_negative_float, metavar="SECONDS", help="give up after this long")
    j.add_argument("--no-progress", action="store_true", help="no progress bar")
    j.set_defaults(handler=_cmd_jobs_wait)
    j = jobs.add_parser("stop", parents=[aws], help="ask Bedrock to stop a running job")
    j.add_argument("job", metavar="JOB", help="job name or ARN")
    j.set_defaults(handler=_cmd_jobs_stop)
    j = jobs.add_parser(
        "metrics",
        parents=[aws, as_json],
        help="per-epoch losses and the early-stopping explanation",
        description="Read the job's training and validation metrics from S3, print them per epoch, and explain "
        "early stopping. --plot writes a loss plot (needs the 'plot' extra).",
    )
    j.add_argument("job", metavar="JOB", help="job name or ARN")
    j.add_argument("--plot", metavar="FILE", help="write a loss plot (PNG, SVG or PDF by extension)")
    j.set_defaults(handler=_cmd_jobs_metrics)

    # deployments
    p = sub.add_parser("deployments", help="list and delete Provisioned Throughput; find forgotten ones")
    deps = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
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
    d.add_argument("--older-than", type=_non_negative_float, metavar="HOURS", help="only those older than this")
    d.set_defaults(handler=_cmd_deployments_orphans)

    # local
    p = sub.add_parser("local", help="run LocalBedrock, the offline emulator")
    loc = p.add_subparsers(dest="action", metavar="ACTION", required=True, parser_class=_Parser)
    s = loc.add_parser(
        "serve",
        help="start LocalBedrock and print the environment that points boto3 at it",
        description="Start LocalBedrock on 127.0.0.1 and print 'export' lines (endpoint URLs and dummy "
        "credentials) for any boto3 program or the AWS CLI. Runs until Ctrl-C. Needs the 'local' extra.",
    )
    s.add_argument(
        "--time-scale",
        type=_non_negative_float,
        default=3600.0,
        metavar="X",
        help="emulated seconds per real second (default 3600: a 2-hour job takes 2 s)",
    )
    s.add_argument("--seed", type=int, default=0, help="seed of loss curves and fault injection")
    s.set_defaults(handler=_cmd_local_serve)

    # demo
    p = sub.add_parser(
        "demo",
        parents=[aws],
        help="run the whole fine-tuning workflow offline on LocalBedrock (under a minute)",
        description="Sample data -> convert -> validate -> split -> IAM role -> upload -> plan -> job -> "
        "metrics and loss plot -> Provisioned Throughput -> invoke -> evaluate base vs tuned -> clean up. "
        "Offline on LocalBedrock unless --aws.",
    )
    p.add_argument(
        "--output",
        default="haiku-finetune-demo",
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
    p.add_argument("-y", "--yes", action="store_true", help="with --aws: do not ask before billable steps")
    p.add_argument("--keep", action="store_true", help="with --aws: keep the custom model at the end")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_cmd_demo)
    return parser


def _src_dst(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", type=_existing_file, metavar="SRC", help="input file")
    parser.add_argument("dst", metavar="DST", help="output JSONL file (written atomically)")


def _base_model() -> str:
    from . import BASE_MODEL_ID

    return BASE_MODEL_ID


def main(argv: Sequence[str] | None = None, *, transport: BedrockTransport | None = None) -> int:
    """Run the ``haiku-finetune`` command.

    Args:
        argv: The arguments (default: ``sys.argv[1:]``).
        transport: The transport AWS commands use (default: one built from ``--profile``/``--region`` and the
            environment). Tests and embedding programs pass a ``LocalBedrock`` transport here.

    Returns:
        The exit status: 0 ok, 1 problems found, 2 usage error.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as done:  # --help, --version and usage errors
        return done.code if isinstance(done.code, int) else (EXIT_OK if done.code is None else EXIT_USAGE)
    # Errors name the whole command, as argparse's own do: "haiku-finetune jobs show: error: ...".
    where = " ".join([PROG, args.command, *([args.action] if getattr(args, "action", None) else [])])
    ctx = _Context(transport, sys.stdout, sys.stderr, where)
    handler: Handler = args.handler
    try:
        return handler(args, ctx)
    except UsageError as error:
        ctx.error(str(error))
        return EXIT_USAGE
    except MissingExtraError as error:
        ctx.error(str(error))
        return EXIT_USAGE
    except (FileNotFoundError, IsADirectoryError, PermissionError) as error:
        ctx.error(_os_error(error))
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
    except HaikuFinetuneError as error:
        ctx.error(_one_line(str(error)))
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        ctx.err.write(f"{where}: interrupted\n")
        return 130


def _os_error(error: OSError) -> str:
    name = error.filename if error.filename is not None else ""
    reason = error.strerror or str(error)
    return f"{reason}: {name}" if name else reason


def _one_line(text: str) -> str:
    first, _, rest = text.strip().partition("\n")
    return first + (f" (+{rest.count(chr(10)) + 1} more line(s))" if rest else "")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
