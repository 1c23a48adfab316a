"""The checks Bedrock applies to an Anthropic Messages request body (InvokeModel), as tolerant as the service.

Accepted: every field Bedrock's Messages API documents for Claude 3 Haiku (``anthropic_version``,
``anthropic_beta``, ``max_tokens``, ``messages``, ``system``, ``temperature``, ``top_p``, ``top_k``,
``stop_sequences``, ``tools``, ``tool_choice``) and the content blocks text, image, tool_use and tool_result.
Anything else is refused with a 400 ValidationException worded like the service's. Which rules are confirmed
and which are conservative guesses is written down in ``docs/local-runtime.md``. This module only checks: it
never answers, counts tokens or touches HTTP.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..base_models import DEFAULT_BASE_MODEL
from .wire import validation

__all__ = ["ACCEPTED_VERSIONS", "MAX_OUTPUT_TOKENS", "check_body"]

MAX_OUTPUT_TOKENS = DEFAULT_BASE_MODEL.runtime.max_output_tokens
# The documented value, and the dated form Anthropic's own clients send (anthropic 2.16's AnthropicBedrock sends
# its ANTHROPIC_API_VERSION, e.g. "2026-10-21"). Which values the service accepts is not confirmed: refusing what
# Anthropic's client sends by default is the riskier choice, so any date-shaped version passes.
ACCEPTED_VERSIONS = re.compile(r"(bedrock-)?\d{4}-\d{2}-\d{2}")
_TOP_LEVEL = frozenset(
    {
        "anthropic_version",
        "anthropic_beta",
        "max_tokens",
        "messages",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "tools",
        "tool_choice",
    }
)
_BLOCK_KEYS = {
    "text": ({"type", "text"}, {"text"}),
    "image": ({"type", "source"}, {"source"}),
    "tool_use": ({"type", "id", "name", "input"}, {"id", "name", "input"}),
    "tool_result": ({"type", "tool_use_id", "content", "is_error"}, {"tool_use_id"}),
}
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_SUFFIX = ", please reformat your input and try again."


def _malformed(detail: str) -> Exception:
    return validation(f"Malformed input request: {detail}{_SUFFIX}")


def check_body(body: Any, max_output_tokens: int = MAX_OUTPUT_TOKENS) -> dict[str, Any]:
    """Check an Anthropic Messages request body the way Bedrock does for Claude 3 Haiku.

    ``max_output_tokens`` is the answering model's output limit (Claude 3 Haiku's by default).

    Returns:
        The body, unchanged.

    Raises:
        ApiError: ValidationException with the service's kind of message.
    """
    if not isinstance(body, dict):
        raise validation("Malformed input request: the body must be a JSON object")
    version = body.get("anthropic_version")
    if not isinstance(version, str) or ACCEPTED_VERSIONS.fullmatch(version) is None:
        raise validation(
            "Malformed input request: #: required key [anthropic_version] not found or not 'bedrock-2023-05-31'"
        )
    extra = sorted(set(body) - _TOP_LEVEL)
    if extra:
        raise _malformed(f"#: extraneous key [{extra[0]}] is not permitted")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= max_output_tokens:
        raise validation(f"Malformed input request: max_tokens must be an integer from 1 to {max_output_tokens}")
    _check_sampling(body)
    _check_system(body.get("system"))
    tool_names = _check_tools(body)
    _check_messages(body.get("messages"), tool_names)
    beta = body.get("anthropic_beta")
    if beta is not None and not (isinstance(beta, list) and all(isinstance(b, str) for b in beta)):
        raise _malformed("#/anthropic_beta: expected type: JSONArray of strings")
    return body


def _check_sampling(body: Mapping[str, Any]) -> None:
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1
        ):
            raise validation(f"{name}: must be between 0 and 1")
    top_k = body.get("top_k")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
        raise validation("top_k: must be an integer of at least 0")
    stops = body.get("stop_sequences")
    if stops is not None:
        if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
            raise _malformed("#/stop_sequences: expected type: JSONArray of strings")
        if any(not s.strip() for s in stops):
            raise validation("stop_sequences: each stop sequence must contain non-whitespace")


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise validation("system: Input should be a valid string or a list of text blocks")
    for index, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
            raise validation(f"system.{index}: Input should be a text block")
        _no_extra(block, {"type", "text", "cache_control"}, f"system.{index}")


def _check_tools(body: Mapping[str, Any]) -> set[str]:
    tools = body.get("tools")
    names: set[str] = set()
    if tools is not None:
        if not isinstance(tools, list):
            raise validation("tools: Input should be a valid list")
        for index, tool in enumerate(tools):
            where = f"tools.{index}"
            if not isinstance(tool, dict):
                raise validation(f"{where}: Input should be a valid dictionary")
            if tool.get("type") not in (None, "custom"):
                raise validation(f"{where}.type: tool type {tool.get('type')!r} is not supported by this model")
            _no_extra(tool, {"type", "name", "description", "input_schema", "cache_control"}, where)
            name = tool.get("name")
            if not isinstance(name, str) or _TOOL_NAME.fullmatch(name) is None:
                raise validation(f"{where}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'")
            if name in names:
                raise validation("tools: Tool names must be unique.")
            names.add(name)
            if "description" in tool and not isinstance(tool["description"], str):
                raise validation(f"{where}.description: Input should be a valid string")
            schema = tool.get("input_schema")
            if not isinstance(schema, dict):
                raise validation(f"{where}.input_schema: Field required")
            if schema.get("type") != "object":
                raise validation(f"{where}.input_schema.type: Input should be 'object'")
    choice = body.get("tool_choice")
    if choice is not None:
        if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
            raise validation(
                "tool_choice: Input tag found using 'type' does not match any of the expected tags: "
                "'auto', 'any', 'tool', 'none'"
            )
        allowed = {"type", "disable_parallel_tool_use"} | ({"name"} if choice["type"] == "tool" else set())
        _no_extra(choice, allowed, "tool_choice")
        if not tools and choice["type"] != "none":
            raise validation("tool_choice: tool_choice may only be specified while providing tools")
        if choice["type"] == "tool" and choice.get("name") not in names:
            raise validation(f"tool_choice.name: Tool '{choice.get('name')}' not found in tools")
    return names


def _check_messages(messages: Any, tool_names: set[str]) -> None:
    if not isinstance(messages, list) or not messages:
        raise validation("Malformed input request: #: required key [messages] not found")
    pending: set[str] = set()  # tool_use ids the next user message must answer
    known: set[str] = set()
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role != ("user" if index % 2 == 0 else "assistant"):
            raise validation(f'messages: roles must alternate between "user" and "assistant" (message {index})')
        _no_extra(message, {"role", "content"}, f"messages.{index}")
        content = message.get("content")
        if isinstance(content, str):
            blocks: list[Any] = []
        elif isinstance(content, list):
            blocks = content
        else:
            raise validation(f"messages.{index}.content: must be a string or a list of content blocks")
        if not content and not (role == "assistant" and index == len(messages) - 1):
            raise validation(
                f"messages.{index}: all messages must have non-empty content except for the optional final "
                "assistant message"
            )
        answered: set[str] = set()
        for number, block in enumerate(blocks):
            where = f"messages.{index}.content.{number}"
            kind = _check_block(block, where)
            if kind == "text" and block["text"] == "":
                raise validation("messages: text content blocks must be non-empty")
            if kind == "tool_use":
                if role != "assistant":
                    raise validation(f"{where}: tool_use blocks may only appear in assistant messages")
                if tool_names and block["name"] not in tool_names:
                    raise validation(f"{where}.name: Tool '{block['name']}' not found in tools")
                known.add(block["id"])
            elif kind == "tool_result":
                if role != "user":
                    raise validation(f"{where}: tool_result blocks may only appear in user messages")
                if block["tool_use_id"] not in known:
                    raise validation(
                        f"messages.{index}.content.{number}: unexpected `tool_use_id` found in `tool_result` "
                        f"blocks: {block['tool_use_id']}. Each `tool_result` block must have a corresponding "
                        "`tool_use` block in the previous message."
                    )
                answered.add(block["tool_use_id"])
        if role == "user" and pending - answered:
            raise validation(
                f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately after: "
                f"{', '.join(sorted(pending - answered))}. Each `tool_use` block must have a corresponding "
                "`tool_result` block in the next message."
            )
        if role == "assistant":
            pending = {b["id"] for b in blocks if isinstance(b, dict) and b.get("type") == "tool_use"}
    if messages[-1]["role"] != "user":
        raise validation('messages: the final message must have the "user" role')


def _check_block(block: Any, where: str) -> str:
    if not isinstance(block, dict):
        raise validation(f"{where}: Input should be a valid dictionary")
    kind = block.get("type")
    if kind not in _BLOCK_KEYS:
        raise validation(
            f"{where}.type: Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            "'text', 'image', 'tool_use', 'tool_result'"
        )
    allowed, required = _BLOCK_KEYS[kind]
    _no_extra(block, allowed | {"cache_control"}, where)
    for name in sorted(required):
        if name not in block:
            raise validation(f"{where}.{name}: Field required")
    if kind == "text" and not isinstance(block["text"], str):
        raise validation(f"{where}.text: Input should be a valid string")
    elif kind == "image":
        _check_image(block["source"], f"{where}.source")
    elif kind == "tool_use":
        if not isinstance(block["id"], str) or not isinstance(block["name"], str):
            raise validation(f"{where}: id and name must be strings")
        if not isinstance(block["input"], dict):
            raise validation(f"{where}.input: Input should be a valid dictionary")
    elif kind == "tool_result":
        if not isinstance(block["tool_use_id"], str):
            raise validation(f"{where}.tool_use_id: Input should be a valid string")
        if "is_error" in block and not isinstance(block["is_error"], bool):
            raise validation(f"{where}.is_error: Input should be a valid boolean")
        inner = block.get("content")
        if isinstance(inner, list):
            for number, item in enumerate(inner):
                if _check_block(item, f"{where}.content.{number}") not in ("text", "image"):
                    raise validation(f"{where}.content.{number}: tool results hold text and image blocks only")
        elif inner is not None and not isinstance(inner, str):
            raise validation(f"{where}.content: must be a string or a list of content blocks")
    return str(kind)


def _check_image(source: Any, where: str) -> None:
    if not isinstance(source, dict) or source.get("type") != "base64":
        raise validation(f"{where}.type: Input tag found using 'type' does not match the expected tag: 'base64'")
    if source.get("media_type") not in _IMAGE_TYPES:
        raise validation(f"{where}.media_type: Input should be {', '.join(repr(t) for t in _IMAGE_TYPES)}")
    if not isinstance(source.get("data"), str):
        raise validation(f"{where}.data: Field required")


def _no_extra(value: Mapping[str, Any], allowed: set[str] | frozenset[str], where: str) -> None:
    extra = sorted(set(value) - allowed)
    if extra:
        raise validation(f"{where}.{extra[0]}: Extra inputs are not permitted")
