"""Token counts for training records: a fast conservative estimate, and exact counts from Bedrock when asked.

There is no public tokenizer for Claude 3. The default estimate errs high for every script: one token per three
ASCII characters (rounded up) plus one token per non-ASCII character (a CJK character is often a whole token or
more, so the common ``len(text) // 3`` under-counts it badly). Exact counting goes through bedrock-runtime
``CountTokens`` and is only worth it for records the estimate puts near the limit; it must never make validation
fail, so every way the service can fail ends in the estimate, labelled as such.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import orjson

from .._transport import BedrockTransport, resolve_transport
from ..base_models import DEFAULT_BASE_MODEL
from ..errors import (
    AccessDeniedError,
    HaikuFinetuneError,
    ResourceNotFoundError,
    ServiceError,
    ServiceValidationError,
)

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
    """Counts the tokens of a training record (system prompt plus all messages).

    Only [`count`][haiku_finetune.datasets.tokens.TokenCounter.count] is required. A counter may also say whether the
    count it just returned is exact, so that
    reports never pass an estimate off as an exact count:

    - ``last_count_exact: bool``, read right after each [`count`][haiku_finetune.datasets.tokens.TokenCounter.count]
      call (it may change from call to call:
      [`BedrockTokenCounter`][haiku_finetune.datasets.tokens.BedrockTokenCounter] sets it to False whenever it falls
      back to the estimate); else
    - ``exact: bool``, for a counter whose counts are always exact or always estimates
      ([`EstimateTokenCounter`][haiku_finetune.datasets.tokens.EstimateTokenCounter] has ``exact = False``).

    A counter with neither attribute is taken to count exactly (a tokenizer you bring is trusted).
    """

    def count(self, record: Mapping[str, Any]) -> int:
        """Return the record's token count."""
        ...


def counted_exactly(counter: object) -> bool:
    """Whether ``counter``'s last count was exact, by the rules in
    [`TokenCounter`][haiku_finetune.datasets.tokens.TokenCounter]."""
    flag = getattr(counter, "last_count_exact", None)
    if flag is None:
        flag = getattr(counter, "exact", True)
    return bool(flag)


class EstimateTokenCounter:
    """The default counter: [`estimate_record_tokens`][haiku_finetune.datasets.tokens.estimate_record_tokens], no
    I/O."""

    exact = False

    def count(self, record: Mapping[str, Any]) -> int:
        """Return the conservative estimate."""
        return estimate_record_tokens(record)


#: Error codes meaning "this operation is not offered here", whatever class they map to.
_UNAVAILABLE_CODES = frozenset({"UnknownOperationException", "UnrecognizedClientException", "InvalidAction"})
#: Failures in a row, for single records, after which the counter stops asking (each has already been retried).
_MAX_FAILURES_IN_A_ROW = 3


class BedrockTokenCounter:
    """Exact counts from bedrock-runtime ``CountTokens``, falling back to the estimate when it cannot count.

    Counting never raises because of the service; it falls back to the (high-erring) estimate instead:

    - **for good**, logging it once and keeping the reason in `fallback_reason`, when CountTokens cannot
      be used at all: the service refuses the model or the caller (``AccessDeniedException``,
      ``ResourceNotFoundException``, an unknown operation, or a ``ValidationException`` before any count has
      succeeded: once one has, the model is accepted, so a later one is about its record), the endpoint cannot
      be reached ([`ConnectionFailedError`][haiku_finetune.errors.ConnectionFailedError]), there are no credentials, or
      the
      installed botocore does not know the operation;
    - **for that record only**, logging a warning, on any other service error (throttling or a 5xx that
      outlasted the transport's retries, a ``ValidationException`` about one record); after 3 such failures
      in a row it falls back for good, as above, rather than go through the retries again for every record.

    `last_count_exact` says whether the count just returned came from the service; the validator reads
    it, so a fallback is never reported as an exact count.

    Args:
        model_id: The model whose tokenizer to use (default: on-demand Claude 3 Haiku).
        transport: The transport (default: the process default).

    Attributes:
        fallback_reason: Why the counter estimates for good, or ``None`` while it still asks the service.
        last_count_exact: Whether the last count came from the service (False before any count).
    """

    def __init__(
        self, model_id: str = DEFAULT_BASE_MODEL.invoke_model_id, *, transport: BedrockTransport | None = None
    ) -> None:
        self.model_id = model_id
        self._transport = transport
        self.fallback_reason: str | None = None
        self.last_count_exact = False
        self._estimate = EstimateTokenCounter()
        self._succeeded = False
        self._failures_in_a_row = 0

    def count(self, record: Mapping[str, Any]) -> int:
        """Return the exact count, or the estimate when the service could not count this record."""
        self.last_count_exact = False
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
            reason = f"{error.code}: {error.message}"
            refused = isinstance(error, (AccessDeniedError, ResourceNotFoundError)) or error.code in _UNAVAILABLE_CODES
            if refused or (isinstance(error, ServiceValidationError) and not self._succeeded):
                self._fall_back(reason)
            else:
                self._failed_once(reason)
            return self._estimate.count(record)
        except HaikuFinetuneError as error:  # the endpoint cannot be reached, or no credentials: nothing to ask
            self._fall_back(str(error))
            return self._estimate.count(record)
        except ValueError as error:  # the installed botocore has no CountTokens operation
            self._fall_back(str(error))
            return self._estimate.count(record)
        self._succeeded = True
        self._failures_in_a_row = 0
        self.last_count_exact = True
        return int(response["inputTokens"])

    def _fall_back(self, reason: str) -> None:
        self.fallback_reason = reason
        _log.warning(
            "CountTokens is not available for %s (%s); token counts are estimates from now on",
            self.model_id,
            reason,
        )

    def _failed_once(self, reason: str) -> None:
        self._failures_in_a_row += 1
        if self._failures_in_a_row >= _MAX_FAILURES_IN_A_ROW:
            self._fall_back(f"{self._failures_in_a_row} failures in a row, the last {reason}")
            return
        _log.warning("CountTokens failed for one record (%s); its token count is an estimate", reason)
