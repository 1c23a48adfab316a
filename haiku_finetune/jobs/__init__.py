"""Customization jobs: plan (preflight + estimate), create, wait, attach, stop, read metrics, keep a manifest.

The pieces: `job` ([`CustomizationJob`][haiku_finetune.jobs.CustomizationJob]), `plan`
([`JobPlan`][haiku_finetune.jobs.JobPlan], the checks, the
estimate), `_spec` ([`JobSpec`][haiku_finetune.jobs.JobSpec], names), `_staging` and `_submit` (content-addressed
staging, the create that survives a lost answer), `manifest`. This package module only hands names on.
"""

from __future__ import annotations

from ..base_models import BASE_MODEL_ID
from ._spec import _API_KEYS as _API_KEYS
from ._spec import DataSource, JobSpec, generate_names, validate_job_name, validate_model_name
from ._spec import _coerce_hyperparameters as _coerce_hyperparameters
from .job import DEFAULT_POLL_INTERVAL, TERMINAL_STATUSES, CustomizationJob
from .manifest import read_manifest
from .plan import CheckStatus, DatasetInfo, JobEstimate, JobPlan, PlanCheck, estimate_job

__all__ = [
    "BASE_MODEL_ID",
    "DEFAULT_POLL_INTERVAL",
    "TERMINAL_STATUSES",
    "CheckStatus",
    "CustomizationJob",
    "DataSource",
    "DatasetInfo",
    "JobEstimate",
    "JobPlan",
    "JobSpec",
    "PlanCheck",
    "estimate_job",
    "generate_names",
    "read_manifest",
    "validate_job_name",
    "validate_model_name",
]
