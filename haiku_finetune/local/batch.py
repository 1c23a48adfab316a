"""Emulated batch inference: Create, Get, List and Stop ModelInvocationJob.

A job is ``Submitted`` for an emulated minute, ``InProgress`` for two more, then runs every record of its S3
input through the same runtime path as InvokeModel (``invocation.py``) and writes ``<name>.out`` files and
``manifest.json.out`` under ``<output>/<jobId>/``. It must not invent answers of its own, and it never sleeps
or starts threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ._common import EmulatedJob, page, sift
from .invocation import Invocation
from .runtime import messages_body
from .wire import ApiError, validation

__all__ = ["BatchInference", "InvocationJob"]


@dataclass
class InvocationJob(EmulatedJob):
    """One batch inference job; it runs all its records at once when its emulated time comes."""

    status: str = "Submitted"
    ended: float | None = None
    message: str | None = None


class BatchInference(Invocation):
    """The batch-inference operations (over the runtime that answers each record)."""

    _invocation_jobs: dict[str, InvocationJob]

    def op_CreateModelInvocationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"jobArn": self._idempotent("batch", params, lambda: self._create_invocation_job(params))}

    def _create_invocation_job(self, params: dict[str, Any]) -> str:
        self._refuse_taken_name(self._invocation_jobs, params, "A batch inference job")
        return self._add_job(self._invocation_jobs, InvocationJob, f"{self.arn}:model-invocation-job", params, "tags")

    def _invocation_job(self, identifier: str) -> InvocationJob:
        job = self._find(self._invocation_jobs, identifier, lambda j: j.name, "batch inference job")
        now = self.clock.monotonic()
        if job.status == "Submitted" and now >= job.created + 60:
            job.status = "InProgress"
        if job.status == "InProgress" and now >= job.created + 180:
            self._run_invocation_job(job)
        return job

    def _run_invocation_job(self, job: InvocationJob) -> None:
        model_id = job.params["modelId"]
        source = job.params["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
        output = job.params["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"].rstrip("/")
        job_id = job.arn.rsplit("/", 1)[-1]
        processed = succeeded = 0
        for bucket, key in self._objects(source, ".jsonl"):
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

    def _invocation_view(self, job: InvocationJob) -> dict[str, Any]:
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
        status, name = params.get("statusEquals"), params.get("nameContains") or ""
        items = [v for v in items if status in (None, v["status"]) and name in v["jobName"]]
        shown, token = page(sift(items, params, "submitTime"), params)
        return {"invocationJobSummaries": shown, "nextToken": token}

    def op_StopModelInvocationJob(self, params: dict[str, Any]) -> dict[str, Any]:
        job = self._invocation_job(params["jobIdentifier"])
        if job.status in ("Completed", "Failed", "Stopped"):
            raise validation(f"Batch inference job {job.name} is {job.status}")
        job.status, job.ended = "Stopped", self.clock.monotonic()
        return {}
