"""CompletionStream: the text deltas of one streamed reply (InvokeModelWithResponseStream), then the whole reply.

The event stream is read through [`BedrockTransport.iter_events`][haiku_finetune.BedrockTransport.iter_events], which
maps an error event or a broken
connection to the library's errors; this module only decodes the Messages-API events (text deltas, and tool
calls assembled from ``content_block_start`` + ``input_json_delta`` pieces). It never retries: a half-read
stream is not replayed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import orjson

from ._inference import Completion, Usage
from ._transport import BedrockTransport
from .tools import ToolCall

__all__ = ["CompletionStream", "open_completion_stream"]

_OPERATION = "InvokeModelWithResponseStream"


class CompletionStream:
    """Text deltas of one streamed reply, in order; [`completion`][haiku_finetune._stream.CompletionStream.completion]
    once the stream is read to the end.

    It is an iterator (read it once) of text only; tool calls arrive whole on ``completion.tool_calls``
    (their JSON pieces are joined and decoded when each block ends). The request is sent on the first ``next()``; an
    error in the middle
    of the stream is raised as the matching library error (a half-read stream is not replayed). Close it
    early with [`close`][haiku_finetune._stream.CompletionStream.close], or use it as a context manager.
    """

    def __init__(self, open_stream: Callable[[], Iterator[Mapping[str, Any]]]) -> None:
        self._open = open_stream
        self._deltas: Iterator[str] | None = None
        self._events: Iterator[Mapping[str, Any]] | None = None
        self._parts: list[str] = []
        # Tool-use blocks by content index: (id, name, JSON pieces so far); finished calls in order.
        self._open_calls: dict[int, tuple[str, str, list[str]]] = {}
        self._calls: list[ToolCall] = []
        self._start_body: dict[str, Any] = {}
        self._stop_reason: str | None = None
        self._stop_sequence: str | None = None
        self._input_tokens = 0
        self._output_tokens = 0
        self._began = 0.0
        self._completion: Completion | None = None

    def __iter__(self) -> CompletionStream:
        return self

    def __next__(self) -> str:
        if self._deltas is None:
            self._deltas = self._read()
        return next(self._deltas)

    def _read(self) -> Iterator[str]:
        self._began = time.perf_counter()
        self._events = self._open()
        try:
            for event in self._events:
                chunk = event.get("chunk")
                if chunk is None:
                    continue
                text = self._observe(orjson.loads(chunk["bytes"]))
                if text:
                    yield text
        finally:
            self.close()
        text = "".join(self._parts)
        for index in sorted(self._open_calls):  # a block the stream never closed: keep what arrived
            self._finish_call(index)
        content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text or not self._calls else []
        content.extend(call.to_api() for call in self._calls)
        self._completion = Completion(
            text=text,
            tool_calls=tuple(self._calls),
            stop_reason=self._stop_reason,
            stop_sequence=self._stop_sequence,
            usage=Usage(input_tokens=self._input_tokens, output_tokens=self._output_tokens),
            latency=time.perf_counter() - self._began,
            raw={**self._start_body, "content": content},
        )

    def _finish_call(self, index: int) -> None:
        call_id, name, pieces = self._open_calls.pop(index)
        joined = "".join(pieces)
        try:
            arguments = orjson.loads(joined) if joined.strip() else {}
        except orjson.JSONDecodeError as error:
            raise ValueError(f"tool call {name!r} streamed arguments that are not JSON: {error}") from error
        self._calls.append(ToolCall(call_id, name, arguments if isinstance(arguments, dict) else {}))

    def _observe(self, data: Mapping[str, Any]) -> str:
        kind = data.get("type")
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            kind = delta.get("type", "text_delta")
            if kind == "text_delta" and delta.get("text"):
                text = str(delta["text"])
                self._parts.append(text)
                return text
            if kind == "input_json_delta" and data.get("index") in self._open_calls:
                self._open_calls[data["index"]][2].append(str(delta.get("partial_json", "")))
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                self._open_calls[int(data.get("index", 0))] = (str(block.get("id", "")), str(block.get("name", "")), [])
        elif kind == "content_block_stop":
            if data.get("index") in self._open_calls:
                self._finish_call(int(data["index"]))
        elif kind == "message_start":
            message = data.get("message") or {}
            self._start_body = {k: v for k, v in message.items() if k != "content"}
            usage = message.get("usage") or {}
            self._input_tokens = int(usage.get("input_tokens", 0))
            self._output_tokens = int(usage.get("output_tokens", 0))
        elif kind == "message_delta":
            delta = data.get("delta") or {}
            self._stop_reason = delta.get("stop_reason", self._stop_reason)
            self._stop_sequence = delta.get("stop_sequence", self._stop_sequence)
            usage = data.get("usage") or {}
            self._output_tokens = int(usage.get("output_tokens", self._output_tokens))
        return ""

    @property
    def completion(self) -> Completion:
        """The whole reply (text, stop reason, usage), once the stream was read to the end.

        Raises:
            RuntimeError: The stream was not read to the end yet.
        """
        if self._completion is None:
            raise RuntimeError("the stream has not been read to the end yet")
        return self._completion

    def close(self) -> None:
        """Release the HTTP connection (safe to call more than once)."""
        events, self._events = self._events, None
        close = getattr(events, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> CompletionStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_completion_stream(transport: BedrockTransport, model_id: str, body: bytes) -> CompletionStream:
    """Return a stream that sends ``body`` to ``model_id`` when first read."""

    def open_stream() -> Iterator[Mapping[str, Any]]:
        response = transport.call(
            "bedrock-runtime",
            _OPERATION,
            modelId=model_id,
            body=body,
            contentType="application/json",
            accept="application/json",
        )
        return transport.iter_events(_OPERATION, response["body"])

    return CompletionStream(open_stream)
