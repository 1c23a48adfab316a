"""ToolCallMatch: score whether a model called the right tool with the right arguments.

The expected call is fixed on the scorer (``tool=``, ``arguments=`` or ``schema=``) or read per example from the
reference, a JSON object ``{"name": ..., "input": {...}}``. Arguments match expected values exactly or as a subset,
or conform to a JSON Schema (the ``eval`` extra, ``jsonschema``, imported lazily when a schema is used).

`ToolCallMatch.score_calls` scores the calls on a ``Completion`` (``Completion.tool_calls``);
``evaluate(..., tools=[...])`` hands it each reply's native calls; an output without any is read as text (a JSON
``{"name", "input"}`` object or a list of them), so replies that write their calls out can be scored too.
This module never calls a model and never imports the runtime.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from ..errors import MissingExtraError
from ..tools import ToolCall
from .scorers import JsonSchema, Score, Scorer, ScoringItem

__all__ = ["ToolCallMatch"]

Match = Literal["exact", "subset"]


def _schema_check(schema: Mapping[str, Any]) -> JsonSchema:
    """The argument check: `JsonSchema`'s validation, with the missing-extra error naming this scorer."""
    try:
        return JsonSchema(schema, strip_code_fence=False)
    except MissingExtraError as error:
        raise MissingExtraError("ToolCallMatch(schema=...)", "eval", "jsonschema") from error


def _calls_from_text(text: str) -> tuple[list[ToolCall], str | None]:
    """Decode tool calls written as JSON text; return (calls, error)."""
    try:
        document = json.loads(text)
    except ValueError as error:
        return [], f"the output is not JSON tool calls: {error}"
    items = document if isinstance(document, list) else [document]
    calls = []
    for item in items:
        if not (isinstance(item, Mapping) and isinstance(item.get("name"), str)):
            return [], "each tool call must be a JSON object with a string 'name'"
        arguments = item.get("input", {})
        if not isinstance(arguments, Mapping):
            return [], f"tool call {item['name']!r}: 'input' must be a JSON object"
        calls.append(ToolCall(str(item.get("id", "")), item["name"], dict(arguments)))
    return calls, None


def _subset_mismatches(expected: Mapping[str, Any], actual: Mapping[str, Any], path: str = "") -> list[str]:
    problems = []
    for key, want in expected.items():
        where = f"{path}{key}"
        if key not in actual:
            problems.append(f"{where}: missing")
        elif isinstance(want, Mapping) and isinstance(actual[key], Mapping):
            problems += _subset_mismatches(want, actual[key], f"{where}/")
        elif actual[key] != want:
            problems.append(f"{where}: expected {want!r}, got {actual[key]!r}")
    return problems


class ToolCallMatch(Scorer):
    """1.0 when the model called the expected tool and its arguments match, else 0.0 (the reason is kept).

    Args:
        tool: The tool that must be called; ``None`` reads ``{"name", "input"}`` from each example's reference.
        arguments: Expected argument values (with ``match``); ``None`` with no schema checks the tool only
            (unless the reference gives an ``input``).
        schema: A JSON Schema the arguments must conform to (needs the ``eval`` extra); not with ``arguments``.
        match: ``"exact"`` (the arguments equal the expected ones) or ``"subset"`` (the expected keys are
            present with those values, nested objects compared the same way; extra keys allowed).
        allow_multiple: Accept several calls when one of them matches (default: exactly one call is expected).
        name: The report column (default ``"tool_call"``).

    Raises:
        ValueError: A bad configuration (one line naming the parameter).
        MissingExtraError: ``schema`` given and ``jsonschema`` is not installed.

    Example:
        >>> from haiku_finetune.tools import ToolCall
        >>> scorer = ToolCallMatch(tool="get_weather", arguments={"city": "Oslo"}, match="subset")
        >>> scorer.score_calls([ToolCall("toolu_1", "get_weather", {"city": "Oslo", "days": 2})]).value
        1.0
    """

    def __init__(
        self,
        tool: str | None = None,
        *,
        arguments: Mapping[str, Any] | None = None,
        schema: Mapping[str, Any] | None = None,
        match: Match = "exact",
        allow_multiple: bool = False,
        name: str = "tool_call",
    ) -> None:
        if match not in ("exact", "subset"):
            raise ValueError(f"ToolCallMatch: match must be 'exact' or 'subset', got {match!r}")
        if arguments is not None and schema is not None:
            raise ValueError("ToolCallMatch: give arguments= (expected values) or schema= (a JSON Schema), not both")
        if tool is not None and (not isinstance(tool, str) or not tool):
            raise ValueError(f"ToolCallMatch: tool must be a tool's name, got {tool!r}")
        if arguments is not None and not isinstance(arguments, Mapping):
            raise ValueError(f"ToolCallMatch: arguments must be a dict, got {type(arguments).__name__}")
        if tool is None and (arguments is not None or schema is not None):
            raise ValueError("ToolCallMatch: arguments= or schema= need tool= (else the reference names the call)")
        self.tool = tool
        self.arguments = None if arguments is None else dict(arguments)
        self.match: Match = match
        self.allow_multiple = allow_multiple
        self.name = name
        self._schema = None if schema is None else _schema_check(schema)

    def _expected(self, reference: str) -> tuple[str, dict[str, Any] | None]:
        if self.tool is not None:
            return self.tool, self.arguments
        calls, error = _calls_from_text(reference)
        if error or len(calls) != 1:
            raise ValueError(
                f"ToolCallMatch without tool=: the reference must be one JSON tool call "
                f'{{"name": ..., "input": {{...}}}}, got {reference[:80]!r}'
            )
        document = json.loads(reference)
        return calls[0].name, (calls[0].input if "input" in document else None)

    def _argument_problems(self, expected: dict[str, Any] | None, actual: dict[str, Any]) -> list[str]:
        if self._schema is not None:
            verdict = self._schema.score(json.dumps(actual), "")
            return [] if verdict.value == 1.0 else list(verdict.detail.get("errors", []))
        if expected is None:
            return []
        if self.match == "subset":
            return _subset_mismatches(expected, actual)
        return [] if actual == expected else [f"arguments: expected {expected!r}, got {actual!r}"]

    def score_calls(self, calls: Sequence[ToolCall] | Any, reference: str = "") -> Score:
        """Score the tool calls a model made (a sequence of `ToolCall`, or a ``Completion``)."""
        found: Sequence[ToolCall] = getattr(calls, "tool_calls", calls)
        tool, expected = self._expected(reference)
        called = [call.name for call in found]
        detail: dict[str, Any] = {"expected_tool": tool, "called": called}
        if not found:
            return Score(0.0, {**detail, "right_tool": False, "reason": "no tool call"})
        if len(found) > 1 and not self.allow_multiple:
            return Score(
                0.0, {**detail, "right_tool": tool in called, "reason": f"{len(found)} tool calls, one expected"}
            )
        candidates = [call for call in found if call.name == tool]
        if not candidates:
            return Score(0.0, {**detail, "right_tool": False, "reason": f"called {called}, not {tool!r}"})
        problems: list[str] = []
        for call in candidates:
            problems = self._argument_problems(expected, call.input)
            if not problems:
                return Score(1.0, {**detail, "right_tool": True})
        return Score(0.0, {**detail, "right_tool": True, "reason": "arguments do not match", "errors": problems[:5]})

    def score_many(self, items: Sequence[ScoringItem]) -> list[Score]:
        """Score each item's native tool calls; an item without any is read as JSON text (`score`)."""
        return [
            self.score_calls(item.tool_calls, item.reference)
            if item.tool_calls
            else self.score(item.output, item.reference)
            for item in items
        ]

    def score(self, output: str, reference: str) -> Score:
        """Score tool calls written in ``output`` as JSON (one ``{"name", "input"}`` object or a list)."""
        if not output.strip():
            return self.score_calls([], reference)
        calls, error = _calls_from_text(output)
        if error:
            tool, _ = self._expected(reference)
            return Score(0.0, {"expected_tool": tool, "called": [], "right_tool": False, "reason": error})
        return self.score_calls(calls, reference)

    def aggregate(self, items: Sequence[ScoringItem], scores: Sequence[Score]) -> dict[str, Any]:
        """The share of outputs that called the right tool (whatever their arguments)."""
        if not scores:
            return {}
        return {"right_tool_rate": sum(bool(s.detail.get("right_tool")) for s in scores) / len(scores)}
