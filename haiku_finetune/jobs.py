"""Customization jobs: plan (preflight + estimate), create, wait, attach, stop, read metrics, keep a manifest.

:meth:`CustomizationJob.plan` takes the same arguments as :meth:`CustomizationJob.create`, submits nothing, and
returns a :class:`JobPlan`: every check with pass / fail / warn / not checked and why, plus an estimate of
tokens, steps and (when prices are given) cost. :meth:`~CustomizationJob.create` runs the local checks first
and refuses to submit when one fails, so a job that would fail on bad data, a malformed name or an
out-of-range hyperparameter is never queued. Checks that need AWS (bucket region, objects, the role's trust
and permissions, the base model, free names) run in :meth:`~CustomizationJob.plan`; each degrades to
"not checked" with the reason when the caller may not ask (e.g. ``AccessDenied``).

Waiting uses the shared polling loop on the transport's clock: first poll after 30 s, growing to every 2 min
(about 65 calls over a two-hour job), a progress bar with the stage from ``statusDetails``, and Ctrl-C leaves
the job running and says how to re-attach.

One narrow retry lives here, documented in :mod:`haiku_finetune.iam`: right after
:func:`~haiku_finetune.iam.ensure_service_role` created or changed a role, Bedrock may refuse the create call
because the role cannot be assumed *yet*; that one refusal is retried, with the same idempotency token, until
the role's propagation window (2 min on the transport's clock) has passed. Everything else is retried only by
the transport.
"""

from __future__ import annotations

import base64
import builtins
import json
import logging
import math
import os
import re
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal, TypeAlias

from botocore.parsers import ResponseParserError
from pydantic import BaseModel, ConfigDict

from . import iam, storage
from ._files import atomic_write
from ._tags import check_user_tags, with_library_tag
from ._transport import BedrockTransport, resolve_transport
from ._wait import PollInterval, PollState, wait_for
from .custom_model import CustomModel
from .datasets import (
    MAX_TOTAL_RECORDS,
    DatasetBuilder,
    FilesValidationReport,
    ValidationIssue,
    ValidationReport,
    validate_file,
    validate_files,
)
from .errors import (
    AccessDeniedError,
    ConnectionFailedError,
    HyperparameterError,
    JobError,
    JobFailedError,
    JobStoppedError,
    PlanCheckError,
    ResourceNotFoundError,
    ServiceError,
)
from .hyperparameters import HYPERPARAMETER_RANGES, Hyperparameters
from .metrics import TrainingMetrics
from .pricing import Pricing
from .storage import S3Uri

__all__ = [
    "DEFAULT_POLL_INTERVAL",
    "CheckStatus",
    "CustomizationJob",
    "DatasetInfo",
    "JobEstimate",
    "JobPlan",
    "PlanCheck",
    "estimate_job",
    "generate_names",
    "validate_job_name",
    "validate_model_name",
]

_log = logging.getLogger(__name__)

BASE_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0:200k"  # same value as haiku_finetune.BASE_MODEL_ID

#: How ``wait()`` polls by default: first after 30 s, then 25 % longer each time, at most every 2 min.
DEFAULT_POLL_INTERVAL = PollInterval(initial=30.0, maximum=120.0, growth=1.25)

_API_KEYS = frozenset(r.api_key for r in HYPERPARAMETER_RANGES.values())

TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})

# Patterns from the botocore service model of bedrock (CreateModelCustomizationJob), anchored.
_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*")
_MODEL_NAME = re.compile(r"([0-9a-zA-Z][_-]?){1,63}")
_ROLE_ARN = re.compile(r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+")
_KMS_KEY = re.compile(
    r"(arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:((key/[a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)))"
    r"|([a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)"
)

# Documented Claude 3 Haiku data limits (BEDROCK-FACTS.md); the dataset validator holds the record rules.
_MAX_TRAINING_BYTES = 10 * 1024**3
_MAX_VALIDATION_BYTES = 1024**3

# Tags the library adds to jobs so a manifest can be rebuilt after re-attaching.
_TAG_PREFIX = "haiku-finetune:"

CheckStatus = Literal["pass", "fail", "warn", "not checked"]
#: An ``s3://`` URI string, a local JSONL path, or a ``DatasetBuilder``.
DataSource: TypeAlias = "str | os.PathLike[str] | Any"


# -- names ------------------------------------------------------------------------------------------------


def validate_job_name(name: str) -> str | None:
    """Return why Bedrock would refuse ``name`` as a job name, or ``None`` when it is valid."""
    if not 1 <= len(name) <= 63:
        return f"job name {name!r} must be 1-63 characters long (it has {len(name)})"
    if not _JOB_NAME.fullmatch(name):
        return (
            f"job name {name!r} must start with a letter or digit and contain only letters, digits and -+. "
            "(no '-' right before the end)"
        )
    return None


def validate_model_name(name: str) -> str | None:
    """Return why Bedrock would refuse ``name`` as a custom model name, or ``None`` when it is valid."""
    if not 1 <= len(name) <= 63:
        return f"custom model name {name!r} must be 1-63 characters long (it has {len(name)})"
    if not _MODEL_NAME.fullmatch(name):
        return (
            f"custom model name {name!r} may contain only letters, digits, and single '_' or '-' between them "
            "(it must start with a letter or digit)"
        )
    return None


def generate_names(prefix: str = "haiku-ft", *, now: datetime | None = None) -> tuple[str, str]:
    """Return a readable, timestamped (UTC) job name and custom model name that are valid for the API.

    A short random suffix keeps two jobs started in the same second apart, e.g.
    ``("haiku-ft-20240601-120000-a1b2", "haiku-ft-model-20240601-120000-a1b2")``.

    Args:
        prefix: Start of both names (letters, digits and single hyphens).
        now: The time to stamp (default: now, UTC).
    """
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S")
    suffix = secrets.token_hex(2)
    clean = re.sub(r"[^a-zA-Z0-9]+", "-", prefix).strip("-")[:30] or "haiku-ft"
    job, model = f"{clean}-{stamp}-{suffix}", f"{clean}-model-{stamp}-{suffix}"
    problem = validate_job_name(job) or validate_model_name(model)
    if problem:  # pragma: no cover - the cleaning above makes this impossible
        raise ValueError(problem)
    return job, model


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
    """What :meth:`CustomizationJob.create` would do, checked and estimated; nothing was submitted.

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
        """Raise :class:`~haiku_finetune.errors.PlanCheckError` listing the failed checks, if any.

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


# -- the plan ---------------------------------------------------------------------------------------------


@dataclass
class _Inputs:
    """Arguments of plan/create, normalized."""

    training: DataSource
    validation: DataSource | None
    output_uri: str
    role_arn: str
    hyperparameters: Hyperparameters
    hyperparameter_error: HyperparameterError | None
    staging_uri: str | None
    base_model: str
    job_name: str
    custom_model_name: str
    kms_key_id: str | None
    vpc_config: Mapping[str, Sequence[str]] | None
    job_tags: Mapping[str, str] | None
    model_tags: Mapping[str, str] | None
    pricing: Pricing | None


@dataclass
class _Data:
    """One dataset during planning: what it is, what we learned, the validation report for local data."""

    split: Literal["train", "validation"]
    source: DataSource
    info: DatasetInfo
    report: ValidationReport | None = None
    path: Path | None = None


def _coerce_hyperparameters(value: Hyperparameters | Mapping[str, Any] | None) -> Hyperparameters:
    if value is None:
        return Hyperparameters()
    if isinstance(value, Hyperparameters):
        return value
    if isinstance(value, Mapping):
        # camelCase API keys (values usually strings, as in the API), or snake_case field names.
        if set(value) <= _API_KEYS:
            return Hyperparameters.from_api(value)
        return Hyperparameters(**value)
    raise HyperparameterError(
        f"hyperparameters must be a Hyperparameters value or a mapping, got {type(value).__name__}"
    )


def _is_s3(source: Any) -> bool:
    return isinstance(source, str) and source.startswith("s3://")


def _describe_source(source: Any) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    return type(source).__name__


def _local_checks(inputs: _Inputs) -> tuple[list[PlanCheck], list[_Data]]:
    checks: list[PlanCheck] = []

    def add(name: str, status: CheckStatus, detail: str) -> None:
        checks.append(PlanCheck(name=name, status=status, detail=detail, local=True))

    # Hyperparameters.
    hp = inputs.hyperparameters
    if inputs.hyperparameter_error is not None:
        add("hyperparameters", "fail", str(inputs.hyperparameter_error))
    else:
        sent = hp.to_api()
        add("hyperparameters", "pass", "in the documented ranges" + (f" (sending {sent})" if sent else " (defaults)"))
    early = {"early_stopping_threshold", "early_stopping_patience"} & hp.model_fields_set
    if inputs.validation is None and early:
        add("early stopping", "warn", "early stopping needs validation data; without it these settings do nothing")

    # Names and identifiers.
    problems = [p for p in (validate_job_name(inputs.job_name), validate_model_name(inputs.custom_model_name)) if p]
    add(
        "names", "fail" if problems else "pass", "; ".join(problems) or f"{inputs.job_name}, {inputs.custom_model_name}"
    )
    if _ROLE_ARN.fullmatch(inputs.role_arn):
        add("role ARN", "pass", inputs.role_arn)
    else:
        add("role ARN", "fail", f"{inputs.role_arn!r} is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)")
    if inputs.kms_key_id is not None and not _KMS_KEY.fullmatch(inputs.kms_key_id):
        add("KMS key", "fail", f"{inputs.kms_key_id!r} is not a KMS key id, alias or ARN")
    if inputs.vpc_config is not None:
        subnets = list(inputs.vpc_config.get("subnet_ids") or inputs.vpc_config.get("subnetIds") or [])
        groups = list(inputs.vpc_config.get("security_group_ids") or inputs.vpc_config.get("securityGroupIds") or [])
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
        ("train", inputs.training),
        ("validation", inputs.validation),
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
    _validate_local_data(datasets, add)

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


def _validate_local_data(datasets: list[_Data], add: Any) -> None:
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
        cross = validate_files(train.path, validation.path)
        train.report, validation.report = cross.train, cross.validation
    for data in local:
        if data.report is None and data.path is not None:
            data.report = validate_file(data.path, split=data.split)
        elif data.report is None and isinstance(data.source, DatasetBuilder):
            data.report = data.source.validate(split=data.split)
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
            add(_label(data), "fail", _first_errors(report.errors))
    if cross is not None:
        if cross.cross_errors:
            add("training + validation", "fail", _first_errors(cross.cross_errors))
        elif cross.cross_warnings:
            add("training + validation", "warn", _first_errors(cross.cross_warnings, kind="warning"))
        else:
            add("training + validation", "pass", "within the combined limits, no shared records")
    elif train is not None and validation is not None and train.report is not None and validation.report is not None:
        total = train.report.stats.records + validation.report.stats.records
        if total > MAX_TOTAL_RECORDS:
            add("training + validation", "fail", f"{total:,} records in all, more than the {MAX_TOTAL_RECORDS:,}")
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


def _aws_check(checks: list[PlanCheck], name: str, run: Any, *, what: str) -> None:
    """Run one AWS-backed check; a refusal or an unusable API makes it "not checked", never a crash."""
    try:
        status, detail = run()
    except AccessDeniedError as error:
        status, detail = "not checked", f"not allowed to {what} ({error.code}: {error.message})"
    except (ServiceError, ConnectionFailedError) as error:
        status, detail = "not checked", f"could not {what}: {error}"
    except ResponseParserError as error:
        # An endpoint that does not implement the API (e.g. moto has no IAM policy simulator) answers
        # with something that is not an AWS error; botocore cannot parse it, the transport cannot map it.
        _log.debug("unparseable answer while trying to %s: %s", what, error)
        status, detail = "not checked", f"could not {what}: the endpoint does not implement it"
    checks.append(PlanCheck(name=name, status=status, detail=detail, local=False))


def _remote_checks(inputs: _Inputs, datasets: list[_Data], t: BedrockTransport) -> list[PlanCheck]:
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
        label = "training data" if data.split == "train" else "validation data"
        limit = _MAX_TRAINING_BYTES if data.split == "train" else _MAX_VALIDATION_BYTES

        def check_object(data: _Data = data, limit: int = limit) -> tuple[CheckStatus, str]:
            uri = S3Uri(str(data.info.uri))
            if uri.is_prefix:
                return "fail", f"{uri} is a folder, not a data file"
            head = _head_with_checksum(uri, t)
            if head is None:
                return "fail", f"{uri} does not exist"
            data.info = data.info.model_copy(update=_facts_from_head(head))
            size = int(data.info.size or 0)
            if size == 0:
                return "fail", f"{uri} is empty"
            if size > limit:
                return "fail", f"{uri} is {size:,} bytes, more than the {limit:,} allowed"
            return "pass", f"{uri} exists, {size:,} bytes (contents are checked by the service)"

        _aws_check(checks, label, check_object, what=f"read {data.info.uri} (s3:GetObject)")

    # The role.
    if _ROLE_ARN.fullmatch(inputs.role_arn):
        _aws_check(checks, "role trust", lambda: _check_trust(inputs.role_arn, t), what="read the role (iam:GetRole)")
        readers = [str(d.info.uri) for d in datasets if d.info.uri]
        if inputs.staging_uri is not None and any(d.info.local for d in datasets):
            readers.append(str(S3Uri(inputs.staging_uri).joinpath(inputs.job_name).as_prefix()))

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


def _head_with_checksum(uri: S3Uri, t: BedrockTransport) -> dict[str, Any] | None:
    try:
        return t.call("s3", "HeadObject", Bucket=uri.bucket, Key=uri.key, ChecksumMode="ENABLED")
    except ResourceNotFoundError:
        return None


def _facts_from_head(head: Mapping[str, Any]) -> dict[str, Any]:
    """What a ``HeadObject`` answer (asked with ``ChecksumMode=ENABLED``) tells about a dataset in S3.

    Returns:
        ``DatasetInfo`` fields: ``size``, ``sha256`` (S3's full-object checksum), ``records`` (from the metadata
        :func:`haiku_finetune.storage.upload_dataset` writes) and ``note`` saying why either is missing.
    """
    checksum = head.get("ChecksumSHA256")
    sha = _sha256_hex(checksum)
    counted = (head.get("Metadata") or {}).get(storage.RECORDS_METADATA_KEY)
    records = int(counted) if isinstance(counted, str) and counted.isdigit() else None
    missing = []
    if sha is None:
        why = "a composite checksum of its parts" if isinstance(checksum, str) else "no SHA-256 checksum"
        missing.append(f"no SHA-256: S3 keeps {why} for this object")
    if records is None:
        missing.append("no record count: not uploaded (validated) with haiku_finetune.storage.upload_dataset")
    note = "; ".join(missing) or None
    return {"size": int(head.get("ContentLength", 0)), "sha256": sha, "records": records, "note": note}


def _read_s3_facts(info: DatasetInfo, t: BedrockTransport) -> DatasetInfo:
    """Add what S3 knows about a dataset (SHA-256, record count, size) for the manifest; never fails the create.

    The service reads the data itself and refuses a job whose data is missing, so a lookup that does not work
    here only leaves the details unknown, with the reason in ``note``.
    """
    if info.uri is None:
        return info
    try:
        head = _head_with_checksum(S3Uri(info.uri), t)
    except (ServiceError, ConnectionFailedError) as error:
        return info.model_copy(update={"note": f"not known: could not read the object's checksum ({error})"})
    if head is None:
        return info.model_copy(update={"note": f"not known: {info.uri} was not found"})
    return info.model_copy(update=_facts_from_head(head))


def _sha256_hex(checksum: Any) -> str | None:
    """Return S3's full-object SHA-256 as hex; multipart (composite) checksums end in ``-N`` and are skipped."""
    if not isinstance(checksum, str) or "-" in checksum:
        return None
    try:
        raw = base64.b64decode(checksum, validate=True)
    except ValueError:
        return None
    return raw.hex() if len(raw) == 32 else None


def _build_plan(inputs: _Inputs, t: BedrockTransport, *, remote: bool) -> tuple[JobPlan, list[_Data]]:
    checks, datasets = _local_checks(inputs)
    if remote:
        checks += _remote_checks(inputs, datasets, t)
    train = next((d for d in datasets if d.split == "train"), None)
    validation = next((d for d in datasets if d.split == "validation"), None)
    train_info = train.info if train is not None else DatasetInfo(source=_describe_source(inputs.training))
    tokens = train_info.tokens
    estimate = estimate_job(
        records=train_info.records,
        tokens=tokens,
        hyperparameters=inputs.hyperparameters,
        pricing=inputs.pricing,
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


# -- the job ----------------------------------------------------------------------------------------------


_STAGES = (
    ("validationDetails", "validation"),
    ("dataProcessingDetails", "data processing"),
    ("trainingDetails", "training"),
)


class CustomizationJob:
    """A Bedrock model customization (fine-tuning) job.

    Make one with :meth:`create`, or get an existing one with :meth:`attach` or :meth:`list`. Its state is
    what the last :meth:`refresh` saw; :meth:`wait` refreshes until the job ends.

    Args:
        description: A ``GetModelCustomizationJob`` response (or a list summary; the rest is fetched on
            first use).
        transport: The transport to use.
        plan: The plan it was created from, when created here (kept as :attr:`creation_plan`).
        datasets: Dataset details known at creation (for the manifest).
    """

    def __init__(
        self,
        description: Mapping[str, Any],
        *,
        transport: BedrockTransport | None = None,
        plan: JobPlan | None = None,
        datasets: Mapping[str, DatasetInfo] | None = None,
    ) -> None:
        if "jobArn" not in description:
            raise ValueError("a job description needs at least 'jobArn'")
        self._transport = resolve_transport(transport)
        self._description: dict[str, Any] = dict(description)
        self._full = "roleArn" in description and "outputDataConfig" in description
        self.creation_plan = plan
        self._datasets: dict[str, DatasetInfo] = dict(datasets or {})

    # -- construction ---------------------------------------------------------------------------------

    @classmethod
    def plan(
        cls,
        *,
        training_data: DataSource,
        output_uri: str,
        role_arn: str,
        hyperparameters: Hyperparameters | Mapping[str, Any] | None = None,
        validation_data: DataSource | None = None,
        staging_uri: str | None = None,
        base_model: str = BASE_MODEL_ID,
        job_name: str | None = None,
        custom_model_name: str | None = None,
        kms_key_id: str | None = None,
        vpc_config: Mapping[str, Sequence[str]] | None = None,
        job_tags: Mapping[str, str] | None = None,
        model_tags: Mapping[str, str] | None = None,
        pricing: Pricing | None = None,
        transport: BedrockTransport | None = None,
    ) -> JobPlan:
        """Check everything :meth:`create` would submit, and estimate it; submit nothing.

        Local checks: hyperparameters, names, role ARN and key formats, S3 URIs, full validation of local
        data (with cross-file limits), batch size against the record count. AWS checks: bucket region,
        S3 data exists and fits the size limits, the role exists and trusts Bedrock for this account and
        region, its permissions (IAM policy simulation), the base model is offered for FINE_TUNING here,
        the job and model names are free. An AWS check the caller may not run is "not checked", with why.

        Args: as :meth:`create`, plus ``pricing`` for a cost estimate.

        Returns:
            The :class:`JobPlan` (``plan.ok`` is False when a check failed).
        """
        t = resolve_transport(transport)
        inputs = _inputs(locals())
        plan, _ = _build_plan(inputs, t, remote=True)
        return plan

    @classmethod
    def create(
        cls,
        *,
        training_data: DataSource,
        output_uri: str,
        role_arn: str,
        hyperparameters: Hyperparameters | Mapping[str, Any] | None = None,
        validation_data: DataSource | None = None,
        staging_uri: str | None = None,
        base_model: str = BASE_MODEL_ID,
        job_name: str | None = None,
        custom_model_name: str | None = None,
        kms_key_id: str | None = None,
        vpc_config: Mapping[str, Sequence[str]] | None = None,
        job_tags: Mapping[str, str] | None = None,
        model_tags: Mapping[str, str] | None = None,
        pricing: Pricing | None = None,
        skip_checks: bool = False,
        transport: BedrockTransport | None = None,
    ) -> CustomizationJob:
        """Validate, stage and submit a fine-tuning job.

        Args:
            training_data: An ``s3://`` URI of a JSONL file, a local JSONL path, or a ``DatasetBuilder``.
                Local data is validated in full, then uploaded under ``staging_uri``.
            output_uri: Where Bedrock writes the metrics (``s3://bucket/prefix/``).
            role_arn: The service role Bedrock assumes (see :func:`haiku_finetune.iam.ensure_service_role`).
            hyperparameters: A :class:`Hyperparameters`, or a mapping (API camelCase keys with string values
                as in the API, or snake_case field names); checked against the documented ranges.
            validation_data: Like ``training_data``; needed for validation loss and early stopping.
            staging_uri: Where local data is uploaded: ``<staging_uri>/<job name>/train.jsonl`` and
                ``validation.jsonl``.
            base_model: The base model id (default: Claude 3 Haiku, 200k context).
            job_name: The job name; default: generated, readable and timestamped.
            custom_model_name: The custom model name; default: generated like the job name.
            kms_key_id: KMS key for the custom model (and for staged data, with SSE-KMS).
            vpc_config: ``{"subnet_ids": [...], "security_group_ids": [...]}`` to run in your VPC.
            job_tags: Tags for the job (the library always adds ``created-by=haiku-finetune``; a
                different ``created-by`` value is refused).
            model_tags: Tags for the custom model (likewise).
            pricing: Prices for the estimate in :attr:`creation_plan`.
            skip_checks: Submit even when a local check fails (local data is still validated on upload).
            transport: The transport to use.

        Returns:
            The new job (status ``InProgress``).

        Raises:
            ValueError: A tag sets the library's ``created-by`` key to another value (before any AWS call).
            HyperparameterError: A hyperparameter is out of range (before any AWS call).
            PlanCheckError: A local check failed (``error.plan`` has them all); nothing was submitted.
            DatasetValidationError: Local data is invalid (with ``skip_checks``).
            ServiceError: Bedrock refused the job (after the narrow role-propagation retry, see the module).
        """
        t = resolve_transport(transport)
        inputs = _inputs(locals())
        if inputs.hyperparameter_error is not None:
            # Raised as such, before any call: never submit values the API would refuse.
            raise inputs.hyperparameter_error
        plan, datasets = _build_plan(inputs, t, remote=False)
        if not skip_checks:
            plan.raise_for_failures(local_only=True)
        infos = _stage(inputs, datasets, validate=skip_checks, transport=t)
        request = _request(inputs, infos)
        token = uuid.uuid4().hex
        response = _create_with_role_propagation(t, request, token, inputs.role_arn)
        description = {
            "jobArn": response["jobArn"],
            "jobName": inputs.job_name,
            "outputModelName": inputs.custom_model_name,
            "status": "InProgress",
            "roleArn": inputs.role_arn,
            "baseModelArn": inputs.base_model,
            "hyperParameters": request.get("hyperParameters", {}),
            "trainingDataConfig": request["trainingDataConfig"],
            "validationDataConfig": request.get("validationDataConfig"),
            "outputDataConfig": request["outputDataConfig"],
            "clientRequestToken": token,
        }
        _log.info("created customization job %s (%s)", inputs.job_name, response["jobArn"])
        return cls(description, transport=t, plan=plan, datasets=infos)

    @classmethod
    def attach(cls, name_or_arn: str, *, transport: BedrockTransport | None = None) -> CustomizationJob:
        """Get an existing job by name or ARN (to wait for it again, read its metrics, stop it).

        Raises:
            ResourceNotFoundError: No such job.
        """
        t = resolve_transport(transport)
        response = t.call("bedrock", "GetModelCustomizationJob", jobIdentifier=name_or_arn)
        return cls(response, transport=t)

    @classmethod
    def list(
        cls,
        *,
        status: str | None = None,
        name_contains: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        newest_first: bool = True,
        transport: BedrockTransport | None = None,
    ) -> builtins.list[CustomizationJob]:
        """Return the region's customization jobs (every page), newest first, optionally filtered.

        Args:
            status: Only jobs in this status (``InProgress``, ``Completed``, ``Failed``, ``Stopping``,
                ``Stopped``).
            name_contains: Only jobs whose name contains this.
            created_after: Only jobs created after this time.
            created_before: Only jobs created before this time.
            newest_first: Sort by creation time, newest first (else oldest first).
            transport: The transport to use.
        """
        t = resolve_transport(transport)
        params: dict[str, Any] = {"sortBy": "CreationTime", "sortOrder": "Descending" if newest_first else "Ascending"}
        if status:
            params["statusEquals"] = status
        if name_contains:
            params["nameContains"] = name_contains
        if created_after:
            params["creationTimeAfter"] = created_after
        if created_before:
            params["creationTimeBefore"] = created_before
        jobs: builtins.list[CustomizationJob] = []
        for page in t.paginate("bedrock", "ListModelCustomizationJobs", **params):
            jobs.extend(cls(summary, transport=t) for summary in page.get("modelCustomizationJobSummaries", []))
        return jobs

    # -- state ----------------------------------------------------------------------------------------

    def refresh(self) -> CustomizationJob:
        """Fetch the job's current state (one ``GetModelCustomizationJob`` call). Returns ``self``."""
        self._description = self._transport.call("bedrock", "GetModelCustomizationJob", jobIdentifier=self.arn)
        self._full = True
        return self

    def _get(self, key: str) -> Any:
        if key not in self._description and not self._full:
            self.refresh()
        return self._description.get(key)

    @property
    def arn(self) -> str:
        """The job's ARN."""
        return str(self._description["jobArn"])

    @property
    def job_id(self) -> str:
        """The job id: the last path segment of the ARN."""
        return self.arn.rsplit("/", 1)[-1]

    @property
    def name(self) -> str:
        """The job's name."""
        return str(self._get("jobName"))

    @property
    def status(self) -> str:
        """The status seen by the last refresh: InProgress, Completed, Failed, Stopping or Stopped."""
        return str(self._get("status"))

    @property
    def stage(self) -> str | None:
        """The current stage from ``statusDetails`` ("validation", "data processing", "training"), if reported.

        ``None`` when the service reports no stages (it documents them for distillation jobs; fine-tuning
        jobs may not have them).
        """
        details = self._description.get("statusDetails")
        if not isinstance(details, Mapping):
            return None
        reported = [(label, (details.get(key) or {}).get("status")) for key, label in _STAGES]
        reported = [(label, s) for label, s in reported if s]
        if not reported:
            return None
        for label, stage_status in reported:
            if stage_status != "Completed":
                return label
        return "completed"

    @property
    def failure_message(self) -> str | None:
        """The service's failure message when the job failed (it often names the offending data line)."""
        value = self._description.get("failureMessage")
        return str(value) if value else None

    @property
    def hyperparameters(self) -> Hyperparameters:
        """The job's hyperparameters (values the service did not report are the documented defaults)."""
        raw = self._get("hyperParameters") or {}
        known = {k: v for k, v in raw.items() if k in _API_KEYS}
        return Hyperparameters.from_api(known)

    @property
    def output_uri(self) -> str:
        """The job's output location (``outputDataConfig.s3Uri``)."""
        return str((self._get("outputDataConfig") or {})["s3Uri"])

    @property
    def training_uri(self) -> str:
        """The training data location."""
        return str((self._get("trainingDataConfig") or {}).get("s3Uri"))

    @property
    def validation_uris(self) -> builtins.list[str]:
        """The validation data locations (empty without validation data)."""
        config = self._get("validationDataConfig") or {}
        return [str(v["s3Uri"]) for v in config.get("validators", [])]

    @property
    def custom_model_name(self) -> str | None:
        """The name the custom model has (or will have)."""
        value = self._get("outputModelName") or self._description.get("customModelName")
        return str(value) if value else None

    @property
    def custom_model_arn(self) -> str | None:
        """The custom model's ARN, once the job completed."""
        value = self._description.get("outputModelArn") or self._description.get("customModelArn")
        return str(value) if value else None

    @property
    def custom_model(self) -> CustomModel:
        """The model this job produced, as a :class:`~haiku_finetune.CustomModel` (the job must be Completed).

        Raises:
            JobError: The job has not completed (refresh or wait first).
        """
        arn = self.custom_model_arn
        if self.status != "Completed" or not arn:
            if not self._full:
                self.refresh()
                arn = self.custom_model_arn
            if self.status != "Completed" or not arn:
                raise JobError(
                    f"job {self.name} has produced no model (status {self.status}); wait() for it first",
                    job_arn=self.arn,
                    status=self.status,
                )
        return CustomModel(
            arn=arn,
            name=self.custom_model_name or arn.rsplit("/", 1)[-1],
            base_model=self._description.get("baseModelArn"),
            job_arn=self.arn,
            hyperparameters=self.hyperparameters,
            created_at=self._description.get("endTime"),
        )

    # -- actions ----------------------------------------------------------------------------------------

    def wait(
        self,
        timeout: float | None = None,
        *,
        progress: bool = True,
        poll_interval: PollInterval | None = None,
    ) -> CustomizationJob:
        """Wait until the job ends, polling gently; return ``self`` when it completed.

        Args:
            timeout: Seconds to wait at most (``None``: no limit). The job keeps running after a timeout.
            progress: Show a progress bar with the status, stage and elapsed time.
            poll_interval: The polling schedule (default :data:`DEFAULT_POLL_INTERVAL`: 30 s growing to 2 min).

        Raises:
            JobFailedError: The job failed; ``failure_message`` carries the service's explanation.
            JobStoppedError: The job was stopped.
            WaitTimeoutError: ``timeout`` passed first.
            KeyboardInterrupt: On Ctrl-C, after saying how to re-attach; the job keeps running.
        """

        def fetch() -> PollState:
            self.refresh()
            finished = self.status in TERMINAL_STATUSES
            return PollState(status=self.status, detail="" if finished else self.stage or "", finished=finished)

        wait_for(
            fetch,
            what=f"customization job {self.name}",
            clock=self._transport.clock,
            timeout=timeout,
            interval=poll_interval or DEFAULT_POLL_INTERVAL,
            progress=progress,
            reattach_hint=f"haiku_finetune.CustomizationJob.attach({self.name!r}).wait()",
        )
        self._raise_for_status()
        return self

    def _raise_for_status(self) -> None:
        if self.status == "Failed":
            message = self.failure_message or "no failure message"
            raise JobFailedError(
                f"customization job {self.name} failed: {message}",
                job_arn=self.arn,
                failure_message=self.failure_message,
            )
        if self.status == "Stopped":
            raise JobStoppedError(f"customization job {self.name} was stopped", job_arn=self.arn)

    def stop(self) -> CustomizationJob:
        """Ask Bedrock to stop the job (status becomes Stopping, then Stopped). A no-op once it has ended."""
        self.refresh()
        if self.status in TERMINAL_STATUSES or self.status == "Stopping":
            _log.info("job %s is already %s; not stopping it", self.name, self.status)
            return self
        self._transport.call("bedrock", "StopModelCustomizationJob", jobIdentifier=self.arn)
        return self.refresh()

    def metrics(self) -> TrainingMetrics:
        """Read the job's training and validation metrics from its output location.

        Raises:
            ResourceNotFoundError: The metrics are not there (yet).
        """
        return TrainingMetrics.read(
            self.output_uri, self.arn, hyperparameters=self.hyperparameters, transport=self._transport
        )

    def tags(self) -> dict[str, str]:
        """Return the job's tags."""
        response = self._transport.call("bedrock", "ListTagsForResource", resourceARN=self.arn)
        return {t["key"]: t["value"] for t in response.get("tags", [])}

    def manifest(self, path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
        """Return (and optionally save) what you keep to reproduce or audit the model.

        Dataset SHA-256s and record counts, hyperparameters (all effective values and the ones sent), base
        model, region, job and model ARNs, library version. For a job created in this process the dataset
        details come from staging, or for data already in S3 from the object's SHA-256 checksum and the
        record count :func:`~haiku_finetune.storage.upload_dataset` stored with it; for an attached job, from
        the tags ``create`` put on it. A detail that is not known is ``null``, and the dataset's ``note`` says
        why.

        Args:
            path: Also write the manifest there as JSON (atomically).
        """
        from . import __version__

        self.refresh()
        datasets = dict(self._datasets) or _datasets_from_tags(self._safe_tags())
        training = _with_uri(datasets.get("training"), self.training_uri)
        validation_uris = self.validation_uris
        validation = _with_uri(datasets.get("validation"), validation_uris[0]) if validation_uris else None
        hp = self.hyperparameters
        document: dict[str, Any] = {
            "manifest_version": 1,
            "library": {"name": "haiku-finetune", "version": __version__},
            "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "region": self._transport.region,
            "job": {
                "name": self.name,
                "arn": self.arn,
                "status": self.status,
                "created": _iso(self._description.get("creationTime")),
                "ended": _iso(self._description.get("endTime")),
                "role_arn": self._description.get("roleArn"),
                "output_uri": self.output_uri,
            },
            "custom_model": {"name": self.custom_model_name, "arn": self.custom_model_arn},
            "base_model": self._description.get("baseModelArn"),
            "hyperparameters": {"effective": hp.resolved(), "api": hp.to_api() or self._get("hyperParameters")},
            "datasets": {
                "training": _dataset_entry(training),
                "validation": _dataset_entry(validation) if validation is not None else None,
            },
        }
        if path is not None:
            _write_json(Path(path), document)
        return document

    def _safe_tags(self) -> dict[str, str]:
        try:
            return self.tags()
        except (ServiceError, ConnectionFailedError) as error:
            _log.warning("could not read the tags of %s for its manifest: %s", self.arn, error)
            return {}

    def __repr__(self) -> str:
        return (
            f"CustomizationJob(name={self._description.get('jobName')!r}, status={self._description.get('status')!r})"
        )


def _inputs(args: Mapping[str, Any]) -> _Inputs:
    """Normalize the keyword arguments of plan/create (``args`` is the caller's ``locals()``)."""
    problem = None
    try:
        hp = _coerce_hyperparameters(args["hyperparameters"])
    except HyperparameterError as error:
        problem, hp = error, Hyperparameters()
    # Refused here, before any call: a user value under the library's key would hide what create makes from
    # find_orphans.
    check_user_tags(args["job_tags"])
    check_user_tags(args["model_tags"])
    job_name, model_name = args["job_name"], args["custom_model_name"]
    if job_name is None or model_name is None:
        generated_job, generated_model = generate_names()
        job_name = job_name or generated_job
        model_name = model_name or generated_model
    return _Inputs(
        training=args["training_data"],
        validation=args["validation_data"],
        output_uri=str(args["output_uri"]),
        role_arn=str(args["role_arn"]),
        hyperparameters=hp,
        hyperparameter_error=problem,
        staging_uri=str(args["staging_uri"]) if args["staging_uri"] is not None else None,
        base_model=str(args["base_model"]),
        job_name=job_name,
        custom_model_name=model_name,
        kms_key_id=args["kms_key_id"],
        vpc_config=args["vpc_config"],
        job_tags=args["job_tags"],
        model_tags=args["model_tags"],
        pricing=args["pricing"],
    )


def _stage(
    inputs: _Inputs, datasets: list[_Data], *, validate: bool, transport: BedrockTransport
) -> dict[str, DatasetInfo]:
    """Upload local data under ``<staging_uri>/<job name>/``; return every dataset's final info."""
    infos: dict[str, DatasetInfo] = {}
    for data in datasets:
        key = "training" if data.split == "train" else "validation"
        if not data.info.local:
            infos[key] = _read_s3_facts(data.info, transport)
            continue
        if inputs.staging_uri is None:  # the local checks refuse this unless skip_checks
            raise PlanCheckError(f"{key} data is local: give staging_uri=s3://... to upload it to")
        target = S3Uri(inputs.staging_uri).joinpath(inputs.job_name, f"{data.split}.jsonl")
        source = data.path if data.path is not None else data.source
        staged = storage.stage_dataset(
            source,
            target,
            split=data.split,
            kms_key_id=inputs.kms_key_id,
            validate=validate,
            transport=transport,
        )
        records = staged.records if staged.records is not None else data.info.records
        infos[key] = data.info.model_copy(
            update={"uri": str(staged.uri), "sha256": staged.sha256, "size": staged.size, "records": records}
        )
    return infos


def _request(inputs: _Inputs, infos: Mapping[str, DatasetInfo]) -> dict[str, Any]:
    """Build the CreateModelCustomizationJob request (without the idempotency token)."""
    training = infos["training"]
    request: dict[str, Any] = {
        "jobName": inputs.job_name,
        "customModelName": inputs.custom_model_name,
        "roleArn": inputs.role_arn,
        "baseModelIdentifier": inputs.base_model,
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": training.uri},
        "outputDataConfig": {"s3Uri": inputs.output_uri},
    }
    validation = infos.get("validation")
    if validation is not None:
        request["validationDataConfig"] = {"validators": [{"s3Uri": validation.uri}]}
    sent = inputs.hyperparameters.to_api()
    if sent:
        request["hyperParameters"] = sent
    if inputs.kms_key_id:
        request["customModelKmsKeyId"] = inputs.kms_key_id
    if inputs.vpc_config is not None:
        vpc = inputs.vpc_config
        request["vpcConfig"] = {
            "subnetIds": list(vpc.get("subnet_ids") or vpc.get("subnetIds") or []),
            "securityGroupIds": list(vpc.get("security_group_ids") or vpc.get("securityGroupIds") or []),
        }
    job_tags = dict(inputs.job_tags or {})
    for key, info in infos.items():
        if info.sha256:
            job_tags.setdefault(f"{_TAG_PREFIX}{key}-sha256", info.sha256)
        if info.records is not None:
            job_tags.setdefault(f"{_TAG_PREFIX}{key}-records", str(info.records))
    request["jobTags"] = with_library_tag(job_tags)
    request["customModelTags"] = with_library_tag(inputs.model_tags)
    return request


def _create_with_role_propagation(
    t: BedrockTransport, request: Mapping[str, Any], token: str, role_arn: str
) -> dict[str, Any]:
    """Submit the job; retry only Bedrock's "cannot assume the role" refusal while a new role propagates.

    The same ``clientRequestToken`` goes with every attempt, so a create that did reach the service is
    never made twice.
    """
    delay = 5.0
    deadline: float | None = None  # fixed at the first refusal, so the retrying is bounded whatever happens
    while True:
        try:
            return t.call("bedrock", "CreateModelCustomizationJob", clientRequestToken=token, **request)
        except ServiceError as error:
            if not iam.is_role_propagation_refusal(error):
                raise
            if deadline is None:
                deadline = t.clock.monotonic() + iam.propagation_window(role_arn, t.clock)
            remaining = deadline - t.clock.monotonic()
            if remaining <= 0:
                error.message += (
                    " (if the role was created moments ago, IAM may still be propagating it: retry in a "
                    "minute; otherwise check its trust policy with haiku_finetune.iam.trust_admits_bedrock)"
                )
                raise
            pause = min(delay, remaining)
            _log.info("role %s is not assumable yet (IAM propagation); retrying in %.0fs", role_arn, pause)
            t.clock.sleep(pause)
            delay = min(delay * 2, 30.0)


def _datasets_from_tags(tags: Mapping[str, str]) -> dict[str, DatasetInfo]:
    found: dict[str, DatasetInfo] = {}
    for key in ("training", "validation"):
        sha = tags.get(f"{_TAG_PREFIX}{key}-sha256")
        records = tags.get(f"{_TAG_PREFIX}{key}-records")
        if sha or records:
            found[key] = DatasetInfo(
                source="tags", sha256=sha, records=int(records) if records and records.isdigit() else None
            )
    return found


def _with_uri(info: DatasetInfo | None, uri: str) -> DatasetInfo:
    if info is None:
        return DatasetInfo(source=uri, uri=uri, note="not known: the job carries none of haiku_finetune's dataset tags")
    return info if info.uri else info.model_copy(update={"uri": uri})


def _dataset_entry(info: DatasetInfo) -> dict[str, Any]:
    return {
        "uri": info.uri,
        "sha256": info.sha256,
        "records": info.records,
        "bytes": info.size,
        "tokens": info.tokens,
        "note": info.note,
    }


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value) if value else None


def _write_json(path: Path, document: Mapping[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, (json.dumps(document, indent=2, default=str) + "\n").encode("utf-8"))
