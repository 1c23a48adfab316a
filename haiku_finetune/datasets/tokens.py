"""Token counts for training records: a fast conservative estimate, and exact counts from Bedrock when asked.

There is no public tokenizer for Claude 3. The default estimate errs high for every script: one token per three
ASCII characters (rounded up) plus one token per non-ASCII character (a CJK character is often a whole token or
more, so the common ``len(text) // 3`` under-counts it badly). Exact counting goes through bedrock-runtime
``CountTokens`` and is only worth it for records the estimate puts near the limit.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import orjson

from .._transport import BedrockTransport, resolve_transport
from ..errors import ServiceError

__all__ = ["BedrockTokenCounter", "EstimateTokenCounter", "TokenCounter", "estimate_record_tokens", "estimate_tokens"]

_log = logging.getLogger(__name__)


def estimate_tokens(text: str) -> int:
    """Estimate the tokens of ``text``, erring high: ceil(ASCII characters / 3) + non-ASCII characters."""
    if text.isascii():
        return (len(text) + 2) // 3
    ascii_chars = len(text.encode("ascii", "ignore"))
    return (ascii_chars + 2) // 3 + (len(text) - ascii_chars)


def _texts(record: Mapping[str, Any]) -> list[str]:
    texts = [record["system"]] if isinstance(record.get("system"), str) else []
    messages = record.get("messages")
    if isinstance(messages, list):
        texts.extend(m["content"] for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str))
    return texts


def estimate_record_tokens(record: Mapping[str, Any]) -> int:
    """Estimate the tokens of a record: its system prompt plus every message's content."""
    ascii_chars = other = 0
    for text in _texts(record):
        if text.isascii():
            ascii_chars += len(text)
        else:
            n = len(text.encode("ascii", "ignore"))
            ascii_chars += n
            other += len(text) - n
    return (ascii_chars + 2) // 3 + other


@runtime_checkable
class TokenCounter(Protocol):
    """Counts the tokens of a training record (system prompt plus all messages)."""

    def count(self, record: Mapping[str, Any]) -> int:
        """Return the record's token count."""
        ...


class EstimateTokenCounter:
    """The default counter: :func:`estimate_record_tokens`, no I/O."""

    exact = False

    def count(self, record: Mapping[str, Any]) -> int:
        """Return the conservative estimate."""
        return estimate_record_tokens(record)


class BedrockTokenCounter:
    """Exact counts from bedrock-runtime ``CountTokens``, falling back to the estimate when refused.

    If the service refuses the model (or the caller may not use the API), the counter says so once in the
    log, remembers why in :attr:`fallback_reason`, and estimates from then on.

    Args:
        model_id: The model whose tokenizer to use (default: on-demand Claude 3 Haiku).
        transport: The transport (default: the process default).
    """

    exact = True

    def __init__(
        self, model_id: str = "anthropic.claude-3-haiku-20240307-v1:0", *, transport: BedrockTransport | None = None
    ) -> None:
        self.model_id = model_id
        self._transport = transport
        self.fallback_reason: str | None = None
        self._estimate = EstimateTokenCounter()

    def count(self, record: Mapping[str, Any]) -> int:
        """Return the exact count, or the estimate once the service has refused."""
        if self.fallback_reason is not None:
            return self._estimate.count(record)
        body: dict[str, Any] = {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 1,
            "messages": record.get("messages", []),
        }
        if isinstance(record.get("system"), str):
            body["system"] = record["system"]
        try:
            response = resolve_transport(self._transport).call(
                "bedrock-runtime",
                "CountTokens",
                modelId=self.model_id,
                input={"invokeModel": {"body": orjson.dumps(body)}},
            )
        except ServiceError as error:
            self.fallback_reason = f"{error.code}: {error.message}"
            _log.warning(
                "CountTokens is not available for %s (%s); token counts are estimates from now on",
                self.model_id,
                self.fallback_reason,
            )
            return self._estimate.count(record)
        return int(response["inputTokens"])
