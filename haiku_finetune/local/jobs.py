"""Emulated model customization (fine-tuning) jobs: Create, Get, List and Stop ModelCustomizationJob.

A job validates its data with the library's own validator (as the service's validation stage), runs the
documented early-stopping rules over a seeded (or given) validation-loss curve, takes emulated time by stage,
writes the two metrics CSVs to S3 at the documented paths, and on completion creates its custom model (the
record ``custom_models.py`` serves). It must not serve custom models or deployments itself, and it never
sleeps or starts threads: a job's state is computed from the clock when someone looks.
"""

from __future__ import annotations

import io
import math
import random
import zlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..base_models import profiles
from ..datasets import validate_files
from ..early_stopping import simulate_early_stopping
from ..errors import HyperparameterError
from ..hyperparameters import Hyperparameters
from ._common import ServiceState, listed, page, sift
from .runtime import SimilarityResponder
from .wire import conflict, validation

__all__ = ["PROCESSING_SECONDS", "STOPPING_SECONDS", "VALIDATION_SECONDS", "CustomizationJobs", "Job"]

VALIDATION_SECONDS = 300.0
PROCESSING_SECONDS = 300.0
STOPPING_SECONDS = 60.0


@dataclass
class Job:
    """One customization job; its status is brought up to date by ``_advance_job`` whenever it is looked at."""

    arn: str
    name: str
    model_name: str
    params: dict[str, Any]
    hyperparameters: Hyperparameters
    created: float
    status: str = "InProgress"
    stages: dict[str, str] = field(default_factory=dict)
    failure: str | None = None
    ended: float | None = None
    stop_at: float | None = None
    training_ends: float | None = None
    losses: list[float] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)
    steps_per_epoch: int = 0
    model_arn: str | None = None
    final_training_loss: float | None = None


def _base_of(job: Job) -> str:
    """The base model id a job fine-tunes (its ``baseModelIdentifier``, an id or a foundation-model ARN)."""
    return str(job.params["baseModelIdentifier"]).rsplit("/", 1)[-1]


class CustomizationJobs(ServiceState):
    """The customization-job operations and the lifecycle that turns a finished job into a custom model."""

    _jobs: dict[str, Job]

    def op_CreateModelCustomizationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"jobArn": self._idempotent("job", params, lambda: self._create_job(params))}

    def _create_job(self, params: dict[str, Any]) -> str:
        base = params["baseModelIdentifier"].rsplit("/", 1)[-1]
        profile = self._base_profile(base)
        if profile is None or base != profile.model_id or self.region not in profile.fine_tuning_regions:
            here = [p.model_id for p in profiles() if self.region in p.fine_tuning_regions]
            raise validation(
                f"The base model {params['baseModelIdentifier']} does not support fine-tuning in {self.region}"
                + (f"; use {', '.join(here)}" if here else "")
            )
        self._require_alive(profile)
        if params.get("customizationType", "FINE_TUNING") != "FINE_TUNING":
            raise validation(f"{profile.display_name} supports customizationType FINE_TUNING only")
        if any(j.name == params["jobName"] for j in self._jobs.values()):
            raise conflict(f"A job with the name {params['jobName']} already exists")
        if any(m["modelName"] == params["customModelName"] for m in self._models.values()) or any(
            j.model_name == params["customModelName"] and j.status != "Failed" for j in self._jobs.values()
        ):
            raise conflict(f"A custom model with the name {params['customModelName']} already exists")
        self._limit_tags(params["jobName"], params.get("jobTags") or [])
        self._limit_tags(params["customModelName"], params.get("customModelTags") or [])
        try:
            hyperparameters = Hyperparameters.from_api(params.get("hyperParameters") or {})
        except HyperparameterError as error:
            raise validation(f"Invalid hyperparameters: {error}") from None
        for uri in self._data_uris(params):
            if not self._object_exists(uri):
                raise validation(f"The training or validation data at {uri} does not exist or is not accessible")
        job_id = self._new_id()
        arn = f"{self.arn}:model-customization-job/{base}/{job_id}"
        job = Job(
            arn=arn,
            name=params["jobName"],
            model_name=params["customModelName"],
            params=params,
            hyperparameters=hyperparameters,
            created=self.clock.monotonic(),
            stages={
                "validationDetails": "InProgress",
                "dataProcessingDetails": "NotStarted",
                "trainingDetails": "NotStarted",
            },
        )
        self._jobs[arn] = job
        self._tags[arn] = list(params.get("jobTags") or [])
        return arn

    def _data_uris(self, params: dict[str, Any]) -> list[str]:
        uris = [params["trainingDataConfig"]["s3Uri"]]
        validators = (params.get("validationDataConfig") or {}).get("validators") or []
        return uris + [v["s3Uri"] for v in validators]

    def _job(self, identifier: str) -> Job:
        job = self._find(self._jobs, identifier, lambda j: j.name, "customization job")
        self._advance_job(job)
        return job

    def _advance_jobs(self) -> None:
        """Bring every job up to date (a completed job creates its custom model on the way)."""
        for job in self._jobs.values():
            self._advance_job(job)

    def _advance_job(self, job: Job) -> None:
        now = self.clock.monotonic()
        if job.status == "Stopping":
            if job.stop_at is not None and now >= job.stop_at + STOPPING_SECONDS:
                job.status, job.ended = "Stopped", job.stop_at + STOPPING_SECONDS
                job.stages = {k: ("Stopped" if v == "InProgress" else v) for k, v in job.stages.items()}
            return
        if job.status != "InProgress":
            return
        validated_at = job.created + VALIDATION_SECONDS
        if now < validated_at:
            return
        if job.training_ends is None and not self._validate_job(job, validated_at):
            return
        assert job.training_ends is not None
        job.stages["validationDetails"] = "Completed"
        processed_at = validated_at + PROCESSING_SECONDS
        job.stages["dataProcessingDetails"] = "Completed" if now >= processed_at else "InProgress"
        if now >= processed_at:
            job.stages["trainingDetails"] = "InProgress"
        if now >= job.training_ends:
            self._complete(job)

    def _validate_job(self, job: Job, at: float) -> bool:
        uris = self._data_uris(job.params)
        try:
            train = self._read(uris[0])
            validation_data = self._read(uris[1]) if len(uris) > 1 else None
        except Exception as error:  # noqa: BLE001 - the job fails, as the real one would
            return self._fail(job, at, f"Could not read the training data: {error}")
        report = validate_files(io.BytesIO(train), io.BytesIO(validation_data) if validation_data else None)
        if not report.ok:
            problems = []
            for name, part in (("train", report.train), ("validation", report.validation)):
                if part is not None:
                    problems += [
                        f"{name} data line {e.line}: {e.code}: {e.message}"
                        if e.line
                        else f"{name} data: {e.code}: {e.message}"
                        for e in part.errors
                    ]
            problems += [f"{e.code}: {e.message}" for e in report.cross_errors]
            shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
            return self._fail(job, at, f"Data validation failed: {shown}"[:2048])
        hp = job.hyperparameters
        records = report.train.stats.records
        if hp.batch_size > records:
            return self._fail(job, at, f"batchSize {hp.batch_size} is larger than the {records} training records")
        job.records = [orjson.loads(line) for line in train.splitlines() if line.strip()]
        job.steps_per_epoch = math.ceil(records / hp.batch_size)
        job.losses = self._loss_curve(job)
        epochs = hp.epoch_count
        if validation_data is not None:
            stop = simulate_early_stopping(
                job.losses, threshold=hp.early_stopping_threshold, patience=hp.early_stopping_patience
            )
            epochs = stop.epochs_run
        job.losses = job.losses[:epochs]
        training_starts = at + PROCESSING_SECONDS
        job.training_ends = training_starts + epochs * job.steps_per_epoch * self.step_seconds
        return True

    def _fail(self, job: Job, at: float, message: str) -> bool:
        job.status, job.failure, job.ended = "Failed", message, at
        job.stages["validationDetails"] = "Failed"
        return False

    def _loss_curve(self, job: Job) -> list[float]:
        epochs = job.hyperparameters.epoch_count
        if self.validation_losses:
            given = list(self.validation_losses)
            return (given + [given[-1]] * epochs)[:epochs]
        # A plausible curve: faster decay with a larger learning-rate multiplier, the lowest floor near 1,
        # and seeded noise. Deterministic for (seed, job name).
        rng = random.Random(self.seed * 7919 + zlib.crc32(job.name.encode()))
        lr = job.hyperparameters.learning_rate_multiplier
        floor = 0.45 + 0.12 * math.log(lr) ** 2  # 0.45 at 1, ~1.09 at the documented minimum 0.1: below the start
        rate = 0.55 * lr
        losses = []
        for epoch in range(1, epochs + 1):
            value = floor + (2.2 - floor) * math.exp(-rate * epoch) + rng.uniform(-0.01, 0.01)
            if lr > 1.5 and epoch > 3:
                value += 0.04 * (epoch - 3) * (lr - 1.5)  # too hot: it starts to overfit
            losses.append(round(value, 4))
        return losses

    def _complete(self, job: Job) -> None:
        assert job.training_ends is not None
        job.status, job.ended = "Completed", job.training_ends
        job.stages = {k: "Completed" for k in job.stages}
        rows = self._write_metrics(job)
        job.final_training_loss = rows
        model_id = self._new_id()
        model_arn = f"{self.arn}:custom-model/{_base_of(job)}/{model_id}"
        job.model_arn = model_arn
        self._models[model_arn] = {
            "modelArn": model_arn,
            "modelName": job.model_name,
            "jobName": job.name,
            "jobArn": job.arn,
            "baseModelArn": f"{self.foundation}/{_base_of(job)}",
            "customizationType": "FINE_TUNING",
            "hyperParameters": job.params.get("hyperParameters") or {},
            "trainingDataConfig": job.params["trainingDataConfig"],
            "validationDataConfig": job.params.get("validationDataConfig") or {"validators": []},
            "outputDataConfig": job.params["outputDataConfig"],
            "creationTime": self.clock.at(job.training_ends),
            "modelStatus": "Active",
        }
        if job.losses:
            self._models[model_arn]["validationMetrics"] = [{"validationLoss": min(job.losses)}]
        self._models[model_arn]["trainingMetrics"] = {"trainingLoss": job.final_training_loss}
        self._tags[model_arn] = list(job.params.get("customModelTags") or [])
        self._model_responders[model_arn] = SimilarityResponder(job.records)

    def _write_metrics(self, job: Job) -> float:
        """Write the two CSVs; returns the final training loss."""
        rng = random.Random(self.seed * 104729 + zlib.crc32(job.arn.encode()))
        losses = job.losses or self._loss_curve(job)
        epochs = len(job.losses) if job.losses else job.hyperparameters.epoch_count
        start = losses[0] + 0.6
        training = ["step_number,epoch_number,training_loss,perplexity"]
        step, last = 0, start
        for epoch in range(epochs):
            target = losses[min(epoch, len(losses) - 1)] - 0.03
            previous = start if epoch == 0 else losses[epoch - 1] - 0.03
            for i in range(job.steps_per_epoch):
                frac = (i + 1) / job.steps_per_epoch
                last = max(0.01, previous + (target - previous) * frac + rng.uniform(-0.02, 0.02))
                training.append(f"{step},{epoch},{last:.6f},{math.exp(last):.6f}")
                step += 1
        base = self._output_prefix(job)
        self._put(f"{base}/training_artifacts/step_wise_training_metrics.csv", "\n".join(training) + "\n")
        if job.losses and len(self._data_uris(job.params)) > 1:
            rows = ["step_number,epoch_number,validation_loss,perplexity"]
            for epoch, loss in enumerate(job.losses):
                rows.append(f"{(epoch + 1) * job.steps_per_epoch - 1},{epoch},{loss:.6f},{math.exp(loss):.6f}")
            self._put(
                f"{base}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
                "\n".join(rows) + "\n",
            )
        return round(last, 6)

    def _output_prefix(self, job: Job) -> str:
        return str(
            job.params["outputDataConfig"]["s3Uri"].rstrip("/")
            + f"/model-customization-job-{job.arn.rsplit('/', 1)[-1]}"
        )

    def _job_view(self, job: Job) -> dict[str, Any]:
        params = job.params
        view: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "outputModelName": job.model_name,
            "roleArn": params["roleArn"],
            "clientRequestToken": params.get("clientRequestToken"),
            "status": job.status,
            "statusDetails": {k: {"status": v} for k, v in job.stages.items()},
            "failureMessage": job.failure,
            "creationTime": self.clock.at(job.created),
            "lastModifiedTime": self.clock.at(job.ended if job.ended is not None else job.created),
            "endTime": self.clock.at(job.ended) if job.ended is not None else None,
            "baseModelArn": f"{self.foundation}/{_base_of(job)}",
            "hyperParameters": params.get("hyperParameters") or {},
            "trainingDataConfig": params["trainingDataConfig"],
            "validationDataConfig": params.get("validationDataConfig") or {"validators": []},
            "outputDataConfig": params["outputDataConfig"],
            "customizationType": "FINE_TUNING",
            "outputModelArn": job.model_arn,
            "outputModelKmsKeyArn": params.get("customModelKmsKeyId"),
            "vpcConfig": params.get("vpcConfig"),
        }
        if job.status == "Completed":
            view["trainingMetrics"] = {"trainingLoss": job.final_training_loss}
            # One entry per validator (botocore: "the loss metric for each validator"), the best epoch's
            # loss, as GetCustomModel reports it; the per-epoch losses are in the validation CSV.
            validators = (params.get("validationDataConfig") or {}).get("validators") or []
            view["validationMetrics"] = [{"validationLoss": min(job.losses)} for _ in validators] if job.losses else []
        return {k: v for k, v in view.items() if v is not None}

    def op_GetModelCustomizationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._job_view(self._job(params["jobIdentifier"]))

    def op_ListModelCustomizationJobs(self, params: dict[str, Any]) -> dict[str, Any]:
        self._advance_jobs()
        summaries = []
        for job in listed(self._jobs.values(), params):
            view = self._job_view(job)
            summaries.append(
                {
                    k: view.get(k)
                    for k in (
                        "jobArn",
                        "baseModelArn",
                        "jobName",
                        "status",
                        "lastModifiedTime",
                        "creationTime",
                        "endTime",
                        "customizationType",
                    )
                }
                | {"customModelArn": job.model_arn, "customModelName": job.model_name}
            )
        shown, token = page(sift(summaries, params, "creationTime"), params)
        return {"modelCustomizationJobSummaries": shown, "nextToken": token}

    def op_StopModelCustomizationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["jobIdentifier"])
        if job.status != "InProgress":
            raise validation(f"Job {job.name} is {job.status} and cannot be stopped")
        job.status, job.stop_at = "Stopping", self.clock.monotonic()
        job.stages = {k: ("Stopping" if v == "InProgress" else v) for k, v in job.stages.items()}
        return {}
