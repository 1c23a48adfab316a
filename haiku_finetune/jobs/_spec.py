"""What a job is made from: [`JobSpec`][haiku_finetune.jobs._spec.JobSpec] (the arguments of ``plan()`` and
``create()``), name rules, and the
normalized form the planner and the submitter work on.

The keyword arguments of [`CustomizationJob.plan`][haiku_finetune.jobs.CustomizationJob.plan] and
[`create`][haiku_finetune.jobs.CustomizationJob.create] are the fields of
[`JobSpec`][haiku_finetune.jobs._spec.JobSpec], written down once here. This module makes no AWS call.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeAlias

from .._names import generate_name, random_part
from .._tags import check_user_tags
from ..base_models import BASE_MODEL_ID, BaseModelProfile, find_profile
from ..errors import HyperparameterError
from ..hyperparameters import HYPERPARAMETER_RANGES, Hyperparameters
from ..pricing import Pricing

__all__ = ["JobSpec", "generate_names", "validate_job_name", "validate_model_name"]

#: An ``s3://`` URI string, a local JSONL path, or a ``DatasetBuilder``.
DataSource: TypeAlias = "str | os.PathLike[str] | Any"

_API_KEYS = frozenset(r.api_key for r in HYPERPARAMETER_RANGES.values())

# Patterns from the botocore service model of bedrock (CreateModelCustomizationJob), anchored.
_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*")
_MODEL_NAME = re.compile(r"([0-9a-zA-Z][_-]?){1,63}")
_JOB_RULE = "must start with a letter or digit and contain only letters, digits and -+. (no '-' right before the end)"
_MODEL_RULE = (
    "may contain only letters, digits, and single '_' or '-' between them (it must start with a letter or digit)"
)
ROLE_ARN = re.compile(r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+")
KMS_KEY = re.compile(
    r"(arn:aws(-[^:]+)?:kms:[a-zA-Z0-9-]*:[0-9]{12}:((key/[a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)))"
    r"|([a-zA-Z0-9-]{36})|(alias/[a-zA-Z0-9-_/]+)"
)


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """Everything a customization job is made from; what
    [`CustomizationJob.plan`][haiku_finetune.jobs.CustomizationJob.plan] checks and
    [`create`][haiku_finetune.jobs.CustomizationJob.create] submits. Both also take these fields as keyword arguments.

    Attributes:
        training_data: An ``s3://`` URI of a JSONL file, a local JSONL path, or a ``DatasetBuilder``.
            Local data is validated in full, then uploaded under ``staging_uri``.
        output_uri: Where Bedrock writes the metrics (``s3://bucket/prefix/``).
        role_arn: The service role Bedrock assumes (see
            [`haiku_finetune.iam.ensure_service_role`][haiku_finetune.iam.ensure_service_role]).
        hyperparameters: A [`Hyperparameters`][haiku_finetune.jobs._spec.Hyperparameters], or a mapping (API camelCase
            keys with string values
            as in the API, or snake_case field names); checked against the documented ranges.
        validation_data: Like ``training_data``; needed for validation loss and early stopping.
        staging_uri: Where local data is uploaded, by content: ``<staging_uri>/<sha256>/train.jsonl`` and
            ``<staging_uri>/<sha256>/validation.jsonl`` (the SHA-256 of the file's bytes).
        base_model: The base model: a `BaseModelProfile`, a profile key
            (e.g. Claude Haiku 4.5's key), a model id or a foundation-model ARN (default: Claude 3 Haiku, 200k
            context). Its profile's limits and ranges apply; the plan checks its lifecycle in the region.
        job_name: The job name; default: generated, readable and timestamped.
        custom_model_name: The custom model name; default: generated like the job name.
        kms_key_id: KMS key for the custom model (and for staged data, with SSE-KMS).
        vpc_config: ``{"subnet_ids": [...], "security_group_ids": [...]}`` to run in your VPC.
        job_tags: Tags for the job (the library always adds ``created-by=haiku-finetune``; a different
            ``created-by`` value is refused).
        model_tags: Tags for the custom model (likewise).
        pricing: Prices for the cost estimate.
    """

    training_data: DataSource
    output_uri: str
    role_arn: str
    hyperparameters: Hyperparameters | Mapping[str, Any] | None = None
    validation_data: DataSource | None = None
    staging_uri: str | None = None
    base_model: str | BaseModelProfile = BASE_MODEL_ID
    job_name: str | None = None
    custom_model_name: str | None = None
    kms_key_id: str | None = None
    vpc_config: Mapping[str, Sequence[str]] | None = None
    job_tags: Mapping[str, str] | None = None
    model_tags: Mapping[str, str] | None = None
    pricing: Pricing | None = None

    def replace(self, **changes: Any) -> JobSpec:
        """Return a copy with ``changes`` applied (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def of(cls, spec: JobSpec | None, fields: Mapping[str, Any]) -> JobSpec:
        """The spec a ``plan()``/``create()`` call describes: ``spec`` with ``fields`` over it, or ``fields`` alone.

        Raises:
            TypeError: A field is unknown, or a required one is missing.
        """
        if spec is None:
            return cls(**fields)
        return spec.replace(**fields) if fields else spec


# -- names ------------------------------------------------------------------------------------------------


def validate_job_name(name: str) -> str | None:
    """Return why Bedrock would refuse ``name`` as a job name, or ``None`` when it is valid."""
    return _name_problem(name, "job name", _JOB_NAME, _JOB_RULE)


def validate_model_name(name: str) -> str | None:
    """Return why Bedrock would refuse ``name`` as a custom model name, or ``None`` when it is valid."""
    return _name_problem(name, "custom model name", _MODEL_NAME, _MODEL_RULE)


def _name_problem(name: str, what: str, pattern: re.Pattern[str], rule: str) -> str | None:
    # Both names share Bedrock's 1-63 length rule; only the character pattern differs.
    if not 1 <= len(name) <= 63:
        return f"{what} {name!r} must be 1-63 characters long (it has {len(name)})"
    if not pattern.fullmatch(name):
        return f"{what} {name!r} {rule}"
    return None


def generate_names(prefix: str = "haiku-ft", *, now: datetime | None = None) -> tuple[str, str]:
    """Return a readable, timestamped (UTC) job name and custom model name that are valid for the API.

    Both end in the same 48-bit random part (see `haiku_finetune._names`), e.g.
    ``("haiku-ft-20240601-120000-3f9a0c1b2d4e", "haiku-ft-model-20240601-120000-3f9a0c1b2d4e")``.

    Args:
        prefix: Start of both names (letters, digits and single hyphens; cut when too long).
        now: The time to stamp (default: now, UTC).
    """
    now = now or datetime.now(timezone.utc)
    shared = random_part()  # one random part for both: the pair is easy to match up
    job = generate_name(prefix, "job", now=now, random=shared)
    model = generate_name(prefix, "model", infix="model", now=now, random=shared)
    return job, model


# -- normalized inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Inputs:
    """A [`JobSpec`][haiku_finetune.jobs._spec.JobSpec] normalized: hyperparameters coerced (or why not), names fixed,
    the base model resolved, strings as strings, the VPC config in the API's form. The spec's other fields are used
    as given, from ``spec``."""

    spec: JobSpec
    output_uri: str
    role_arn: str
    hyperparameters: Hyperparameters
    hyperparameter_error: HyperparameterError | None
    staging_uri: str | None
    base_model: str
    profile: BaseModelProfile | None
    job_name: str
    custom_model_name: str
    vpc_config: dict[str, list[str]] | None  # {"subnetIds": [...], "securityGroupIds": [...]}


def normalize(spec: JobSpec) -> Inputs:
    """Normalize ``spec``; generated names are fixed here, once, before anything is sent.

    Raises:
        ValueError: A tag sets the library's ``created-by`` key to another value.
    """
    problem = None
    try:
        hp = _coerce_hyperparameters(spec.hyperparameters)
    except HyperparameterError as error:
        problem, hp = error, Hyperparameters()
    # Refused here, before any call: a user value under the library's key would hide what create makes from
    # find_orphans.
    check_user_tags(spec.job_tags)
    check_user_tags(spec.model_tags)
    job_name, model_name = spec.job_name, spec.custom_model_name
    if job_name is None or model_name is None:
        generated_job, generated_model = generate_names()
        job_name = job_name or generated_job
        model_name = model_name or generated_model
    # A profile or its key becomes the model id; an id or ARN is sent as given. None: no profile knows it.
    given = spec.base_model
    profile = given if isinstance(given, BaseModelProfile) else find_profile(str(given))
    if isinstance(given, BaseModelProfile) or (profile is not None and given == profile.key):
        base_model = profile.model_id if profile is not None else str(given)
    else:
        base_model = str(given)
    return Inputs(
        spec=spec,
        output_uri=str(spec.output_uri),
        role_arn=str(spec.role_arn),
        hyperparameters=hp,
        hyperparameter_error=problem,
        staging_uri=str(spec.staging_uri) if spec.staging_uri is not None else None,
        base_model=base_model,
        profile=profile,
        job_name=job_name,
        custom_model_name=model_name,
        vpc_config=_vpc_config(spec.vpc_config),
    )


def _vpc_config(given: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]] | None:
    # Taken with snake_case keys (as documented) or the API's camelCase ones.
    if given is None:
        return None
    return {
        "subnetIds": list(given.get("subnet_ids") or given.get("subnetIds") or []),
        "securityGroupIds": list(given.get("security_group_ids") or given.get("securityGroupIds") or []),
    }


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
