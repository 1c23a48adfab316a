"""The emulated model runtime: Messages-format requests checked like the service, answers from responders.

A responder is any ``fn(request) -> str`` taking the Messages request body (dict). The default for a custom
model answers with the assistant reply of its most similar training record (overlap of word sets): an
offline stand-in that makes a fine-tune visibly learn its data, not a language model. The default for the base
model is a deterministic, generic reply. Token counts come from the library's conservative estimator.
"""

from __future__ import annotations

import binascii
import re
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ..datasets import estimate_tokens
from .wire import validation

__all__ = ["Answer", "Responder", "SimilarityResponder", "answer", "base_reply", "check_body", "event_frame"]

Responder = Callable[[dict[str, Any]], str]
_WORD = re.compile(r"[a-z0-9']+")


def check_body(body: Any) -> dict[str, Any]:
    """Check an Anthropic Messages request body the way Bedrock does for Claude 3 Haiku.

    Raises:
        ApiError: ValidationException with the service's kind of message.
    """
    if not isinstance(body, dict):
        raise validation("Malformed input request: the body must be a JSON object")
    if body.get("anthropic_version") != "bedrock-2023-05-31":
        raise validation(
            "Malformed input request: #: required key [anthropic_version] not found or not 'bedrock-2023-05-31'"
        )
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 4096:
        raise validation("Malformed input request: max_tokens must be an integer from 1 to 4096")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise validation("Malformed input request: #: required key [messages] not found")
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role != ("user" if index % 2 == 0 else "assistant"):
            raise validation(f'messages: roles must alternate between "user" and "assistant" (message {index})')
        if not isinstance(message.get("content"), (str, list)):
            raise validation(f"messages.{index}.content: must be a string or a list of content blocks")
    if messages[-1]["role"] != "user":
        raise validation('messages: the final message must have the "user" role')
    for name in ("temperature", "top_p"):
        value = body.get(name)
        if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 1):
            raise validation(f"{name}: must be between 0 and 1")
    allowed = {
        "anthropic_version",
        "max_tokens",
        "messages",
        "system",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
    }
    extra = sorted(set(body) - allowed)
    if extra:
        raise validation(f"Malformed input request: extraneous key [{extra[0]}] is not permitted")
    return body


def text_of(content: Any) -> str:
    """The text of a message's content (a string, or content blocks)."""
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if isinstance(block, dict))


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

    def __call__(self, request: dict[str, Any]) -> str:
        """Return the best-matching training reply (the first on ties)."""
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


def base_reply(request: dict[str, Any]) -> str:
    """The base model's stand-in answer: generic, deterministic, and clearly not fine-tuned."""
    question = text_of(request["messages"][-1]["content"]).strip().replace("\n", " ")
    gist = " ".join(question.split()[:12])
    return f"Thank you for your message. Here is a general answer about: {gist}"


@dataclass(frozen=True)
class Answer:
    """A responder's text after max_tokens and stop sequences, with usage."""

    text: str
    stop_reason: str
    stop_sequence: str | None
    input_tokens: int
    output_tokens: int


def answer(request: dict[str, Any], reply: str) -> Answer:
    """Apply stop sequences and max_tokens to a reply and count tokens."""
    stop_reason, stop_sequence = "end_turn", None
    cut = len(reply)
    for sequence in request.get("stop_sequences") or []:
        where = reply.find(sequence)
        if 0 <= where < cut:
            cut, stop_reason, stop_sequence = where, "stop_sequence", sequence
    text = reply[:cut]
    limit = int(request["max_tokens"])
    if estimate_tokens(text) > limit:
        kept: list[str] = []
        for word in text.split(" "):
            if estimate_tokens(" ".join([*kept, word])) > limit:
                break
            kept.append(word)
        text, stop_reason, stop_sequence = " ".join(kept), "max_tokens", None
    system = request.get("system")
    prompt = (text_of(system) if system else "") + "".join(text_of(m["content"]) for m in request["messages"])
    return Answer(text, stop_reason, stop_sequence, max(1, estimate_tokens(prompt)), estimate_tokens(text))


def messages_body(result: Answer, message_id: str) -> dict[str, Any]:
    """The InvokeModel response body for an answer."""
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": "claude-3-haiku-20240307",
        "content": [{"type": "text", "text": result.text}],
        "stop_reason": result.stop_reason,
        "stop_sequence": result.stop_sequence,
        "usage": {"input_tokens": result.input_tokens, "output_tokens": result.output_tokens},
    }


def stream_events(result: Answer, message_id: str) -> list[dict[str, Any]]:
    """The Anthropic streaming events for an answer, as InvokeModelWithResponseStream sends them."""
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": {
                **messages_body(Answer("", result.stop_reason, None, result.input_tokens, 0), message_id),
                "content": [],
                "stop_reason": None,
            },
        },
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    pieces = re.findall(r"\S+\s*|\s+", result.text)
    for start in range(0, len(pieces), 3):
        events.append(
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "text_delta", "text": "".join(pieces[start : start + 3])},
            }
        )
    events += [
        {"type": "content_block_stop", "index": 0},
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
                "invocationLatency": 0,
                "firstByteLatency": 0,
            },
        },
    ]
    return events


def event_frame(headers: Mapping[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude, prelude CRC, string headers, payload, message CRC."""
    encoded = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack("!B", len(raw_name)) + raw_name + b"\x07" + struct.pack("!H", len(raw_value)) + raw_value
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total, len(encoded))
    prelude += struct.pack("!I", binascii.crc32(prelude) & 0xFFFFFFFF)
    message = prelude + encoded + payload
    return message + struct.pack("!I", binascii.crc32(message) & 0xFFFFFFFF)


def chunk_frame(event: dict[str, Any]) -> bytes:
    """An event-stream ``chunk`` frame carrying one Anthropic streaming event."""
    import base64

    payload = orjson.dumps({"bytes": base64.b64encode(orjson.dumps(event)).decode()})
    return event_frame({":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}, payload)
