"""The emulated Bedrock: customization jobs, custom models, provisioned throughput, batch inference, runtime.

State lives in memory. Lifecycles are computed lazily from the emulated clock whenever something looks
(an API call or an inspection), so no background thread is needed and a manual clock gives tests full
control. Jobs validate their data with the library's own validator and stop where the documented
early-stopping rules say; metrics CSVs go to S3 (moto) at the documented paths.
"""

from __future__ import annotations

import io
import math
import random
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..datasets import validate_files
from ..early_stopping import simulate_early_stopping
from ..errors import HyperparameterError
from ..hyperparameters import Hyperparameters
from .clock import EmulatedClock
from .runtime import (
    Responder,
    SimilarityResponder,
    answer,
    base_reply,
    check_body,
    chunk_frame,
    messages_body,
    stream_events,
    text_of,
)
from .wire import ApiError, conflict, not_found, validation

__all__ = ["ACCOUNT", "REGION", "Service"]

ACCOUNT = "123456789012"
REGION = "us-west-2"
HAIKU_FT = "anthropic.claude-3-haiku-20240307-v1:0:200k"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
_ARN = f"arn:aws:bedrock:{REGION}:{ACCOUNT}"
_FOUNDATION = f"arn:aws:bedrock:{REGION}::foundation-model"
VALIDATION_SECONDS = 300.0
PROCESSING_SECONDS = 300.0
STOPPING_SECONDS = 60.0


@dataclass
class _Job:
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


@dataclass
class _Throughput:
    arn: str
    name: str
    model_arn: str
    units: int
    created: float
    ready_at: float
    commitment: str | None
    status: str = "Creating"
    deleted: float | None = None
    calls: list[float] = field(default_factory=list)


@dataclass
class _InvocationJob:
    arn: str
    name: str
    params: dict[str, Any]
    created: float
    status: str = "Submitted"
    ended: float | None = None
    message: str | None = None


class Service:
    """All of the emulated Bedrock's state and behaviour, independent of HTTP.

    Args:
        clock: Emulated time.
        s3: A boto3 S3 client pointed at the emulator's moto server.
        seed: Seeds loss curves and identifiers.
    """

    def __init__(self, clock: EmulatedClock, s3: Any, *, seed: int = 0) -> None:
        self.clock = clock
        self.s3 = s3
        self.seed = seed
        self.validation_losses: list[float] | None = None
        self.step_seconds = 30.0
        self.pt_ready_seconds = 1200.0
        self.calls_per_second_per_unit: float | None = None
        # The throughput cap is per real second (it models the service's capacity, not the job clock).
        self.real_time: Callable[[], float] = time.monotonic
        self.responders: dict[str, Responder] = {}
        self._lock = threading.RLock()
        self._jobs: dict[str, _Job] = {}
        self._models: dict[str, dict[str, Any]] = {}
        self._model_responders: dict[str, Responder] = {}
        self._throughputs: dict[str, _Throughput] = {}
        self._retired: list[_Throughput] = []
        self._invocation_jobs: dict[str, _InvocationJob] = {}
        self._tags: dict[str, list[dict[str, str]]] = {}
        self._tokens: dict[tuple[str, str], str] = {}
        self._ids = random.Random(seed)
        self._message_count = 0

    # -- helpers ----------------------------------------------------------------------------------------

    def _new_id(self) -> str:
        return "".join(self._ids.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))

    def _idempotent(self, kind: str, params: dict[str, Any], make: Callable[[], str]) -> str:
        token = params.get("clientRequestToken")
        if token and (kind, token) in self._tokens:
            return self._tokens[(kind, token)]
        arn = make()
        if token:
            self._tokens[(kind, token)] = arn
        return arn

    def handle(self, operation: str, params: dict[str, Any]) -> Any:
        """Run one API operation; returns its output dict (or raw frames for a stream)."""
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            raise ApiError("UnknownOperationException", f"LocalBedrock does not emulate {operation}", 400)
        with self._lock:
            return handler(params)

    # -- foundation models --------------------------------------------------------------------------------

    def _foundation(self, model_id: str) -> dict[str, Any]:
        fine_tunable = model_id == HAIKU_FT
        return {
            "modelArn": f"{_FOUNDATION}/{model_id}",
            "modelId": model_id,
            "modelName": "Claude 3 Haiku",
            "providerName": "Anthropic",
            "inputModalities": ["TEXT", "IMAGE"],
            "outputModalities": ["TEXT"],
            "responseStreamingSupported": True,
            "customizationsSupported": ["FINE_TUNING"] if fine_tunable else [],
            "inferenceTypesSupported": ["PROVISIONED"] if fine_tunable else ["ON_DEMAND"],
            "modelLifecycle": {"status": "ACTIVE"},
        }

    def op_ListFoundationModels(self, params: dict[str, Any]) -> dict[str, Any]:
        models = [self._foundation(HAIKU), self._foundation(HAIKU_FT)]
        wanted = params.get("byCustomizationType")
        if wanted:
            models = [m for m in models if wanted in m["customizationsSupported"]]
        if params.get("byProvider") and params["byProvider"].lower() != "anthropic":
            models = []
        return {"modelSummaries": models}

    def op_GetFoundationModel(self, params: dict[str, Any]) -> dict[str, Any]:
        model_id = params["modelIdentifier"].rsplit("/", 1)[-1]
        if model_id not in (HAIKU, HAIKU_FT):
            raise not_found(f"The model {params['modelIdentifier']} does not exist or is not available")
        return {"modelDetails": self._foundation(model_id)}

    # -- customization jobs ---------------------------------------------------------------------------------

    def op_CreateModelCustomizationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("clientRequestToken")
        if token and ("job", token) in self._tokens:
            return {"jobArn": self._tokens[("job", token)]}
        base = params["baseModelIdentifier"].rsplit("/", 1)[-1]
        if base != HAIKU_FT:
            raise validation(
                f"The base model {params['baseModelIdentifier']} does not support fine-tuning here; use {HAIKU_FT}"
            )
        if params.get("customizationType", "FINE_TUNING") != "FINE_TUNING":
            raise validation("Claude 3 Haiku supports customizationType FINE_TUNING only")
        if any(j.name == params["jobName"] for j in self._jobs.values()):
            raise conflict(f"A job with the name {params['jobName']} already exists")
        if any(m["modelName"] == params["customModelName"] for m in self._models.values()) or any(
            j.model_name == params["customModelName"] and j.status != "Failed" for j in self._jobs.values()
        ):
            raise conflict(f"A custom model with the name {params['customModelName']} already exists")
        try:
            hyperparameters = Hyperparameters.from_api(params.get("hyperParameters") or {})
        except HyperparameterError as error:
            raise validation(f"Invalid hyperparameters: {error}") from None
        for uri in self._data_uris(params):
            if not self._object_exists(uri):
                raise validation(f"The training or validation data at {uri} does not exist or is not accessible")
        job_id = self._new_id()
        arn = f"{_ARN}:model-customization-job/{HAIKU_FT}/{job_id}"
        job = _Job(
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
        if token:
            self._tokens[("job", token)] = arn
        return {"jobArn": arn}

    def _data_uris(self, params: dict[str, Any]) -> list[str]:
        uris = [params["trainingDataConfig"]["s3Uri"]]
        validators = (params.get("validationDataConfig") or {}).get("validators") or []
        return uris + [v["s3Uri"] for v in validators]

    def _split(self, uri: str) -> tuple[str, str]:
        if not uri.startswith("s3://"):
            raise validation(f"{uri} is not an s3:// URI")
        bucket, _, key = uri[5:].partition("/")
        return bucket, key

    def _object_exists(self, uri: str) -> bool:
        bucket, key = self._split(uri)
        try:
            self.s3.head_object(Bucket=bucket, Key=key)
        except Exception:  # noqa: BLE001 - any refusal from moto means "not there" to the job
            return False
        return True

    def _read(self, uri: str) -> bytes:
        bucket, key = self._split(uri)
        data: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return data

    def _job(self, identifier: str) -> _Job:
        job = self._jobs.get(identifier) or next((j for j in self._jobs.values() if j.name == identifier), None)
        if job is None:
            raise not_found(f"Could not find customization job {identifier}")
        self._advance_job(job)
        return job

    def _advance_job(self, job: _Job) -> None:
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

    def _validate_job(self, job: _Job, at: float) -> bool:
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

    def _fail(self, job: _Job, at: float, message: str) -> bool:
        job.status, job.failure, job.ended = "Failed", message, at
        job.stages["validationDetails"] = "Failed"
        return False

    def _loss_curve(self, job: _Job) -> list[float]:
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

    def _complete(self, job: _Job) -> None:
        assert job.training_ends is not None
        job.status, job.ended = "Completed", job.training_ends
        job.stages = {k: "Completed" for k in job.stages}
        rows = self._write_metrics(job)
        job.final_training_loss = rows
        model_id = self._new_id()
        model_arn = f"{_ARN}:custom-model/{HAIKU_FT}/{model_id}"
        job.model_arn = model_arn
        self._models[model_arn] = {
            "modelArn": model_arn,
            "modelName": job.model_name,
            "jobName": job.name,
            "jobArn": job.arn,
            "baseModelArn": f"{_FOUNDATION}/{HAIKU_FT}",
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

    def _write_metrics(self, job: _Job) -> float:
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

    def _output_prefix(self, job: _Job) -> str:
        return str(
            job.params["outputDataConfig"]["s3Uri"].rstrip("/")
            + f"/model-customization-job-{job.arn.rsplit('/', 1)[-1]}"
        )

    def _put(self, uri: str, text: str) -> None:
        bucket, key = self._split(uri)
        self.s3.put_object(Bucket=bucket, Key=key, Body=text.encode())

    def _job_view(self, job: _Job) -> dict[str, Any]:
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
            "baseModelArn": f"{_FOUNDATION}/{HAIKU_FT}",
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
        for job in self._jobs.values():
            self._advance_job(job)
        jobs = list(self._jobs.values())
        if params.get("statusEquals"):
            jobs = [j for j in jobs if j.status == params["statusEquals"]]
        if params.get("nameContains"):
            jobs = [j for j in jobs if params["nameContains"] in j.name]
        jobs.sort(key=lambda j: j.created, reverse=params.get("sortOrder", "Descending") == "Descending")
        summaries = []
        for job in jobs:
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
        page, token = _page(summaries, params)
        return {"modelCustomizationJobSummaries": page, "nextToken": token}

    def op_StopModelCustomizationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._job(params["jobIdentifier"])
        if job.status != "InProgress":
            raise validation(f"Job {job.name} is {job.status} and cannot be stopped")
        job.status, job.stop_at = "Stopping", self.clock.monotonic()
        job.stages = {k: ("Stopping" if v == "InProgress" else v) for k, v in job.stages.items()}
        return {}

    # -- custom models -------------------------------------------------------------------------------------

    def _model(self, identifier: str) -> dict[str, Any]:
        for job in self._jobs.values():
            self._advance_job(job)
        model = self._models.get(identifier) or next(
            (m for m in self._models.values() if m["modelName"] == identifier), None
        )
        if model is None:
            raise not_found(f"Could not find custom model {identifier}")
        return model

    def op_GetCustomModel(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self._model(params["modelIdentifier"]))

    def op_ListCustomModels(self, params: dict[str, Any]) -> dict[str, Any]:
        for job in self._jobs.values():
            self._advance_job(job)
        models = list(self._models.values())
        if params.get("nameContains"):
            models = [m for m in models if params["nameContains"] in m["modelName"]]
        summaries = [
            {
                "modelArn": m["modelArn"],
                "modelName": m["modelName"],
                "creationTime": m["creationTime"],
                "baseModelArn": m["baseModelArn"],
                "baseModelName": "Claude 3 Haiku",
                "customizationType": "FINE_TUNING",
                "ownerAccountId": ACCOUNT,
                "modelStatus": "Active",
            }
            for m in models
        ]
        page, token = _page(summaries, params)
        return {"modelSummaries": page, "nextToken": token}

    def op_DeleteCustomModel(self, params: dict[str, Any]) -> dict[str, Any]:
        model = self._model(params["modelIdentifier"])
        if any(t.model_arn == model["modelArn"] for t in self._throughputs.values()):
            raise conflict(f"Custom model {model['modelName']} is in use by a Provisioned Throughput")
        del self._models[model["modelArn"]]
        return {}

    # -- provisioned throughput ------------------------------------------------------------------------------

    def _throughput(self, identifier: str) -> _Throughput:
        found = self._throughputs.get(identifier) or next(
            (t for t in self._throughputs.values() if t.name == identifier), None
        )
        if found is None:
            raise not_found(f"Could not find provisioned model {identifier}")
        if found.status == "Creating" and self.clock.monotonic() >= found.ready_at:
            found.status = "InService"
        return found

    def op_CreateProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("clientRequestToken")
        if token and ("pt", token) in self._tokens:
            return {"provisionedModelArn": self._tokens[("pt", token)]}
        model = self._model(params["modelId"])
        if any(t.name == params["provisionedModelName"] for t in self._throughputs.values()):
            raise conflict(f"A provisioned model named {params['provisionedModelName']} already exists")
        now = self.clock.monotonic()
        arn = f"{_ARN}:provisioned-model/{self._new_id()}"
        self._throughputs[arn] = _Throughput(
            arn=arn,
            name=params["provisionedModelName"],
            model_arn=model["modelArn"],
            units=params["modelUnits"],
            created=now,
            ready_at=now + self.pt_ready_seconds,
            commitment=params.get("commitmentDuration"),
        )
        self._tags[arn] = list(params.get("tags") or [])
        if token:
            self._tokens[("pt", token)] = arn
        return {"provisionedModelArn": arn}

    def _throughput_view(self, pt: _Throughput) -> dict[str, Any]:
        view: dict[str, Any] = {
            "modelUnits": pt.units,
            "desiredModelUnits": pt.units,
            "provisionedModelName": pt.name,
            "provisionedModelArn": pt.arn,
            "modelArn": pt.model_arn,
            "desiredModelArn": pt.model_arn,
            "foundationModelArn": f"{_FOUNDATION}/{HAIKU_FT}",
            "status": pt.status,
            "creationTime": self.clock.at(pt.created),
            "lastModifiedTime": self.clock.at(pt.created),
        }
        if pt.commitment:
            view["commitmentDuration"] = pt.commitment
            view["commitmentExpirationTime"] = self.clock.at(pt.created + _term_seconds(pt.commitment))
        return view

    def op_GetProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._throughput_view(self._throughput(params["provisionedModelId"]))

    def op_ListProvisionedModelThroughputs(self, params: dict[str, Any]) -> dict[str, Any]:
        items = [self._throughput_view(self._throughput(arn)) for arn in list(self._throughputs)]
        if params.get("nameContains"):
            items = [i for i in items if params["nameContains"] in i["provisionedModelName"]]
        if params.get("statusEquals"):
            items = [i for i in items if i["status"] == params["statusEquals"]]
        for item in items:
            item.pop("failureMessage", None)
        page, token = _page(items, params)
        return {"provisionedModelSummaries": page, "nextToken": token}

    def op_UpdateProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:
        pt = self._throughput(params["provisionedModelId"])
        if params.get("desiredProvisionedModelName"):
            pt.name = params["desiredProvisionedModelName"]
        if params.get("desiredModelId"):
            pt.model_arn = self._model(params["desiredModelId"])["modelArn"]
        return {}

    def op_DeleteProvisionedModelThroughput(self, params: dict[str, Any]) -> dict[str, Any]:
        pt = self._throughput(params["provisionedModelId"])
        now = self.clock.monotonic()
        if pt.commitment and now < pt.created + _term_seconds(pt.commitment):
            raise validation(
                f"Provisioned model {pt.name} has a {pt.commitment} commitment and cannot be deleted before it ends"
            )
        pt.deleted = now
        del self._throughputs[pt.arn]
        self._retired.append(pt)
        return {}

    def meter(self, arn: str | None = None) -> float:
        """Model-unit-hours accrued (by one deployment, or all, live and deleted)."""
        with self._lock:
            now = self.clock.monotonic()
            total = 0.0
            for pt in [*self._throughputs.values(), *self._retired]:
                if arn is None or pt.arn == arn:
                    end = pt.deleted if pt.deleted is not None else now
                    total += pt.units * max(0.0, end - pt.created) / 3600.0
            return total

    # -- tags -----------------------------------------------------------------------------------------------

    def _tag_target(self, arn: str) -> list[dict[str, str]]:
        if arn not in self._tags:
            raise not_found(f"Could not find resource {arn}")
        return self._tags[arn]

    def op_ListTagsForResource(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"tags": list(self._tag_target(params["resourceARN"]))}

    def op_TagResource(self, params: dict[str, Any]) -> dict[str, Any]:
        tags = self._tag_target(params["resourceARN"])
        new = {t["key"]: t["value"] for t in [*tags, *params["tags"]]}
        self._tags[params["resourceARN"]] = [{"key": k, "value": v} for k, v in new.items()]
        return {}

    def op_UntagResource(self, params: dict[str, Any]) -> dict[str, Any]:
        tags = self._tag_target(params["resourceARN"])
        self._tags[params["resourceARN"]] = [t for t in tags if t["key"] not in params["tagKeys"]]
        return {}

    # -- runtime --------------------------------------------------------------------------------------------

    def responder_for(self, model_id: str) -> Responder:
        """Resolve who answers a runtime call to ``model_id`` (raising the service's errors)."""
        key = model_id.rsplit("/", 1)[-1] if model_id.startswith(_FOUNDATION) else model_id
        if key in (HAIKU, HAIKU_FT):
            if key == HAIKU_FT:
                raise validation(
                    f"Invocation of model ID {HAIKU_FT} with on-demand throughput isn't supported; "
                    "use a Provisioned Throughput"
                )
            return self.responders.get(model_id) or self.responders.get(key) or base_reply
        if model_id in self._models or any(m["modelName"] == model_id for m in self._models.values()):
            raise validation(
                "Custom models can only be invoked through a Provisioned Throughput: "
                "create one and use its ARN as modelId"
            )
        try:
            pt = self._throughput(model_id)
        except ApiError:
            raise not_found(f"The model {model_id} does not exist or you do not have access to it") from None
        if pt.status != "InService":
            raise validation(f"Provisioned model {pt.name} is {pt.status}, not InService yet")
        self._rate_limit(pt)
        return (
            self.responders.get(model_id)
            or self.responders.get(pt.arn)
            or self.responders.get(pt.model_arn)
            or self._model_responders.get(pt.model_arn)
            or base_reply
        )

    def _rate_limit(self, pt: _Throughput) -> None:
        if self.calls_per_second_per_unit is None:
            return
        now = self.real_time()
        pt.calls = [t for t in pt.calls if now - t < 1.0]
        if len(pt.calls) >= self.calls_per_second_per_unit * pt.units:
            raise ApiError("ThrottlingException", "Too many requests, please wait before trying again.", 429)
        pt.calls.append(now)

    def _message_id(self) -> str:
        self._message_count += 1
        return f"msg_local_{self._message_count:08d}"

    def _run(self, model_id: str, body: Any, *, batch: bool = False) -> tuple[Any, str]:
        request = check_body(body)
        responder = self._batch_responder(model_id) if batch else None
        responder = responder or self.responder_for(model_id)
        return answer(request, responder(request)), self._message_id()

    def _batch_responder(self, model_id: str) -> Responder | None:
        """A batch job may name a custom model's ARN itself (CreateModelInvocationJob's modelId pattern allows it,
        and batch runs need no Provisioned Throughput); runtime calls may not."""
        model = self._models.get(model_id)
        if model is None:
            return None
        return self.responders.get(model_id) or self._model_responders.get(model_id) or base_reply

    def invoke(self, model_id: str, raw: bytes) -> dict[str, Any]:
        """InvokeModel's response body for a raw request body."""
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise validation("Malformed input request, please reformat your input and try again.") from None
        result, message_id = self._run(model_id, body)
        return messages_body(result, message_id)

    def op_InvokeModel(self, params: dict[str, Any]) -> dict[str, Any]:
        body = self.invoke(params["modelId"], params.get("body") or b"")
        return {"body": orjson.dumps(body), "contentType": "application/json"}

    def op_InvokeModelWithResponseStream(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            body = orjson.loads(params.get("body") or b"")
        except orjson.JSONDecodeError:
            raise validation("Malformed input request, please reformat your input and try again.") from None
        result, message_id = self._run(params["modelId"], body)
        frames = b"".join(chunk_frame(event) for event in stream_events(result, message_id))
        return {"body": frames, "contentType": "application/json"}

    def op_Converse(self, params: dict[str, Any]) -> dict[str, Any]:
        config = params.get("inferenceConfig") or {}
        body: dict[str, Any] = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": config.get("maxTokens", 4096),
            "messages": [
                {"role": m["role"], "content": "".join(block.get("text", "") for block in m.get("content", []))}
                for m in params["messages"]
            ],
        }
        if params.get("system"):
            body["system"] = "".join(block.get("text", "") for block in params["system"])
        for source, target in (("temperature", "temperature"), ("topP", "top_p"), ("stopSequences", "stop_sequences")):
            if source in config:
                body[target] = config[source]
        result, _ = self._run(params["modelId"], body)
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": result.text}]}},
            "stopReason": result.stop_reason,
            "usage": {
                "inputTokens": result.input_tokens,
                "outputTokens": result.output_tokens,
                "totalTokens": result.input_tokens + result.output_tokens,
            },
            "metrics": {"latencyMs": 1},
        }

    def op_CountTokens(self, params: dict[str, Any]) -> dict[str, Any]:
        model_id = params["modelId"]
        key = model_id.rsplit("/", 1)[-1] if model_id.startswith(_FOUNDATION) else model_id
        if key not in (HAIKU, HAIKU_FT):  # the real list of models that count tokens is short: refuse the rest
            raise validation(f"The model {model_id} does not support counting tokens")
        given = params["input"]
        if "invokeModel" in given:
            try:
                body = orjson.loads(given["invokeModel"]["body"])
            except orjson.JSONDecodeError:
                raise validation("Malformed input request") from None
            messages = body.get("messages") or []
            system = body.get("system") or ""
        else:
            converse = given.get("converse") or {}
            messages = [
                {"content": "".join(b.get("text", "") for b in m.get("content", []))}
                for m in converse.get("messages", [])
            ]
            system = "".join(b.get("text", "") for b in converse.get("system", []))
        from ..datasets import estimate_tokens

        text = text_of(system) + "".join(text_of(m.get("content", "")) for m in messages if isinstance(m, dict))
        return {"inputTokens": max(1, estimate_tokens(text))}

    # -- batch inference ----------------------------------------------------------------------------------------

    def op_CreateModelInvocationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        token = params.get("clientRequestToken")
        if token and ("batch", token) in self._tokens:
            return {"jobArn": self._tokens[("batch", token)]}
        if any(j.name == params["jobName"] for j in self._invocation_jobs.values()):
            raise conflict(f"A batch inference job named {params['jobName']} already exists")
        arn = f"{_ARN}:model-invocation-job/{self._new_id()}"
        self._invocation_jobs[arn] = _InvocationJob(arn, params["jobName"], params, self.clock.monotonic())
        self._tags[arn] = list(params.get("tags") or [])
        if token:
            self._tokens[("batch", token)] = arn
        return {"jobArn": arn}

    def _invocation_job(self, identifier: str) -> _InvocationJob:
        job = self._invocation_jobs.get(identifier) or next(
            (j for j in self._invocation_jobs.values() if j.name == identifier), None
        )
        if job is None:
            raise not_found(f"Could not find batch inference job {identifier}")
        now = self.clock.monotonic()
        if job.status == "Submitted" and now >= job.created + 60:
            job.status = "InProgress"
        if job.status == "InProgress" and now >= job.created + 180:
            self._run_invocation_job(job)
        return job

    def _input_objects(self, uri: str) -> Iterator[tuple[str, str]]:
        bucket, key = self._split(uri)
        if key and not key.endswith("/"):
            yield bucket, key
            return
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
        for page in pages:
            for item in page.get("Contents", []):
                if item["Key"].endswith(".jsonl"):
                    yield bucket, item["Key"]

    def _run_invocation_job(self, job: _InvocationJob) -> None:
        model_id = job.params["modelId"]
        source = job.params["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
        output = job.params["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"].rstrip("/")
        job_id = job.arn.rsplit("/", 1)[-1]
        processed = succeeded = 0
        for bucket, key in self._input_objects(source):
            lines = []
            raw = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            for line in raw.splitlines():
                if not line.strip():
                    continue
                record = orjson.loads(line)
                out: dict[str, Any] = {"recordId": record.get("recordId"), "modelInput": record.get("modelInput")}
                try:
                    result, message_id = self._run(model_id, record.get("modelInput"), batch=True)
                    out["modelOutput"] = messages_body(result, message_id)
                    succeeded += 1
                except ApiError as error:
                    out["error"] = {"errorCode": error.status, "errorMessage": error.message}
                processed += 1
                lines.append(orjson.dumps(out))
            name = key.rsplit("/", 1)[-1]
            self._put(f"{output}/{job_id}/{name}.out", b"\n".join(lines).decode() + "\n")
        manifest = {
            "totalRecordCount": processed,
            "processedRecordCount": processed,
            "successRecordCount": succeeded,
            "errorRecordCount": processed - succeeded,
        }
        self._put(f"{output}/{job_id}/manifest.json.out", orjson.dumps(manifest).decode())
        job.status, job.ended = "Completed", job.created + 180

    def _invocation_view(self, job: _InvocationJob) -> dict[str, Any]:
        view = {
            "jobArn": job.arn,
            "jobName": job.name,
            "modelId": job.params["modelId"],
            "clientRequestToken": job.params.get("clientRequestToken"),
            "roleArn": job.params["roleArn"],
            "status": job.status,
            "message": job.message,
            "submitTime": self.clock.at(job.created),
            "lastModifiedTime": self.clock.at(job.ended if job.ended is not None else job.created),
            "endTime": self.clock.at(job.ended) if job.ended is not None else None,
            "inputDataConfig": job.params["inputDataConfig"],
            "outputDataConfig": job.params["outputDataConfig"],
        }
        return {k: v for k, v in view.items() if v is not None}

    def op_GetModelInvocationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._invocation_view(self._invocation_job(params["jobIdentifier"]))

    def op_ListModelInvocationJobs(self, params: dict[str, Any]) -> dict[str, Any]:
        items = [self._invocation_view(self._invocation_job(arn)) for arn in list(self._invocation_jobs)]
        page, token = _page(items, params)
        return {"invocationJobSummaries": page, "nextToken": token}

    def op_StopModelInvocationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._invocation_job(params["jobIdentifier"])
        if job.status in ("Completed", "Failed", "Stopped"):
            raise validation(f"Batch inference job {job.name} is {job.status}")
        job.status, job.ended = "Stopped", self.clock.monotonic()
        return {}

    # -- inspection -------------------------------------------------------------------------------------------

    def jobs(self) -> list[dict[str, Any]]:
        """Every customization job, as GetModelCustomizationJob shows it."""
        with self._lock:
            return [self._job_view(self._job(arn)) for arn in list(self._jobs)]

    def deployments(self) -> list[dict[str, Any]]:
        """Every live provisioned throughput."""
        with self._lock:
            return [self._throughput_view(self._throughput(arn)) for arn in list(self._throughputs)]


def _term_seconds(commitment: str) -> float:
    return {"OneMonth": 30 * 86400.0, "SixMonths": 182 * 86400.0}.get(commitment, 0.0)


def _page(items: list[dict[str, Any]], params: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    size = int(params.get("maxResults") or 100)
    try:
        start = int(params.get("nextToken") or 0)
    except ValueError:
        raise validation("Invalid nextToken") from None
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)
