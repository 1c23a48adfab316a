"""Bedrock batch inference: run a whole test set through a model as one model-invocation job.

For test sets too large to send call by call. The requests — the exact InvokeModel bodies
``FineTunedModel.request_body`` builds, so both engines ask the same thing — are written as batch-inference
input JSON Lines (``{"recordId", "modelInput"}``) to S3; ``CreateModelInvocationJob`` runs them;
``GetModelInvocationJob`` is polled through the shared wait loop on the transport's clock; and the service's
output file ``<output prefix>/<jobId>/<input name>.out`` is read back and parsed with
``Completion.from_body``, as call-by-call replies are. The create survives a lost answer, a taken name and an
interrupt (`_create_job`): the job is found by name and client token, never made twice.

Every AWS call goes through [`BedrockTransport`][haiku_finetune.BedrockTransport]. This module knows nothing about
scoring. Not confirmed here: the service's minimum number of records per job and which custom models it
accepts (a fine-tune is sent as its custom-model ARN, see
[`batch_model_id`][haiku_finetune.evaluation.batch_inference.batch_model_id]); check the Bedrock quotas
for your account (the call fails with a validation error otherwise).
"""

from __future__ import annotations

import logging
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import ConfigDict

from .._carried import CarriesTransport
from .._names import generate_name
from .._tags import check_user_tags, with_library_tag
from .._transport import BedrockTransport, resolve_transport
from .._wait import PollInterval, PollState, wait_for
from ..errors import (
    ConflictError,
    ConnectionFailedError,
    JobFailedError,
    JobStoppedError,
    ResourceNotFoundError,
    ServiceError,
    error_class_for,
)
from ..model import Completion
from ..storage import S3Uri, download_bytes, upload_bytes

__all__ = [
    "BatchInferenceJob",
    "batch_model_id",
    "read_batch_results",
    "record_id",
    "submit_batch_inference",
    "wait_for_batch_inference",
]

_log = logging.getLogger(__name__)

#: The input file's name under the job's staging folder; the service writes ``<name>.out`` for it.
INPUT_FILE = "records.jsonl"

#: Statuses after which a model-invocation job changes no more.
TERMINAL_STATUSES = frozenset({"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"})

_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9-]+")
_CREATE = "CreateModelInvocationJob"


_PROVISIONED = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:[0-9]{12}:provisioned-model/")


def batch_model_id(model_id: str, *, transport: BedrockTransport | None = None) -> str:
    """Return the model id a batch-inference job takes for ``model_id``.

    ``CreateModelInvocationJob`` accepts foundation-model ids, custom-model ARNs and inference profiles, not
    Provisioned Throughput ARNs (its ``modelId`` pattern refuses them). A fine-tune is invoked through its
    Provisioned Throughput ARN, so that ARN is resolved to the custom model behind it
    (``GetProvisionedModelThroughput``'s ``modelArn``); anything else is returned unchanged.
    """
    if not _PROVISIONED.match(model_id):
        return model_id
    response = resolve_transport(transport).call(
        "bedrock", "GetProvisionedModelThroughput", provisionedModelId=model_id
    )
    return str(response["modelArn"])


def record_id(index: int) -> str:
    """Return the batch record id of the ``index``-th request: 11 letters/digits, as the service expects."""
    return f"R{index:010d}"


class BatchInferenceJob(CarriesTransport):
    """A submitted model-invocation job and where its data lives.

    Attributes:
        arn: The job's ARN.
        name: The job's name.
        model_id: The model (id or ARN) that answers the requests.
        input_uri: The S3 URI of the input JSONL.
        output_uri: The S3 prefix the service writes results under.
        record_ids: The record ids in request order.

    The job carries the transport it was submitted through (not part of its value): waiting for it and
    reading its results use that one unless told otherwise.
    """

    model_config = ConfigDict(frozen=True)

    arn: str
    name: str
    model_id: str
    input_uri: str
    output_uri: str
    record_ids: list[str]

    def __hash__(self) -> int:
        return hash(self.arn)

    @property
    def job_id(self) -> str:
        """The job id: the last segment of the ARN (the service's output folder name)."""
        return self.arn.rsplit("/", 1)[-1]

    @property
    def result_uri(self) -> str:
        """Where the service writes the results: ``<output prefix>/<jobId>/<input name>.out``."""
        return str(S3Uri(self.output_uri).joinpath(self.job_id, f"{S3Uri(self.input_uri).name}.out"))


def submit_batch_inference(
    model_id: str,
    bodies: Sequence[Mapping[str, Any]],
    *,
    staging_uri: str,
    role_arn: str,
    job_name: str | None = None,
    tags: Mapping[str, str] | None = None,
    timeout_hours: int | None = None,
    transport: BedrockTransport | None = None,
) -> BatchInferenceJob:
    """Write the requests to S3 and start a model-invocation job.

    Args:
        model_id: The model id or ARN to run.
        bodies: InvokeModel request bodies, one per record, in order.
        staging_uri: An S3 folder for this job's input and output (``<staging>/input/records.jsonl`` and
            ``<staging>/output/``).
        role_arn: A service role Bedrock assumes to read the input and write the output.
        job_name: The job name (default: ``haiku-eval-<time>-<random>``).
        tags: Extra job tags; the library's ``created-by`` tag is always added.
        timeout_hours: The service-side timeout of the job (default: the service's).
        transport: The transport to use.

    Returns:
        The submitted job.

    Raises:
        ValueError: No requests, a tag under the library's key, or a staging URI Bedrock does not accept.
        ServiceError: S3 or Bedrock refused a call.
    """
    if not bodies:
        raise ValueError("a batch-inference job needs at least one request")
    check_user_tags(tags)  # before the upload: a refused tag should leave nothing behind in S3
    transport = resolve_transport(transport)
    staging = S3Uri(staging_uri).as_prefix()
    problem = staging.bedrock_problem()
    if problem:
        raise ValueError(problem)
    input_uri = staging.joinpath("input", INPUT_FILE)
    output_uri = staging.joinpath("output") + "/"
    ids = [record_id(i) for i in range(len(bodies))]
    payload = b"".join(
        orjson.dumps({"recordId": rid, "modelInput": dict(body)}) + b"\n" for rid, body in zip(ids, bodies, strict=True)
    )
    upload_bytes(str(input_uri), payload, transport=transport)
    name = job_name or default_job_name("haiku-eval")
    params: dict[str, Any] = {
        "jobName": name,
        "roleArn": role_arn,
        "modelId": model_id,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": str(input_uri), "s3InputFormat": "JSONL"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": str(output_uri)}},
        "tags": with_library_tag(tags),
    }
    if timeout_hours is not None:
        params["timeoutDurationInHours"] = timeout_hours
    arn = _create_job(transport, params, name)
    _log.info("started batch-inference job %s (%d records) for %s", arn, len(ids), model_id)
    job = BatchInferenceJob(
        arn=arn, name=name, model_id=model_id, input_uri=str(input_uri), output_uri=str(output_uri), record_ids=ids
    )
    job._transport = transport
    return job


def _create_job(t: BedrockTransport, params: Mapping[str, Any], name: str) -> str:
    """CreateModelInvocationJob, surviving a lost answer, a taken name or an interrupt: never two jobs.

    The name is fixed (and logged) first, with the client token every attempt carries. A lost answer or a name
    reported taken is resolved by looking the job up by name: it is this call's when it carries the token. An
    interrupt stops the job this call made (it bills per token) before it goes on.
    """
    token = uuid.uuid4().hex
    check, stop = _commands(name, t.region)
    _log.info("creating batch-inference job %s (clientRequestToken %s)", name, token)
    try:
        return str(t.call("bedrock", _CREATE, clientRequestToken=token, **params)["jobArn"])
    except ConnectionFailedError as error:
        try:
            found = _find_job(t, name)
        except (ServiceError, ConnectionFailedError) as lookup:
            raise ConnectionFailedError(
                f"no answer to {_CREATE} for batch-inference job {name}, and looking it up failed too ({lookup}): "
                f"it may or may not have been created. Check with: {check} ; stop it with: {stop}",
                operation=_CREATE,
                attempts=error.attempts,
            ) from error
        if found is None:
            raise ConnectionFailedError(
                f"no answer to {_CREATE} for batch-inference job {name}, and no job of that name exists: it was "
                f"not created. To check: {check}",
                operation=_CREATE,
                attempts=error.attempts,
            ) from error
        if not _is_ours(found, token):
            raise ConflictError(
                f"no answer to {_CREATE}, and a batch-inference job called {name} exists but another request made "
                f"it. Check with: {check}",
                operation=_CREATE,
                code="ConflictException",
            ) from error
        _log.warning("the answer to %s was lost; found batch-inference job %s by name", _CREATE, name)
        return str(found["jobArn"])
    except ConflictError:
        found = _find_job(t, name)
        if found is None or found.get("clientRequestToken") != token:
            raise
        _log.info("batch-inference job %s already exists from this same request; attaching", name)
        return str(found["jobArn"])
    except KeyboardInterrupt:
        try:
            found = _find_job(t, name)
            if found is not None and _is_ours(found, token):
                t.call("bedrock", "StopModelInvocationJob", jobIdentifier=found["jobArn"])
                print(
                    f"Interrupted while creating batch-inference job {name}; it was created and is stopped now.",
                    file=sys.stderr,
                )
        except (ServiceError, ConnectionFailedError) as lookup:
            print(
                f"Interrupted while creating batch-inference job {name}; could not find out whether it was "
                f"created ({lookup}). Check with: {check} ; stop it with: {stop}",
                file=sys.stderr,
            )
        raise


def _find_job(t: BedrockTransport, name: str) -> dict[str, Any] | None:
    # GetModelInvocationJob takes only the ARN or the 12-character id (botocore's pattern), never the name: list.
    for page in t.paginate("bedrock", "ListModelInvocationJobs", nameContains=name):
        for summary in page.get("invocationJobSummaries", []):
            if summary.get("jobName") == name:
                return dict(summary)
    return None


def _is_ours(found: Mapping[str, Any], token: str) -> bool:
    # A service that does not report the token cannot be asked; the name (fixed by this call) then decides.
    reported = found.get("clientRequestToken")
    return reported is None or reported == token


def _commands(name: str, region: str) -> tuple[str, str]:
    return (
        f"aws bedrock get-model-invocation-job --job-identifier {name} --region {region}",
        f"aws bedrock stop-model-invocation-job --job-identifier {name} --region {region}",
    )


def default_job_name(prefix: str, label: str = "") -> str:
    """Return a fresh job name: ``<prefix>[-<label>]-<UTC time>-<random>``, at most 63 characters."""
    safe = _NAME_UNSAFE.sub("-", label).strip("-")[:24]
    return generate_name(f"{prefix}-{safe}" if safe else prefix, "batch")


def wait_for_batch_inference(
    job: BatchInferenceJob,
    *,
    timeout: float | None = None,
    progress: bool = True,
    interval: PollInterval | None = None,
    transport: BedrockTransport | None = None,
) -> dict[str, Any]:
    """Wait until the job ends; return its last ``GetModelInvocationJob`` response.

    ``Completed`` and ``PartiallyCompleted`` return (records that failed carry their error in the output).

    Args:
        job: The job.
        timeout: Seconds to wait at most (``None``: no limit). The job keeps running after a timeout.
        progress: Show a progress bar.
        interval: The polling schedule (default: 30 s growing to 2 min).
        transport: The transport to use (default: the job's own); its clock times the wait.

    Raises:
        JobFailedError: The job failed or expired (the service's message is kept).
        JobStoppedError: The job was stopped.
        WaitTimeoutError: ``timeout`` passed first.
    """
    transport = resolve_transport(transport, job)

    def fetch() -> PollState:
        response = transport.call("bedrock", "GetModelInvocationJob", jobIdentifier=job.arn)
        status = str(response.get("status", "Unknown"))
        total, done = response.get("totalRecordCount"), response.get("processedRecordCount")
        detail = f"{done}/{total} records" if total is not None and done is not None else ""
        return PollState(status=status, detail=detail, finished=status in TERMINAL_STATUSES, value=response)

    state = wait_for(
        fetch,
        what=f"batch-inference job {job.name}",
        clock=transport.clock,
        timeout=timeout,
        interval=interval,
        progress=progress,
        reattach_hint=(
            f"the job {job.arn} keeps running; its results will be at {job.result_uri} "
            "(read them with haiku_finetune.evaluation.batch_inference.read_batch_results)"
        ),
    )
    response: dict[str, Any] = state.value
    if state.status in ("Failed", "Expired"):
        message = response.get("message")
        raise JobFailedError(
            f"batch-inference job {job.name} ended {state.status}" + (f": {message}" if message else ""),
            job_arn=job.arn,
            failure_message=message,
        )
    if state.status == "Stopped":
        raise JobStoppedError(f"batch-inference job {job.name} was stopped", job_arn=job.arn)
    return response


def read_batch_results(
    job: BatchInferenceJob, *, transport: BedrockTransport | None = None
) -> list[Completion | ServiceError]:
    """Read a finished job's output and parse each record, in request order.

    Args:
        job: The finished job.
        transport: The transport to use.

    Returns:
        For each request, the parsed [`Completion`][haiku_finetune.model.Completion] (``latency`` 0: the batch
        output has no per-record timing), or the [`ServiceError`][haiku_finetune.errors.ServiceError] the service
        recorded for that record (or one saying the record is missing from the output).

    Raises:
        ResourceNotFoundError: The output file is not there.
        ValueError: A line of the output is not JSON.
    """
    transport = resolve_transport(transport, job)
    try:
        data = download_bytes(job.result_uri, transport=transport)
    except ResourceNotFoundError as error:
        raise ResourceNotFoundError(
            f"no results at {job.result_uri} for batch-inference job {job.arn}", **error.call_context
        ) from error
    found: dict[str, Completion | ServiceError] = {}
    for number, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise ValueError(f"{job.result_uri} line {number}: not valid JSON ({error})") from error
        rid = str(record.get("recordId", ""))
        found[rid] = _parse_record(record, where=f"{job.result_uri} line {number}")
    results: list[Completion | ServiceError] = []
    for rid in job.record_ids:
        result = found.get(rid)
        if result is None:
            result = ServiceError(
                f"record {rid} is missing from the output of batch-inference job {job.name}",
                operation="CreateModelInvocationJob",
                code="MissingRecord",
            )
        results.append(result)
    return results


def _parse_record(record: Mapping[str, Any], *, where: str) -> Completion | ServiceError:
    output = record.get("modelOutput")
    if isinstance(output, Mapping):
        return Completion.from_body(dict(output), latency=0.0)
    error = record.get("error")
    if isinstance(error, Mapping):
        raw_code = error.get("errorCode", error.get("code", "ModelError"))
        status = raw_code if isinstance(raw_code, int) else None
        code = str(raw_code)
        message = str(error.get("errorMessage", error.get("message", "the record failed")))
    else:
        status, code, message = None, "ModelError", f"{where}: neither modelOutput nor error"
    cls = error_class_for(code, status)
    return cls(message, operation="CreateModelInvocationJob", code=code, http_status=status)
