"""FineTunedModel: ask a deployed (or the base) Claude 3 Haiku model, one prompt or thousands.

A [`FineTunedModel`][haiku_finetune.model.FineTunedModel] is a model id (a Provisioned Throughput ARN for a fine-tuned
model, or the on-demand
base model id) plus the transport it was built with. Every call takes the inference parameters as one
[`InferenceParameters`][haiku_finetune.model.InferenceParameters] value or as keywords
(``model.invoke("...", system=..., max_tokens=...)``),
checks them locally before sending, and parses the reply into a [`Completion`][haiku_finetune.model.Completion]. Request
bodies and
replies live in `_inference`, streaming in `_stream`, batching in `_batch`.

This module never retries by itself: every runtime call goes through the transport, whose retry policy is
the only one. It does not create or delete anything billed by the hour; that is `deployment`'s job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, Protocol, overload

import orjson

from ._batch import BatchRun, BatchStats
from ._inference import (
    ANTHROPIC_VERSION,
    MAX_OUTPUT_TOKENS,
    Completion,
    InferenceOptions,
    InferenceParameters,
    Prompt,
    PromptInput,
    Usage,
    invoke_encoded,
)
from ._stream import CompletionStream, open_completion_stream
from ._transport import BedrockTransport, resolve_transport
from .base_models import DEFAULT_BASE_MODEL, BaseModelProfile, get_profile

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "ANTHROPIC_VERSION",
    "BASE_INVOKE_MODEL_ID",
    "MAX_OUTPUT_TOKENS",
    "BatchStats",
    "Completion",
    "CompletionStream",
    "FineTunedModel",
    "InferenceOptions",
    "InferenceParameters",
    "Prompt",
    "PromptInput",
    "Usage",
]

#: On-demand Claude 3 Haiku (the base model, for comparisons). Fine-tuning uses the ``:200k`` variant.
BASE_INVOKE_MODEL_ID = DEFAULT_BASE_MODEL.invoke_model_id

_RUNTIME = "bedrock-runtime"


class _BaseFactory(Protocol):
    def __call__(self, *, transport: BedrockTransport | None = None) -> FineTunedModel: ...


class _BaseModelFactory:
    """``base`` on the class and on instances: an instance lends its transport to the base model it hands out."""

    def __get__(self, instance: FineTunedModel | None, owner: type[FineTunedModel]) -> _BaseFactory:
        def base(*, transport: BedrockTransport | None = None) -> FineTunedModel:
            return owner(BASE_INVOKE_MODEL_ID, transport=resolve_transport(transport, instance))

        base.__doc__ = f"Return on-demand {DEFAULT_BASE_MODEL.display_name} (``{BASE_INVOKE_MODEL_ID}``)."
        return base


class FineTunedModel:
    """A Claude Haiku model to invoke: a fine-tuned one behind Provisioned Throughput, or the base model.

    Args:
        model_id: The Provisioned Throughput ARN (what
            [`ProvisionedDeployment.model`][haiku_finetune.deployment.ProvisionedDeployment.model] uses) or any model
            id the runtime accepts.
        transport: The transport to call through, resolved now (default: the process default).
        base_model: The base model it was fine-tuned from (a profile, its key, a model id or an ARN; default
            Claude 3 Haiku): its runtime rules, such as the largest ``max_tokens``, are checked before a call.
            A deployment created from a `CustomModel` passes it on.

    Raises:
        ValueError: An empty ``model_id``, or a ``base_model`` with no profile.

    Attributes:
        base_model: The base model's profile.
        last_batch_stats: What the most recent [`batch`][haiku_finetune.model.FineTunedModel.batch] on this object did
            (``None`` before any).
    """

    def __init__(
        self,
        model_id: str,
        *,
        transport: BedrockTransport | None = None,
        base_model: BaseModelProfile | str | None = None,
    ) -> None:
        if not isinstance(model_id, str) or not model_id:
            raise ValueError("model_id must be a non-empty string (a provisioned model ARN or a model id)")
        self.model_id = model_id
        self.base_model = get_profile(base_model)
        self._transport = resolve_transport(transport)
        self.last_batch_stats: BatchStats | None = None
        # Pooled transports by concurrency, kept so repeated batches reuse their clients and open connections.
        self._pooled: dict[int, BedrockTransport] = {}
        self._pooled_lock = threading.Lock()

    base = _BaseModelFactory()
    """On-demand Claude 3 Haiku, to compare against: ``FineTunedModel.base(transport=...)`` or ``model.base()``.

    Called on a model it carries that model's transport; called on the class, the one given (default: the
    process default).
    """

    def with_model_id(self, model_id: str) -> FineTunedModel:
        """Return a model with another id on this model's transport (e.g. ``model.with_model_id(BASE_...)``)."""
        return FineTunedModel(model_id, transport=self._transport, base_model=self.base_model)

    @property
    def transport(self) -> BedrockTransport:
        """The transport calls go through (fixed when the model was built)."""
        return self._transport

    def __repr__(self) -> str:
        return f"FineTunedModel({self.model_id!r})"

    def _pooled_transport(self, concurrency: int) -> BedrockTransport:
        with self._pooled_lock:
            pooled = self._pooled.get(concurrency)
            if pooled is None:
                pooled = self._pooled[concurrency] = self._transport.with_pool(concurrency)
            return pooled

    # -- request building ---------------------------------------------------------------------------

    def _parameters(self, params: InferenceParameters | None, options: Mapping[str, Any]) -> InferenceParameters:
        """``params`` with ``options`` applied, checked against this model's base model (nothing is sent yet)."""
        return InferenceParameters.of(params, **options).check_for(self.base_model)

    def request_body(
        self,
        prompt: PromptInput,
        *,
        params: InferenceParameters | None = None,
        **options: Unpack[InferenceOptions],
    ) -> dict[str, Any]:
        """Return the exact InvokeModel body for ``prompt``, after checking every parameter.

        Args:
            prompt: A user message as text, a [`Prompt`][haiku_finetune.model.Prompt], or a list of
                ``{"role", "content"}`` dicts.
            params: The inference parameters as one value (default:
                [`InferenceParameters`][haiku_finetune.model.InferenceParameters]'s defaults).
            **options: Inference parameters as keywords (``system``, ``max_tokens``, ``temperature``,
                ``top_p``, ``top_k``, ``stop_sequences``, ``tools``, ``tool_choice``; see
                [`InferenceParameters`][haiku_finetune.model.InferenceParameters]), overriding ``params``.

        Returns:
            The Messages API body (``anthropic_version``, ``max_tokens``, ``messages`` and the options given).

        Raises:
            ValueError: A parameter or the prompt is invalid (nothing was sent).
        """
        return self._parameters(params, options).body(prompt)

    # -- calls --------------------------------------------------------------------------------------

    def invoke(
        self,
        prompt: PromptInput,
        *,
        params: InferenceParameters | None = None,
        **options: Unpack[InferenceOptions],
    ) -> Completion:
        """Send one prompt through InvokeModel and return the reply.

        Arguments are those of [`request_body`][haiku_finetune.model.FineTunedModel.request_body]. With
        ``tools=[Tool(...)]`` the reply may be a tool call:
        ``completion.tool_calls`` (``stop_reason == "tool_use"``); send the results back as the next user turn,
        ``[*messages, completion.as_message(), {"role": "user", "content": [ToolResult(call.id, ...)]}]``, with
        the same tools.

        Raises:
            ValueError: A parameter or the prompt is invalid (nothing was sent).
            ServiceError: The runtime refused, after the transport's retries when retryable.
            ConnectionFailedError: The endpoint did not answer.
        """
        body = self._parameters(params, options).body(prompt)
        return invoke_encoded(self._transport, self.model_id, orjson.dumps(body))

    def converse(
        self,
        prompt: PromptInput,
        *,
        params: InferenceParameters | None = None,
        **options: Unpack[InferenceOptions],
    ) -> Completion:
        """Send one prompt through the Converse API and return the reply (same arguments as
        [`invoke`][haiku_finetune.model.FineTunedModel.invoke]).

        ``top_k`` goes in ``additionalModelRequestFields``, as Converse has no field of its own for it; tools
        go in ``toolConfig`` (``tool_choice="none"`` has no Converse form and is refused).
        """
        request = self._parameters(params, options).converse_params(prompt)
        began = time.perf_counter()
        response = self._transport.call(_RUNTIME, "Converse", modelId=self.model_id, **request)
        return Completion.from_converse(response, latency=time.perf_counter() - began)

    def stream(
        self,
        prompt: PromptInput,
        *,
        params: InferenceParameters | None = None,
        **options: Unpack[InferenceOptions],
    ) -> CompletionStream:
        """Stream one reply through InvokeModelWithResponseStream: iterate the result for text deltas.

        Parameters are checked now; the request is sent when iteration starts. After the last delta,
        ``stream.completion`` holds the whole reply with its stop reason, token usage and tool calls (the
        deltas are text only; a tool call's argument pieces are joined into ``completion.tool_calls``).

        Example:
            >>> for text in model.stream("Tell me a story"):  # doctest: +SKIP
            ...     print(text, end="", flush=True)
        """
        body = orjson.dumps(self._parameters(params, options).body(prompt))
        return open_completion_stream(self._transport, self.model_id, body)

    @overload
    def batch(
        self,
        prompts: Sequence[str | Prompt],
        *,
        concurrency: int = ...,
        progress: bool = ...,
        on_error: Literal["raise"] = ...,
        params: InferenceParameters | None = ...,
        **options: Unpack[InferenceOptions],
    ) -> list[Completion]: ...

    @overload
    def batch(
        self,
        prompts: Sequence[str | Prompt],
        *,
        concurrency: int = ...,
        progress: bool = ...,
        on_error: Literal["return"],
        params: InferenceParameters | None = ...,
        **options: Unpack[InferenceOptions],
    ) -> list[Completion | BaseException]: ...

    def batch(
        self,
        prompts: Sequence[str | Prompt],
        *,
        concurrency: int = 8,
        progress: bool = True,
        on_error: Literal["raise", "return"] = "raise",
        params: InferenceParameters | None = None,
        **options: Unpack[InferenceOptions],
    ) -> list[Completion] | list[Completion | BaseException]:
        """Invoke the model on many prompts in parallel; return one result per prompt, in input order.

        Every prompt is checked and encoded before the first call. Calls run on a pool of ``concurrency``
        threads (the HTTP connection pool is sized to match). The number of calls allowed in flight adapts:
        a throttled attempt cuts it to three quarters (at most once per window, never below 1), and a run of
        successful calls as long as the window adds one back, up to ``concurrency``. Throttles that show the
        deployment's capacity (many refused at once, or fewer served than the pace sent) also set a pace: just
        under the token rate (from response usage) it served, growing 1.5 % a second while nothing is
        throttled, so a batch settles just under a Provisioned Throughput's capacity. Retries are the
        transport's; `last_batch_stats` says what the run did.

        Args:
            prompts: Text (a user message) or [`Prompt`][haiku_finetune.model.Prompt] values.
            concurrency: Most calls in flight at once (>= 1).
            progress: Show a tqdm.auto progress bar.
            on_error: ``"raise"``: stop at the first failure, let in-flight calls finish, skip the rest
                and raise it. ``"return"``: put the exception in that prompt's place and carry on.
            params: The inference parameters for every prompt (see
                [`request_body`][haiku_finetune.model.FineTunedModel.request_body]).
            **options: Inference parameters as keywords, overriding ``params``.

        Returns:
            A list as long as ``prompts``: a [`Completion`][haiku_finetune.model.Completion] per prompt, or (with
            ``on_error="return"``)
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
        parameters = self._parameters(params, options)
        bodies: list[bytes] = []
        for index, prompt in enumerate(prompts):
            try:
                body = parameters.body(prompt)
            except ValueError as error:
                raise ValueError(f"prompt {index}: {error}") from error
            bodies.append(orjson.dumps(body))
        runner = BatchRun(self._pooled_transport(concurrency), self.model_id, bodies, concurrency)
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
