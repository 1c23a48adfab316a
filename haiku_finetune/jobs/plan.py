"""Preflight and estimate: [`JobPlan`][haiku_finetune.jobs.plan.JobPlan], its
[`PlanCheck`][haiku_finetune.jobs.plan.PlanCheck] results, [`JobEstimate`][haiku_finetune.jobs.plan.JobEstimate] and the
checks.

[`CustomizationJob.plan`][haiku_finetune.jobs.CustomizationJob.plan] takes the same arguments as
[`CustomizationJob.create`][haiku_finetune.jobs.CustomizationJob.create], submits nothing, and
returns a [`JobPlan`][haiku_finetune.jobs.plan.JobPlan]: every check with pass / fail / warn / not checked and why, plus
an estimate of
tokens, steps and (when prices are given) cost. ``create()`` runs the local checks (no AWS call) first and
refuses to submit when one fails. Checks that need AWS (bucket region, objects, the role's trust and
permissions, the base model, free names) run in ``plan()`` only; each degrades to "not checked" with the
reason when the caller may not ask (e.g. ``AccessDenied``). This module reads, it never writes or submits.

Longer than ~600 lines on purpose: every check a plan runs, local and remote, reads best as one list in one file.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from .. import iam, storage
from .._lifecycle_check import lifecycle_verdict, read_lifecycle, warn_lifecycle
from .._transport import BedrockTransport
from ..base_models import DEFAULT_BASE_MODEL, BaseModelProfile, warn_if_provisional
from ..datasets import (
    DatasetBuilder,
    FilesValidationReport,
    ValidationIssue,
    ValidationReport,
    validate_file,
    validate_files,
)
from ..errors import (
    AccessDeniedError,
    CallFailedError,
    HyperparameterError,
    PlanCheckError,
    ResourceNotFoundError,
    UnparseableResponseError,
)
from ..hyperparameters import Hyperparameters, check_for_profile
from ..pricing import Pricing
from ..storage import S3Uri
from ._spec import KMS_KEY, ROLE_ARN, DataSource, Inputs, validate_job_name, validate_model_name
from ._staging import facts_from_head, head_with_checksum

__all__ = ["CheckStatus", "DatasetInfo", "JobEstimate", "JobPlan", "PlanCheck", "estimate_job"]

_log = logging.getLogger(__name__)

CheckStatus = Literal["pass", "fail", "warn", "not checked"]

# -- plan values --------------------------------------------------------------------------------------------


class PlanCheck(BaseModel):
    """One preflight check.

    Attributes:
        name: What was checked, e.g. ``"training data"``.
        status: ``"pass"``, ``"fail"``, ``"warn"`` or ``"not checked"``.
        detail: Why: the evidence for a pass, the problem for a fail, the reason it could not be checked.
        local: True when the check needs no AWS call (these run in ``create()``).
    """

    model_config = ConfigDict(frozen=True)

    name: str
    status: CheckStatus
    detail: str
    local: bool = True


class DatasetInfo(BaseModel):
    """What the plan learned about one dataset.

    Attributes:
        source: The S3 URI, local path or ``"DatasetBuilder"`` it came from.
        uri: Its S3 URI, once known (for local data: after staging).
        local: True for local data (validated in full and uploaded on create).
        records: Number of records, when known.
        tokens: Estimated tokens over all records, when known.
        size: Size in bytes, when known.
        sha256: Hex SHA-256 of the file, when known.
        note: Why ``sha256`` or ``records`` is not known, when one is not.
    """

    model_config = ConfigDict(frozen=True)

    source: str
    uri: str | None = None
    local: bool = False
    records: int | None = None
    tokens: int | None = None
    size: int | None = None
    sha256: str | None = None
    note: str | None = None


class JobEstimate(BaseModel):
    """How big the job is, and what it costs when prices are given. An upper bound: early stopping may end it sooner.

    Attributes:
        training_records: Records in the training data, when known.
        tokens_per_epoch: Estimated training tokens in one pass over the data, when known.
        epochs: Configured epochs.
        training_tokens: Billed training tokens (tokens per epoch × epochs), when known.
        steps_per_epoch: ``ceil(records / batch size)``, when the record count is known.
        total_steps: Steps over all epochs.
        cost: Estimated training cost from the given ``Pricing``; ``None`` without a training price.
        currency: The currency of ``cost``.
        notes: How the numbers were obtained and what they leave out.
    """

    model_config = ConfigDict(frozen=True)

    training_records: int | None = None
    tokens_per_epoch: int | None = None
    epochs: int
    training_tokens: int | None = None
    steps_per_epoch: int | None = None
    total_steps: int | None = None
    cost: float | None = None
    currency: str = "USD"
    notes: list[str] = []


def estimate_job(
    *,
    records: int | None,
    tokens: int | None,
    hyperparameters: Hyperparameters,
    pricing: Pricing | None = None,
    tokens_exact: bool = False,
) -> JobEstimate:
    """Estimate a job's size and training cost.

    Args:
        records: Training records (``None`` when unknown).
        tokens: Estimated tokens in the training data (``None`` when unknown).
        hyperparameters: The job's hyperparameters (epochs and batch size are used).
        pricing: Prices; the cost is ``None`` without ``training_per_1k_tokens``.
        tokens_exact: Whether ``tokens`` was counted rather than estimated (only changes the notes).
    """
    settings = hyperparameters.resolved()
    epochs, batch = int(settings["epoch_count"]), int(settings["batch_size"])
    notes: list[str] = []
    steps = math.ceil(records / batch) if records else None
    billed = tokens * epochs if tokens is not None else None
    if tokens is not None and not tokens_exact:
        notes.append("tokens are estimated (no public Claude 3 tokenizer); the bill uses the service's count")
    if tokens is None:
        notes.append("token count unknown (data in S3 is not downloaded by plan); no token or cost estimate")
    cost = pricing.training_cost(billed) if pricing is not None and billed is not None else None
    if pricing is None or pricing.training_per_1k_tokens is None:
        notes.append("no training price given: pass Pricing(training_per_1k_tokens=...) for a cost estimate")
    notes.append("an upper bound: early stopping can end training before the last epoch")
    return JobEstimate(
        training_records=records,
        tokens_per_epoch=tokens,
        epochs=epochs,
        training_tokens=billed,
        steps_per_epoch=steps,
        total_steps=steps * epochs if steps is not None else None,
        cost=cost,
        currency=pricing.currency if pricing is not None else "USD",
        notes=notes,
    )


class JobPlan(BaseModel):
    """What [`CustomizationJob.create`][haiku_finetune.jobs.CustomizationJob.create] would do, checked and estimated;
    nothing was submitted.

    Attributes:
        job_name: The job name (generated when none was given).
        custom_model_name: The custom model name (generated when none was given).
        base_model: The base model id.
        region: The region the job would run in.
        role_arn: The service role.
        output_uri: Where Bedrock would write the output.
        hyperparameters: Every hyperparameter's effective value.
        training: What is known about the training data.
        validation: What is known about the validation data, if any.
        checks: Every check and its outcome.
        estimate: Tokens, steps and cost.
    """

    model_config = ConfigDict(frozen=True)

    job_name: str
    custom_model_name: str
    base_model: str
    region: str
    role_arn: str
    output_uri: str
    hyperparameters: dict[str, int | float]
    training: DatasetInfo
    validation: DatasetInfo | None = None
    checks: list[PlanCheck]
    estimate: JobEstimate

    @property
    def ok(self) -> bool:
        """True when no check failed ("warn" and "not checked" do not block)."""
        return not self.failures

    @property
    def failures(self) -> list[PlanCheck]:
        """The failed checks."""
        return [c for c in self.checks if c.status == "fail"]

    def raise_for_failures(self, *, local_only: bool = False) -> None:
        """Raise [`PlanCheckError`][haiku_finetune.errors.PlanCheckError] listing the failed checks, if any.

        Args:
            local_only: Consider only the checks that need no AWS call.
        """
        failed = [c for c in self.failures if c.local or not local_only]
        if failed:
            lines = "; ".join(f"{c.name}: {c.detail}" for c in failed)
            raise PlanCheckError(f"{len(failed)} preflight check(s) failed, nothing was submitted: {lines}", plan=self)

    def __str__(self) -> str:
        marks = {"pass": "ok  ", "fail": "FAIL", "warn": "warn", "not checked": "n/c "}
        lines = [
            f"Plan for job {self.job_name} -> model {self.custom_model_name}",
            f"  base model {self.base_model} in {self.region}, role {self.role_arn}",
            f"  training   {self.training.uri or self.training.source}",
        ]
        if self.validation is not None:
            lines.append(f"  validation {self.validation.uri or self.validation.source}")
        lines.append(f"  output     {self.output_uri}")
        lines.append("  hyperparameters " + ", ".join(f"{k}={v:g}" for k, v in self.hyperparameters.items()))
        lines.append("Checks:")
        lines += [f"  [{marks[c.status]}] {c.name}: {c.detail}" for c in self.checks]
        e = self.estimate
        lines.append("Estimate:")
        lines.append(
            f"  records {_num(e.training_records)}, steps/epoch {_num(e.steps_per_epoch)}, "
            f"epochs {e.epochs}, total steps {_num(e.total_steps)}"
        )
        lines.append(f"  tokens/epoch {_num(e.tokens_per_epoch)}, billed training tokens {_num(e.training_tokens)}")
        cost = "unknown (no price given)" if e.cost is None else f"{e.cost:,.2f} {e.currency}"
        lines.append(f"  training cost {cost}")
        lines += [f"  note: {n}" for n in e.notes]
        lines.append("Result: " + ("ready to submit" if self.ok else f"{len(self.failures)} check(s) failed"))
        return "\n".join(lines)


def _num(value: int | None) -> str:
    return "unknown" if value is None else f"{value:,}"


# -- the checks -----------------------------------------------------------------------------------------


@dataclass
class _Data:
    """One dataset during planning: what it is, what we learned, the validation report for local data."""

    split: Literal["train", "validation"]
    source: DataSource
    info: DatasetInfo
    report: ValidationReport | None = None
    path: Path | None = None


def _is_s3(source: Any) -> bool:
    return isinstance(source, str) and source.startswith("s3://")


def _describe_source(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return type(source).__name__


def _local_checks(inputs: Inputs) -> tuple[list[PlanCheck], list[_Data]]:
    checks: list[PlanCheck] = []

    def add(name: str, status: CheckStatus, detail: str) -> None:
        checks.append(PlanCheck(name=name, status=status, detail=detail, local=True))

    # Hyperparameters.
    hp = inputs.hyperparameters
    profile_problem = None
    if inputs.hyperparameter_error is None and inputs.profile is not None:
        try:
            check_for_profile(hp, inputs.profile)
        except HyperparameterError as error:
            profile_problem = error
    if inputs.hyperparameter_error is not None or profile_problem is not None:
        add("hyperparameters", "fail", str(inputs.hyperparameter_error or profile_problem))
    else:
        sent = hp.to_api()
        add("hyperparameters", "pass", "in the documented ranges" + (f" (sending {sent})" if sent else " (defaults)"))
    early = {"early_stopping_threshold", "early_stopping_patience"} & hp.model_fields_set
    if inputs.spec.validation_data is None and early:
        add("early stopping", "warn", "early stopping needs validation data; without it these settings do nothing")

    # Names and identifiers.
    problems = [p for p in (validate_job_name(inputs.job_name), validate_model_name(inputs.custom_model_name)) if p]
    add(
        "names", "fail" if problems else "pass", "; ".join(problems) or f"{inputs.job_name}, {inputs.custom_model_name}"
    )
    if ROLE_ARN.fullmatch(inputs.role_arn):
        add("role ARN", "pass", inputs.role_arn)
    else:
        add("role ARN", "fail", f"{inputs.role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    kms_key = inputs.spec.kms_key_id
    if kms_key is not None and not KMS_KEY.fullmatch(kms_key):
        add("KMS key", "fail", f"{kms_key!r} is not a KMS key id, alias or ARN")
    if inputs.vpc_config is not None:
        subnets, groups = inputs.vpc_config["subnetIds"], inputs.vpc_config["securityGroupIds"]
        if 1 <= len(subnets) <= 16 and 1 <= len(groups) <= 5:
            add("VPC", "pass", f"{len(subnets)} subnet(s), {len(groups)} security group(s)")
        else:
            add("VPC", "fail", f"need 1-16 subnets and 1-5 security groups, got {len(subnets)} and {len(groups)}")

    # Locations.
    uri_problems: list[str] = []
    for label, value in (("output_uri", inputs.output_uri), ("staging_uri", inputs.staging_uri)):
        if value is None:
            continue
        try:
            problem = S3Uri(value).bedrock_problem()
        except ValueError as error:
            problem = f"{label}: {error}"
        if problem:
            uri_problems.append(problem)
    datasets: list[_Data] = []
    needs_staging = False
    sources: list[tuple[Literal["train", "validation"], Any]] = [
        ("train", inputs.spec.training_data),
        ("validation", inputs.spec.validation_data),
    ]
    for split, source in sources:
        if source is None:
            continue
        if _is_s3(source):
            try:
                uri = S3Uri(source)
            except ValueError as error:
                uri_problems.append(str(error))
                continue
            problem = uri.bedrock_problem() or (
                f"{uri} is a folder; Bedrock needs the data file" if uri.is_prefix else None
            )
            if problem:
                uri_problems.append(problem)
            datasets.append(_Data(split, source, DatasetInfo(source=str(uri), uri=str(uri))))
        else:
            needs_staging = True
            datasets.append(_Data(split, source, DatasetInfo(source=_describe_source(source), local=True)))
    if needs_staging and inputs.staging_uri is None:
        uri_problems.append("local data needs staging_uri=s3://... to be uploaded to")
    add("S3 locations", "fail" if uri_problems else "pass", "; ".join(uri_problems) or "well-formed for Bedrock")

    # Local data: full validation (a pair of files in one pass, with the cross-file rules).
    # Against the job's base model's limits; a model no profile knows gets the default's (its own check fails).
    _validate_local_data(datasets, add, inputs.profile or DEFAULT_BASE_MODEL)

    # Batch size against the records we know about.
    records = next((d.info.records for d in datasets if d.split == "train"), None)
    batch = int(hp.resolved()["batch_size"])
    if records is None:
        add("batch size", "not checked", "the training record count is not known before the data is read")
    elif batch > records:
        add("batch size", "fail", f"batch size {batch} is larger than the {records} training records")
    else:
        add("batch size", "pass", f"{batch} <= {records} training records")
    return checks, datasets


def _validate_local_data(
    datasets: list[_Data], add: Callable[[str, CheckStatus, str], None], profile: BaseModelProfile
) -> None:
    local = [d for d in datasets if d.info.local]
    for data in local:
        source = data.source
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            if path.is_file():
                data.path = path
            else:
                add(_label(data), "fail", f"dataset file not found: {path}")
        elif not isinstance(source, DatasetBuilder):
            add(
                _label(data),
                "fail",
                "must be an s3:// URI, a local JSONL path or a DatasetBuilder, got " + type(source).__name__,
            )
    train = next((d for d in local if d.split == "train"), None)
    validation = next((d for d in local if d.split == "validation"), None)
    cross: FilesValidationReport | None = None
    if train is not None and validation is not None and train.path is not None and validation.path is not None:
        cross = validate_files(train.path, validation.path, base_model=profile)
        train.report, validation.report = cross.train, cross.validation
    for data in local:
        if data.report is None and data.path is not None:
            data.report = validate_file(data.path, split=data.split, base_model=profile)
        elif data.report is None and isinstance(data.source, DatasetBuilder):
            data.report = data.source.validate(split=data.split, base_model=profile)
        report = data.report
        if report is None:
            continue
        tokens = report.stats.total_tokens if report.stats.records else None
        data.info = data.info.model_copy(
            update={"records": report.stats.records, "tokens": tokens, "size": report.stats.file_size or None}
        )
        if report.ok:
            warnings = f", {len(report.warnings)} warning(s)" if report.warnings else ""
            add(_label(data), "pass", f"{report.stats.records:,} records valid, ~{_num(tokens)} tokens{warnings}")
        else:
            add(
                _label(data),
                "fail",
                f"{_first_errors(report.errors)} (checked against {profile.display_name}'s limits)",
            )
    if cross is not None:
        if cross.cross_errors:
            add("training + validation", "fail", _first_errors(cross.cross_errors))
        elif cross.cross_warnings:
            add("training + validation", "warn", _first_errors(cross.cross_warnings, kind="warning"))
        else:
            add("training + validation", "pass", "within the combined limits, no shared records")
    elif train is not None and validation is not None and train.report is not None and validation.report is not None:
        total = train.report.stats.records + validation.report.stats.records
        most = profile.limits.max_total_records
        if total > most:
            add("training + validation", "fail", f"{total:,} records in all, more than the {most:,}")
        else:
            add("training + validation", "pass", f"{total:,} records in all")


def _label(data: _Data) -> str:
    return "training data" if data.split == "train" else "validation data"


def _first_errors(issues: Sequence[ValidationIssue], limit: int = 3, *, kind: str = "error") -> str:
    shown = "; ".join(
        (f"line {issue.line}: " if issue.line is not None else "") + f"[{issue.code}] {issue.message}"
        for issue in issues[:limit]
    )
    more = f" (and {len(issues) - limit} more)" if len(issues) > limit else ""
    return f"{len(issues)} {kind}(s): {shown}{more}"


def _aws_check(checks: list[PlanCheck], name: str, run: Callable[[], tuple[CheckStatus, str]], *, what: str) -> None:
    """Run one AWS-backed check; a refusal or an unusable API makes it "not checked", never a crash."""
    try:
        status, detail = run()
    except AccessDeniedError as error:
        status, detail = "not checked", f"not allowed to {what} ({error.code}: {error.message})"
    except UnparseableResponseError as error:
        # An endpoint that does not implement the API (e.g. moto has no IAM policy simulator) answers with
        # something that is not an AWS response; the transport maps botocore's parser error to this.
        _log.debug("unparseable answer while trying to %s: %s", what, error)
        status, detail = "not checked", f"could not {what}: the endpoint does not implement it"
    except CallFailedError as error:
        status, detail = "not checked", f"could not {what}: {error}"
    checks.append(PlanCheck(name=name, status=status, detail=detail, local=False))


def _remote_checks(inputs: Inputs, datasets: list[_Data], t: BedrockTransport) -> list[PlanCheck]:
    checks: list[PlanCheck] = []
    region = t.region

    # Buckets in the job's region.
    buckets: list[str] = []
    for value in [inputs.output_uri, inputs.staging_uri] + [str(d.info.uri) for d in datasets if d.info.uri]:
        if value is None:
            continue
        try:
            bucket = S3Uri(value).bucket
        except ValueError:
            continue
        if bucket not in buckets:
            buckets.append(bucket)

    def check_regions() -> tuple[CheckStatus, str]:
        wrong = []
        for bucket in buckets:
            where = storage.bucket_region(bucket, transport=t)
            if where != region:
                wrong.append(f"{bucket} is in {where}")
        if wrong:
            return "fail", f"buckets must be in {region}, the job's region: " + "; ".join(wrong)
        return "pass", f"{', '.join(buckets)} in {region}"

    if buckets:
        _aws_check(checks, "bucket region", check_regions, what="read bucket locations (s3:GetBucketLocation)")

    # S3 data: exists, size within limits, checksum when S3 has one.
    for data in datasets:
        if data.info.local or data.info.uri is None:
            continue
        limits = (inputs.profile or DEFAULT_BASE_MODEL).limits
        limit = limits.max_train_bytes if data.split == "train" else limits.max_validation_bytes

        def check_object(data: _Data = data, limit: int = limit) -> tuple[CheckStatus, str]:
            uri = S3Uri(str(data.info.uri))
            if uri.is_prefix:
                return "fail", f"{uri} is a folder, not a data file"
            head = head_with_checksum(uri, t)
            if head is None:
                return "fail", f"{uri} does not exist"
            data.info = data.info.model_copy(update=facts_from_head(head))
            size = int(data.info.size or 0)
            if size == 0:
                return "fail", f"{uri} is empty"
            if size > limit:
                return "fail", f"{uri} is {size:,} bytes, more than the {limit:,} allowed"
            return "pass", f"{uri} exists, {size:,} bytes (contents are checked by the service)"

        _aws_check(checks, _label(data), check_object, what=f"read {data.info.uri} (s3:GetObject)")

    # The role.
    if ROLE_ARN.fullmatch(inputs.role_arn):
        _aws_check(checks, "role trust", lambda: _check_trust(inputs.role_arn, t), what="read the role (iam:GetRole)")
        readers = [str(d.info.uri) for d in datasets if d.info.uri]
        if inputs.staging_uri is not None and any(d.info.local for d in datasets):
            readers.append(str(S3Uri(inputs.staging_uri).as_prefix()))  # staged by content, under any <sha256>/

        def check_permissions() -> tuple[CheckStatus, str]:
            ok, why = iam.simulate_data_access(
                inputs.role_arn, training=readers or [inputs.output_uri], output=inputs.output_uri, transport=t
            )
            return ("pass" if ok else "fail"), why

        _aws_check(
            checks,
            "role permissions",
            check_permissions,
            what="simulate the role's policies (iam:SimulatePrincipalPolicy)",
        )

    # The base model.
    def check_model() -> tuple[CheckStatus, str]:
        response = t.call("bedrock", "ListFoundationModels", byCustomizationType="FINE_TUNING")
        offered = [m.get("modelId", "") for m in response.get("modelSummaries", [])]
        arns = [m.get("modelArn", "") for m in response.get("modelSummaries", [])]
        if inputs.base_model in offered or inputs.base_model in arns:
            return "pass", f"{inputs.base_model} can be fine-tuned in {region}"
        haiku = [m for m in offered if "haiku" in m]
        hint = f" (offered Haiku models: {', '.join(haiku)})" if haiku else ""
        return "fail", f"{inputs.base_model} is not offered for fine-tuning in {region}{hint}"

    _aws_check(checks, "base model", check_model, what="list foundation models (bedrock:ListFoundationModels)")

    # The base model's lifecycle here, today (end of life fails; Legacy warns, with the dates).
    profile = inputs.profile
    if profile is None:
        checks.append(
            PlanCheck(
                name="base model lifecycle",
                status="not checked",
                detail=f"no base-model profile knows {inputs.base_model} (register_profile() one)",
                local=False,
            )
        )
    else:
        state, note = read_lifecycle(profile, t)
        verdict, detail = lifecycle_verdict(profile, state, note)
        checks.append(PlanCheck(name="base model lifecycle", status=verdict, detail=detail, local=False))
        warn_lifecycle(profile, state, stacklevel=5)

    # Free names.
    def check_job_name() -> tuple[CheckStatus, str]:
        try:
            found = t.call("bedrock", "GetModelCustomizationJob", jobIdentifier=inputs.job_name)
        except ResourceNotFoundError:
            return "pass", f"no job is called {inputs.job_name}"
        return "fail", (
            f"a job called {inputs.job_name} already exists ({found.get('status')}); names of stopped and "
            "failed jobs cannot be reused either"
        )

    def check_model_name() -> tuple[CheckStatus, str]:
        try:
            t.call("bedrock", "GetCustomModel", modelIdentifier=inputs.custom_model_name)
        except ResourceNotFoundError:
            return "pass", f"no custom model is called {inputs.custom_model_name}"
        return "fail", f"a custom model called {inputs.custom_model_name} already exists"

    if validate_job_name(inputs.job_name) is None:
        _aws_check(checks, "job name free", check_job_name, what="look up jobs (bedrock:GetModelCustomizationJob)")
    if validate_model_name(inputs.custom_model_name) is None:
        _aws_check(checks, "model name free", check_model_name, what="look up models (bedrock:GetCustomModel)")
    return checks


def _check_trust(role_arn: str, t: BedrockTransport) -> tuple[CheckStatus, str]:
    name = iam.role_name_from_arn(role_arn)
    try:
        role = t.call("iam", "GetRole", RoleName=name)["Role"]
    except ResourceNotFoundError:
        return "fail", f"role {name} does not exist (haiku_finetune.iam.ensure_service_role can create it)"
    account = role_arn.split(":")[4]
    verdict, why = iam.trust_admits_bedrock(
        role.get("AssumeRolePolicyDocument", {}), account or t.account_id(), t.region
    )
    if verdict is None:
        return "not checked", why
    return ("pass" if verdict else "fail"), why


def build_plan(inputs: Inputs, t: BedrockTransport, *, remote: bool) -> tuple[JobPlan, list[_Data]]:
    if inputs.profile is not None:
        warn_if_provisional(inputs.profile, stacklevel=4)
    checks, datasets = _local_checks(inputs)
    if remote:
        checks += _remote_checks(inputs, datasets, t)
    train = next((d for d in datasets if d.split == "train"), None)
    validation = next((d for d in datasets if d.split == "validation"), None)
    train_info = train.info if train is not None else DatasetInfo(source=_describe_source(inputs.spec.training_data))
    tokens = train_info.tokens
    estimate = estimate_job(
        records=train_info.records,
        tokens=tokens,
        hyperparameters=inputs.hyperparameters,
        pricing=inputs.spec.pricing,
    )
    plan = JobPlan(
        job_name=inputs.job_name,
        custom_model_name=inputs.custom_model_name,
        base_model=inputs.base_model,
        region=t.region,
        role_arn=inputs.role_arn,
        output_uri=inputs.output_uri,
        hyperparameters=inputs.hyperparameters.resolved(),
        training=train_info,
        validation=validation.info if validation is not None else None,
        checks=checks,
        estimate=estimate,
    )
    return plan, datasets
