"""What one model call sends and gets back: prompts, inference parameters, request bodies, completions.

[`InferenceParameters`][haiku_finetune._inference.InferenceParameters] is the one place the Messages-API inference
parameters (max_tokens, temperature,
top_p, top_k, stop_sequences, system) and the tools the model may call (tools, tool_choice) are named, checked
and turned into an InvokeModel body or Converse parameters;
[`FineTunedModel.invoke`][haiku_finetune.model.FineTunedModel.invoke], ``converse``,
``stream``, ``batch`` and ``request_body`` all take them through it.
[`Completion`][haiku_finetune._inference.Completion] parses either API's
reply. `invoke_encoded` makes one InvokeModel call through the transport.

This module builds and parses; it never retries and never catches botocore errors (the transport maps them).
The tool types themselves (`Tool`, ``ToolCall``, ``ToolResult``) live in `tools`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypedDict

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from ._transport import BedrockTransport
from .base_models import DEFAULT_BASE_MODEL, BaseModelProfile, profiles
from .tools import (
    Tool,
    ToolCall,
    ToolChoice,
    check_tools,
    converse_blocks,
    converse_tool_config,
    message_blocks,
    tool_choice_body,
)

__all__ = [
    "ANTHROPIC_VERSION",
    "MAX_OUTPUT_TOKENS",
    "Completion",
    "InferenceOptions",
    "InferenceParameters",
    "Prompt",
    "PromptInput",
    "Usage",
    "invoke_encoded",
]

#: The ``anthropic_version`` every Claude request body on Bedrock carries.
ANTHROPIC_VERSION = DEFAULT_BASE_MODEL.anthropic_version

#: Claude 3 Haiku (the default base model) generates at most this many tokens per reply; another base model's
#: limit is its profile's ``runtime.max_output_tokens`` (see `InferenceParameters.check_for`).
MAX_OUTPUT_TOKENS = DEFAULT_BASE_MODEL.runtime.max_output_tokens

_RUNTIME = "bedrock-runtime"


class Prompt(BaseModel):
    """A conversation to send: messages (from the user first, roles alternating, the user's last) and a system prompt.

    A message's content is text, or a list of content blocks: text, a `ToolCall`
    (in an assistant turn, as ``Completion.as_message()`` gives it), a `ToolResult`
    (in the user turn after it) or a Messages API block dict. They are stored in the Messages API's form.

    Attributes:
        messages: The turns, as ``{"role": "user" | "assistant", "content": str | list[block]}`` dicts.
        system: The system prompt, if any.

    Examples:
        >>> Prompt(messages=[{"role": "user", "content": "Hi"}], system="Be brief.").system
        'Be brief.'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: list[dict[str, Any]] = Field(min_length=1)
    system: str | None = None

    @field_validator("messages", mode="before")
    @classmethod
    def _normalize(cls, messages: Any) -> Any:
        if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
            return messages
        normalized: list[Any] = []
        for i, message in enumerate(messages):
            if isinstance(message, Mapping) and "content" in message:
                message = {**message, "content": message_blocks(message["content"], f"message {i}")}
            normalized.append(message)
        return normalized

    @field_validator("messages")
    @classmethod
    def _check_messages(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        pending: set[str] = set()  # tool_use ids of the previous assistant turn
        for i, message in enumerate(messages):
            if set(message) != {"role", "content"}:
                raise ValueError(f"message {i} must have exactly the keys 'role' and 'content', got {sorted(message)}")
            expected = "user" if i % 2 == 0 else "assistant"
            if message["role"] != expected:
                raise ValueError(
                    f"message {i} has role {message['role']!r}; roles must alternate user/assistant starting "
                    "with user (put a system prompt in `system`)"
                )
            content = message["content"]
            if isinstance(content, str):
                if not content.strip():
                    raise ValueError(f"message {i} ({message['role']}) has empty content")
                blocks: list[dict[str, Any]] = []
            else:
                blocks = content
            uses = {str(b.get("id")) for b in blocks if b.get("type") == "tool_use"}
            results = {str(b.get("tool_use_id")) for b in blocks if b.get("type") == "tool_result"}
            if uses and message["role"] != "assistant":
                raise ValueError(f"message {i}: tool calls (tool_use blocks) belong in assistant messages")
            if results and message["role"] != "user":
                raise ValueError(f"message {i}: tool results belong in user messages")
            if results - pending:
                raise ValueError(
                    f"message {i}: tool result(s) for {sorted(results - pending)}, which the previous assistant "
                    "message did not call"
                )
            if pending - results:
                raise ValueError(
                    f"message {i} must answer every tool call of the message before: {sorted(pending - results)}"
                )
            pending = uses
        if messages[-1]["role"] != "user":
            raise ValueError("the last message must be from the user: the model answers it")
        return messages

    @classmethod
    def from_text(cls, text: str, *, system: str | None = None) -> Prompt:
        """Return a one-turn prompt: ``text`` as the user's message."""
        return cls(messages=[{"role": "user", "content": text}], system=system)

    def uses_tools(self) -> bool:
        """Whether any message carries a tool call or a tool result (the request must then define tools)."""
        return any(
            isinstance(m["content"], list) and any(b.get("type") in ("tool_use", "tool_result") for b in m["content"])
            for m in self.messages
        )


#: What ``invoke`` and ``batch`` take: plain text (one user turn), a :class:`Prompt`, or message dicts.
PromptInput = str | Prompt | Sequence[Mapping[str, Any]]


class InferenceOptions(TypedDict, total=False):
    """The keyword form of [`InferenceParameters`][haiku_finetune._inference.InferenceParameters]
    (``model.invoke("...", max_tokens=200)``), for typing."""

    system: str | None
    max_tokens: int
    temperature: float | None
    top_p: float | None
    top_k: int | None
    stop_sequences: Sequence[str] | None
    tools: Sequence[Tool] | None
    tool_choice: ToolChoice | None


@dataclass(frozen=True)
class InferenceParameters:
    """How the model should answer: the Messages-API inference parameters, checked when built.

    Every call takes these either as one value (``params=InferenceParameters(max_tokens=200)``) or as
    keywords (``max_tokens=200``); keywords override fields of a value given too.

    Attributes:
        system: System prompt for prompts that have none of their own (a [`Prompt`][haiku_finetune._inference.Prompt]
            with its own must
            agree with it).
        max_tokens: Most tokens to generate: at least 1, and at most the base model's output limit (its
            profile's ``runtime.max_output_tokens``: 4,096 for Claude 3 Haiku), which
            `check_for` (and every `FineTunedModel` call) checks.
        temperature: Sampling temperature in [0, 1].
        top_p: Nucleus sampling in [0, 1].
        top_k: Sample from the k most likely tokens (>= 0).
        stop_sequences: Strings that end generation.
        tools: Tools the model may call (`Tool`, names unique).
        tool_choice: ``"auto"`` (default when tools are given), ``"any"`` (must call one), ``"none"`` (must not;
            InvokeModel only) or a tool's name (must call that one).

    Raises:
        ValueError: A parameter is out of range (one line naming it).
    """

    system: str | None = None
    max_tokens: int = 1024
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop_sequences: tuple[str, ...] | None = None
    tools: tuple[Tool, ...] | None = None
    tool_choice: ToolChoice | None = None

    def __post_init__(self) -> None:
        if self.system is not None and not isinstance(self.system, str):
            raise ValueError(f"system must be a string or None, got {type(self.system).__name__}")
        max_tokens = self.max_tokens
        # The model's own limit is checked where the model is known (check_for); here, the largest of any profile.
        largest = max(p.runtime.max_output_tokens for p in profiles())
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= largest:
            raise ValueError(
                f"max_tokens must be an integer from 1 to {largest} (the largest output limit of the base models "
                f"known), got {max_tokens!r}"
            )
        for name, value in (("temperature", self.temperature), ("top_p", self.top_p)):
            if value is not None and (not _is_number(value) or not 0.0 <= value <= 1.0):
                raise ValueError(f"{name} must be a number from 0 to 1, got {value!r}")
        top_k = self.top_k
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 0):
            raise ValueError(f"top_k must be an integer >= 0, got {top_k!r}")
        stops = self.stop_sequences
        if stops is not None:
            if isinstance(stops, str):
                raise ValueError("stop_sequences must be a list of strings, not one string")
            for sequence in stops:
                if not isinstance(sequence, str) or not sequence:
                    raise ValueError(f"each stop sequence must be a non-empty string, got {sequence!r}")
            # Stored as a tuple so the value stays frozen (and hashable) whatever sequence was given.
            object.__setattr__(self, "stop_sequences", tuple(stops))
        tools, choice = check_tools(self.tools, self.tool_choice)
        object.__setattr__(self, "tools", tools)
        object.__setattr__(self, "tool_choice", choice)

    @classmethod
    def of(cls, params: InferenceParameters | None = None, /, **options: Any) -> InferenceParameters:
        """Return ``params`` (default: the defaults) with ``options`` (keyword names of the fields) applied.

        Raises:
            TypeError: An option is not an inference parameter.
            ValueError: A parameter is out of range.
        """
        if params is not None and not isinstance(params, InferenceParameters):
            raise TypeError(f"params must be InferenceParameters, got {type(params).__name__}")
        unknown = set(options) - _FIELDS
        if unknown:
            raise TypeError(f"unknown inference parameter(s) {sorted(unknown)}; expected some of {sorted(_FIELDS)}")
        base = params if params is not None else _DEFAULTS
        return dataclasses.replace(base, **options) if options else base

    def check_for(self, profile: BaseModelProfile) -> InferenceParameters:
        """Return these parameters if the base model ``profile`` takes them.

        Raises:
            ValueError: ``max_tokens`` is above the model's output limit (one line naming both).
        """
        limit = profile.runtime.max_output_tokens
        if self.max_tokens > limit:
            raise ValueError(
                f"max_tokens must be an integer from 1 to {limit} ({profile.display_name}'s output limit; a model "
                f"fine-tuned from another base model takes FineTunedModel(..., base_model=...)), "
                f"got {self.max_tokens!r}"
            )
        return self

    def body(self, prompt: PromptInput) -> dict[str, Any]:
        """Return the InvokeModel (Messages API) body for ``prompt`` with these parameters.

        Raises:
            ValueError: The prompt is invalid, or has a different system prompt of its own.
        """
        system = self.system
        if isinstance(prompt, str):
            # The common case, built directly: a one-turn prompt needs no conversation checks.
            if not prompt.strip():
                raise ValueError("the prompt is empty")
            messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        else:
            resolved = as_prompt(prompt, system)
            self._check_tool_blocks(resolved)
            messages, system = [dict(m) for m in resolved.messages], resolved.system
        body: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION, "max_tokens": self.max_tokens}
        body["messages"] = messages
        if system is not None:
            body["system"] = system
        body.update(self._sampling(_INVOKE_SAMPLING))
        if self.tools:
            body["tools"] = [tool.to_api() for tool in self.tools]
        if self.tool_choice is not None:
            body["tool_choice"] = tool_choice_body(self.tool_choice)
        return body

    def _sampling(self, names: tuple[tuple[str, str], ...]) -> dict[str, Any]:
        """The sampling fields that are set, under the API's ``names`` for them, in that order.

        A number is set when it is not ``None`` (0 is a value); stop sequences when there is at least one.
        """
        fields: dict[str, Any] = {}
        for field, key in names:
            value = getattr(self, field)
            if field == "stop_sequences":
                if value:
                    fields[key] = list(value)
            elif value is not None:
                fields[key] = value
        return fields

    def _check_tool_blocks(self, prompt: Prompt) -> None:
        if not self.tools and prompt.uses_tools():
            raise ValueError("the conversation carries tool calls or results: pass the same tools=[...] again")

    def converse_params(self, prompt: PromptInput) -> dict[str, Any]:
        """Return the Converse request parameters for ``prompt`` (all but ``modelId``).

        ``top_k`` goes in ``additionalModelRequestFields``, as Converse has no field of its own for it.
        """
        resolved = as_prompt(prompt, self.system)
        self._check_tool_blocks(resolved)
        config: dict[str, Any] = {"maxTokens": self.max_tokens, **self._sampling(_CONVERSE_SAMPLING)}
        params: dict[str, Any] = {
            "messages": [{"role": m["role"], "content": converse_blocks(m["content"])} for m in resolved.messages],
            "inferenceConfig": config,
        }
        if resolved.system is not None:
            params["system"] = [{"text": resolved.system}]
        if self.top_k is not None:
            params["additionalModelRequestFields"] = {"top_k": self.top_k}
        if self.tools:
            params["toolConfig"] = converse_tool_config(self.tools, self.tool_choice)
        return params


#: The sampling fields each API takes and its names for them: InvokeModel's body (the Messages API), and
#: Converse's ``inferenceConfig`` (which has no ``top_k``: that goes in ``additionalModelRequestFields``).
_INVOKE_SAMPLING = (
    ("temperature", "temperature"),
    ("top_p", "top_p"),
    ("top_k", "top_k"),
    ("stop_sequences", "stop_sequences"),
)
_CONVERSE_SAMPLING = (("temperature", "temperature"), ("top_p", "topP"), ("stop_sequences", "stopSequences"))

_DEFAULTS = InferenceParameters()
_FIELDS = frozenset(f.name for f in dataclasses.fields(InferenceParameters))


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
        tool_calls: The tools the model called, in order (then ``stop_reason == "tool_use"``).
        stop_reason: Why generation stopped: ``"end_turn"``, ``"tool_use"``, ``"max_tokens"``, ``"stop_sequence"``, …
        stop_sequence: The stop sequence that ended generation, when one did.
        usage: Token counts.
        latency: Wall-clock seconds the call took (request sent to reply read), 0 when unknown.
        raw: The response body as the service returned it.
    """

    model_config = ConfigDict(frozen=True)

    text: str
    tool_calls: tuple[ToolCall, ...] = ()
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
        calls = tuple(
            ToolCall(str(block.get("id", "")), str(block.get("name", "")), dict(block.get("input") or {}))
            for block in blocks
            if isinstance(block, Mapping) and block.get("type") == "tool_use"
        )
        usage = body.get("usage") or {}
        return cls(
            text=text,
            tool_calls=calls,
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
        content = message.get("content", [])
        text = "".join(str(block["text"]) for block in content if "text" in block)
        calls = tuple(
            ToolCall(str(use.get("toolUseId", "")), str(use.get("name", "")), dict(use.get("input") or {}))
            for use in (block["toolUse"] for block in content if "toolUse" in block)
        )
        usage = response.get("usage") or {}
        return cls(
            text=text,
            tool_calls=calls,
            stop_reason=response.get("stopReason"),
            usage=Usage(input_tokens=int(usage.get("inputTokens", 0)), output_tokens=int(usage.get("outputTokens", 0))),
            latency=latency,
            raw={k: v for k, v in response.items() if k != "ResponseMetadata"},
        )

    def as_message(self) -> dict[str, Any]:
        """This reply as the assistant turn of a conversation (text and tool calls), to send back with results.

        Examples:
            >>> reply = Completion(text="", tool_calls=(ToolCall("toolu_1", "f", {}),), stop_reason="tool_use")
            >>> reply.as_message()["content"]
            [{'type': 'tool_use', 'id': 'toolu_1', 'name': 'f', 'input': {}}]
        """
        blocks: list[dict[str, Any]] = [{"type": "text", "text": self.text}] if self.text else []
        blocks.extend(call.to_api() for call in self.tool_calls)
        return {"role": "assistant", "content": blocks if self.tool_calls else self.text}


def as_prompt(prompt: PromptInput, system: str | None) -> Prompt:
    """Return ``prompt`` as a [`Prompt`][haiku_finetune._inference.Prompt] with ``system`` applied (a different system
    of its own is refused)."""
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
        messages: list[dict[str, Any]] = []
        for number, message in enumerate(prompt):
            if not isinstance(message, Mapping):
                raise ValueError(f"message {number} must be a dict with 'role' and 'content', got {message!r}")
            messages.append(dict(message))
        return Prompt(messages=messages, system=system)
    raise ValueError(f"a prompt must be text, a Prompt or a list of messages, got {type(prompt).__name__}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def invoke_encoded(
    transport: BedrockTransport,
    model_id: str,
    body: bytes,
    on_retry: Callable[[BaseException], None] | None = None,
) -> Completion:
    """Make one InvokeModel call with an encoded body and parse the reply (errors mapped by the transport)."""
    began = time.perf_counter()
    response = transport.call(_RUNTIME, "InvokeModel", on_retry=on_retry, modelId=model_id, body=body)
    raw = transport.read_body("InvokeModel", response["body"])
    latency = time.perf_counter() - began
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"InvokeModel on {model_id} returned a body that is not JSON: {error}") from error
    return Completion.from_body(parsed, latency=latency)
