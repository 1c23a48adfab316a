"""The clients people use, pointed at LocalBedrock: boto3 (converse_stream, tools), the ``anthropic`` SDK's
``AnthropicBedrock`` (``base_url``) and langchain-aws (``ChatBedrock``, ``ChatBedrockConverse`` with a
Provisioned Throughput ARN and ``base_model_id``), text, tools and streaming.

Every client gets dummy credentials, one attempt and a bounded timeout, and talks to loopback only. A client
that is not installed skips its tests; CI installs the ``dev`` extra, which carries them.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.emulator.test_local_lifecycle import BUCKET, _create, _run_to_end, _upload

LOCAL_BEDROCK_OPTIONS = {"pt_ready_seconds": 60}
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}
ONE_ATTEMPT = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=20)


@pytest.fixture(scope="module")
def env(local: Any) -> Iterator[dict[str, str]]:
    """The process environment of a user whose code is pointed at the emulator (and nothing real)."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in local.session_env().items():
            patch.setenv(name, value)
        patch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "ANTHROPIC_BEDROCK_BASE_URL"):
            patch.delenv(name, raising=False)
        yield local.session_env()


@pytest.fixture(scope="module")
def runtime(env: dict[str, str]) -> Iterator[Any]:
    client = boto3.client("bedrock-runtime", config=ONE_ATTEMPT)
    yield client
    client.close()


@pytest.fixture(scope="module")
def pt_arn(local: Any, env: dict[str, str]) -> Iterator[str]:
    """An InService Provisioned Throughput over a custom model trained on tickets → queue replies."""
    bedrock, s3 = boto3.client("bedrock"), boto3.client("s3")
    rows = [("my card was charged twice", "billing"), ("the parcel never arrived", "shipping")]
    lines = [
        json.dumps({"messages": [{"role": "user", "content": f"{t} ({i})"}, {"role": "assistant", "content": q}]})
        for i in range(16)
        for t, q in rows
    ]
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    _upload(s3, ("\n".join(lines) + "\n").encode())
    job = _create(bedrock, "clients", validation=False)
    assert _run_to_end(local, bedrock, job, step=600)[-1][0] == "Completed"
    model = bedrock.get_custom_model(modelIdentifier="clients-model")["modelArn"]
    arn: str = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="clients-pt", modelId=model
    )["provisionedModelArn"]
    local.advance(60)
    yield arn
    bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
    for client in (bedrock, s3):
        client.close()


# -- boto3 ------------------------------------------------------------------------------------------------------


def test_boto3_converse_stream_on_a_deployment(runtime: Any, pt_arn: str) -> None:
    events = list(
        runtime.converse_stream(
            modelId=pt_arn, messages=[{"role": "user", "content": [{"text": "my card was charged twice"}]}]
        )["stream"]
    )
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == "billing"
    assert events[-1]["metadata"]["usage"]["inputTokens"] > 0


def test_boto3_converse_tool_round_trip(runtime: Any, pt_arn: str) -> None:
    config = {"tools": [{"toolSpec": {"name": "route_ticket", "inputSchema": {"json": WEATHER_SCHEMA}}}]}
    asked = [{"role": "user", "content": [{"text": "route_ticket: my card was charged twice"}]}]
    first = runtime.converse(modelId=pt_arn, messages=asked, toolConfig=config)
    assert first["stopReason"] == "tool_use"
    use = first["output"]["message"]["content"][0]["toolUse"]
    result = {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "queued"}]}}
    second = runtime.converse(
        modelId=pt_arn,
        messages=[*asked, first["output"]["message"], {"role": "user", "content": [result]}],
        toolConfig=config,
    )
    assert second["stopReason"] == "end_turn"


# -- anthropic's AnthropicBedrock -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def anthropic_client(local: Any, env: dict[str, str]) -> Iterator[Any]:
    anthropic = pytest.importorskip("anthropic")
    client = anthropic.AnthropicBedrock(
        aws_access_key=env["AWS_ACCESS_KEY_ID"],
        aws_secret_key=env["AWS_SECRET_ACCESS_KEY"],
        aws_region=env["AWS_REGION"],
        base_url=local.endpoint_url,
        max_retries=0,
        timeout=20.0,
    )
    yield client
    client.close()


def test_anthropic_bedrock_messages_create_with_default_settings(anthropic_client: Any, pt_arn: str) -> None:
    message = anthropic_client.messages.create(
        model=pt_arn, max_tokens=100, messages=[{"role": "user", "content": "the parcel never arrived"}]
    )
    assert message.content[0].text == "shipping" and message.stop_reason == "end_turn"
    assert message.id.startswith("msg_bdrk_01") and message.usage.output_tokens > 0


def test_anthropic_bedrock_tools(anthropic_client: Any, pt_arn: str) -> None:
    tools = [{"name": "get_weather", "description": "Weather", "input_schema": WEATHER_SCHEMA}]
    asked = [{"role": "user", "content": "What does get_weather say for Oslo?"}]
    first = anthropic_client.messages.create(model=pt_arn, max_tokens=200, messages=asked, tools=tools)
    assert first.stop_reason == "tool_use"
    (call,) = [block for block in first.content if block.type == "tool_use"]
    assert call.name == "get_weather" and call.input == {"city": "example", "days": 1}
    turn = [
        *asked,
        {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "-3C"}]},
    ]
    second = anthropic_client.messages.create(model=pt_arn, max_tokens=200, messages=turn, tools=tools)
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"


def test_anthropic_bedrock_stream(anthropic_client: Any, pt_arn: str) -> None:
    with anthropic_client.messages.stream(
        model=pt_arn, max_tokens=100, messages=[{"role": "user", "content": "my card was charged twice"}]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "billing" and final.usage.output_tokens > 0
    with anthropic_client.messages.stream(
        model=pt_arn,
        max_tokens=100,
        messages=[{"role": "user", "content": "hello"}],
        tools=[{"name": "get_weather", "input_schema": WEATHER_SCHEMA}],
        tool_choice={"type": "any"},
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use" and final.content[-1].input == {"city": "example", "days": 1}


# -- langchain-aws ------------------------------------------------------------------------------------------------


def _usage(message: Any) -> tuple[int, int]:
    usage = message.usage_metadata or {}
    return usage.get("input_tokens", 0), usage.get("output_tokens", 0)


def test_langchain_chat_bedrock_converse_on_a_deployment(local: Any, env: dict[str, str], pt_arn: str) -> None:
    langchain_aws = pytest.importorskip("langchain_aws")
    llm = langchain_aws.ChatBedrockConverse(
        model=pt_arn,
        provider="anthropic",
        base_model_id=HAIKU,
        region_name=env["AWS_REGION"],
        endpoint_url=local.endpoint_url,
        config=ONE_ATTEMPT,
    )
    reply = llm.invoke("my card was charged twice")
    assert reply.content == "billing" and min(_usage(reply)) > 0
    chunks = list(llm.stream("the parcel never arrived"))
    merged = sum(chunks[1:], chunks[0])
    assert merged.text == "shipping" and min(_usage(merged)) > 0

    def get_weather(city: str, days: int) -> str:
        """The weather in a city for some days."""
        return "sunny"

    called = llm.bind_tools([get_weather], tool_choice="any").invoke("hello")
    assert [call["name"] for call in called.tool_calls] == ["get_weather"]
    assert called.tool_calls[0]["args"] == {"city": "example", "days": 1}


def test_langchain_chat_bedrock_usage_from_headers_and_stream(local: Any, env: dict[str, str], pt_arn: str) -> None:
    langchain_aws = pytest.importorskip("langchain_aws")
    llm = langchain_aws.ChatBedrock(
        model_id=pt_arn,
        provider="anthropic",
        base_model_id=HAIKU,
        region_name=env["AWS_REGION"],
        endpoint_url=local.endpoint_url,
        config=ONE_ATTEMPT,
    )
    reply = llm.invoke("my card was charged twice")
    assert reply.content == "billing" and min(_usage(reply)) > 0  # ChatBedrock reads the token-count headers
    chunks = list(llm.stream("the parcel never arrived"))
    merged = sum(chunks[1:], chunks[0])
    assert merged.content == "shipping" and min(_usage(merged)) > 0
