"""LocalBedrock's runtime metadata and ConverseStream, through plain boto3: the event sequence, the token and
latency headers, the stream's invocation metrics, Date headers, service-shaped ids, faults and throttling."""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from haiku_finetune.local import Faults, LocalBedrock
from tests.emulator.test_local_lifecycle import BUCKET, _create, _run_to_end, _upload
from tests.shape_check import violations

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
QUESTION = "Where is my refund for order 1234? It has been two weeks already."


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalBedrock]:
    with LocalBedrock(pt_ready_seconds=600, calls_per_second_per_unit=3) as local:
        yield local


@pytest.fixture(scope="module")
def clients(emulator: LocalBedrock) -> Iterator[dict[str, Any]]:
    env = emulator.session_env()
    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=env["AWS_REGION"]
    )
    one_attempt = Config(retries={"total_max_attempts": 1}, read_timeout=20, connect_timeout=5)
    made = {
        "bedrock": session.client("bedrock", endpoint_url=env["AWS_ENDPOINT_URL_BEDROCK"]),
        "runtime": session.client("bedrock-runtime", endpoint_url=env["AWS_ENDPOINT_URL_BEDROCK"], config=one_attempt),
        "s3": session.client("s3", endpoint_url=env["AWS_ENDPOINT_URL_S3"]),
    }
    yield made
    for client in made.values():
        client.close()


def _messages(text: str = QUESTION) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def _body(**extra: Any) -> str:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 300,
            "messages": [{"role": "user", "content": QUESTION}],
            **extra,
        }
    )


def test_converse_stream_sends_the_real_event_sequence(emulator: LocalBedrock, clients: dict[str, Any]) -> None:
    runtime = clients["runtime"]
    reply = runtime.converse(modelId=HAIKU, messages=_messages())
    text = reply["output"]["message"]["content"][0]["text"]
    stream = runtime.converse_stream(modelId=HAIKU, messages=_messages())
    assert stream["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    events = list(stream["stream"])
    names = [next(iter(event)) for event in events]
    assert names[0] == "messageStart" and events[0]["messageStart"] == {"role": "assistant"}
    assert names[-2:] == ["messageStop", "metadata"]
    assert set(names[1:-3]) == {"contentBlockDelta"} and names[-3] == "contentBlockStop"
    assert len(names) > 5  # the text comes in several deltas
    streamed = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert streamed == text
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    metadata = events[-1]["metadata"]
    assert metadata["usage"] == reply["usage"] and metadata["usage"]["outputTokens"] > 0
    assert isinstance(metadata["metrics"]["latencyMs"], int) and metadata["metrics"]["latencyMs"] >= 1
    # Each event is kept for the suite's shape check (conftest.py), like every JSON response.
    recorded = [body for operation, body in emulator.responses() if operation == "ConverseStream"]
    assert recorded[-len(events) :] == events


def test_converse_stream_stops_like_converse(clients: dict[str, Any]) -> None:
    events = list(
        clients["runtime"].converse_stream(
            modelId=HAIKU, messages=_messages(), inferenceConfig={"maxTokens": 3, "stopSequences": ["never"]}
        )["stream"]
    )
    assert events[-2]["messageStop"]["stopReason"] == "max_tokens"
    assert events[-1]["metadata"]["usage"]["outputTokens"] <= 3


def test_invoke_model_sends_token_count_and_latency_headers_and_a_date(
    clients: dict[str, Any], emulator: LocalBedrock
) -> None:
    response = clients["runtime"].invoke_model(modelId=HAIKU, body=_body())
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    body = json.loads(response["body"].read())
    assert int(headers["x-amzn-bedrock-input-token-count"]) == body["usage"]["input_tokens"] > 0
    assert int(headers["x-amzn-bedrock-output-token-count"]) == body["usage"]["output_tokens"] > 0
    assert int(headers["x-amzn-bedrock-invocation-latency"]) >= 1
    sent = email.utils.parsedate_to_datetime(headers["date"])
    assert abs(sent.timestamp() - emulator.clock.now().timestamp()) < 60  # the emulated date, as the service's
    assert re.fullmatch(r"msg_bdrk_01[0-9A-Za-z]{22}", body["id"]), body["id"]
    again = json.loads(clients["runtime"].invoke_model(modelId=HAIKU, body=_body())["body"].read())
    assert again["id"] != body["id"]


def test_every_answer_has_a_date_header(clients: dict[str, Any]) -> None:
    listed = clients["bedrock"].list_foundation_models()
    assert "date" in listed["ResponseMetadata"]["HTTPHeaders"]
    with pytest.raises(ClientError) as refused:
        clients["runtime"].invoke_model(modelId=HAIKU, body=b"not json")
    assert "date" in refused.value.response["ResponseMetadata"]["HTTPHeaders"]


def test_the_last_stream_chunk_carries_invocation_metrics(clients: dict[str, Any]) -> None:
    response = clients["runtime"].invoke_model_with_response_stream(modelId=HAIKU, body=_body())
    events = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    assert all("amazon-bedrock-invocationMetrics" not in e for e in events[:-1])
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert set(metrics) == {"inputTokenCount", "outputTokenCount", "invocationLatency", "firstByteLatency"}
    assert metrics["inputTokenCount"] == events[0]["message"]["usage"]["input_tokens"] > 0
    assert metrics["outputTokenCount"] == events[-2]["usage"]["output_tokens"] > 0
    assert 0 <= metrics["firstByteLatency"] <= metrics["invocationLatency"]
    assert re.fullmatch(r"msg_bdrk_01[0-9A-Za-z]{22}", events[0]["message"]["id"])


@pytest.mark.parametrize(
    ("fault", "code"), [("throttle", "ThrottlingException"), ("server_error", "InternalServerException")]
)
def test_converse_stream_gets_the_same_faults(
    emulator: LocalBedrock, clients: dict[str, Any], fault: str, code: str
) -> None:
    emulator.faults = Faults(**{fault: {"ConverseStream": 1}})
    try:
        codes = []
        for _ in range(2):
            try:
                list(clients["runtime"].converse_stream(modelId=HAIKU, messages=_messages())["stream"])
                codes.append("ok")
            except ClientError as error:
                codes.append(error.response["Error"]["Code"])
        assert codes == [code, "ok"]
    finally:
        emulator.faults = None


def test_converse_stream_is_throttled_per_model_unit(emulator: LocalBedrock, clients: dict[str, Any]) -> None:
    rows = [("my card was charged twice", "billing"), ("the parcel never arrived", "shipping")]
    lines = [
        json.dumps({"messages": [{"role": "user", "content": f"{t} ({i})"}, {"role": "assistant", "content": q}]})
        for i in range(16)
        for t, q in rows
    ]
    clients["s3"].create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    _upload(clients["s3"], ("\n".join(lines) + "\n").encode())
    job = _create(clients["bedrock"], "stream-tickets", validation=False)
    assert _run_to_end(emulator, clients["bedrock"], job, step=600)[-1][0] == "Completed"
    model = clients["bedrock"].get_custom_model(modelIdentifier="stream-tickets-model")["modelArn"]
    arn = clients["bedrock"].create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="stream-pt", modelId=model
    )["provisionedModelArn"]
    service = emulator._running_service()
    real = [100.0]
    service.real_time = lambda: real[0]
    try:
        emulator.advance(600)
        codes = []
        for _ in range(4):
            try:
                events = list(
                    clients["runtime"].converse_stream(modelId=arn, messages=_messages("card charged"))["stream"]
                )
                codes.append(
                    "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
                )
            except ClientError as error:
                codes.append(error.response["Error"]["Code"])
        assert codes == ["billing"] * 3 + ["ThrottlingException"]  # 3 calls per second per unit
    finally:
        service.real_time = time.monotonic
        clients["bedrock"].delete_provisioned_model_throughput(provisionedModelId=arn)


def test_the_shape_check_covers_stream_events() -> None:
    assert violations("ConverseStream", {"messageStart": {"role": "assistant"}}) == []
    assert violations("ConverseStream", {"metadata": {"usage": {"inputTokens": 1}}})  # metrics missing, totals missing
    assert violations("ConverseStream", {"messageStop": {"stopReason": "finished"}})  # not in the enum
    assert violations("ConverseStream", {"contentBlockBegin": {}})  # no such event
    assert violations("InvokeModelWithResponseStream", {"chunk": {"bytes": "eyJ9"}}) == []
    assert violations("InvokeModelWithResponseStream", {"chunk": {"bytes": 3}})
