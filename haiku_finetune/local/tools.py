"""Tool use in the emulated runtime: what a responder may return, and the deterministic default tool call.

A responder answers text (a ``str``) or a tool call: a `ToolCall`, or the plain dict
``{"tool_use": {"name": ..., "input": {...}}}`` (optionally with ``"text"`` said before the call). The default
responders call a tool when the request forces one (``tool_choice`` ``any`` or ``tool``) or when the last user
message names a tool, with arguments built from the tool's input schema: every required property filled with a
typed placeholder. After tool results come back they answer text. This module decides nothing about HTTP or
wire shapes; ``runtime.py`` and ``converse.py`` turn its calls into the service's blocks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["ToolCall", "default_tool_call", "placeholder", "reply_parts", "service_id"]

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


@dataclass(frozen=True)
class ToolCall:
    """A responder's decision to call a tool.

    Args:
        name: The tool's name (one of the request's tools).
        input: The arguments, a JSON object.
        text: Text the model says before the call (may be empty).
    """

    name: str
    input: Mapping[str, Any] = field(default_factory=dict)
    text: str = ""


def reply_parts(reply: Any) -> tuple[str, tuple[ToolCall, ...]]:
    """Split a responder's return value into (text, tool calls).

    Raises:
        TypeError: The value is none of ``str``, `ToolCall`, ``{"tool_use": {...}}`` or a list of calls.
    """
    if isinstance(reply, str):
        return reply, ()
    if isinstance(reply, ToolCall):
        return reply.text, (reply,)
    if isinstance(reply, Mapping) and isinstance(reply.get("tool_use"), Mapping):
        call = reply["tool_use"]
        text = reply.get("text", "")
        return str(text), (ToolCall(str(call["name"]), dict(call.get("input") or {}), str(text)),)
    if isinstance(reply, Sequence) and reply and all(isinstance(item, ToolCall) for item in reply):
        return reply[0].text, tuple(reply)
    raise TypeError(
        "a LocalBedrock responder must return a str, a ToolCall, a list of ToolCall or "
        f'{{"tool_use": {{"name": ..., "input": {{...}}}}}}; got {type(reply).__name__}'
    )


def service_id(prefix: str, seed: str) -> str:
    """An identifier in the service's shape: ``prefix`` + ``01`` + 22 base62 characters, derived from ``seed``.

    Bedrock's ids read like ``msg_bdrk_01XfDUDYJgAACzvnptvVoYEL`` and ``toolu_bdrk_01...`` (24 characters after
    the prefix). Deriving them from a seed keeps an emulator run repeatable.
    """
    number = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:17], "big")
    chars = []
    for _ in range(22):
        number, digit = divmod(number, 62)
        chars.append(_BASE62[digit])
    return f"{prefix}01{''.join(chars)}"


def _tools(request: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [tool for tool in request.get("tools") or [] if isinstance(tool, Mapping)]


def _has_tool_result(message: Mapping[str, Any]) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(block, Mapping) and block.get("type") == "tool_result" for block in content
    )


def _last_user_text(request: Mapping[str, Any]) -> str:
    messages = request.get("messages") or []
    for message in reversed(messages):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            return content
        return " ".join(b.get("text", "") for b in content if isinstance(b, Mapping) and b.get("type") == "text")
    return ""


def default_tool_call(request: Mapping[str, Any], *, forced_only: bool = False) -> ToolCall | None:
    """The default responders' tool call for a Messages request, or None to answer text.

    Forced choices (``any``, ``tool``) always call. With ``auto`` (or no choice) the first tool whose name the
    last user message contains as a word is called, unless that message carries tool results (the model then
    answers text). ``forced_only`` skips the ``auto`` rule (used for user responders that answered text).
    """
    tools = _tools(request)
    if not tools:
        return None
    choice = request.get("tool_choice") or {"type": "auto"}
    kind = choice.get("type", "auto")
    chosen: Mapping[str, Any] | None = None
    if kind == "tool":
        chosen = next((t for t in tools if t.get("name") == choice.get("name")), None)
    elif kind == "any":
        chosen = tools[0]
    elif kind == "auto" and not forced_only:
        messages = request.get("messages") or []
        if messages and messages[-1].get("role") == "user" and _has_tool_result(messages[-1]):
            return None
        asked = _last_user_text(request).lower()
        chosen = next(
            (t for t in tools if re.search(rf"(?<![\w-]){re.escape(str(t.get('name', '')).lower())}(?![\w-])", asked)),
            None,
        )
    if chosen is None:
        return None
    schema = chosen.get("input_schema")
    arguments = placeholder(schema if isinstance(schema, Mapping) else {"type": "object"})
    return ToolCall(str(chosen["name"]), arguments if isinstance(arguments, dict) else {})


def placeholder(schema: Mapping[str, Any]) -> Any:
    """A deterministic value for a JSON schema: ``const``, ``default`` or the first ``enum`` value when given,
    else a typed placeholder (objects get their required properties, arrays ``minItems`` items)."""
    for key in ("const", "default"):
        if key in schema:
            return schema[key]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list) and options and isinstance(options[0], Mapping):
            return placeholder(options[0])
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        required = [name for name in schema.get("required") or [] if isinstance(name, str)]
        filled: dict[str, Any] = {}
        for name in required:
            member = properties.get(name)
            filled[name] = placeholder(member if isinstance(member, Mapping) else {})
        return filled
    if kind == "array":
        items = schema.get("items")
        count = int(schema.get("minItems") or 0)
        return [placeholder(items if isinstance(items, Mapping) else {}) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    text = "example"
    min_length = int(schema.get("minLength") or 0)
    return text + "x" * max(0, min_length - len(text))
