"""The ``haiku-finetune demo``: the whole Claude 3 Haiku fine-tuning workflow, end to end, in under a minute.

Offline by default, on [`LocalBedrock`][haiku_finetune.local.LocalBedrock] with a manual clock (every wait advances
emulated time instantly, so a multi-hour job and a 20-minute deployment take no real time). With ``aws=True`` the
same steps run against a real account: the demo asks before each billable step and cleans up on every exit path.

The steps follow the AWS blog post's workflow, using the library for each one: the sample dataset shipped in
`haiku_finetune.data` → convert prompt/completion to Messages → validate → split train/validation/test →
ensure the IAM service role → upload to S3 → hyperparameters (the blog post's, corrected where they are out of
range) → plan and estimate → create the job → wait → metrics table and early-stopping explanation → loss plot →
deploy on Provisioned Throughput → invoke → evaluate base vs tuned → delete the deployment → summary.

This module only orchestrates public library calls and prints; it must not reach into other modules' internals.
It needs the ``local`` extra (offline) and the ``plot`` extra (the loss plot), nothing else.

Longer than ~600 lines on purpose: it is the demo's narrated script, step by step, read top to bottom.
"""

from __future__ import annotations

import json
import sys
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ._transport import BedrockTransport
from .base_models import BASE_MODEL_ID, DEFAULT_BASE_MODEL, get_profile
from .data import SYSTEM_PROMPT, support_tickets_path
from .early_stopping import simulate_early_stopping
from .errors import HyperparameterError
from .hyperparameters import Hyperparameters, correct_hyperparameters
from .lifecycle import lifecycle_state

if TYPE_CHECKING:
    from .local import LocalBedrock

__all__ = [
    "DEMO_DATE",
    "DEMO_VALIDATION_LOSSES",
    "SEED_HYPERPARAMETERS",
    "DemoOptions",
    "DemoResult",
    "correct_hyperparameters",
    "run_demo",
    "run_lifecycle_demo",
]

#: The hyperparameters of the AWS blog post's API example, as strings, exactly as it sends them.
#: ``learningRateMultiplier`` 0.05 is below the documented minimum of 0.1.
SEED_HYPERPARAMETERS: Mapping[str, str] = {
    "epochCount": "5",
    "batchSize": "32",
    "learningRateMultiplier": "0.05",
    "earlyStoppingThreshold": "0.001",
    "earlyStoppingPatience": "2",
}

#: The per-epoch validation losses the offline demo's emulator reports: the loss bottoms out at epoch 2 and
#: creeps up after, so with threshold 0.001 and patience 2 early stopping ends the 5-epoch job after epoch 4.
DEMO_VALIDATION_LOSSES: tuple[float, ...] = (0.912, 0.584, 0.587, 0.596, 0.611)

#: The emulated date the offline demo runs at: Claude 3 Haiku is still Active in us-west-2 then (Legacy from
#: 2026-03-10, end of life on 2026-09-10), so the seed's workflow works as it did.
DEMO_DATE = date(2026, 2, 1)

_BUCKET = "haiku-finetune-demo"
_PREFIX = "demo"
_VALIDATION_SIZE = 60
_TEST_SIZE = 60


@dataclass
class DemoOptions:
    """How to run the demo.

    Attributes:
        output: Directory for everything the demo writes (created if missing).
        aws: Run against the real AWS account of the default (or ``profile``) credentials. Billable.
        assume_yes: With ``aws``: do not ask before billable steps.
        progress: Show progress bars.
        region: With ``aws``: the region (default: the profile's, else us-west-2).
        profile: With ``aws``: a named AWS profile.
        bucket: With ``aws``: an existing S3 bucket in the region (required).
        role_name: The IAM service role to ensure.
        keep: With ``aws``: keep the custom model at the end.
        seed: Seed of the train/validation/test split.
        validation_losses: Offline: the per-epoch validation losses the emulator reports.
        confirm: With ``aws``: asks a yes/no question before each billable step and returns True to go on; an
            exception it raises ends the demo cleanly with its message. Left out (and without ``assume_yes``),
            the demo declines every billable step. The ``haiku-finetune demo`` command passes its terminal
            prompt.
    """

    output: Path = Path("haiku-finetune-demo")
    aws: bool = False
    assume_yes: bool = False
    progress: bool = True
    region: str | None = None
    profile: str | None = None
    bucket: str | None = None
    role_name: str = "haiku-finetune-demo"
    keep: bool = False
    seed: int = 7
    validation_losses: tuple[float, ...] = DEMO_VALIDATION_LOSSES
    confirm: Callable[[str], bool] | None = None


@dataclass
class DemoResult:
    """What the demo did and wrote.

    Attributes:
        ok: True when every step succeeded.
        output: The output directory.
        files: What was written, by label (converted data, splits, plot, evaluation, manifest, …).
        job_arn: The customization job's ARN.
        job_status: Its final status.
        epochs_run: Epochs the job ran (from its validation metrics).
        expected_epochs: Epochs the early-stopping rules give for the job's losses and settings.
        best_epoch: The best checkpoint's epoch.
        deployment_arn: The Provisioned Throughput's ARN.
        deployment_deleted: True once the deployment was confirmed deleted.
        scores: Evaluation score (mean) by model name and scorer.
        corrections: What was corrected in the blog post's hyperparameters.
        seconds: Wall time of the whole demo.
    """

    ok: bool = False
    output: Path = Path()
    files: dict[str, Path] = field(default_factory=dict)
    job_arn: str | None = None
    job_status: str | None = None
    epochs_run: int | None = None
    expected_epochs: int | None = None
    best_epoch: int | None = None
    deployment_arn: str | None = None
    deployment_deleted: bool = False
    scores: dict[str, dict[str, float]] = field(default_factory=dict)
    corrections: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _Printer:
    """Numbered step headings and indented detail lines, on one stream."""

    def __init__(self, out: TextIO, total: int) -> None:
        self.out = out
        self.total = total
        self.number = 0
        self.started = time.monotonic()

    def step(self, title: str) -> None:
        self.number += 1
        elapsed = time.monotonic() - self.started
        print(f"\n[{self.number:>2}/{self.total}] {title}  ({elapsed:4.1f}s)", file=self.out)
        self.out.flush()

    def say(self, text: str = "") -> None:
        for line in text.splitlines() or [""]:
            print(f"        {line}" if line else "", file=self.out)
        self.out.flush()


_STEPS = 18


def run_demo(
    options: DemoOptions | None = None,
    *,
    out: TextIO | None = None,
    local: LocalBedrock | None = None,
    transport: BedrockTransport | None = None,
) -> DemoResult:
    """Run the demo and return what it did.

    Args:
        options: How to run it (default: offline, output in ``./haiku-finetune-demo``).
        out: Where to print (default: standard output).
        local: An already started LocalBedrock to run on (it is left running; start it with
            ``validation_losses=options.validation_losses`` for the expected epochs to match); by default the
            demo starts its own and stops it at the end. Ignored with ``aws``.
        transport: With ``aws``: the transport to use (default: built from ``profile`` and ``region``).

    Returns:
        A `DemoResult`.

    Raises:
        ValueError: ``aws`` without a bucket.
        HaikuFinetuneError: A step failed; everything billable was cleaned up first.
    """
    opts = options or DemoOptions()
    stream = out if out is not None else sys.stdout
    started = time.monotonic()
    result = DemoResult(output=opts.output)
    printer = _Printer(stream, _STEPS)
    opts.output.mkdir(parents=True, exist_ok=True)
    if opts.aws:
        if not opts.bucket:
            raise ValueError("the demo with --aws needs --bucket: an existing S3 bucket in the region")
        aws_transport = transport or _aws_transport(opts)
        _run(opts, printer, result, aws_transport, None)
    elif local is not None:
        _run(opts, printer, result, local.transport(), local)
    else:
        from .local import LocalBedrock

        with LocalBedrock(validation_losses=list(opts.validation_losses), date=DEMO_DATE) as own:
            _run(opts, printer, result, own.transport(), own)
    result.seconds = time.monotonic() - started
    _summary(printer, result, opts)
    return result


def _aws_transport(opts: DemoOptions) -> BedrockTransport:
    return BedrockTransport(profile=opts.profile, region=opts.region)


def _confirm(opts: DemoOptions, printer: _Printer, question: str) -> None:
    """Ask before a billable step (only with --aws); a 'no' ends the demo cleanly."""
    if not opts.aws or opts.assume_yes:
        return
    printer.say(question)
    if opts.confirm is None:
        raise _Declined("nobody to ask before a billable step: pass assume_yes=True (--yes) or confirm=")
    try:
        agreed = opts.confirm("        Continue?")
    except Exception as error:  # the asker's reason for not asking (no terminal, ...): end cleanly with it
        raise _Declined(str(error)) from error
    if not agreed:
        raise _Declined("stopped at your request before a billable step")


class _Declined(Exception):
    """The user said no to a billable step."""


@dataclass
class _Splits:
    """The three splits of the converted sample data."""

    train: Any
    validation: Any
    test: Any


def _run(
    opts: DemoOptions,
    printer: _Printer,
    result: DemoResult,
    transport: BedrockTransport,
    local: LocalBedrock | None,
) -> None:
    from .datasets import DatasetBuilder, validate_file

    output = opts.output
    try:
        # 1. The sample dataset.
        printer.step("Sample dataset: support tickets in prompt/completion form")
        source = support_tickets_path()
        lines = source.read_text(encoding="utf-8").splitlines()
        first = json.loads(lines[0])
        printer.say(f"{len(lines)} records in {source}")
        printer.say(f"e.g. prompt:     {first['prompt'].splitlines()[0]} ...")
        printer.say(f"     completion: {first['completion']}")

        # 2. Convert.
        printer.step("Convert prompt/completion records to the Messages format, adding a system prompt")
        data = DatasetBuilder.from_prompt_completion(source, system=SYSTEM_PROMPT)
        converted = data.write(output / "support_tickets.messages.jsonl")
        result.files["converted data"] = converted
        printer.say(f"{len(data)} records -> {converted}")

        # 3. Validate.
        printer.step("Validate every record against the Bedrock rules for Claude 3 Haiku")
        report = validate_file(converted, split="train")
        printer.say(_report_line(report))
        report.raise_for_errors()

        # 4. Split.
        printer.step("Split into training, validation and held-out test sets")
        rest, test = data.split(validation_size=_TEST_SIZE, seed=opts.seed)
        train, validation = rest.split(validation_size=_VALIDATION_SIZE, seed=opts.seed)
        result.files["training data"] = train.write(output / "train.jsonl", split="train")
        result.files["validation data"] = validation.write(output / "validation.jsonl", split="validation")
        result.files["test data"] = test.write(output / "test.jsonl", split="validation")
        for label, part in (("training data", train), ("validation data", validation), ("test data", test)):
            printer.say(f"{label + ':':<17}{len(part):>4} records -> {result.files[label]}")
        splits = _Splits(train, validation, test)

        # 5. Where the AWS calls go.
        if local is not None:
            printer.step("Start LocalBedrock, the offline Bedrock emulator (manual clock: waits take no real time)")
            printer.say(f"Bedrock endpoint {local.endpoint_url}, emulated account {transport.account_id()}")
            printer.say(_status_today(transport.region))
            printer.say(
                f"this demo runs at the emulated date {local.date}, before that end of life, so the workflow works; "
                "`haiku-finetune demo --lifecycle` shows the plan refusing the model today and passing with its "
                "successor"
            )
            bucket = _BUCKET
            transport.call("s3", "CreateBucket", Bucket=bucket, **_bucket_location(transport.region))
        else:
            printer.step("Connect to your AWS account")
            bucket = opts.bucket or ""
            printer.say(f"account {transport.account_id()}, region {transport.region}, bucket {bucket}")
            printer.say(_status_today(transport.region))
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        _workflow(opts, printer, result, transport, local, splits, f"s3://{bucket}/{_PREFIX}/{stamp}/")
        result.ok = True
    except _Declined as declined:
        printer.say(f"Demo ended: {declined}")


def _workflow(
    opts: DemoOptions,
    printer: _Printer,
    result: DemoResult,
    transport: BedrockTransport,
    local: LocalBedrock | None,
    splits: _Splits,
    prefix: str,
) -> None:
    from . import iam, storage
    from .data import CATEGORIES
    from .deployment import BillingWarning, ProvisionedDeployment
    from .evaluation import LabelAccuracy, evaluate
    from .jobs import CustomizationJob
    from .model import FineTunedModel

    output, progress = opts.output, opts.progress
    data_uri, output_uri = f"{prefix}data/", f"{prefix}output/"

    # 6. IAM role.
    printer.step("Ensure the IAM service role Bedrock assumes (least privilege)")
    role_arn = iam.ensure_service_role(
        opts.role_name, training=data_uri, validation=data_uri, output=output_uri, transport=transport
    )
    printer.say(role_arn)
    printer.say("trusts bedrock.amazonaws.com for this account's customization jobs in this region only;")
    printer.say(f"may read {data_uri} and write {output_uri}, nothing else")

    # 7. Upload.
    printer.step("Upload the training and validation data to S3 (validated, SHA-256 checksum, encrypted)")
    train_uri = storage.upload_dataset(
        result.files["training data"], f"{data_uri}train.jsonl", split="train", transport=transport
    )
    validation_uri = storage.upload_dataset(
        result.files["validation data"], f"{data_uri}validation.jsonl", split="validation", transport=transport
    )
    printer.say(f"{train_uri}\n{validation_uri}")

    # 8. Hyperparameters.
    printer.step("Hyperparameters: the blog post's values, checked against the documented ranges")
    printer.say("blog post: " + ", ".join(f"{k}={v}" for k, v in SEED_HYPERPARAMETERS.items()))
    try:
        Hyperparameters.from_api(SEED_HYPERPARAMETERS)
    except HyperparameterError as refused:
        printer.say(f"refused as written: {refused}")
    hyperparameters, corrections = correct_hyperparameters(SEED_HYPERPARAMETERS)
    result.corrections = corrections
    for note in corrections:
        printer.say(f"corrected: {note}")
    printer.say("using:     " + ", ".join(f"{k}={v}" for k, v in hyperparameters.to_api().items()))

    common: dict[str, Any] = {
        "output_uri": output_uri,
        "role_arn": role_arn,
        "hyperparameters": hyperparameters,
        "base_model": BASE_MODEL_ID,
        "transport": transport,
    }

    # 9. Plan.
    printer.step("Plan: preflight checks and estimate (nothing is submitted)")
    # Planned on the local copies of the files just uploaded: plan reads local data in full (records, tokens),
    # while for data in S3 it only checks that the object exists, so the estimate would have no token count.
    printer.say("planned on the local copies of the uploaded files, so the estimate counts their records and tokens")
    plan = CustomizationJob.plan(
        training_data=result.files["training data"],
        validation_data=result.files["validation data"],
        staging_uri=data_uri,
        **common,
    )
    printer.say(str(plan))
    estimate = plan.estimate
    if not plan.ok:
        raise _Declined("a preflight check failed; nothing was submitted")

    # 10. Create.
    printer.step("Create the fine-tuning job")
    _confirm(
        opts,
        printer,
        f"The job trains on up to {_n(estimate.training_tokens)} tokens (billed per token); the custom model's "
        "storage is billed monthly until it is deleted.",
    )
    job = CustomizationJob.create(
        training_data=train_uri,
        validation_data=validation_uri,
        job_name=plan.job_name,
        custom_model_name=plan.custom_model_name,
        **common,
    )
    result.job_arn = job.arn
    printer.say(f"{job.name}\n{job.arn}")

    custom_model = None
    try:
        # 11. Wait.
        printer.step("Wait for the job: validation -> data processing -> training")
        job.wait(progress=progress)
        result.job_status = job.status
        printer.say(f"status: {job.status}")

        # 12. Metrics.
        printer.step("Training metrics and early stopping")
        metrics = job.metrics()
        early = metrics.early_stopping()
        result.epochs_run = len(metrics.epoch_validation_losses())
        result.best_epoch = early.best_epoch
        rules = (
            early
            if local is None
            else simulate_early_stopping(
                opts.validation_losses,
                threshold=hyperparameters.early_stopping_threshold,
                patience=hyperparameters.early_stopping_patience,
            )
        )
        result.expected_epochs = rules.epochs_run
        printer.say(metrics.table())
        printer.say("")
        printer.say(str(early))
        result.files["job manifest"] = output / "manifest.json"
        job.manifest(result.files["job manifest"])

        # 13. Plot.
        printer.step("Loss plot")
        plot_path = output / "loss.png"
        metrics.plot(plot_path)
        result.files["loss plot"] = plot_path
        printer.say(f"training loss per step, validation loss per epoch, best epoch marked -> {plot_path}")
        custom_model = job.custom_model
    except BaseException:
        if opts.aws and job.refresh().status == "InProgress":
            printer.say(f"stopping the job {job.name} so it is not billed further")
            job.stop()
        raise

    try:
        # 14. Deploy.
        printer.step("Deploy on Provisioned Throughput (1 model unit, no commitment)")
        _confirm(
            opts,
            printer,
            "Provisioned Throughput is billed by the hour per model unit until it is deleted; the demo deletes "
            "it at the end, whatever happens.",
        )
        deployment = ProvisionedDeployment.create(custom_model, model_units=1, transport=transport)
        result.deployment_arn = deployment.arn
        try:
            # The BillingWarning comes at the first use outside a `with` block: this wait.
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", BillingWarning)
                deployment.wait(progress=progress)
        except BaseException:
            deployment.delete()  # never leave an hourly bill behind because waiting failed
            raise
        for warning in caught:
            if issubclass(warning.category, BillingWarning):
                printer.say(f"billing warning: {warning.message}")
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        printer.say(f"{deployment.name}: {deployment.status}")
        with deployment:
            # 15. Invoke.
            printer.step("Invoke the fine-tuned model")
            example = splits.test.records[0]
            ticket = example["messages"][0]["content"]
            completion = deployment.model.invoke(ticket, system=SYSTEM_PROMPT, max_tokens=20, temperature=0)
            printer.say("ticket:   " + ticket.replace("\n", " ")[:100] + " ...")
            printer.say(f"answer:   {completion.text}")
            printer.say(f"expected: {example['messages'][-1]['content']}")
            printer.say(
                f"{completion.usage.input_tokens} tokens in, {completion.usage.output_tokens} out, "
                f"{completion.latency * 1000:.0f} ms"
            )

            # 16. Evaluate.
            printer.step(f"Evaluate base vs tuned on the {len(splits.test)} held-out test tickets")
            models = {"base": FineTunedModel.base(transport=transport), "tuned": deployment.model}
            evaluation = evaluate(
                models,
                splits.test,
                scorers=[LabelAccuracy(labels=CATEGORIES)],
                progress=progress,
                max_tokens=20,
                transport=transport,
            )
            report_dir = evaluation.save(output / "evaluation")
            summary_path = output / "evaluation.md"
            _write_text(summary_path, evaluation.to_markdown())
            result.files["evaluation report"] = report_dir
            result.files["evaluation summary"] = summary_path
            result.scores = {
                name: {scorer: s.mean for scorer, s in summary.scores.items() if s.mean is not None}
                for name, summary in evaluation.summary.items()
            }
            printer.say(evaluation.to_markdown())
            printer.say("")
            printer.say(str(evaluation.compare("tuned", "base")))
            if local is not None:
                printer.say(
                    "LocalBedrock answers with stand-ins, not a model: the tuned model replays the label of the "
                    "most similar training ticket and the base model gives a generic reply. The numbers show the "
                    "plumbing working end to end, not Claude's quality."
                )

            # 17. Delete.
            printer.step("Delete the deployment (leaving the with-block deletes it, on every exit path)")
        result.deployment_deleted = True
        printer.say(f"deleted {result.deployment_arn}")
        if local is not None:
            left = local.deployments()
            printer.say(f"the emulator holds {len(left)} deployment(s); model-unit-hours billed: {local.meter():.2f}")
    finally:
        if opts.aws and custom_model is not None and not opts.keep:
            custom_model.delete(transport=transport)
            printer.say(f"deleted the custom model {custom_model.name} (pass --keep to keep it)")


def _status_today(region: str) -> str:
    """One line: the default model's status on the real date, from its profile."""
    today = datetime.now(timezone.utc).date()
    state = lifecycle_state(DEFAULT_BASE_MODEL, region, today)
    return f"{DEFAULT_BASE_MODEL.display_name} today ({today}, real date): {state.describe()} (its model card)"


def run_lifecycle_demo(*, out: TextIO | None = None, today: date | None = None) -> bool:
    """The short second part: the plan refusing Claude 3 Haiku in us-west-2 today, and passing with its successor.

    Runs two emulators in turn at ``today`` (default: the real date): us-west-2 with the default profile, then the
    successor's first fine-tuning region with the successor profile. Prints each plan's lifecycle check.

    Returns:
        True when the plan refused the default model and passed with its successor, as it should past the end of
        life (before it, both pass and the result is False).
    """
    import tempfile

    from . import iam, storage
    from .data import support_tickets_path
    from .datasets import DatasetBuilder
    from .jobs import CustomizationJob
    from .local import LocalBedrock

    stream = out if out is not None else sys.stdout
    day = today or datetime.now(timezone.utc).date()
    successor = get_profile(DEFAULT_BASE_MODEL.successor) if DEFAULT_BASE_MODEL.successor else DEFAULT_BASE_MODEL
    verdicts: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "train.jsonl"
        builder = DatasetBuilder.from_prompt_completion(support_tickets_path(), system=SYSTEM_PROMPT)
        data.write_bytes(builder.to_jsonl_bytes())
        for profile in (DEFAULT_BASE_MODEL, successor):
            region = profile.default_region
            print(f"\nPlan a job on {profile.display_name} in {region} on {day}:", file=stream)
            with LocalBedrock(date=day, region=region) as local, warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the provisional-profile warning is for users' own jobs
                t = local.transport()
                t.call("s3", "CreateBucket", Bucket=_BUCKET, **_bucket_location(region))
                train = storage.upload_dataset(data, f"s3://{_BUCKET}/{_PREFIX}/", transport=t)
                output = f"s3://{_BUCKET}/{_PREFIX}/out/"
                role = iam.ensure_service_role(
                    "haiku-finetune-demo", training=f"s3://{_BUCKET}/{_PREFIX}/", output=output, transport=t
                )
                plan = CustomizationJob.plan(
                    training_data=train, output_uri=output, role_arn=role, base_model=profile, transport=t
                )
            check = next(c for c in plan.checks if c.name == "base model lifecycle")
            verdicts.append(check.status)
            print(f"  [{check.status.upper()}] base model lifecycle: {check.detail}", file=stream)
            verdict = "ok" if plan.ok else "refused: " + ", ".join(c.name for c in plan.failures)
            print(f"  plan: {verdict}", file=stream)
    print(
        f"\nSame command: haiku-finetune plan --base-model {successor.key} --region {successor.default_region} ...",
        file=stream,
    )
    return verdicts == ["fail", "pass"]


def _bucket_location(region: str) -> dict[str, Any]:
    # us-east-1 is the one region that refuses an explicit LocationConstraint.
    return {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}


def _n(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _report_line(report: Any) -> str:
    stats = report.stats
    verdict = "valid" if report.ok else "INVALID"
    return f"{verdict}: {stats.records} records, {len(report.errors)} error(s), {len(report.warnings)} warning(s)"


def _summary(printer: _Printer, result: DemoResult, opts: DemoOptions) -> None:
    printer.step("Summary")
    verdict = "completed" if result.ok else "did not complete"
    printer.say(f"The demo {verdict} in {result.seconds:.1f} s.")
    if result.job_arn:
        printer.say(f"job:        {result.job_arn} ({result.job_status})")
    if result.epochs_run is not None:
        printer.say(
            f"epochs:     {result.epochs_run} run of {SEED_HYPERPARAMETERS['epochCount']} "
            f"(early-stopping rules give {result.expected_epochs}); best checkpoint: epoch {result.best_epoch}"
        )
    for model, values in result.scores.items():
        printer.say(f"{model + ':':<12}" + ", ".join(f"{k} {v:.2f}" for k, v in values.items()))
    if result.deployment_arn:
        state = "deleted" if result.deployment_deleted else "NOT CONFIRMED DELETED"
        printer.say(f"deployment: {result.deployment_arn} ({state})")
    printer.say("files written:")
    for label, path in result.files.items():
        printer.say(f"  {label + ':':<20}{path}")
    if opts.aws:
        printer.say(
            f"left in your account: the uploaded data under s3://{opts.bucket}/{_PREFIX}/ and the IAM role "
            f"{opts.role_name}; delete them when you no longer need them."
        )


def _write_text(path: Path, text: str) -> None:
    """Write atomically: a temporary file next to the target, then a rename."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    tmp.replace(path)
