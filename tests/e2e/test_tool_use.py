"""Tool use end to end on LocalBedrock: tools go out typed, tool calls come back on Completion, results go back."""

from __future__ import annotations

from typing import Any

import pytest

from haiku_finetune.model import BASE_INVOKE_MODEL_ID, FineTunedModel
from haiku_finetune.tools import Tool, ToolResult

WEATHER = Tool(
    "get_weather",
    "The weather in a city",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
ASK = "What does get_weather say for Paris?"


@pytest.fixture
def model(local: Any) -> FineTunedModel:
    local.faults = None
    return FineTunedModel.base(transport=local.transport())


@pytest.mark.parametrize("how", ["invoke", "converse"])
def test_tool_round_trip(model: FineTunedModel, how: str) -> None:
    call = getattr(model, how)
    first = call(ASK, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    assert [(c.name, c.input) for c in first.tool_calls] == [("get_weather", {"city": "example"})]
    messages = [
        {"role": "user", "content": ASK},
        first.as_message(),
        {"role": "user", "content": [ToolResult(first.tool_calls[0].id, "22 C")]},
    ]
    second = call(messages, tools=[WEATHER])
    assert second.stop_reason == "end_turn" and not second.tool_calls
    assert "22 C" in second.text


def test_stream_assembles_the_tool_call(model: FineTunedModel) -> None:
    stream = model.stream("hi", tools=[WEATHER], tool_choice="get_weather")
    assert list(stream) == []
    assert stream.completion.stop_reason == "tool_use"
    assert [(c.name, c.input) for c in stream.completion.tool_calls] == [("get_weather", {"city": "example"})]


def test_batch_returns_tool_calls(model: FineTunedModel) -> None:
    results = model.batch(["a", "b"], tools=[WEATHER], tool_choice="any", progress=False)
    assert [[c.name for c in r.tool_calls] for r in results] == [["get_weather"], ["get_weather"]]


def test_bad_tools_refused_before_sending() -> None:
    with pytest.raises(ValueError, match="pattern"):
        Tool("bad name", "", {"type": "object"})
    with pytest.raises(ValueError, match="object schema"):
        Tool("ok", "", {"type": "string"})
    model = FineTunedModel(BASE_INVOKE_MODEL_ID)
    with pytest.raises(ValueError, match="unique"):
        model.request_body("x", tools=[WEATHER, WEATHER])
    with pytest.raises(ValueError, match="neither"):
        model.request_body("x", tools=[WEATHER], tool_choice="other")
