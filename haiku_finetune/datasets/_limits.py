"""Limits Bedrock sets on fine-tuning data for the default base model, read from its profile.

The values live in `haiku_finetune.base_models` (``DEFAULT_BASE_MODEL.limits``, Claude 3 Haiku's documented
limits); these names stay for the modules that import them. Code that handles another base model reads
``profile.limits`` instead. This module only re-states the profile: it holds no number of its own.
"""

from __future__ import annotations

from typing import Final

from ..base_models import DEFAULT_BASE_MODEL

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

_LIMITS: Final = DEFAULT_BASE_MODEL.limits

MIN_RECORDS: Final = _LIMITS.min_records
MAX_TRAIN_RECORDS: Final = _LIMITS.max_train_records
MAX_VALIDATION_RECORDS: Final = _LIMITS.max_validation_records
#: Training plus validation records (adjustable through Service Quotas; the default is enforced here).
MAX_TOTAL_RECORDS: Final = _LIMITS.max_total_records
#: System prompt plus every message of one record.
MAX_TOKENS_PER_RECORD: Final = _LIMITS.max_tokens_per_record
#: The library's own threshold for a "close to the token limit" warning (not a service limit).
NEAR_TOKEN_LIMIT_FRACTION: Final = 0.9
MAX_TRAIN_BYTES: Final = _LIMITS.max_train_bytes
MAX_VALIDATION_BYTES: Final = _LIMITS.max_validation_bytes
#: Text that must not appear in a system prompt or message (Claude's legacy turn markers).
RESERVED_STRINGS: Final = _LIMITS.reserved_strings
ALLOWED_RECORD_KEYS: Final = _LIMITS.allowed_record_keys
ALLOWED_MESSAGE_KEYS: Final = _LIMITS.allowed_message_keys
