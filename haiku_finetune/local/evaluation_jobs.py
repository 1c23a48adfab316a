"""Emulated model evaluation jobs: Create, Get, List and Stop EvaluationJob.

A job is ``InProgress`` for `RUN_SECONDS` emulated seconds, then reads its prompt dataset from S3, gets
each response (from the dataset's ``modelResponses`` for precomputed inference, else through the same runtime
path as InvokeModel, ``invocation.py``), scores it with a deterministic judge and writes one
``<file-id>_output.jsonl`` per dataset under
``<output>/<job name>/<job id>/models/<model>/taskTypes/<task type>/datasets/<dataset>/`` (the layout AWS
documents; the encoding of ``<model>`` is not documented, see docs/evaluation-jobs.md). A stopped job is
``Stopping`` for `STOP_SECONDS`, then ``Stopped``, and writes nothing.

The judge is not a model: a response equal to the reference (case and spacing aside) scores 1, else the
token-overlap F1 with the reference, rounded to 2 places; the responsible-AI metrics (Toxicity, Harmfulness,
Stereotyping, Refusal) score 0; without a reference a record gets no score. It never sleeps or starts threads.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from ._common import EmulatedJob, listed, page, sift
from .batch import BatchInference
from .wire import ApiError, validation

__all__ = ["EvaluationJobs", "EvaluationRun", "judge_score"]

RUN_SECONDS = 600.0
STOP_SECONDS = 60.0
# Metrics whose good value is 0: the emulated responses are never toxic, harmful, stereotyping or refusals.
_ZERO_METRICS = frozenset({"toxicity", "harmfulness", "stereotyping", "refusal"})
_WORD = re.compile(r"\w+")


@dataclass
class EvaluationRun(EmulatedJob):
    """One evaluation job; it scores all its records at once when its emulated time comes."""

    status: str = "InProgress"
    ended: float | None = None
    failures: list[str] | None = None


def judge_score(metric: str, response: str, reference: str | None) -> float | None:
    """The emulator's deterministic judge (see the module docstring)."""
    key = metric.removeprefix("Builtin.").lower()
    if key in _ZERO_METRICS:
        return 0.0
    if reference is None:
        return None
    if " ".join(response.split()).casefold() == " ".join(reference.split()).casefold():
        return 1.0
    got, want = Counter(_WORD.findall(response.lower())), Counter(_WORD.findall(reference.lower()))
    common = sum((got & want).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(got.values()), common / sum(want.values())
    return round(2 * precision * recall / (precision + recall), 2)


class EvaluationJobs(BatchInference):
    """The model evaluation operations (over the runtime that answers each prompt)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._evaluation_jobs: dict[str, EvaluationRun] = {}

    def op_CreateEvaluationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"jobArn": self._idempotent("evaluation", params, lambda: self._create_evaluation_job(params))}

    def _create_evaluation_job(self, params: dict[str, Any]) -> str:
        self._refuse_taken_name(self._evaluation_jobs, params, "An evaluation job")
        automated = params["evaluationConfig"].get("automated")
        if automated is None:
            raise validation("LocalBedrock emulates automated model evaluation jobs only (not human evaluation)")
        models = params["inferenceConfig"].get("models") or []
        if len(models) != 1:
            raise validation("An automated model evaluation job evaluates exactly one model")
        if sum(1 for key in ("bedrockModel", "precomputedInferenceSource") if key in models[0]) != 1:
            raise validation(
                "inferenceConfig.models[0] must set exactly one of bedrockModel, precomputedInferenceSource"
            )
        judged = bool((automated.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels"))
        for config in automated["datasetMetricConfigs"]:
            builtin = {"Builtin.Accuracy", "Builtin.Robustness", "Builtin.Toxicity"} & set(config["metricNames"])
            if judged and builtin:
                raise validation(f"Metrics {sorted(builtin)} cannot be used with an evaluator model")
            if not judged and set(config["metricNames"]) - {
                "Builtin.Accuracy",
                "Builtin.Robustness",
                "Builtin.Toxicity",
            }:
                raise validation(
                    "Metrics other than Builtin.Accuracy, Builtin.Robustness and Builtin.Toxicity need "
                    "evaluationConfig.automated.evaluatorModelConfig"
                )
            if "s3Uri" not in (config["dataset"].get("datasetLocation") or {}):
                raise validation("LocalBedrock has no built-in datasets: give dataset.datasetLocation.s3Uri")
        return self._add_job(self._evaluation_jobs, EvaluationRun, f"{self.arn}:evaluation-job", params, "jobTags")

    def _evaluation_job(self, identifier: str) -> EvaluationRun:
        job = self._find(self._evaluation_jobs, identifier, lambda j: j.name, "evaluation job")
        now = self.clock.monotonic()
        if job.status == "InProgress" and now >= job.created + RUN_SECONDS:
            self._run_evaluation_job(job)
        if job.status == "Stopping" and job.ended is not None and now >= job.ended:
            job.status = "Stopped"
        return job

    def _run_evaluation_job(self, job: EvaluationRun) -> None:
        job.ended = job.created + RUN_SECONDS
        model = job.params["inferenceConfig"]["models"][0]
        automated = job.params["evaluationConfig"]["automated"]
        judges = (automated.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or []
        judge = judges[0]["modelIdentifier"] if judges else None
        if "bedrockModel" in model:
            model_id = model["bedrockModel"]["modelIdentifier"]
            folder = model_id.rsplit("/", 1)[-1]
        else:
            model_id = model["precomputedInferenceSource"]["inferenceSourceIdentifier"]
            folder = model_id
        output = job.params["outputDataConfig"]["s3Uri"].rstrip("/")
        job_id = job.arn.rsplit("/", 1)[-1]
        try:
            for config in automated["datasetMetricConfigs"]:
                uri = config["dataset"]["datasetLocation"]["s3Uri"]
                lines = [
                    self._evaluate_line(line, model, model_id, config["metricNames"], judge, uri)
                    for line in self._dataset_lines(uri)
                ]
                target = (
                    f"{output}/{job.name}/{job_id}/models/{folder}/taskTypes/{config['taskType']}"
                    f"/datasets/{config['dataset']['name']}/{self._new_id()}_output.jsonl"
                )
                self._put(target, "".join(orjson.dumps(line).decode() + "\n" for line in lines))
        except ApiError as error:
            job.status, job.failures = "Failed", [error.message[:2048]]
            return
        job.status = "Completed"

    def _dataset_lines(self, uri: str) -> list[dict[str, Any]]:
        try:
            raw = self._read(uri)
        except Exception:  # noqa: BLE001 - any refusal from moto means the service cannot read the dataset
            raise validation(f"Could not read the prompt dataset {uri}") from None
        lines = []
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise validation(f"{uri} line {number} is not valid JSON") from None
            if not isinstance(record, dict) or not isinstance(record.get("prompt"), str):
                raise validation(f"{uri} line {number} has no prompt")
            lines.append(record)
        if not lines:
            raise validation(f"The prompt dataset {uri} is empty")
        if len(lines) > 1000:
            raise validation(f"The prompt dataset {uri} has {len(lines)} prompts; the limit is 1000")
        return lines

    def _evaluate_line(
        self,
        record: dict[str, Any],
        model: dict[str, Any],
        model_id: str,
        metrics: list[str],
        judge: str | None,
        uri: str,
    ) -> dict[str, Any]:
        if "precomputedInferenceSource" in model:
            given = record.get("modelResponses") or []
            if not given or not isinstance(given[0], dict) or not isinstance(given[0].get("response"), str):
                raise validation(f"A record of {uri} has no modelResponses for precomputed inference")
            if given[0].get("modelIdentifier") != model_id:
                raise validation(
                    f"modelResponses[0].modelIdentifier {given[0].get('modelIdentifier')!r} of a record of {uri} "
                    f"does not match inferenceSourceIdentifier {model_id!r}"
                )
            response = given[0]["response"]
        else:
            body = {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 512,
                "messages": [{"role": "user", "content": record["prompt"]}],
            }
            response = self._run(model_id, body)[0].text
        reference = record.get("referenceResponse")
        scores = []
        for metric in metrics:
            value = judge_score(metric, response, reference if isinstance(reference, str) else None)
            if value is None:
                continue
            score: dict[str, Any] = {"metricName": metric.removeprefix("Builtin."), "result": value}
            if judge is not None:
                score["evaluatorDetails"] = [
                    {
                        "modelIdentifier": judge,
                        "explanation": f"LocalBedrock's judge: overlap with the reference {value}",
                    }
                ]
            scores.append(score)
        input_record = {k: v for k, v in record.items() if k != "modelResponses"}
        return {
            "automatedEvaluationResult": {"scores": scores},
            "inputRecord": input_record,
            "modelResponses": [{"response": response, "modelIdentifier": model_id}],
        }

    def _evaluation_view(self, job: EvaluationRun) -> dict[str, Any]:
        view = {
            "jobName": job.name,
            "status": job.status,
            "jobArn": job.arn,
            "jobDescription": job.params.get("jobDescription"),
            "roleArn": job.params["roleArn"],
            "customerEncryptionKeyId": job.params.get("customerEncryptionKeyId"),
            "jobType": "Automated",
            "applicationType": job.params.get("applicationType") or "ModelEvaluation",
            "evaluationConfig": job.params["evaluationConfig"],
            "inferenceConfig": job.params["inferenceConfig"],
            "outputDataConfig": job.params["outputDataConfig"],
            "creationTime": self.clock.at(job.created),
            "lastModifiedTime": self.clock.at(job.ended if job.ended is not None else job.created),
            "failureMessages": job.failures,
        }
        return {k: v for k, v in view.items() if v is not None}

    def _evaluation_summary(self, job: EvaluationRun) -> dict[str, Any]:
        automated = job.params["evaluationConfig"]["automated"]
        model = job.params["inferenceConfig"]["models"][0]
        judges = [
            j["modelIdentifier"]
            for j in (automated.get("evaluatorModelConfig") or {}).get("bedrockEvaluatorModels") or []
        ]
        bedrock = [model["bedrockModel"]["modelIdentifier"]] if "bedrockModel" in model else []
        precomputed = (
            [model["precomputedInferenceSource"]["inferenceSourceIdentifier"]]
            if "precomputedInferenceSource" in model
            else []
        )
        summary: dict[str, Any] = {
            "jobArn": job.arn,
            "jobName": job.name,
            "status": job.status,
            "creationTime": self.clock.at(job.created),
            "jobType": "Automated",
            "evaluationTaskTypes": sorted({c["taskType"] for c in automated["datasetMetricConfigs"]}),
            "modelIdentifiers": bedrock,
            "evaluatorModelIdentifiers": judges,
            "inferenceConfigSummary": {
                "modelConfigSummary": {
                    "bedrockModelIdentifiers": bedrock,
                    "precomputedInferenceSourceIdentifiers": precomputed,
                }
            },
            "applicationType": job.params.get("applicationType") or "ModelEvaluation",
        }
        return summary

    def op_GetEvaluationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._evaluation_view(self._evaluation_job(params["jobIdentifier"]))

    def op_ListEvaluationJobs(self, params: dict[str, Any]) -> dict[str, Any]:
        jobs = listed([self._evaluation_job(arn) for arn in list(self._evaluation_jobs)], params)
        items = sift(
            [self._evaluation_summary(j) for j in jobs],
            params,
            "creationTime",
            {"applicationTypeEquals": "applicationType"},
        )
        # botocore's model caps jobSummaries at 5 per page; the shape checker holds the emulator to it.
        shown, token = page(items, params, default=5, most=5)
        # Its minimum is 1 too: an empty page leaves the member out.
        return {"jobSummaries": shown or None, "nextToken": token}

    def op_StopEvaluationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._evaluation_job(params["jobIdentifier"])
        if job.status != "InProgress":
            raise validation(f"Evaluation job {job.name} is {job.status} and cannot be stopped")
        job.status, job.ended = "Stopping", self.clock.monotonic() + STOP_SECONDS
        return {}
