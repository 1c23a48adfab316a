"""Batch inference through stubbed botocore clients: the exact requests, polling on the clock, parsing results."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import boto3
import orjson
import pytest
from botocore.config import Config
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber

from haiku_finetune import BedrockTransport
from haiku_finetune.errors import (
    JobFailedError,
    JobStoppedError,
    ResourceNotFoundError,
    ServiceError,
    ThrottlingError,
    WaitTimeoutError,
)
from haiku_finetune.evaluation.batch_inference import (
    TERMINAL_STATUSES,
    BatchInferenceJob,
    batch_model_id,
    read_batch_results,
    record_id,
    submit_batch_inference,
    wait_for_batch_inference,
)
from haiku_finetune.model import Completion
from tests.fakes import FakeClock

JOB_ARN = "arn:aws:bedrock:us-west-2:123456789012:model-invocation-job/abcdef123456"
ROLE = "arn:aws:iam::123456789012:role/batch"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def _client(service: str) -> Any:
    return boto3.client(
        service,  # type: ignore[call-overload]
        region_name="us-west-2",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"total_max_attempts": 1}),
    )


class Stubs:
    def __init__(self) -> None:
        self.s3 = _client("s3")
        self.bedrock = _client("bedrock")
        self.s3_stub = Stubber(self.s3)
        self.bedrock_stub = Stubber(self.bedrock)
        self.clock = FakeClock()
        self.put_bodies: list[bytes] = []
        self.s3.meta.events.register("provide-client-params.s3.PutObject", self._capture)
        # storage sends ExpectedBucketOwner (the caller's account, from STS) on every bucket call.
        self.sts = _client("sts")
        self.sts_stub = Stubber(self.sts)
        self.sts_stub.add_response("get_caller_identity", {"Account": "123456789012"})
        self.sts_stub.activate()
        clients = {"s3": self.s3, "bedrock": self.bedrock, "sts": self.sts}
        self.transport = BedrockTransport(clients=clients, clock=self.clock)

    def _capture(self, params: dict[str, Any], **_: Any) -> None:
        self.put_bodies.append(params["Body"])


@pytest.fixture
def stubs() -> Iterator[Stubs]:
    s = Stubs()
    with s.s3_stub, s.bedrock_stub:
        yield s
        s.s3_stub.assert_no_pending_responses()
        s.bedrock_stub.assert_no_pending_responses()


def _body(text: str) -> dict[str, Any]:
    return {
        "id": "msg",
        "type": "message",
        "role": "assistant",
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 7, "output_tokens": 3},
    }


def _get_response(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "jobArn": JOB_ARN,
        "jobName": "eval",
        "modelId": MODEL,
        "roleArn": ROLE,
        "status": status,
        "submitTime": dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc),
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://bucket/eval/input/records.jsonl"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://bucket/eval/output/"}},
        **extra,
    }


def _job(ids: int = 2) -> BatchInferenceJob:
    return BatchInferenceJob(
        arn=JOB_ARN,
        name="eval",
        model_id=MODEL,
        input_uri="s3://bucket/eval/input/records.jsonl",
        output_uri="s3://bucket/eval/output/",
        record_ids=[record_id(i) for i in range(ids)],
    )


def test_record_ids_are_eleven_alphanumerics() -> None:
    assert record_id(0) == "R0000000000"
    assert record_id(123) == "R0000000123"
    assert len(record_id(10**9)) == 11


def test_submit_writes_input_jsonl_and_creates_the_job(stubs: Stubs) -> None:
    stubs.s3_stub.add_response(
        "put_object",
        {},
        {
            "Bucket": "bucket",
            "Key": "eval/input/records.jsonl",
            "Body": ANY,
            "ChecksumAlgorithm": "SHA256",
            "ChecksumSHA256": ANY,
            "ContentType": "application/jsonl",
            "ServerSideEncryption": "AES256",
            "ExpectedBucketOwner": "123456789012",  # the bucket must be the caller's own
        },
    )
    stubs.bedrock_stub.add_response(
        "create_model_invocation_job",
        {"jobArn": JOB_ARN},
        {
            "jobName": "eval-run",
            "roleArn": ROLE,
            "modelId": MODEL,
            "clientRequestToken": ANY,
            "inputDataConfig": {
                "s3InputDataConfig": {"s3Uri": "s3://bucket/eval/input/records.jsonl", "s3InputFormat": "JSONL"}
            },
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://bucket/eval/output/"}},
            "tags": [{"key": "team", "value": "ml"}, {"key": "created-by", "value": "haiku-finetune"}],
            "timeoutDurationInHours": 24,
        },
    )
    bodies = [
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5, "messages": [{"role": "user", "content": q}]}
        for q in ("one", "two")
    ]
    job = submit_batch_inference(
        MODEL,
        bodies,
        staging_uri="s3://bucket/eval",
        role_arn=ROLE,
        job_name="eval-run",
        tags={"team": "ml"},
        timeout_hours=24,
        transport=stubs.transport,
    )
    lines = [orjson.loads(line) for line in stubs.put_bodies[0].splitlines()]
    assert lines == [
        {"recordId": "R0000000000", "modelInput": bodies[0]},
        {"recordId": "R0000000001", "modelInput": bodies[1]},
    ]
    assert job.arn == JOB_ARN
    assert job.job_id == "abcdef123456"
    assert job.record_ids == ["R0000000000", "R0000000001"]
    assert job.result_uri == "s3://bucket/eval/output/abcdef123456/records.jsonl.out"


def test_submit_refuses_nothing_to_do_and_bad_staging(stubs: Stubs) -> None:
    with pytest.raises(ValueError, match="at least one request"):
        submit_batch_inference(MODEL, [], staging_uri="s3://bucket/x/", role_arn=ROLE, transport=stubs.transport)
    with pytest.raises(ValueError, match="Bedrock"):
        submit_batch_inference(MODEL, [{}], staging_uri="s3://bucket/a b/", role_arn=ROLE, transport=stubs.transport)
    # A tag that would hide the job from orphan scans is refused before anything is uploaded (no stubbed
    # PutObject is queued: an upload would fail this test with a Stubber error instead).
    with pytest.raises(ValueError, match="reserved"):
        submit_batch_inference(
            MODEL,
            [{}],
            staging_uri="s3://bucket/x/",
            role_arn=ROLE,
            tags={"created-by": "me"},
            transport=stubs.transport,
        )


def test_wait_polls_on_the_transport_clock(stubs: Stubs) -> None:
    stubs.bedrock_stub.add_response("get_model_invocation_job", _get_response("Submitted"), {"jobIdentifier": JOB_ARN})
    stubs.bedrock_stub.add_response(
        "get_model_invocation_job",
        _get_response("InProgress", totalRecordCount=2, processedRecordCount=1),
        {"jobIdentifier": JOB_ARN},
    )
    stubs.bedrock_stub.add_response("get_model_invocation_job", _get_response("Completed"), {"jobIdentifier": JOB_ARN})
    response = wait_for_batch_inference(_job(), progress=False, transport=stubs.transport)
    assert response["status"] == "Completed"
    assert stubs.clock.sleeps == [30.0, 37.5]  # the shared poll schedule, in emulated time


@pytest.mark.parametrize(
    ("status", "error", "text"),
    [
        ("Failed", JobFailedError, "ended Failed: role cannot read input"),
        ("Expired", JobFailedError, "ended Expired"),
        ("Stopped", JobStoppedError, "was stopped"),
    ],
)
def test_wait_raises_for_unsuccessful_ends(stubs: Stubs, status: str, error: type[Exception], text: str) -> None:
    extra = {"message": "role cannot read input"} if status == "Failed" else {}
    response = _get_response(status, **extra)
    stubs.bedrock_stub.add_response("get_model_invocation_job", response, {"jobIdentifier": JOB_ARN})
    with pytest.raises(error, match=text):
        wait_for_batch_inference(_job(), progress=False, transport=stubs.transport)


def test_every_status_the_service_names_is_waited_through_or_ends_the_wait() -> None:
    import botocore.session

    shape = botocore.session.get_session().get_service_model("bedrock").shape_for("ModelInvocationJobStatus")
    in_flight = {"Submitted", "Validating", "Scheduled", "InProgress", "Stopping"}
    assert set(shape.enum) == in_flight | TERMINAL_STATUSES  # a status botocore adds must be placed here
    assert not in_flight & TERMINAL_STATUSES


def test_wait_goes_on_through_validating_and_scheduled(stubs: Stubs) -> None:
    for status in ("Submitted", "Validating", "Scheduled", "InProgress", "Completed"):
        stubs.bedrock_stub.add_response("get_model_invocation_job", _get_response(status), {"jobIdentifier": JOB_ARN})
    response = wait_for_batch_inference(_job(), progress=False, transport=stubs.transport)
    assert response["status"] == "Completed"
    assert len(stubs.clock.sleeps) == 4
    stubs.bedrock_stub.assert_no_pending_responses()


def test_a_stopping_job_is_waited_for_until_it_has_stopped(stubs: Stubs) -> None:
    for status in ("Stopping", "Stopped"):
        stubs.bedrock_stub.add_response("get_model_invocation_job", _get_response(status), {"jobIdentifier": JOB_ARN})
    with pytest.raises(JobStoppedError, match="was stopped"):
        wait_for_batch_inference(_job(), progress=False, transport=stubs.transport)
    assert len(stubs.clock.sleeps) == 1


def test_wait_times_out_on_the_clock(stubs: Stubs) -> None:
    for _ in range(3):
        stubs.bedrock_stub.add_response(
            "get_model_invocation_job", _get_response("InProgress"), {"jobIdentifier": JOB_ARN}
        )
    with pytest.raises(WaitTimeoutError, match="abcdef123456"):
        wait_for_batch_inference(_job(), timeout=60, progress=False, transport=stubs.transport)


def _streaming(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def test_read_results_in_request_order_with_errors_and_missing_records(stubs: Stubs) -> None:
    lines = [
        {"recordId": "R0000000002", "modelInput": {}, "error": {"errorCode": 429, "errorMessage": "Too many tokens"}},
        {"recordId": "R0000000000", "modelInput": {}, "modelOutput": _body("first")},
    ]
    data = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    stubs.s3_stub.add_response(
        "get_object",
        {"Body": _streaming(data)},
        {"Bucket": "bucket", "Key": "eval/output/abcdef123456/records.jsonl.out", "ExpectedBucketOwner": ANY},
    )
    results = read_batch_results(_job(4), transport=stubs.transport)
    first, missing, throttled, absent = results
    assert isinstance(first, Completion)
    assert first.text == "first"
    assert first.usage.input_tokens == 7
    assert isinstance(missing, ServiceError)
    assert missing.code == "MissingRecord"
    assert isinstance(throttled, ThrottlingError)
    assert throttled.message == "Too many tokens"
    assert isinstance(absent, ServiceError)


def test_read_results_names_the_missing_output(stubs: Stubs) -> None:
    stubs.s3_stub.add_client_error("get_object", service_error_code="NoSuchKey", http_status_code=404)
    with pytest.raises(ResourceNotFoundError, match=r"no results at s3://bucket/eval/output/abcdef123456/"):
        read_batch_results(_job(), transport=stubs.transport)


def test_read_results_refuses_broken_lines(stubs: Stubs) -> None:
    stubs.s3_stub.add_response(
        "get_object", {"Body": _streaming(b"{oops\n")}, {"Bucket": "bucket", "Key": ANY, "ExpectedBucketOwner": ANY}
    )
    with pytest.raises(ValueError, match="line 1: not valid JSON"):
        read_batch_results(_job(), transport=stubs.transport)


def test_batch_model_id_resolves_a_provisioned_arn_to_its_custom_model(stubs: Stubs) -> None:
    provisioned = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc123def456"
    custom = (
        "arn:aws:bedrock:us-west-2:123456789012:custom-model/anthropic.claude-3-haiku-20240307-v1:0:200k/a1b2c3d4e5f6"
    )
    stubs.bedrock_stub.add_response(
        "get_provisioned_model_throughput",
        {
            "modelUnits": 1,
            "desiredModelUnits": 1,
            "provisionedModelName": "tuned",
            "provisionedModelArn": provisioned,
            "modelArn": custom,
            "desiredModelArn": custom,
            "foundationModelArn": "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
            "status": "InService",
            "creationTime": dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc),
            "lastModifiedTime": dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc),
        },
        {"provisionedModelId": provisioned},
    )
    assert batch_model_id(provisioned, transport=stubs.transport) == custom
    assert batch_model_id(MODEL, transport=stubs.transport) == MODEL  # no call for a foundation model
