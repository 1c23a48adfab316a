"""CustomizationJob: create, attach, list, wait, stop, metrics and manifest of a Bedrock fine-tuning job.

Planning lives in `plan`, staging and submitting in `_submit`, the manifest in `manifest`;
this module is the handle users hold. Waiting uses the shared polling loop on the transport's clock: first
poll after 30 s, growing to every 2 min (about 65 calls over a two-hour job), a progress bar with the stage
from ``statusDetails``, and Ctrl-C leaves the job running and says how to re-attach. Nothing here retries or
sleeps by itself.
"""

from __future__ import annotations

import builtins
import io
import logging
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .._described import DescribedJob
from .._lifecycle_check import profile_lifecycle_now, warn_lifecycle
from .._transport import BedrockTransport, resolve_transport
from .._wait import PollInterval, PollState, wait_for
from ..custom_model import CustomModel
from ..datasets import DatasetBuilder
from ..errors import CallFailedError, JobError, JobFailedError, JobStoppedError
from ..hyperparameters import Hyperparameters
from ..metrics import TrainingMetrics
from ._spec import _API_KEYS, JobSpec, normalize
from ._submit import build_request, request_token, stage, submit
from .manifest import build_manifest
from .plan import DatasetInfo, JobPlan, build_plan

__all__ = ["DEFAULT_POLL_INTERVAL", "TERMINAL_STATUSES", "CustomizationJob"]

_log = logging.getLogger(__name__)

#: How ``wait()`` polls by default: first after 30 s, then 25 % longer each time, at most every 2 min.
DEFAULT_POLL_INTERVAL = PollInterval(initial=30.0, maximum=120.0, growth=1.25)

#: The statuses a job does not leave.
TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})

_STAGES = (
    ("validationDetails", "validation"),
    ("dataProcessingDetails", "data processing"),
    ("trainingDetails", "training"),
)


class CustomizationJob(DescribedJob):
    """A Bedrock model customization (fine-tuning) job.

    Make one with [`create`][haiku_finetune.jobs.job.CustomizationJob.create], or get an existing one with
    [`attach`][haiku_finetune.jobs.job.CustomizationJob.attach] or
    [`list`][haiku_finetune.jobs.job.CustomizationJob.list]. Its state is
    what the last [`refresh`][haiku_finetune.jobs.job.CustomizationJob.refresh] saw;
    [`wait`][haiku_finetune.jobs.job.CustomizationJob.wait] refreshes until the job ends.

    Args:
        description: A ``GetModelCustomizationJob`` response (or a list summary; the rest is fetched on
            first use).
        transport: The transport to use.
        plan: The plan it was created from, when created here (kept as `creation_plan`).
        datasets: Dataset details known at creation (for the manifest).
    """

    _GET = "GetModelCustomizationJob"
    _STOP = "StopModelCustomizationJob"
    _ENDED = TERMINAL_STATUSES
    _FULL_KEYS = ("roleArn", "outputDataConfig")
    _KIND = "a job"

    def __init__(
        self,
        description: Mapping[str, Any],
        *,
        transport: BedrockTransport | None = None,
        plan: JobPlan | None = None,
        datasets: Mapping[str, DatasetInfo] | None = None,
    ) -> None:
        super().__init__(description, transport=transport)
        self.creation_plan = plan
        self._datasets: dict[str, DatasetInfo] = dict(datasets or {})

    # -- construction ---------------------------------------------------------------------------------

    @classmethod
    def plan(
        cls, spec: JobSpec | None = None, /, *, transport: BedrockTransport | None = None, **fields: Any
    ) -> JobPlan:
        """Check everything [`create`][haiku_finetune.jobs.job.CustomizationJob.create] would submit, and estimate it;
        submit nothing.

        Local checks: hyperparameters, names, role ARN and key formats, S3 URIs, full validation of local
        data (with cross-file limits), batch size against the record count. AWS checks: bucket region,
        S3 data exists and fits the size limits, the role exists and trusts Bedrock for this account and
        region, its permissions (IAM policy simulation), the base model is offered for FINE_TUNING here,
        the job and model names are free. An AWS check the caller may not run is "not checked", with why.

        Args:
            spec: What to check, as a [`JobSpec`][haiku_finetune.jobs.job.JobSpec]; the keyword ``fields`` (the same
                names) go over it.
            transport: The transport to use.
            **fields: [`JobSpec`][haiku_finetune.jobs.job.JobSpec] fields, e.g.
                ``training_data=..., output_uri=..., role_arn=...``.

        Returns:
            The [`JobPlan`][haiku_finetune.jobs.job.JobPlan] (``plan.ok`` is False when a check failed).

        Raises:
            TypeError: An unknown field, or a required one missing.
        """
        t = resolve_transport(transport)
        plan, _ = build_plan(normalize(JobSpec.of(spec, fields)), t, remote=True)
        return plan

    @classmethod
    def create(
        cls,
        spec: JobSpec | None = None,
        /,
        *,
        skip_checks: bool = False,
        transport: BedrockTransport | None = None,
        **fields: Any,
    ) -> CustomizationJob:
        """Validate, stage and submit a fine-tuning job.

        The job name is fixed (generated when not given) and logged before the call. If the create's answer
        is lost or the call is interrupted, the job is found by name and returned; a retried attempt never
        starts a second job (see `haiku_finetune.jobs._submit`).

        Args:
            spec: What to submit, as a [`JobSpec`][haiku_finetune.jobs.job.JobSpec]; the keyword ``fields`` (the same
                names) go over it.
            skip_checks: Submit even when a local check fails (local data is still validated on upload).
            transport: The transport to use.
            **fields: [`JobSpec`][haiku_finetune.jobs.job.JobSpec] fields: ``training_data``, ``output_uri``,
                ``role_arn`` (required),
                ``hyperparameters``, ``validation_data``, ``staging_uri`` (local data goes to
                ``<staging_uri>/<sha256>/train.jsonl``), ``base_model``, ``job_name``, ``custom_model_name``,
                ``kms_key_id``, ``vpc_config``, ``job_tags``, ``model_tags``, ``pricing``.

        Returns:
            The new job (status ``InProgress``).

        Raises:
            TypeError: An unknown field, or a required one missing.
            ValueError: A tag sets the library's ``created-by`` key to another value (before any AWS call).
            HyperparameterError: A hyperparameter is out of range (before any AWS call).
            PlanCheckError: A local check failed (``error.plan`` has them all), or the staged data is not the
                data that was validated; nothing was submitted.
            DatasetValidationError: Local data is invalid (with ``skip_checks``).
            ServiceError: Bedrock refused the job (after the narrow role-propagation retry).
            ConnectionFailedError: No answer, and whether the job exists could not be found out (the message
                names the job and the AWS CLI commands to check or stop it).
        """
        t = resolve_transport(transport)
        inputs = normalize(JobSpec.of(spec, fields))
        if inputs.hyperparameter_error is not None:
            # Raised as such, before any call: never submit values the API would refuse.
            raise inputs.hyperparameter_error
        plan, datasets = build_plan(inputs, t, remote=False)
        if not skip_checks:
            plan.raise_for_failures(local_only=True)
        if inputs.profile is not None:  # Legacy: say so before paying (from the profile; plan() asks the service)
            warn_lifecycle(inputs.profile, profile_lifecycle_now(inputs.profile, t), stacklevel=2)
        infos = stage(inputs, datasets, validate=skip_checks, t=t)
        request = build_request(inputs, infos)
        token = request_token(request)
        response = submit(t, request, token, inputs.role_arn)
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
    def from_manifest(
        cls,
        manifest: str | os.PathLike[str] | Mapping[str, Any],
        /,
        *,
        base_model: Any,
        transport: BedrockTransport | None = None,
        **overrides: Any,
    ) -> CustomizationJob:
        """Re-run the job a manifest describes on another base model (e.g. moving to Claude 3 Haiku's successor).

        The data is read back from S3 and re-validated against the rules, the hyperparameters re-checked against
        the new profile's ranges, then [`create`][haiku_finetune.jobs.job.CustomizationJob.create] submits (with its
        local checks and lifecycle warning).

        Args:
            manifest: A manifest path ([`manifest`][haiku_finetune.jobs.job.CustomizationJob.manifest] wrote it) or the
                dict itself.
            base_model: The new base model: a profile, its key, a model id or an ARN.
            transport: The transport (its region is where the new job runs).
            **overrides: [`JobSpec`][haiku_finetune.jobs.job.JobSpec] fields over the manifest's (``training_data``,
                ``output_uri``,
                ``role_arn``, ``hyperparameters``, ...), e.g. data copied to the new region.

        Raises:
            HyperparameterError: A value is outside the new profile's range; the message offers its recommended
                values (pass ``hyperparameters=`` to choose).
            DatasetValidationError: The data breaks the rules.
            ValueError: The manifest lacks the data, output or role and no override gives it; or ``base_model``
                has no profile.
        """
        from ..base_models import get_profile
        from ..datasets import validate_files
        from ..errors import HyperparameterError
        from ..hyperparameters import check_for_profile, recommended_values
        from ..storage import download_bytes
        from ._spec import _coerce_hyperparameters
        from .manifest import read_manifest, rerun_fields

        document = read_manifest(manifest) if isinstance(manifest, (str, os.PathLike)) else dict(manifest)
        profile = get_profile(base_model)
        fields = rerun_fields(document, overrides)
        try:
            hyperparameters = _coerce_hyperparameters(fields["hyperparameters"])
        except HyperparameterError as error:
            raise HyperparameterError(
                f"{error}; {recommended_values(profile)}", field=error.field, value=error.value
            ) from None
        check_for_profile(hyperparameters, profile)
        t = resolve_transport(transport)
        data: dict[str, Any] = {}
        for key in ("training_data", "validation_data"):
            source = fields.get(key)
            if isinstance(source, str) and source.startswith("s3://"):
                data[key] = io.BytesIO(download_bytes(source, transport=t))
            elif source is not None:
                data[key] = source
        if "training_data" in data and not isinstance(data["training_data"], DatasetBuilder):
            validate_files(data["training_data"], data.get("validation_data"), base_model=profile).raise_for_errors()
        return cls.create(base_model=profile, transport=t, **fields)

    @classmethod
    def attach(cls, name_or_arn: str, *, transport: BedrockTransport | None = None) -> CustomizationJob:
        """Get an existing job by name or ARN (to wait for it again, read its metrics, stop it).

        Raises:
            ResourceNotFoundError: No such job.
        """
        # GetModelCustomizationJob takes a name as well as an ARN: refresh() asks for it and keeps the answer.
        return cls({"jobArn": name_or_arn}, transport=transport).refresh()

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

    @property
    def region(self) -> str:
        """The region of the job's transport."""
        return self._transport.region

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
        return _text(self._description.get("failureMessage"))

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
        return _text(self._get("outputModelName") or self._description.get("customModelName"))

    @property
    def custom_model_arn(self) -> str | None:
        """The custom model's ARN, once the job completed."""
        return _text(self._description.get("outputModelArn") or self._description.get("customModelArn"))

    @property
    def custom_model(self) -> CustomModel:
        """The model this job produced, as a [`CustomModel`][haiku_finetune.CustomModel] (the job must be Completed).

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
        return CustomModel.create(
            transport=self._transport,  # the model is reached the way the job was
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
            poll_interval: The polling schedule (default `DEFAULT_POLL_INTERVAL`: 30 s growing to 2 min).

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
        record count [`upload_dataset`][haiku_finetune.storage.upload_dataset] stored with it; for an attached job, from
        the tags ``create`` put on it. A detail that is not known is ``null``, and the dataset's ``note`` says
        why.

        Args:
            path: Also write the manifest there as JSON (atomically).
        """
        self.refresh()
        tags = {} if self._datasets else self._safe_tags()
        return build_manifest(self, self._description, self._datasets, tags, path=path)

    def _safe_tags(self) -> dict[str, str]:
        try:
            return self.tags()
        except CallFailedError as error:
            _log.warning("could not read the tags of %s for its manifest: %s", self.arn, error)
            return {}

    def __repr__(self) -> str:
        return (
            f"CustomizationJob(name={self._description.get('jobName')!r}, status={self._description.get('status')!r})"
        )


def _text(value: Any) -> str | None:
    """What the service reported, as text; ``None`` when it reported nothing (absent or empty)."""
    return str(value) if value else None
