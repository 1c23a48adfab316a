"""Limits Bedrock sets on Claude 3 Haiku fine-tuning data (see the "Prepare your training datasets" docs)."""

from __future__ import annotations

from typing import Final

__all__ = [
    "ALLOWED_MESSAGE_KEYS",
    "ALLOWED_RECORD_KEYS",
    "MAX_TOKENS_PER_RECORD",
    "MAX_TOTAL_RECORDS",
    "MAX_TRAIN_BYTES",
    "MAX_TRAIN_RECORDS",
    "MAX_VALIDATION_BYTES",
    "MAX_VALIDATION_RECORDS",
    "MIN_RECORDS",
    "NEAR_TOKEN_LIMIT_FRACTION",
    "RESERVED_STRINGS",
]

MIN_RECORDS: Final = 32
MAX_TRAIN_RECORDS: Final = 10_000
MAX_VALIDATION_RECORDS: Final = 1_000
#: Training plus validation records (adjustable through Service Quotas; the default is enforced here).
MAX_TOTAL_RECORDS: Final = 10_000
#: System prompt plus every message of one record.
MAX_TOKENS_PER_RECORD: Final = 32_000
NEAR_TOKEN_LIMIT_FRACTION: Final = 0.9
MAX_TRAIN_BYTES: Final = 10 * 1024**3
MAX_VALIDATION_BYTES: Final = 1 * 1024**3
#: Text that must not appear in a system prompt or message (Claude's legacy turn markers).
RESERVED_STRINGS: Final = ("\nHuman:", "\nAssistant:")
ALLOWED_RECORD_KEYS: Final = frozenset({"system", "messages"})
ALLOWED_MESSAGE_KEYS: Final = frozenset({"role", "content"})
