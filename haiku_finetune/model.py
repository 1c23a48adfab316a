"""FineTunedModel: invoke a fine-tuned (or the base) Claude 3 Haiku — one call, a stream, or a fast batch.

Requests use the Anthropic Messages format on Bedrock (``anthropic_version: "bedrock-2023-05-31"``). Parameters
are checked locally before any call. Runtime calls are retried by the transport's policy only; ``batch`` adds
adaptive concurrency on top (it halves its in-flight limit when the service throttles and grows it back one
step at a time), and returns every item exactly once, in input order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._transport import BedrockTransport, resolve_transport
from .errors import HaikuFinetuneError, ThrottlingError, raise_for_client_error

__all__ = [
    "ANTHROPIC_VERSION",
    "BASE_INVOKE_MODEL_ID",
    "MAX_OUTPUT_TOKENS",
    "BatchStats",
    "Completion",
    "FineTunedModel",
    "Prompt",
    "PromptInput",
    "Usage",
]

_log = logging.getLogger(__name__)

#: The Messages API version Bedrock expects in an Anthropic request body.
ANTHROPIC_VERSION = "bedrock-2023-05-31"
#: Claude 3 Haiku on demand (the base model to compare a fine-tune against).
BASE_INVOKE_MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"
#: Claude 3 Haiku writes at most this many output tokens.
MAX_OUTPUT_TOKENS = 4096


class Prompt(BaseModel):
    """A conversation to send: messages ending with a user turn, and an optional system prompt."""

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
            if not isinstance(message["content"], str):
                raise ValueError(f"message {i} content must be a string")
        if messages[-1]["role"] != "user":
            raise ValueError("the last message must be from the user: the model answers it")
        return messages


#: What ``invoke`` and ``batch`` take: plain text (one user turn), a :class:`Prompt`, or message dicts.
PromptInput = str | Prompt | Sequence[Mapping[str, str]]


class Usage(BaseModel):
    """Tokens the service counted for one call."""

    model_config = ConfigDict(frozen=True)

    input_tokens: int = 0
    output_tokens: int = 0


class Completion(BaseModel):
    """A model's answer.

    Attributes:
        text: The generated text.
        stop_reason: Why generation stopped (``end_turn``, ``max_tokens``, ``stop_sequence``).
        usage: Input and output tokens.
        latency: Seconds the call took, retries included (0 when unknown, as for batch inference).
        raw: The response body as the service sent it.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    stop_reason: str | None = None
    usage: Usage = Usage()
    latency: float = 0.0
    raw: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_body(cls, body: Mapping[str, Any], latency: float = 0.0) -> Completion:
        """Parse an InvokeModel response body (Messages format)."""
        content = body.get("content") or []
        text = "".join(block.get("text", "") for block in content if block.get("type", "text") == "text")
        usage = body.get("usage") or {}
        return cls(
            text=text,
            stop_reason=body.get("stop_reason"),
            usage=Usage(
                input_tokens=int(usage.get("input_tokens", 0)), output_tokens=int(usage.get("output_tokens", 0))
            ),
            latency=latency,
            raw=dict(body),
        )


@dataclass
class BatchStats:
    """What the last :meth:`FineTunedModel.batch` did, for tuning and for tests.

    Attributes:
        requested_concurrency: The concurrency asked for.
        min_concurrency: The lowest in-flight limit the batch backed off to.
        final_concurrency: The limit when the batch ended (recovers after throttling stops).
        throttled: How many throttling responses were seen (retried ones included).
        succeeded: Items that returned a completion.
        failed: Items that ended in an error.
        elapsed: Wall-clock seconds.
    """

    requested_concurrency: int
    min_concurrency: int
    final_concurrency: int
    throttled: int
    succeeded: int
    failed: int
    elapsed: float


class FineTunedModel:
    """A model to invoke: a provisioned fine-tune (by its provisioned ARN) or the on-demand base model.

    Args:
        model_id: The model id or ARN to invoke: for a fine-tuned Claude 3 Haiku, the Provisioned
            Throughput ARN (``deployment.model`` gives it); for the base model, its id.
        transport: The transport (default: the process default).
    """

    def __init__(self, model_id: str, *, transport: BedrockTransport | None = None) -> None:
        if not model_id:
            raise ValueError("model_id is empty")
        self.model_id = model_id
        self._transport = transport
        self.last_batch_stats: BatchStats | None = None

    @classmethod
    def base(cls, *, transport: BedrockTransport | None = None) -> FineTunedModel:
        """The on-demand base Claude 3 Haiku, to compare a fine-tune against."""
        return cls(BASE_INVOKE_MODEL_ID, transport=transport)

    @property
    def transport(self) -> BedrockTransport:
        """The transport calls go through."""
        return resolve_transport(self._transport)

    def __repr__(self) -> str:
        return f"FineTunedModel({self.model_id!r})"

    # -- requests -----------------------------------------------------------------------------------

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
        """Return the exact InvokeModel body for ``prompt`` (checked locally).

        Raises:
            ValueError: A parameter out of range or a malformed conversation, naming which.
        """
        conversation = _as_prompt(prompt, system)
        _check_parameters(max_tokens, temperature, top_p, top_k, stop_sequences)
        body: dict[str, Any] = {
            "anthropic_version": ANTHROPIC_VERSION,
            "max_tokens": max_tokens,
            "messages": [dict(m) for m in conversation.messages],
        }
        if conversation.system is not None:
            body["system"] = conversation.system
        optional = {"temperature": temperature, "top_p": top_p, "top_k": top_k}
        body.update({k: v for k, v in optional.items() if v is not None})
        if stop_sequences:
            body["stop_sequences"] = list(stop_sequences)
        return body

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
        """Invoke the model once through InvokeModel.

        Args:
            prompt: Text (one user turn), a :class:`Prompt`, or message dicts ending with a user turn.
            system: A system prompt (overrides the prompt's own).
            max_tokens: Output token limit, 1 to 4,096.
            temperature: Sampling temperature in [0, 1].
            top_p: Nucleus sampling in [0, 1].
            top_k: Top-k sampling, >= 0.
            stop_sequences: Strings that end generation.

        Returns:
            The :class:`Completion`.

        Raises:
            ValueError: Bad parameters (nothing was sent).
            ServiceError: The service refused the call (after the transport's retries).
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
        return self._invoke_body(body, None)

    def _invoke_body(self, body: dict[str, Any], on_retry: Callable[[BaseException], None] | None) -> Completion:
        payload = orjson.dumps(body)
        started = time.perf_counter()
        response = self.transport.call(
            "bedrock-runtime",
            "InvokeModel",
            on_retry=on_retry,
            modelId=self.model_id,
            body=payload,
            contentType="application/json",
            accept="application/json",
        )
        raw = response["body"].read()
        latency = time.perf_counter() - started
        return Completion.from_body(orjson.loads(raw), latency=latency)

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
        """Invoke the model through the Converse API (same arguments and result as :meth:`invoke`)."""
        conversation = _as_prompt(prompt, system)
        _check_parameters(max_tokens, temperature, top_p, top_k, stop_sequences)
        inference: dict[str, Any] = {"maxTokens": max_tokens}
        if temperature is not None:
            inference["temperature"] = temperature
        if top_p is not None:
            inference["topP"] = top_p
        if stop_sequences:
            inference["stopSequences"] = list(stop_sequences)
        params: dict[str, Any] = {
            "modelId": self.model_id,
            "messages": [{"role": m["role"], "content": [{"text": m["content"]}]} for m in conversation.messages],
            "inferenceConfig": inference,
        }
        if conversation.system is not None:
            params["system"] = [{"text": conversation.system}]
        if top_k is not None:
            params["additionalModelRequestFields"] = {"top_k": top_k}
        started = time.perf_counter()
        response = self.transport.call("bedrock-runtime", "Converse", **params)
        latency = time.perf_counter() - started
        blocks = response.get("output", {}).get("message", {}).get("content", [])
        usage = response.get("usage") or {}
        return Completion(
            text="".join(block.get("text", "") for block in blocks),
            stop_reason=response.get("stopReason"),
            usage=Usage(input_tokens=usage.get("inputTokens", 0), output_tokens=usage.get("outputTokens", 0)),
            latency=latency,
            raw={k: v for k, v in response.items() if k != "ResponseMetadata"},
        )

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
    ) -> Iterator[str]:
        """Yield the answer's text as it is generated (InvokeModelWithResponseStream).

        The call itself is retried by the transport; an error in the middle of the stream is raised as the
        matching library error (a half-read stream is not replayed).
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
        response = self.transport.call(
            "bedrock-runtime",
            "InvokeModelWithResponseStream",
            modelId=self.model_id,
            body=orjson.dumps(body),
            contentType="application/json",
            accept="application/json",
        )
        try:
            for event in response["body"]:
                chunk = event.get("chunk")
                if chunk is None:
                    continue
                data = orjson.loads(chunk["bytes"])
                if data.get("type") == "content_block_delta":
                    text = data.get("delta", {}).get("text")
                    if text:
                        yield text
        except ClientError as error:  # botocore's EventStreamError: an error event inside the stream
            raise_for_client_error(error, "InvokeModelWithResponseStream")

    # -- batches ------------------------------------------------------------------------------------

    def batch(
        self,
        prompts: Sequence[PromptInput],
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
    ) -> list[Completion | BaseException]:
        """Invoke the model on many prompts concurrently; results come back in input order.

        Concurrency adapts: each throttling response halves the number of calls in flight (at least one),
        and every run of successes as long as the current limit adds one back, up to ``concurrency``. Each
        prompt is sent as one logical call (retried by the transport), so nothing is lost or duplicated.
        :attr:`last_batch_stats` says what happened.

        Args:
            prompts: The prompts (text, :class:`Prompt` or message dicts).
            concurrency: Most calls in flight at once.
            progress: Show a tqdm.auto progress bar.
            on_error: ``"raise"``: raise the first failure (the calls not yet started are cancelled);
                ``"return"``: put the exception in that item's place and go on.
            system, max_tokens, temperature, top_p, top_k, stop_sequences: As for :meth:`invoke`, for
                every prompt.

        Returns:
            One :class:`Completion` per prompt (or, with ``on_error="return"``, the exception it raised).

        Raises:
            ValueError: Bad parameters or a malformed prompt (raised before any call, naming the item).
            HaikuFinetuneError: With ``on_error="raise"``, the first item that failed.
        """
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, got {concurrency}")
        if on_error not in ("raise", "return"):
            raise ValueError(f"on_error must be 'raise' or 'return', got {on_error!r}")
        bodies = []
        for index, prompt in enumerate(prompts):
            try:
                bodies.append(
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
            except ValueError as error:
                raise ValueError(f"prompt {index}: {error}") from error
        worker = FineTunedModel(self.model_id, transport=self.transport.with_pool(concurrency))
        gate = _AdaptiveGate(concurrency)
        results: list[Completion | BaseException | None] = [None] * len(bodies)
        abort = threading.Event()
        started = time.perf_counter()

        def _run(index: int) -> None:
            if abort.is_set():
                return
            gate.acquire()
            succeeded = False
            try:
                if abort.is_set():
                    return
                results[index] = worker._invoke_body(bodies[index], gate.saw_error)
                succeeded = True
            except (HaikuFinetuneError, OSError) as error:
                gate.saw_error(error)
                results[index] = error
                if on_error == "raise":
                    abort.set()
            finally:
                gate.release(succeeded)

        bar = _progress(len(bodies)) if progress else None
        try:
            with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="haiku-batch") as pool:
                futures: list[Future[None]] = [pool.submit(_run, i) for i in range(len(bodies))]
                for future in futures:
                    future.result()
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
        failures = [r for r in results if isinstance(r, BaseException)]
        self.last_batch_stats = BatchStats(
            requested_concurrency=concurrency,
            min_concurrency=gate.min_limit,
            final_concurrency=gate.limit,
            throttled=gate.throttled,
            succeeded=sum(isinstance(r, Completion) for r in results),
            failed=len(failures),
            elapsed=time.perf_counter() - started,
        )
        if on_error == "raise" and failures:
            first = next(r for r in results if isinstance(r, BaseException))
            raise first
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:  # cannot happen without an abort; guard against silently dropping items
            raise RuntimeError(f"batch lost items {missing[:10]}")
        return [r for r in results if r is not None]


class _AdaptiveGate:
    """Additive-increase, multiplicative-decrease limit on calls in flight."""

    def __init__(self, limit: int) -> None:
        self.maximum = limit
        self.limit = limit
        self.min_limit = limit
        self.throttled = 0
        self._in_flight = 0
        self._successes = 0
        self._cond = threading.Condition()

    def acquire(self) -> None:
        """Wait for a free slot under the current limit."""
        with self._cond:
            while self._in_flight >= self.limit:
                self._cond.wait()
            self._in_flight += 1

    def release(self, succeeded: bool) -> None:
        """Free a slot; a run of successes as long as the limit raises the limit by one."""
        with self._cond:
            self._in_flight -= 1
            if succeeded:
                self._successes += 1
                if self._successes >= self.limit and self.limit < self.maximum:
                    self.limit += 1
                    self._successes = 0
            self._cond.notify_all()

    def saw_error(self, error: BaseException) -> None:
        """Halve the limit on throttling (told of retried and final errors alike)."""
        if not isinstance(error, ThrottlingError):
            return
        with self._cond:
            self.throttled += 1
            self.limit = max(1, self.limit // 2)
            self.min_limit = min(self.min_limit, self.limit)
            self._successes = 0
            _log.debug("throttled: batch concurrency now %d", self.limit)


def _as_prompt(prompt: PromptInput, system: str | None) -> Prompt:
    if isinstance(prompt, str):
        if not prompt.strip():
            raise ValueError("prompt is empty")
        return Prompt(messages=[{"role": "user", "content": prompt}], system=system)
    if isinstance(prompt, Prompt):
        return prompt if system is None else Prompt(messages=prompt.messages, system=system)
    return Prompt(messages=[dict(m) for m in prompt], system=system)


def _check_parameters(
    max_tokens: int,
    temperature: float | None,
    top_p: float | None,
    top_k: int | None,
    stop_sequences: Sequence[str] | None,
) -> None:
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= MAX_OUTPUT_TOKENS:
        raise ValueError(
            f"max_tokens must be an integer from 1 to {MAX_OUTPUT_TOKENS} for Claude 3 Haiku, got {max_tokens!r}"
        )
    for name, value in (("temperature", temperature), ("top_p", top_p)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
        raise ValueError(f"top_k must be an integer >= 0, got {top_k!r}")
    if stop_sequences is not None and (
        isinstance(stop_sequences, str) or not all(isinstance(s, str) and s for s in stop_sequences)
    ):
        raise ValueError("stop_sequences must be a list of non-empty strings")


def _progress(total: int) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="invoking", unit=" prompts")
