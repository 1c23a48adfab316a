"""Tool use in LocalBedrock, through plain boto3: InvokeModel tools/tool_choice and tool_use blocks, Converse
toolConfig and toolUse blocks, tool results in the next turn, the deterministic default, user responders that
call tools, and streamed tool calls (input_json_delta / toolUse deltas)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from haiku_finetune.local import LocalBedrock
from haiku_finetune.local.tools import ToolCall, placeholder

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"
WEATHER = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "days": {"type": "integer"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "note": {"type": "string"},
        },
        "required": ["city", "days", "unit"],
    },
}
ORDER = {"name": "find_order", "input_schema": {"type": "object", "properties": {"id": {"type": "string"}}}}
PLACEHOLDERS = {"city": "example", "days": 1, "unit": "celsius"}


@pytest.fixture(scope="module")
def emulator() -> Iterator[LocalBedrock]:
    with LocalBedrock() as local:
        yield local


@pytest.fixture(scope="module")
def runtime(emulator: LocalBedrock) -> Iterator[Any]:
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=emulator.endpoint_url,
        region_name="us-west-2",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=20),
    )
    yield client
    client.close()


def _invoke(runtime: Any, messages: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 300, "messages": messages, **extra}
    parsed: dict[str, Any] = json.loads(runtime.invoke_model(modelId=HAIKU, body=json.dumps(body))["body"].read())
    return parsed


def _refused(runtime: Any, body: dict[str, Any]) -> str:
    with pytest.raises(ClientError) as refused:
        runtime.invoke_model(modelId=HAIKU, body=json.dumps(body))
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return str(refused.value.response["Error"]["Message"])


def test_invoke_model_calls_a_named_tool_then_answers_its_result(runtime: Any) -> None:
    asked = [{"role": "user", "content": "What does get_weather say for Paris?"}]
    first = _invoke(runtime, asked, tools=[ORDER, WEATHER])
    assert first["stop_reason"] == "tool_use"
    (call,) = [block for block in first["content"] if block["type"] == "tool_use"]
    assert call["name"] == "get_weather" and call["input"] == PLACEHOLDERS
    assert re.fullmatch(r"toolu_bdrk_01[0-9A-Za-z]{22}", call["id"])
    assert first["usage"]["output_tokens"] > 0

    turn = [
        *asked,
        {"role": "assistant", "content": first["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call["id"], "content": "18C and sunny"}]},
    ]
    second = _invoke(runtime, turn, tools=[ORDER, WEATHER])
    assert second["stop_reason"] == "end_turn"
    assert [block["type"] for block in second["content"]] == ["text"]
    assert "18C and sunny" in second["content"][0]["text"]


def test_tool_choice_decides_whether_a_tool_is_called(runtime: Any) -> None:
    plain = [{"role": "user", "content": "Hello there"}]
    assert _invoke(runtime, plain, tools=[WEATHER])["stop_reason"] == "end_turn"  # auto, no tool named
    forced = _invoke(runtime, plain, tools=[ORDER, WEATHER], tool_choice={"type": "any"})
    assert forced["stop_reason"] == "tool_use" and forced["content"][-1]["name"] == "find_order"
    assert forced["content"][-1]["input"] == {}  # no required properties
    named = _invoke(runtime, plain, tools=[ORDER, WEATHER], tool_choice={"type": "tool", "name": "get_weather"})
    assert named["content"][-1]["name"] == "get_weather" and named["content"][-1]["input"] == PLACEHOLDERS
    none = _invoke(
        runtime, [{"role": "user", "content": "use get_weather"}], tools=[WEATHER], tool_choice={"type": "none"}
    )
    assert none["stop_reason"] == "end_turn"


def test_a_user_responder_decides_tool_calls(emulator: LocalBedrock, runtime: Any) -> None:
    def responder(request: dict[str, Any]) -> Any:
        last = request["messages"][-1]["content"]
        if isinstance(last, list) and last[0]["type"] == "tool_result":
            return "It is " + last[0]["content"]
        if "order" in str(last):
            return {"tool_use": {"name": "find_order", "input": {"id": "A-17"}}, "text": "Let me look."}
        return ToolCall("get_weather", {"city": "Oslo", "days": 2, "unit": "celsius"})

    emulator.set_responder(HAIKU, responder)
    try:
        found = _invoke(runtime, [{"role": "user", "content": "where is my order?"}], tools=[ORDER, WEATHER])
        assert [b["type"] for b in found["content"]] == ["text", "tool_use"]
        assert found["content"][0]["text"] == "Let me look." and found["content"][1]["input"] == {"id": "A-17"}
        weather = _invoke(runtime, [{"role": "user", "content": "hi"}], tools=[WEATHER])
        assert weather["content"][0]["input"]["city"] == "Oslo"
        # A responder that calls a tool the request does not offer is the test's bug: a clear 424.
        with pytest.raises(ClientError) as wrong:
            _invoke(runtime, [{"role": "user", "content": "hi"}], tools=[ORDER])
        assert wrong.value.response["Error"]["Code"] == "ModelErrorException"
        assert "get_weather" in wrong.value.response["Error"]["Message"]

        conversed = runtime.converse(
            modelId=HAIKU,
            messages=[{"role": "user", "content": [{"text": "where is my order?"}]}],
            toolConfig={
                "tools": [{"toolSpec": {"name": "find_order", "inputSchema": {"json": ORDER["input_schema"]}}}]
            },
        )
        assert conversed["stopReason"] == "tool_use"
        use = conversed["output"]["message"]["content"][1]["toolUse"]
        assert use["name"] == "find_order" and use["input"] == {"id": "A-17"}
    finally:
        emulator.set_responder(HAIKU, lambda request: "plain")


def _weather_config(**choice: Any) -> dict[str, Any]:
    spec = {
        "name": WEATHER["name"],
        "description": WEATHER["description"],
        "inputSchema": {"json": WEATHER["input_schema"]},
    }
    return {"tools": [{"toolSpec": spec}], **({"toolChoice": choice} if choice else {})}


def test_converse_honours_tool_config_and_takes_tool_results_back(emulator: LocalBedrock, runtime: Any) -> None:
    emulator._running_service().responders.pop(HAIKU, None)  # the default responder
    asked = [{"role": "user", "content": [{"text": "Weather for Paris please"}]}]
    first = runtime.converse(modelId=HAIKU, messages=asked, toolConfig=_weather_config(any={}))
    assert first["stopReason"] == "tool_use"
    (block,) = first["output"]["message"]["content"]
    use = block["toolUse"]
    assert use["name"] == "get_weather" and use["input"] == PLACEHOLDERS
    assert re.fullmatch(r"tooluse_[0-9A-Za-z]{22}", use["toolUseId"])

    result = {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"json": {"temperature": 18}}]}}
    second = runtime.converse(
        modelId=HAIKU,
        messages=[*asked, first["output"]["message"], {"role": "user", "content": [result]}],
        toolConfig=_weather_config(),
    )
    assert second["stopReason"] == "end_turn" and "temperature" in second["output"]["message"]["content"][0]["text"]
    # Converse's own rule: tool blocks need a toolConfig.
    with pytest.raises(ClientError) as missing:
        runtime.converse(
            modelId=HAIKU, messages=[*asked, first["output"]["message"], {"role": "user", "content": [result]}]
        )
    assert "toolConfig" in missing.value.response["Error"]["Message"]


def test_streams_carry_tool_calls(emulator: LocalBedrock, runtime: Any) -> None:
    emulator._running_service().responders.pop(HAIKU, None)
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": "Call get_weather"}],
        "tools": [WEATHER],
    }
    chunks = runtime.invoke_model_with_response_stream(modelId=HAIKU, body=json.dumps(body))["body"]
    events = [json.loads(event["chunk"]["bytes"]) for event in chunks]
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [s["content_block"]["type"] for s in starts] == ["tool_use"]
    assert starts[0]["content_block"]["input"] == {} and starts[0]["content_block"]["name"] == "get_weather"
    partial = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    assert {d["type"] for d in partial} == {"input_json_delta"} and len(partial) > 1
    assert json.loads("".join(d["partial_json"] for d in partial)) == PLACEHOLDERS
    assert [e["delta"]["stop_reason"] for e in events if e["type"] == "message_delta"] == ["tool_use"]

    stream = runtime.converse_stream(
        modelId=HAIKU,
        messages=[{"role": "user", "content": [{"text": "Call get_weather"}]}],
        toolConfig=_weather_config(),
    )["stream"]
    conversed = list(stream)
    start = [e["contentBlockStart"] for e in conversed if "contentBlockStart" in e]
    assert [s["start"]["toolUse"]["name"] for s in start] == ["get_weather"]
    pieces = [e["contentBlockDelta"]["delta"]["toolUse"]["input"] for e in conversed if "contentBlockDelta" in e]
    assert json.loads("".join(pieces)) == PLACEHOLDERS
    assert conversed[-2]["messageStop"]["stopReason"] == "tool_use"


def test_the_body_check_accepts_what_the_service_accepts(runtime: Any) -> None:
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}
    accepted = _invoke(
        runtime,
        [{"role": "user", "content": [{"type": "text", "text": "describe"}, image]}],
        anthropic_version="2026-10-21",  # what anthropic 2.16's AnthropicBedrock sends by default
        anthropic_beta=["token-efficient-tools-2025-02-19"],
        system=[{"type": "text", "text": "Be brief."}],
        top_k=40,
        top_p=0.9,
        temperature=0.2,
        stop_sequences=["\n\nHuman:"],
        tools=[WEATHER],
        tool_choice={"type": "auto", "disable_parallel_tool_use": True},
    )
    assert accepted["type"] == "message"


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"metadata": {"user_id": "u1"}}, "extraneous key [metadata]"),
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "extraneous key [thinking]"),
        ({"anthropic_version": "bedrock-latest"}, "anthropic_version"),
        ({"max_tokens": 4097}, "max_tokens"),
        ({"top_k": -1}, "top_k"),
        ({"tool_choice": {"type": "any"}}, "tool_choice may only be specified while providing tools"),
        ({"tools": [{"name": "bad name!", "input_schema": {"type": "object"}}]}, "tools.0.name"),
        ({"tools": [{"name": "x"}]}, "tools.0.input_schema"),
        ({"tools": [WEATHER], "tool_choice": {"type": "tool", "name": "nope"}}, "Tool 'nope' not found"),
        ({"messages": [{"role": "user", "content": [{"type": "video", "url": "x"}]}]}, "Input tag 'video'"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "a", "colour": 1}]}]}, "colour"),
        (
            {"messages": [{"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_x"}]}]},
            "unexpected `tool_use_id`",
        ),
        (
            {
                "tools": [WEATHER],
                "messages": [
                    {"role": "user", "content": "q"},
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}],
                    },
                    {"role": "user", "content": "never mind"},
                ],
            },
            "without `tool_result` blocks",
        ),
    ],
)
def test_the_body_check_refuses_the_rest_like_the_service(runtime: Any, change: dict[str, Any], says: str) -> None:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": [{"role": "user", "content": "q"}]}
    assert says in _refused(runtime, {**body, **change})


def test_placeholders_are_typed_and_deterministic() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2},
            "ratio": {"type": "number"},
            "ok": {"type": "boolean"},
            "where": {"type": "object", "properties": {"zip": {"type": "string", "minLength": 9}}, "required": ["zip"]},
            "maybe": {"type": ["null", "integer"], "minimum": 5},
            "skipped": {"type": "string"},
        },
        "required": ["tags", "ratio", "ok", "where", "maybe"],
    }
    expected = {"tags": ["example", "example"], "ratio": 1.0, "ok": True, "where": {"zip": "examplexx"}, "maybe": 5}
    assert placeholder(schema) == expected == placeholder(schema)
