"""The emulated model runtime: Messages-format requests checked like the service, answers from responders.

A responder is any ``fn(request) -> reply`` taking the Messages request body (dict); the reply is text (a
``str``) or a tool call (see ``tools.py``). The default for a custom model answers with the assistant reply of
its most similar training record (overlap of word sets): an offline stand-in that makes a fine-tune visibly
learn its data, not a language model. The default for the base model is a deterministic, generic reply. Both
call a tool when the request forces one or names one. Token counts come from the library's conservative
estimator. This module builds InvokeModel's answers (body, headers, stream chunks); Converse lives in
``converse.py``; the body rules in ``body_rules.py``. It keeps no state: the service passes ``run``.
"""

from __future__ import annotations

import base64
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..base_models import DEFAULT_BASE_MODEL
from ..datasets import estimate_tokens
from .body_rules import check_body
from .tools import ToolCall, default_tool_call, reply_parts, service_id
from .wire import EXTRA_HEADERS, STREAMED_EVENTS, ApiError, event_frame, validation

__all__ = [
    "Answer",
    "Reply",
    "Responder",
    "Run",
    "SimilarityResponder",
    "ToolCall",
    "answer",
    "base_reply",
    "check_body",
    "event_frame",
    "invoke_model",
    "invoke_model_stream",
]

Reply = str | ToolCall | Mapping[str, Any] | Sequence[ToolCall]
Responder = Callable[[dict[str, Any]], Reply]
# What the service hands the runtime: run(model_id, body) -> (answer, message id), raising the service's errors
# (unknown model, not InService, throttled) before any responder runs.
Run = Callable[[str, Any], "tuple[Answer, str]"]
_WORD = re.compile(r"[a-z0-9']+")
# The Anthropic API's name of the model, as the response's "model" field gives it (from the profile's id).
MODEL_NAME = DEFAULT_BASE_MODEL.invoke_model_id.removeprefix("anthropic.").removesuffix("-v1:0")


def text_of(content: Any) -> str:
    """The text of a message's content (a string, or content blocks; tool results count as text)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "tool_result":
            parts.append(text_of(block.get("content") or ""))
        else:
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def words(text: str) -> frozenset[str]:
    """The set of lowercase words in ``text``."""
    return frozenset(_WORD.findall(text.lower()))


class SimilarityResponder:
    """Answers with the assistant reply of the training record whose prompt shares the most words."""

    def __init__(self, records: Sequence[Mapping[str, Any]]) -> None:
        self._index: list[tuple[frozenset[str], str]] = []
        for record in records:
            messages = record.get("messages") or []
            if len(messages) >= 2 and isinstance(messages[-1], dict):
                prompt = " ".join(text_of(m.get("content", "")) for m in messages[:-1] if isinstance(m, dict))
                self._index.append((words(prompt), text_of(messages[-1].get("content", ""))))

    def __call__(self, request: dict[str, Any]) -> Reply:
        """Return the tool call the request asks for, else the best-matching training reply (first on ties)."""
        call = default_tool_call(request)
        if call is not None:
            return call
        if not self._index:
            return base_reply(request)
        asked = words(" ".join(text_of(m.get("content", "")) for m in request["messages"]))
        best_score, best = -1.0, self._index[0][1]
        for prompt, reply in self._index:
            union = len(asked | prompt) or 1
            score = len(asked & prompt) / union
            if score > best_score:
                best_score, best = score, reply
        return best


def base_reply(request: dict[str, Any]) -> Reply:
    """The base model's stand-in answer: a tool call when asked for one, else generic text (deterministic)."""
    call = default_tool_call(request)
    if call is not None:
        return call
    question = text_of(request["messages"][-1]["content"]).strip().replace("\n", " ")
    gist = " ".join(question.split()[:12])
    return f"Thank you for your message. Here is a general answer about: {gist}"


@dataclass(frozen=True)
class Answer:
    """A responder's reply after max_tokens and stop sequences, with usage; ``tool_calls`` when it calls tools."""

    text: str
    stop_reason: str
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int
    tool_calls: tuple[ToolCall, ...] = ()


def answer(request: dict[str, Any], reply: Any) -> Answer:
    """Apply stop sequences and max_tokens to a reply (text or tool call) and count tokens.

    A forced ``tool_choice`` (``any``/``tool``) always ends in a tool call, as the service guarantees: when a
    user responder answered text, the default call is added.

    Raises:
        ApiError: ModelErrorException (424) when a responder calls a tool the request does not offer.
    """
    try:
        text, calls = reply_parts(reply)
    except TypeError as error:
        raise ApiError("ModelErrorException", f"LocalBedrock responder: {error}", 424) from None
    if not calls:
        forced = default_tool_call(request, forced_only=True)
        calls = (forced,) if forced is not None else ()
    offered = {t.get("name") for t in request.get("tools") or [] if isinstance(t, dict)}
    for call in calls:
        if call.name not in offered:
            raise ApiError(
                "ModelErrorException",
                f"LocalBedrock responder called tool {call.name!r}, which the request does not offer",
                424,
            )
    stop_reason, stop_sequence = ("tool_use" if calls else "end_turn"), None
    cut = len(text)
    for sequence in request.get("stop_sequences") or []:
        where = text.find(sequence)
        if 0 <= where < cut:
            cut, stop_reason, stop_sequence = where, "stop_sequence", sequence
    if stop_sequence is not None:
        calls = ()  # the model stopped before it reached the call
    text = text[:cut]
    limit = int(request["max_tokens"])
    call_tokens = sum(estimate_tokens(call.name + orjson.dumps(dict(call.input)).decode()) for call in calls)
    if estimate_tokens(text) + call_tokens > limit:
        kept: list[str] = []
        for word in text.split(" "):
            if estimate_tokens(" ".join([*kept, word])) > limit:
                break
            kept.append(word)
        text, stop_reason, stop_sequence, calls, call_tokens = " ".join(kept), "max_tokens", None, (), 0
    system = request.get("system")
    prompt = (text_of(system) if system else "") + "".join(_prompt_text(m["content"]) for m in request["messages"])
    prompt += "".join(orjson.dumps(t).decode() for t in request.get("tools") or [])
    output_tokens = estimate_tokens(text) + call_tokens
    return Answer(text, stop_reason, stop_sequence, max(1, estimate_tokens(prompt)), output_tokens, calls)


def _prompt_text(content: Any) -> str:
    if isinstance(content, str) or not isinstance(content, list):
        return text_of(content)
    extra = "".join(
        orjson.dumps(b.get("input", {})).decode()
        for b in content
        if isinstance(b, dict) and b.get("type") == "tool_use"
    )
    return text_of(content) + extra


def message_id(given: str) -> str:
    """A message id in Bedrock's shape (``msg_bdrk_01`` + 22 base62 characters), derived from ``given``."""
    return given if given.startswith("msg_bdrk_") else service_id("msg_bdrk_", given)


def tool_use_id(message: str, index: int) -> str:
    """The Messages API id of a message's ``index``-th tool call (``toolu_bdrk_01...``)."""
    return service_id("toolu_bdrk_", f"{message}:{index}")


def content_blocks(result: Answer, message: str) -> list[dict[str, Any]]:
    """The Messages content blocks of an answer: its text (if any, or if there is nothing else), its tool calls."""
    blocks: list[dict[str, Any]] = []
    if result.text or not result.tool_calls:
        blocks.append({"type": "text", "text": result.text})
    for index, call in enumerate(result.tool_calls):
        blocks.append(
            {"type": "tool_use", "id": tool_use_id(message, index), "name": call.name, "input": dict(call.input)}
        )
    return blocks


def messages_body(result: Answer, message_id_: str) -> dict[str, Any]:
    """The InvokeModel response body for an answer."""
    shaped = message_id(message_id_)
    return {
        "id": shaped,
        "type": "message",
        "role": "assistant",
        "model": MODEL_NAME,
        "content": content_blocks(result, shaped),
        "stop_reason": result.stop_reason,
        "stop_sequence": result.stop_sequence,
        "usage": {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens},
    }


def text_pieces(text: str) -> list[str]:
    """A text cut into streaming deltas of about three words each."""
    pieces = re.findall(r"\S+\s*|\s+", text)
    return ["".join(pieces[start : start + 3]) for start in range(0, len(pieces), 3)]


def json_pieces(value: Mapping[str, Any]) -> list[str]:
    """A tool call's input as the partial-JSON strings a stream sends (concatenated, they parse)."""
    raw = orjson.dumps(dict(value)).decode()
    return [raw[start : start + 16] for start in range(0, len(raw), 16)] or ["{}"]


def stream_events(
    result: Answer, message_id_: str, *, latency_ms: int = 0, first_byte_ms: int = 0
) -> list[dict[str, Any]]:
    """The Anthropic streaming events for an answer, as InvokeModelWithResponseStream sends them.

    The last event carries ``amazon-bedrock-invocationMetrics``, as the service's last chunk does.
    """
    shaped = message_id(message_id_)
    start = {**messages_body(Answer("", result.stop_reason, None, result.input_tokens, 0), shaped)}
    start.update(content=[], stop_reason=None, stop_sequence=None)
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(content_blocks(result, shaped)):
        if block["type"] == "text":
            events.append(
                {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}}
            )
            deltas = [{"type": "text_delta", "text": piece} for piece in text_pieces(block["text"])]
        else:
            events.append({"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}})
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in json_pieces(block["input"])]
        events += [{"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": result.stop_reason, "stop_sequence": result.stop_sequence},
            "usage": {"output_tokens": result.output_tokens},
        },
        {
            "type": "message_stop",
            "amazon-bedrock-invocationMetrics": {
                "inputTokenCount": result.input_tokens,
                "outputTokenCount": result.output_tokens,
                "invocationLatency": latency_ms,
                "firstByteLatency": min(first_byte_ms, latency_ms),
            },
        },
    ]
    return events


def chunk_frame(event: dict[str, Any]) -> bytes:
    """An event-stream ``chunk`` frame carrying one Anthropic streaming event."""
    payload = orjson.dumps({"bytes": base64.b64encode(orjson.dumps(event)).decode()})
    return event_frame({":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}, payload)


def parse_body(raw: bytes | None) -> Any:
    """An InvokeModel request body as JSON.

    Raises:
        ApiError: ValidationException, worded as the service's, when it is not JSON.
    """
    try:
        return orjson.loads(raw or b"")
    except orjson.JSONDecodeError:
        raise validation("Malformed input request, please reformat your input and try again.") from None


def elapsed_ms(started: float) -> int:
    """Whole milliseconds of real time since ``started`` (``time.monotonic``), at least 1."""
    return max(1, round((time.monotonic() - started) * 1000))


def invoke_model(run: Run, params: Mapping[str, Any]) -> dict[str, Any]:
    """InvokeModel's output, with the token-count and latency headers the service adds."""
    started = time.monotonic()
    result, given_id = run(params["modelId"], parse_body(params.get("body")))
    latency = elapsed_ms(started)
    return {
        "body": orjson.dumps(messages_body(result, given_id)),
        "contentType": "application/json",
        EXTRA_HEADERS: {
            "X-Amzn-Bedrock-Input-Token-Count": str(result.input_tokens),
            "X-Amzn-Bedrock-Output-Token-Count": str(result.output_tokens),
            "X-Amzn-Bedrock-Invocation-Latency": str(latency),
        },
    }


def invoke_model_stream(run: Run, params: Mapping[str, Any]) -> dict[str, Any]:
    """InvokeModelWithResponseStream's output: the chunk frames, and the chunks for the shape check."""
    started = time.monotonic()
    result, given_id = run(params["modelId"], parse_body(params.get("body")))
    latency = elapsed_ms(started)
    events = stream_events(result, given_id, latency_ms=latency, first_byte_ms=latency)
    frames = [chunk_frame(event) for event in events]
    return {
        "body": b"".join(frames),
        "contentType": "application/json",
        STREAMED_EVENTS: [{"chunk": {"bytes": base64.b64encode(orjson.dumps(e)).decode()}} for e in events],
    }
