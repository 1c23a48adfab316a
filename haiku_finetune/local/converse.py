"""Converse and ConverseStream in the emulated runtime: translated to a Messages request and back.

A Converse request becomes the Messages body the same responders answer (text, image, toolUse and toolResult
blocks; ``toolConfig`` becomes ``tools``/``tool_choice``; ``additionalModelRequestFields`` such as ``top_k`` are
merged in), so both APIs follow the same rules and the same throttling. The answer goes back as Converse's
output, or as ConverseStream's events (messageStart, contentBlockStart for tool use, contentBlockDelta,
contentBlockStop, messageStop, metadata) encoded as an AWS event stream. Stateless: the service passes ``run``.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Mapping
from typing import Any

import orjson

from .body_rules import MAX_OUTPUT_TOKENS
from .runtime import Answer, Run, elapsed_ms, json_pieces, text_pieces
from .tools import service_id
from .wire import STREAMED_EVENTS, event_message, validation

__all__ = ["converse", "converse_request", "converse_stream", "stream_events"]

_STOP_REASONS = {"end_turn": "end_turn", "tool_use": "tool_use", "max_tokens": "max_tokens"}


def _unsupported(kind: str) -> Exception:
    return validation(f"This model doesn't support the {kind} content block that you provided.")


def _image(block: Mapping[str, Any]) -> dict[str, Any]:
    data = block.get("source", {}).get("bytes")
    if not isinstance(data, bytes):
        raise validation("The image source must carry bytes for this model.")
    media = {"jpeg": "image/jpeg", "png": "image/png", "gif": "image/gif", "webp": "image/webp"}
    return {
        "type": "image",
        "source": {"type": "base64", "media_type": media[block["format"]], "data": base64.b64encode(data).decode()},
    }


def _blocks(content: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for block in content:
        if "text" in block:
            found.append({"type": "text", "text": block["text"]})
        elif "image" in block:
            found.append(_image(block["image"]))
        elif "toolUse" in block:
            use = block["toolUse"]
            found.append({"type": "tool_use", "id": use["toolUseId"], "name": use["name"], "input": use["input"]})
        elif "toolResult" in block:
            result = block["toolResult"]
            inner: list[dict[str, Any]] = []
            for item in result.get("content") or []:
                if "text" in item:
                    inner.append({"type": "text", "text": item["text"]})
                elif "json" in item:
                    inner.append({"type": "text", "text": orjson.dumps(item["json"]).decode()})
                elif "image" in item:
                    inner.append(_image(item["image"]))
                else:
                    raise _unsupported(next(iter(item), "unknown"))
            converted: dict[str, Any] = {"type": "tool_result", "tool_use_id": result["toolUseId"], "content": inner}
            if result.get("status") == "error":
                converted["is_error"] = True
            found.append(converted)
        elif "cachePoint" in block:
            continue  # a caching hint; the emulator does not cache
        else:
            raise _unsupported(next(iter(block), "unknown"))
    return found


def _tool_config(config: Mapping[str, Any], body: dict[str, Any]) -> None:
    tools = []
    for tool in config.get("tools") or []:
        if "toolSpec" not in tool:
            continue  # cachePoint entries
        spec = tool["toolSpec"]
        converted: dict[str, Any] = {"name": spec["name"], "input_schema": spec["inputSchema"].get("json", {})}
        if spec.get("description"):
            converted["description"] = spec["description"]
        tools.append(converted)
    if not tools:
        raise validation("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    body["tools"] = tools
    choice = config.get("toolChoice")
    if choice:
        if "tool" in choice:
            body["tool_choice"] = {"type": "tool", "name": choice["tool"]["name"]}
        elif "any" in choice:
            body["tool_choice"] = {"type": "any"}
        else:
            body["tool_choice"] = {"type": "auto"}


def _check_content(messages: list[Mapping[str, Any]]) -> None:
    """Refuse a message without content blocks, or with an empty text block, in Converse's own words."""
    for index, message in enumerate(messages):
        content = message.get("content") or []
        if not content:
            raise validation(
                f"The content field in the Message object at messages.{index} is empty. "
                "Add a ContentBlock object to the content field and try again."
            )
        for number, block in enumerate(content):
            if block.get("text") == "":
                raise validation(
                    f"The text field in the ContentBlock object at messages.{index}.content.{number} is blank. "
                    "Add text to the text field, and try again."
                )


def converse_request(params: Mapping[str, Any]) -> dict[str, Any]:
    """The Messages request body a Converse/ConverseStream request amounts to.

    Raises:
        ApiError: ValidationException for content this model cannot take.
    """
    _check_content(params.get("messages") or [])
    config = params.get("inferenceConfig") or {}
    body: dict[str, Any] = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": config.get("maxTokens", MAX_OUTPUT_TOKENS),
        "messages": [
            {"role": m["role"], "content": _blocks(m.get("content") or [])} for m in params.get("messages") or []
        ],
    }
    system = "".join(block.get("text", "") for block in params.get("system") or [])
    if system:
        body["system"] = system
    for source, target in (("temperature", "temperature"), ("topP", "top_p"), ("stopSequences", "stop_sequences")):
        if source in config:
            body[target] = config[source]
    if params.get("toolConfig"):
        _tool_config(params["toolConfig"], body)
    elif any(b.get("type") in ("tool_use", "tool_result") for m in body["messages"] for b in m["content"]):
        raise validation("The toolConfig field must be defined when using toolUse and toolResult content blocks.")
    extra = params.get("additionalModelRequestFields") or {}
    if not isinstance(extra, dict):
        raise validation("additionalModelRequestFields must be a JSON object")
    body.update(extra)  # e.g. top_k; checked with the rest of the body
    return body


def tool_use_id(message: str, index: int) -> str:
    """Converse's id for a message's ``index``-th tool call (``tooluse_`` + 22 characters, as the service's)."""
    return service_id("tooluse_", f"{message}:{index}").replace("tooluse_01", "tooluse_", 1)


def _usage(result: Answer) -> dict[str, int]:
    return {
        "inputTokens": result.input_tokens,
        "outputTokens": result.output_tokens,
        "totalTokens": result.input_tokens + result.output_tokens,
    }


def _stop_reason(result: Answer) -> str:
    return _STOP_REASONS.get(result.stop_reason, "stop_sequence")


def converse(run: Run, params: Mapping[str, Any]) -> dict[str, Any]:
    """Converse's output for a request."""
    started = time.monotonic()
    result, message = run(params["modelId"], converse_request(params))
    content: list[dict[str, Any]] = [{"text": result.text}] if result.text or not result.tool_calls else []
    for index, call in enumerate(result.tool_calls):
        content.append(
            {"toolUse": {"toolUseId": tool_use_id(message, index), "name": call.name, "input": dict(call.input)}}
        )
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": _stop_reason(result),
        "usage": _usage(result),
        "metrics": {"latencyMs": elapsed_ms(started)},
    }


def stream_events(result: Answer, message: str, *, latency_ms: int) -> list[dict[str, Any]]:
    """ConverseStream's events for an answer, each ``{event name: event body}``."""
    events: list[dict[str, Any]] = [{"messageStart": {"role": "assistant"}}]
    index = 0
    if result.text or not result.tool_calls:
        for piece in text_pieces(result.text) or [""]:
            events.append({"contentBlockDelta": {"contentBlockIndex": index, "delta": {"text": piece}}})
        events.append({"contentBlockStop": {"contentBlockIndex": index}})
        index += 1
    for number, call in enumerate(result.tool_calls):
        start = {"toolUse": {"toolUseId": tool_use_id(message, number), "name": call.name}}
        events.append({"contentBlockStart": {"contentBlockIndex": index, "start": start}})
        for piece in json_pieces(call.input):
            events.append({"contentBlockDelta": {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}})
        events.append({"contentBlockStop": {"contentBlockIndex": index}})
        index += 1
    events.append({"messageStop": {"stopReason": _stop_reason(result)}})
    events.append({"metadata": {"usage": _usage(result), "metrics": {"latencyMs": latency_ms}}})
    return events


def converse_stream(run: Run, params: Mapping[str, Any]) -> dict[str, Any]:
    """ConverseStream's output: the event-stream frames, and the events for the shape check."""
    started = time.monotonic()
    result, message = run(params["modelId"], converse_request(params))
    events = stream_events(result, message, latency_ms=elapsed_ms(started))
    frames = b"".join(event_message(name, body) for event in events for name, body in event.items())
    return {"stream": frames, STREAMED_EVENTS: events}
