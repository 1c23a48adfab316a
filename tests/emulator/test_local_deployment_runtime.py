"""LocalBedrock with plain boto3: Provisioned Throughput and its meter, and the runtime API."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from haiku_finetune.local import LocalBedrock
from tests.emulator.test_local_lifecycle import BUCKET, _create, _run_to_end, _upload

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalBedrock]:
    with LocalBedrock(pt_ready_seconds=600, calls_per_second_per_unit=5) as local:
        yield local


@pytest.fixture(scope="module")
def clients(emulator: LocalBedrock) -> Iterator[dict[str, Any]]:
    made = {
        "bedrock": emulator.client("bedrock"),
        # One attempt: botocore's own retries would hide (and sleep through) the emulator's throttling.
        "runtime": emulator.client("bedrock-runtime", config=Config(retries={"total_max_attempts": 1})),
        "s3": emulator.client("s3"),
    }
    made["s3"].create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    yield made
    for client in made.values():
        client.close()


@pytest.fixture(scope="module")
def model_arn(emulator: LocalBedrock, clients: dict[str, Any]) -> str:
    """A custom model trained on tickets whose replies are their queue."""
    rows = [
        ("my card was charged twice this month", "billing"),
        ("the parcel never arrived at my door", "shipping"),
        ("the app crashes when I log in", "technical"),
    ]
    lines = [
        json.dumps(
            {"messages": [{"role": "user", "content": f"{text} ({i})"}, {"role": "assistant", "content": queue}]}
        )
        for i in range(12)
        for text, queue in rows
    ]
    _upload(clients["s3"], ("\n".join(lines) + "\n").encode())
    arn = _create(clients["bedrock"], "tickets", validation=False)
    assert _run_to_end(emulator, clients["bedrock"], arn, step=600)[-1][0] == "Completed"
    model: str = clients["bedrock"].get_custom_model(modelIdentifier="tickets-model")["modelArn"]
    return model


def _ask(runtime: Any, model_id: str, text: str, **extra: Any) -> dict[str, Any]:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, **extra}
    body["messages"] = [{"role": "user", "content": text}]
    response = runtime.invoke_model(modelId=model_id, body=json.dumps(body))
    parsed: dict[str, Any] = json.loads(response["body"].read())
    return parsed


def test_provisioned_throughput_lifecycle_meter_and_cap(
    emulator: LocalBedrock, clients: dict[str, Any], model_arn: str
) -> None:
    bedrock, runtime = clients["bedrock"], clients["runtime"]
    # A custom model does not answer on demand.
    with pytest.raises(ClientError) as on_demand:
        _ask(runtime, model_arn, "hello")
    assert on_demand.value.response["Error"]["Code"] == "ValidationException"

    pt = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="tickets-pt", modelId=model_arn)
    arn = pt["provisionedModelArn"]
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=arn)["status"] == "Creating"
    with pytest.raises(ClientError) as creating:
        _ask(runtime, arn, "hello")
    assert creating.value.response["Error"]["Code"] == "ValidationException"
    emulator.advance(600)
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=arn)["status"] == "InService"
    assert emulator.meter(arn) == pytest.approx(600 / 3600)

    # The default responder: the reply of the most similar training record.
    assert _ask(runtime, arn, "my card was charged twice")["content"][0]["text"] == "billing"
    assert _ask(runtime, arn, "the app crashes")["content"][0]["text"] == "technical"

    bedrock.update_provisioned_model_throughput(provisionedModelId=arn, desiredProvisionedModelName="tickets-pt-2")
    summaries = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    assert [(s["provisionedModelName"], s["status"]) for s in summaries] == [("tickets-pt-2", "InService")]

    # 5 calls per (real) second per model unit, then ThrottlingException (429).
    outcomes = []
    for _ in range(8):
        try:
            _ask(runtime, arn, "parcel")
            outcomes.append(("ok", 200))
        except ClientError as error:
            outcomes.append((error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]))
    first_throttle = outcomes.index(("ThrottlingException", 429))
    assert 1 <= first_throttle <= 5 and set(outcomes) == {("ok", 200), ("ThrottlingException", 429)}

    emulator.advance(3000)
    bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
    billed = emulator.meter(arn)
    assert billed == pytest.approx(1.0)  # one model unit for 3,600 emulated seconds
    emulator.advance(36_000)
    assert emulator.meter(arn) == billed  # deleted: the meter stopped
    assert bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []
    with pytest.raises(ClientError) as gone:
        _ask(runtime, arn, "hello")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_base_model_invoke_stream_converse_agree(emulator: LocalBedrock, clients: dict[str, Any]) -> None:
    runtime = clients["runtime"]
    invoked = _ask(runtime, HAIKU, "Where is my refund for order 1234?")
    text = invoked["content"][0]["text"]
    assert text.startswith("Thank you for your message") and invoked["stop_reason"] == "end_turn"
    assert invoked["usage"]["input_tokens"] > 0 and invoked["usage"]["output_tokens"] > 0

    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 200,
        "messages": [{"role": "user", "content": "Where is my refund for order 1234?"}],
    }
    stream = runtime.invoke_model_with_response_stream(modelId=HAIKU, body=json.dumps(body))
    events = [json.loads(event["chunk"]["bytes"]) for event in stream["body"]]
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    streamed = "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
    assert streamed == text

    conversed = runtime.converse(
        modelId=HAIKU, messages=[{"role": "user", "content": [{"text": "Where is my refund for order 1234?"}]}]
    )
    assert conversed["output"]["message"]["content"][0]["text"] == text
    assert conversed["stopReason"] == "end_turn" and conversed["usage"]["totalTokens"] > 0

    counted = runtime.count_tokens(modelId=HAIKU, input={"invokeModel": {"body": json.dumps(body).encode()}})
    assert counted["inputTokens"] == invoked["usage"]["input_tokens"]


def test_max_tokens_stop_sequences_and_responders(emulator: LocalBedrock, clients: dict[str, Any]) -> None:
    runtime = clients["runtime"]
    emulator.set_responder(HAIKU, lambda request: "one two three. STOP four five six seven eight nine ten")
    try:
        stopped = _ask(runtime, HAIKU, "q", stop_sequences=["STOP"])
        assert stopped["content"][0]["text"] == "one two three. "
        assert (stopped["stop_reason"], stopped["stop_sequence"]) == ("stop_sequence", "STOP")
        short = _ask(runtime, HAIKU, "q", max_tokens=2)
        assert short["stop_reason"] == "max_tokens" and short["usage"]["output_tokens"] <= 2
        assert "ten" not in short["content"][0]["text"]
    finally:
        emulator.set_responder(HAIKU, lambda request: f"echo: {request['messages'][-1]['content']}")
    assert _ask(runtime, HAIKU, "ping")["content"][0]["text"] == "echo: ping"
    with pytest.raises(ClientError) as bad:
        runtime.invoke_model(modelId=HAIKU, body=json.dumps({"messages": [{"role": "user", "content": "q"}]}))
    assert bad.value.response["Error"]["Code"] == "ValidationException"  # no max_tokens / anthropic_version
    with pytest.raises(ClientError) as unknown:
        _ask(runtime, "anthropic.no-such-model-v9:0", "q")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_the_throughput_cap_scales_with_model_units(
    emulator: LocalBedrock, clients: dict[str, Any], model_arn: str
) -> None:
    bedrock, runtime = clients["bedrock"], clients["runtime"]
    service = emulator._running_service()
    real = [500.0]  # the cap counts real seconds: a fake real clock makes it exact
    service.real_time = lambda: real[0]
    arn = bedrock.create_provisioned_model_throughput(
        modelUnits=2, provisionedModelName="two-units", modelId=model_arn
    )["provisionedModelArn"]
    try:
        emulator.advance(600)

        def burst(calls: int) -> list[str]:
            codes = []
            for _ in range(calls):
                try:
                    _ask(runtime, arn, "parcel")
                    codes.append("ok")
                except ClientError as error:
                    codes.append(error.response["Error"]["Code"])
            return codes

        assert burst(12) == ["ok"] * 10 + ["ThrottlingException"] * 2  # 5 per second per unit, 2 units
        real[0] += 0.5
        assert burst(1) == ["ThrottlingException"]  # the window is one second
        real[0] += 0.6
        assert burst(11) == ["ok"] * 10 + ["ThrottlingException"]
    finally:
        service.real_time = time.monotonic
        bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
