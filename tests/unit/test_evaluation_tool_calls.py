"""ToolCallMatch: right tool, wrong tool, no call, several calls, argument and schema mismatches, bad config."""

from __future__ import annotations

import builtins
import json
from typing import Any

import pytest

from haiku_finetune.errors import MissingExtraError
from haiku_finetune.evaluation import ToolCallMatch
from haiku_finetune.model import FineTunedModel
from haiku_finetune.tools import Tool, ToolCall

WEATHER_ARGS = {"city": "Oslo", "days": 2}
CALL = ToolCall("toolu_1", "get_weather", WEATHER_ARGS)
SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer", "minimum": 1}},
    "required": ["city"],
}


def test_right_tool_and_exact_arguments() -> None:
    assert ToolCallMatch("get_weather", arguments=WEATHER_ARGS).score_calls([CALL]).value == 1.0
    assert ToolCallMatch("get_weather").score_calls([CALL]).value == 1.0  # the tool only


def test_wrong_tool_and_no_call() -> None:
    wrong = ToolCallMatch("find_order").score_calls([CALL])
    assert wrong.value == 0.0 and wrong.detail["right_tool"] is False and "find_order" in wrong.detail["reason"]
    none = ToolCallMatch("get_weather").score_calls([])
    assert none.value == 0.0 and none.detail["reason"] == "no tool call"


def test_multiple_calls_need_allow_multiple() -> None:
    calls = [ToolCall("toolu_0", "find_order", {}), CALL]
    refused = ToolCallMatch("get_weather").score_calls(calls)
    assert refused.value == 0.0 and "2 tool calls" in refused.detail["reason"]
    assert ToolCallMatch("get_weather", allow_multiple=True).score_calls(calls).value == 1.0


def test_argument_mismatch_exact_and_subset() -> None:
    exact = ToolCallMatch("get_weather", arguments={"city": "Oslo"})
    assert exact.score_calls([CALL]).value == 0.0  # the extra "days" breaks an exact match
    subset = ToolCallMatch("get_weather", arguments={"city": "Oslo"}, match="subset")
    assert subset.score_calls([CALL]).value == 1.0
    wrong = ToolCallMatch("get_weather", arguments={"city": "Paris"}, match="subset").score_calls([CALL])
    assert wrong.value == 0.0 and wrong.detail["errors"] == ["city: expected 'Paris', got 'Oslo'"]
    nested = ToolCallMatch("t", arguments={"a": {"b": 1}}, match="subset")
    assert nested.score_calls([ToolCall("x", "t", {"a": {"b": 1, "c": 2}})]).value == 1.0
    assert nested.score_calls([ToolCall("x", "t", {"a": {"b": 2}})]).detail["errors"] == ["a/b: expected 1, got 2"]


def test_schema_match_and_mismatch() -> None:
    pytest.importorskip("jsonschema")
    scorer = ToolCallMatch("get_weather", schema=SCHEMA)
    assert scorer.score_calls([CALL]).value == 1.0
    bad = scorer.score_calls([ToolCall("x", "get_weather", {"days": 0})])
    assert bad.value == 0.0 and any("city" in e for e in bad.detail["errors"])
    assert any(e.startswith("days:") for e in bad.detail["errors"])


def test_schema_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_jsonschema(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "jsonschema":
            raise ImportError("No module named 'jsonschema'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_jsonschema)
    with pytest.raises(MissingExtraError, match=r"ToolCallMatch.*pip install 'haiku-finetune\[eval\]'"):
        ToolCallMatch("get_weather", schema=SCHEMA)
    assert ToolCallMatch("get_weather").score_calls([CALL]).value == 1.0  # no schema: no import


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tool": "t", "arguments": {}, "schema": {"type": "object"}}, "not both"),
        ({"tool": "t", "match": "fuzzy"}, "match must be"),
        ({"tool": ""}, "tool must be"),
        ({"arguments": {"a": 1}}, "need tool="),
        ({"tool": "t", "arguments": ["a"]}, "arguments must be a dict"),
    ],
)
def test_bad_config_is_one_clear_error(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message) as error:
        ToolCallMatch(**kwargs)
    assert str(error.value).startswith("ToolCallMatch:") and "\n" not in str(error.value)


def test_expected_call_from_the_reference() -> None:
    scorer = ToolCallMatch()
    reference = json.dumps({"name": "get_weather", "input": WEATHER_ARGS})
    assert scorer.score_calls([CALL], reference).value == 1.0
    assert scorer.score_calls([ToolCall("x", "get_weather", {})], reference).value == 0.0
    assert scorer.score_calls([CALL], '{"name": "get_weather"}').value == 1.0  # no input: the tool only
    with pytest.raises(ValueError, match="reference must be one JSON tool call"):
        scorer.score_calls([CALL], "plain text")


def test_score_reads_json_calls_from_text() -> None:
    scorer = ToolCallMatch("get_weather", arguments=WEATHER_ARGS)
    assert scorer.score(json.dumps({"name": "get_weather", "input": WEATHER_ARGS}), "").value == 1.0
    assert scorer.score(json.dumps([{"name": "get_weather", "input": WEATHER_ARGS}]), "").value == 1.0
    assert scorer.score("", "").detail["reason"] == "no tool call"
    assert scorer.score("It is sunny.", "").detail["reason"].startswith("the output is not JSON tool calls")


def test_end_to_end_against_local_bedrock(local: Any) -> None:
    """A responder decides the calls; the batch's completions are scored and aggregated."""
    from haiku_finetune.local.tools import ToolCall as Decision

    local.faults = None
    tools = [
        Tool("get_weather", "The weather in a city", SCHEMA),
        Tool("find_order", "Find an order", {"type": "object", "properties": {"id": {"type": "string"}}}),
    ]

    def responder(request: dict[str, Any]) -> Any:
        text = str(request["messages"][-1]["content"])
        if "order" in text:
            return Decision("find_order", {"id": "A-17"})
        if "weather" in text:
            return Decision("get_weather", {"city": text.split()[-1]})
        return "I cannot help with that."

    model = FineTunedModel.base(transport=local.transport())
    local.set_responder(model.model_id, responder)
    prompts = ["weather in Oslo", "weather in Paris", "where is my order", "tell me a joke"]
    completions = model.batch(prompts, tools=tools, progress=False)
    scorer = ToolCallMatch("get_weather", arguments={"city": "Oslo"}, match="subset")
    scores = [scorer.score_calls(c) for c in completions]
    assert [s.value for s in scores] == [1.0, 0.0, 0.0, 0.0]
    assert [s.detail["called"] for s in scores] == [["get_weather"], ["get_weather"], ["find_order"], []]
    assert scorer.aggregate([], scores) == {"right_tool_rate": 0.5}


def test_evaluate_scores_native_tool_calls(local: Any) -> None:
    """evaluate(tools=...) passes the tools on and ToolCallMatch scores each reply's calls, not its text."""
    from haiku_finetune.evaluation import evaluate
    from haiku_finetune.local.tools import ToolCall as Decision

    local.faults = None
    tools = [Tool("get_weather", "The weather in a city", SCHEMA)]

    def responder(request: dict[str, Any]) -> Any:
        assert [t["name"] for t in request.get("tools", [])] == ["get_weather"]
        text = str(request["messages"][-1]["content"])
        return Decision("get_weather", {"city": text.split()[-1]}) if "weather" in text else "No tool for that."

    model = FineTunedModel.base(transport=local.transport())
    local.set_responder(model.model_id, responder)
    reference = json.dumps({"name": "get_weather", "input": {"city": "Oslo"}})
    records = [
        {"messages": [{"role": "user", "content": f"weather in {city}"}, {"role": "assistant", "content": reference}]}
        for city in ("Oslo", "Paris")
    ] + [{"messages": [{"role": "user", "content": "a joke"}, {"role": "assistant", "content": reference}]}]
    report = evaluate({"base": model}, records, scorers=[ToolCallMatch(match="subset")], tools=tools, progress=False)
    outputs = [row.outputs["base"] for row in report.rows]
    assert [o.scores["tool_call"] for o in outputs] == [1.0, 0.0, 0.0]
    assert outputs[0].tool_calls[0]["name"] == "get_weather"
    assert outputs[0].tool_calls[0]["input"] == {"city": "Oslo"}
    assert report.aggregates["base"]["tool_call"]["right_tool_rate"] == pytest.approx(2 / 3)
