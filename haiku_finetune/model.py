"""FineTunedModel: ask a deployed (or the base) Claude 3 Haiku model, one prompt or thousands.

A :class:`FineTunedModel` is a model id (a Provisioned Throughput ARN for a fine-tuned model, or the on-demand
base model id) plus a transport. It builds Messages-API request bodies (``anthropic_version
"bedrock-2023-05-31"``), checks every parameter locally before any call, and parses replies into
:class:`Completion` values. :meth:`FineTunedModel.batch` runs many prompts on a thread pool whose width adapts
to throttling (additive increase, multiplicative decrease) and returns one result per prompt, in order.

This module never retries by itself: every runtime call goes through the transport, whose retry policy is
the only one. It does not create or delete anything billed by the hour; that is :mod:`.deployment`'s job.
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal, overload

import orjson
from botocore.exceptions import ClientError, ReadTimeoutError, ResponseStreamingError
from pydantic import BaseModel, ConfigDict, Field, field_validator
from urllib3.exceptions import HTTPError as Urllib3HTTPError

from ._transport import BedrockTransport, resolve_transport
from .errors import ThrottlingError, raise_for_client_error, raise_for_connection_error

__all__ = [
    "ANTHROPIC_VERSION",
    "BASE_INVOKE_MODEL_ID",
    "MAX_OUTPUT_TOKENS",
    "BatchStats",
    "Completion",
    "CompletionStream",
    "FineTunedModel",
    "Prompt",
    "PromptInput",
    "Usage",
]

_log = logging.getLogger(__name__)

#: The ``anthropic_version`` every Claude request body on Bedrock carries.
ANTHROPIC_VERSION = "bedrock-2023-05-31"

#: On-demand Claude 3 Haiku (the base model, for comparisons). Fine-tuning uses the ``:200k`` variant.
BASE_INVOKE_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"

#: Claude 3 Haiku generates at most this many tokens per reply.
MAX_OUTPUT_TOKENS = 4096

_RUNTIME = "bedrock-runtime"


class Prompt(BaseModel):
    """A conversation to send: messages (from the user first, roles alternating, the user's last) and a system prompt.

    Attributes:
        messages: The turns, as ``{"role": "user" | "assistant", "content": str}`` dicts.
        system: The system prompt, if any.

    Example:
        >>> Prompt(messages=[{"role": "user", "content": "Hi"}], system="Be brief.").system
        'Be brief.'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: list[dict[str, str]] = Field(min_length=1)
    system: str | None = None

    @field_validator("messages")
    @classmethod
    def _check_messages(cls, messages: list[dict[str, str]]) -> list[dict[str, str]]:
        for i, message in enumerate(messages):
            if set(message) != {"role", "content"}:
                raise ValueError(f"message {i} must have exactly the keys 'role' and 'content', got {sorted(message)}")
            expected = "user" if i % 2 == 0 else "assistant"
            if message["role"] != expected:
                raise ValueError(
                    f"message {i} has role {message['role']!r}; roles must alternate user/assistant starting "
                    "with user (put a system prompt in `system`)"
                )
            if not message["content"].strip():
                raise ValueError(f"message {i} ({message['role']}) has empty content")
        if messages[-1]["role"] != "user":
            raise ValueError("the last message must be from the user: the model answers it")
        return messages

    @classmethod
    def from_text(cls, text: str, *, system: str | None = None) -> Prompt:
        """Return a one-turn prompt: ``text`` as the user's message."""
        return cls(messages=[{"role": "user", "content": text}], system=system)


#: What ``invoke`` and ``batch`` take: plain text (one user turn), a :class:`Prompt`, or message dicts.
PromptInput = str | Prompt | Sequence[Mapping[str, str]]


class Usage(BaseModel):
    """Tokens one call consumed.

    Attributes:
        input_tokens: Tokens in the prompt (system and messages).
        output_tokens: Tokens the model generated.
    """

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Input and output tokens together."""
        return self.input_tokens + self.output_tokens


class Completion(BaseModel):
    """The model's reply to one prompt.

    Attributes:
        text: The generated text (all text blocks joined).
        stop_reason: Why generation stopped: ``"end_turn"``, ``"max_tokens"``, ``"stop_sequence"``, …
        stop_sequence: The stop sequence that ended generation, when one did.
        usage: Token counts.
        latency: Wall-clock seconds the call took (request sent to reply read), 0 when unknown.
        raw: The response body as the service returned it.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    stop_reason: str | None = None
    stop_sequence: str | None = None
    usage: Usage = Usage()
    latency: float = 0.0
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)

    @classmethod
    def from_body(cls, body: Mapping[str, Any], latency: float = 0.0) -> Completion:
        """Parse an InvokeModel (Messages API) response body.

        Args:
            body: The decoded JSON body, e.g. ``{"content": [{"type": "text", "text": ...}], ...}``.
            latency: Seconds the call took, if measured.

        Raises:
            ValueError: ``body`` is not a JSON object.
        """
        if not isinstance(body, Mapping):
            raise ValueError(f"a Messages API response body must be a JSON object, got {type(body).__name__}")
        blocks = body.get("content") or []
        text = "".join(
            str(block.get("text", ""))
            for block in blocks
            if isinstance(block, Mapping) and block.get("type", "text") == "text"
        )
        usage = body.get("usage") or {}
        return cls(
            text=text,
            stop_reason=body.get("stop_reason"),
            stop_sequence=body.get("stop_sequence"),
            usage=Usage(
                input_tokens=int(usage.get("input_tokens", 0)), output_tokens=int(usage.get("output_tokens", 0))
            ),
            latency=latency,
            raw=dict(body),
        )

    @classmethod
    def from_converse(cls, response: Mapping[str, Any], latency: float = 0.0) -> Completion:
        """Parse a Converse response (``ResponseMetadata`` is dropped from ``raw``)."""
        message = (response.get("output") or {}).get("message") or {}
        text = "".join(str(block["text"]) for block in message.get("content", []) if "text" in block)
        usage = response.get("usage") or {}
        return cls(
            text=text,
            stop_reason=response.get("stopReason"),
            usage=Usage(input_tokens=int(usage.get("inputTokens", 0)), output_tokens=int(usage.get("outputTokens", 0))),
            latency=latency,
            raw={k: v for k, v in response.items() if k != "ResponseMetadata"},
        )


@dataclass(frozen=True)
class BatchStats:
    """What one :meth:`FineTunedModel.batch` run did, for tuning and for tests.

    The *window* is the number of calls the batch allows in flight; it starts at the requested concurrency,
    halves on throttling and grows back by one after each run of successes as long as itself.

    Attributes:
        items: Prompts in the batch.
        requested_concurrency: The concurrency asked for (the window's ceiling).
        min_concurrency: The smallest window the run backed off to.
        final_concurrency: The window when the run ended (back at the ceiling once it recovered).
        max_in_flight: The most calls actually in flight at once.
        throttled: Throttled attempts seen, those the transport then retried successfully included.
        decreases: Times the window was halved.
        increases: Times the window grew by one.
        succeeded: Items that returned a completion.
        failed: Items that ended in an error.
        skipped: Items never sent because the run stopped at a failure (``on_error="raise"``).
        elapsed: Wall-clock seconds the run took.
    """

    items: int
    requested_concurrency: int
    min_concurrency: int
    final_concurrency: int
    max_in_flight: int
    throttled: int
    decreases: int
    increases: int
    succeeded: int
    failed: int
    skipped: int
    elapsed: float


class CompletionStream:
    """Text deltas of one streamed reply, in order; :attr:`completion` once the stream is read to the end.

    It is an iterator (read it once). The request is sent on the first ``next()``; an error in the middle
    of the stream is raised as the matching library error (a half-read stream is not replayed). Close it
    early with :meth:`close`, or use it as a context manager.
    """

    def __init__(self, open_stream: Callable[[], Any]) -> None:
        self._open = open_stream
        self._deltas: Iterator[str] | None = None
        self._events: Any = None
        self._parts: list[str] = []
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
        except ClientError as error:  # botocore's EventStreamError: an error event inside the stream
            raise_for_client_error(error, "InvokeModelWithResponseStream")
        except (ReadTimeoutError, ResponseStreamingError, Urllib3HTTPError) as error:
            raise_for_connection_error(error, "InvokeModelWithResponseStream")
        finally:
            self.close()
        text = "".join(self._parts)
        self._completion = Completion(
            text=text,
            stop_reason=self._stop_reason,
            stop_sequence=self._stop_sequence,
            usage=Usage(input_tokens=self._input_tokens, output_tokens=self._output_tokens),
            latency=time.perf_counter() - self._began,
            raw={**self._start_body, "content": [{"type": "text", "text": text}]},
        )

    def _observe(self, data: Mapping[str, Any]) -> str:
        kind = data.get("type")
        if kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type", "text_delta") == "text_delta" and delta.get("text"):
                text = str(delta["text"])
                self._parts.append(text)
                return text
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
        if events is not None and hasattr(events, "close"):
            events.close()

    def __enter__(self) -> CompletionStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FineTunedModel:
    """A Claude 3 Haiku model to invoke: a fine-tuned one behind Provisioned Throughput, or the base model.

    Args:
        model_id: The Provisioned Throughput ARN (what :attr:`ProvisionedDeployment.model` uses) or any model
            id the runtime accepts.
        transport: The transport to call through (default: the process default).

    Attributes:
        last_batch_stats: What the most recent :meth:`batch` on this object did (``None`` before any).
    """

    def __init__(self, model_id: str, *, transport: BedrockTransport | None = None) -> None:
        if not isinstance(model_id, str) or not model_id:
            raise ValueError("model_id must be a non-empty string (a provisioned model ARN or a model id)")
        self.model_id = model_id
        self._transport = transport
        self.last_batch_stats: BatchStats | None = None
        # Pooled transports by concurrency, kept so repeated batches reuse their clients and open connections.
        self._pooled: dict[int, tuple[BedrockTransport, BedrockTransport]] = {}
        self._pooled_lock = threading.Lock()

    @classmethod
    def base(cls, *, transport: BedrockTransport | None = None) -> FineTunedModel:
        """Return on-demand Claude 3 Haiku (``anthropic.claude-3-haiku-20240307-v1:0``), to compare against."""
        return cls(BASE_INVOKE_MODEL_ID, transport=transport)

    @property
    def transport(self) -> BedrockTransport:
        """The transport calls go through."""
        return resolve_transport(self._transport)

    def __repr__(self) -> str:
        return f"FineTunedModel({self.model_id!r})"

    def _pooled_transport(self, concurrency: int) -> BedrockTransport:
        base = self.transport
        with self._pooled_lock:
            cached = self._pooled.get(concurrency)
            if cached is None or cached[0] is not base:
                cached = (base, base.with_pool(concurrency))
                self._pooled[concurrency] = cached
            return cached[1]

    # -- request building ---------------------------------------------------------------------------

    def request_body(
        self,
        prompt: PromptInput,
        *,
        system: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop_sequences: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """Return the exact InvokeModel body for ``prompt``, after checking every parameter.

        Args:
            prompt: A user message as text, a :class:`Prompt`, or a list of ``{"role", "content"}`` dicts.
            system: System prompt (for a :class:`Prompt` that has its own, it must be the same or ``None``).
            max_tokens: Most tokens to generate (1 to 4,096 for Claude 3 Haiku).
            temperature: Sampling temperature in [0, 1].
            top_p: Nucleus sampling in [0, 1].
            top_k: Sample from the k most likely tokens (>= 0).
            stop_sequences: Strings that end generation.

        Returns:
            The Messages API body (``anthropic_version``, ``max_tokens``, ``messages`` and the options given).

        Raises:
            ValueError: A parameter or the prompt is invalid (nothing was sent).
        """
        if isinstance(prompt, str) and (system is None or isinstance(system, str)):
            # The common case, built directly: a one-turn prompt needs no conversation checks.
            if not prompt.strip():
                raise ValueError("the prompt is empty")
            messages: list[dict[str, str]] = [{"role": "user", "content": prompt}]
        else:
            resolved = _as_prompt(prompt, system)
            messages, system = [dict(m) for m in resolved.messages], resolved.system
        _check_parameters(max_tokens, temperature, top_p, top_k, stop_sequences)
        body: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION, "max_tokens": max_tokens, "messages": messages}
        if system is not None:
            body["system"] = system
        if temperature is not None:
            body["temperature"] = temperature
        if top_p is not None:
            body["top_p"] = top_p
        if top_k is not None:
            body["top_k"] = top_k
        if stop_sequences:
            body["stop_sequences"] = list(stop_sequences)
        return body

    # -- calls --------------------------------------------------------------------------------------

    def invoke(
        self,
        prompt: PromptInput,
        *,
        system: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop_sequences: Sequence[str] | None = None,
    ) -> Completion:
        """Send one prompt through InvokeModel and return the reply.

        Arguments are those of :meth:`request_body`.

        Raises:
            ValueError: A parameter or the prompt is invalid (nothing was sent).
            ServiceError: The runtime refused, after the transport's retries when retryable.
            ConnectionFailedError: The endpoint did not answer.
        """
        body = self.request_body(
            prompt,
            system=system,
            max_tokens=max_tokens,
            temperature=temperature,
            top_p=top_p,
            top_k=top_k,
            stop_sequences=stop_sequences,
        )
        return _invoke_encoded(self.transport, self.model_id, orjson.dumps(body))

    def converse(
        self,
        prompt: PromptInput,
        *,
        system: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop_sequences: Sequence[str] | None = None,
    ) -> Completion:
        """Send one prompt through the Converse API and return the reply (same checks as :meth:`invoke`).

        ``top_k`` goes in ``additionalModelRequestFields``, as Converse has no field of its own for it.
        """
        resolved = _as_prompt(prompt, system)
        _check_parameters(max_tokens, temperature, top_p, top_k, stop_sequences)
        config: dict[str, Any] = {"maxTokens": max_tokens}
        if temperature is not None:
            config["temperature"] = temperature
        if top_p is not None:
            config["topP"] = top_p
        if stop_sequences:
            config["stopSequences"] = list(stop_sequences)
        params: dict[str, Any] = {
            "modelId": self.model_id,
            "messages": [{"role": m["role"], "content": [{"text": m["content"]}]} for m in resolved.messages],
            "inferenceConfig": config,
        }
        if resolved.system is not None:
            params["system"] = [{"text": resolved.system}]
        if top_k is not None:
            params["additionalModelRequestFields"] = {"top_k": top_k}
        began = time.perf_counter()
        response = self.transport.call(_RUNTIME, "Converse", **params)
        return Completion.from_converse(response, latency=time.perf_counter() - began)

    def stream(
        self,
        prompt: PromptInput,
        *,
        system: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop_sequences: Sequence[str] | None = None,
    ) -> CompletionStream:
        """Stream one reply through InvokeModelWithResponseStream: iterate the result for text deltas.

        Parameters are checked now; the request is sent when iteration starts. After the last delta,
        ``stream.completion`` holds the whole reply with its stop reason and token usage.

        Example:
            >>> for text in model.stream("Tell me a story"):  # doctest: +SKIP
            ...     print(text, end="", flush=True)
        """
        body = orjson.dumps(
            self.request_body(
                prompt,
                system=system,
                max_tokens=max_tokens,
                temperature=temperature,
                top_p=top_p,
                top_k=top_k,
                stop_sequences=stop_sequences,
            )
        )
        transport, model_id = self.transport, self.model_id

        def open_stream() -> Any:
            response = transport.call(
                _RUNTIME,
                "InvokeModelWithResponseStream",
                modelId=model_id,
                body=body,
                contentType="application/json",
                accept="application/json",
            )
            return response["body"]

        return CompletionStream(open_stream)

    @overload
    def batch(
        self,
        prompts: Sequence[str | Prompt],
        *,
        concurrency: int = ...,
        progress: bool = ...,
        on_error: Literal["raise"] = ...,
        system: str | None = ...,
        max_tokens: int = ...,
        temperature: float | None = ...,
        top_p: float | None = ...,
        top_k: int | None = ...,
        stop_sequences: Sequence[str] | None = ...,
    ) -> list[Completion]: ...

    @overload
    def batch(
        self,
        prompts: Sequence[str | Prompt],
        *,
        concurrency: int = ...,
        progress: bool = ...,
        on_error: Literal["return"],
        system: str | None = ...,
        max_tokens: int = ...,
        temperature: float | None = ...,
        top_p: float | None = ...,
        top_k: int | None = ...,
        stop_sequences: Sequence[str] | None = ...,
    ) -> list[Completion | BaseException]: ...

    def batch(
        self,
        prompts: Sequence[str | Prompt],
        *,
        concurrency: int = 8,
        progress: bool = True,
        on_error: Literal["raise", "return"] = "raise",
        system: str | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        top_p: float | None = None,
        top_k: int | None = None,
        stop_sequences: Sequence[str] | None = None,
    ) -> list[Completion] | list[Completion | BaseException]:
        """Invoke the model on many prompts in parallel; return one result per prompt, in input order.

        Every prompt is checked and encoded before the first call. Calls run on a pool of ``concurrency``
        threads (the HTTP connection pool is sized to match). The number of calls allowed in flight adapts:
        a throttled attempt halves it (at most once per window, never below 1), and a run of successful
        calls as long as the window adds one back, up to ``concurrency``. Retries are the transport's;
        :attr:`last_batch_stats` says what the run did.

        Args:
            prompts: Text (a user message) or :class:`Prompt` values.
            concurrency: Most calls in flight at once (>= 1).
            progress: Show a tqdm.auto progress bar.
            on_error: ``"raise"``: stop at the first failure, let in-flight calls finish, skip the rest
                and raise it. ``"return"``: put the exception in that prompt's place and carry on.
            system: System prompt for prompts that have none of their own (see :meth:`request_body`).
            max_tokens: See :meth:`request_body`.
            temperature: See :meth:`request_body`.
            top_p: See :meth:`request_body`.
            top_k: See :meth:`request_body`.
            stop_sequences: See :meth:`request_body`.

        Returns:
            A list as long as ``prompts``: a :class:`Completion` per prompt, or (with ``on_error="return"``)
            the exception that prompt ended with.

        Raises:
            ValueError: A prompt or parameter is invalid (nothing was sent), or bad ``concurrency``/``on_error``.
            HaikuFinetuneError: With ``on_error="raise"``, the first failure.
        """
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise ValueError(f"concurrency must be an integer >= 1, got {concurrency!r}")
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
        if isinstance(prompts, (str, Prompt)):
            raise TypeError("batch() takes a sequence of prompts; use invoke() for one prompt")
        bodies: list[bytes] = []
        for index, prompt in enumerate(prompts):
            try:
                body = self.request_body(
                    prompt,
                    system=system,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    top_p=top_p,
                    top_k=top_k,
                    stop_sequences=stop_sequences,
                )
            except ValueError as error:
                raise ValueError(f"prompt {index}: {error}") from error
            bodies.append(orjson.dumps(body))
        runner = _BatchRun(self._pooled_transport(concurrency), self.model_id, bodies, concurrency)
        try:
            results = runner.run(progress=progress, stop_on_error=on_error == "raise")
        finally:
            self.last_batch_stats = runner.stats()
        if on_error == "raise":
            first = runner.first_error
            if first is not None:
                raise first
            return [r for r in results if isinstance(r, Completion)]
        return results


# -- helpers ------------------------------------------------------------------------------------------


def _as_prompt(prompt: PromptInput, system: str | None) -> Prompt:
    if system is not None and not isinstance(system, str):
        raise ValueError(f"system must be a string or None, got {type(system).__name__}")
    if isinstance(prompt, Prompt):
        if system is None or prompt.system == system:
            return prompt
        if prompt.system is not None:
            raise ValueError("two different system prompts: the Prompt's own and the system= argument; give one")
        return Prompt(messages=prompt.messages, system=system)
    if isinstance(prompt, str):
        if not prompt.strip():
            raise ValueError("the prompt is empty")
        return Prompt.from_text(prompt, system=system)
    if isinstance(prompt, Sequence):
        messages: list[dict[str, str]] = []
        for number, message in enumerate(prompt):
            if not isinstance(message, Mapping):
                raise ValueError(f"message {number} must be a dict with 'role' and 'content', got {message!r}")
            messages.append(dict(message))
        return Prompt(messages=messages, system=system)
    raise ValueError(f"a prompt must be text, a Prompt or a list of messages, got {type(prompt).__name__}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def _check_parameters(
    max_tokens: int,
    temperature: float | None,
    top_p: float | None,
    top_k: int | None,
    stop_sequences: Sequence[str] | None,
) -> None:
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_OUTPUT_TOKENS:
        raise ValueError(
            f"max_tokens must be an integer from 1 to {MAX_OUTPUT_TOKENS} (Claude 3 Haiku's output limit), "
            f"got {max_tokens!r}"
        )
    for name, value in (("temperature", temperature), ("top_p", top_p)):
        if value is not None and (not _is_number(value) or not 0.0 <= value <= 1.0):
            raise ValueError(f"{name} must be a number from 0 to 1, got {value!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
        raise ValueError(f"top_k must be an integer >= 0, got {top_k!r}")
    if stop_sequences is not None:
        if isinstance(stop_sequences, str):
            raise ValueError("stop_sequences must be a list of strings, not one string")
        for sequence in stop_sequences:
            if not isinstance(sequence, str) or not sequence:
                raise ValueError(f"each stop sequence must be a non-empty string, got {sequence!r}")


def _invoke_encoded(
    transport: BedrockTransport,
    model_id: str,
    body: bytes,
    on_retry: Callable[[BaseException], None] | None = None,
) -> Completion:
    began = time.perf_counter()
    response = transport.call(
        _RUNTIME,
        "InvokeModel",
        on_retry=on_retry,
        modelId=model_id,
        body=body,
    )
    try:
        raw = response["body"].read()
    except (ReadTimeoutError, ResponseStreamingError, Urllib3HTTPError) as error:
        raise_for_connection_error(error, "InvokeModel")
    latency = time.perf_counter() - began
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"InvokeModel on {model_id} returned a body that is not JSON: {error}") from error
    return Completion.from_body(parsed, latency=latency)


# -- batch machinery ----------------------------------------------------------------------------------


class _Window:
    """The adaptive limit on calls in flight: halve on throttling (once per window), +1 after a full run."""

    def __init__(self, ceiling: int) -> None:
        self._cond = threading.Condition()
        self.ceiling = ceiling
        self.limit = ceiling
        self.in_flight = 0
        self.epoch = 0
        self.streak = 0
        self.closed = False
        self.min_limit = ceiling
        self.max_in_flight = 0
        self.throttles = 0
        self.decreases = 0
        self.increases = 0

    def acquire(self) -> int | None:
        """Wait for room; return the window's epoch, or None when the run was stopped."""
        with self._cond:
            while self.in_flight >= self.limit and not self.closed:
                self._cond.wait()
            if self.closed:
                return None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.epoch

    def throttled(self, epoch: int) -> None:
        with self._cond:
            self.throttles += 1
            self.streak = 0
            # Calls sent before the last decrease saw the old, larger window: one halving per window.
            if epoch == self.epoch:
                self.limit = max(1, self.limit // 2)
                self.epoch += 1
                self.decreases += 1
                self.min_limit = min(self.min_limit, self.limit)

    def release(self, *, success: bool) -> None:
        with self._cond:
            self.in_flight -= 1
            if success:
                self.streak += 1
                if self.streak >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self.streak = 0
                    self.increases += 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class _Skipped(Exception):
    """An item that was not sent because the run stopped first."""


class _BatchRun:
    def __init__(self, transport: BedrockTransport, model_id: str, bodies: Sequence[bytes], concurrency: int) -> None:
        self.transport = transport
        self.model_id = model_id
        self.bodies = bodies
        self.concurrency = concurrency
        self.window = _Window(concurrency)
        self.first_error: BaseException | None = None
        self.failures = 0
        self.succeeded = 0
        self.began = time.perf_counter()
        self.ended: float | None = None

    def _one(self, index: int) -> Completion:
        epoch = self.window.acquire()
        if epoch is None:
            raise _Skipped(index)
        seen_throttle = False

        def on_retry(error: BaseException) -> None:
            # The transport tells us of every attempt it is about to retry: a throttled attempt is the
            # service's signal to slow down even when the retry then succeeds.
            nonlocal seen_throttle
            if isinstance(error, ThrottlingError):
                seen_throttle = True
                self.window.throttled(epoch)

        try:
            completion = _invoke_encoded(self.transport, self.model_id, self.bodies[index], on_retry)
        except Exception as error:
            if isinstance(error, ThrottlingError) and not seen_throttle:
                self.window.throttled(epoch)  # throttled on the last (or only) attempt
            self.window.release(success=False)
            raise
        self.window.release(success=not seen_throttle)
        return completion

    def run(self, *, progress: bool, stop_on_error: bool) -> list[Completion | BaseException]:
        count = len(self.bodies)
        results: list[Completion | BaseException | None] = [None] * count
        if count == 0:
            self.ended = time.perf_counter()
            return []
        bar = _progress_bar(self.model_id, count) if progress else None
        finished: queue.SimpleQueue[tuple[int, Future[Completion]]] = queue.SimpleQueue()
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, count), thread_name_prefix="haiku-batch")
        futures: list[Future[Completion]] = []
        clean = False
        try:
            for index in range(count):
                future = pool.submit(self._one, index)
                future.add_done_callback(functools.partial(_put_done, finished, index))
                futures.append(future)
            for _ in range(count):
                index, future = finished.get()
                if future.cancelled():
                    continue
                error = future.exception()
                if error is None:
                    results[index] = future.result()
                    self.succeeded += 1
                elif isinstance(error, _Skipped):
                    continue
                else:
                    self.failures += 1
                    results[index] = error
                    if self.first_error is None:
                        self.first_error = error
                    if stop_on_error:
                        self.window.close()
                        for other in futures:
                            other.cancel()
                if bar is not None:
                    bar.update(1)
            clean = True
        finally:
            self.window.close()
            # On Ctrl-C do not wait for calls in flight; otherwise let them finish so no thread outlives us.
            pool.shutdown(wait=clean, cancel_futures=True)
            if bar is not None:
                bar.close()
            self.ended = time.perf_counter()
        if stop_on_error and self.first_error is not None:
            return []
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:  # cannot happen: every index is submitted once and its result stored once
            raise RuntimeError(f"batch lost results for prompts {missing[:10]}")
        return [r for r in results if r is not None]

    def stats(self) -> BatchStats:
        window = self.window
        ended = self.ended if self.ended is not None else time.perf_counter()
        return BatchStats(
            items=len(self.bodies),
            requested_concurrency=self.concurrency,
            min_concurrency=window.min_limit,
            final_concurrency=window.limit,
            max_in_flight=window.max_in_flight,
            throttled=window.throttles,
            decreases=window.decreases,
            increases=window.increases,
            succeeded=self.succeeded,
            failed=self.failures,
            skipped=len(self.bodies) - self.succeeded - self.failures,
            elapsed=ended - self.began,
        )


def _put_done(
    finished: queue.SimpleQueue[tuple[int, Future[Completion]]], index: int, future: Future[Completion]
) -> None:
    finished.put((index, future))


def _progress_bar(model_id: str, total: int) -> Any:
    from tqdm.auto import tqdm

    short = model_id.rsplit("/", 1)[-1]
    return tqdm(total=total, desc=f"invoking {short}", unit=" calls")
