"""The dataset toolkit: validate, convert, count and build Claude 3 Haiku fine-tuning data, locally and fast.

Everything here works offline except [`BedrockTokenCounter`][haiku_finetune.datasets.BedrockTokenCounter], which asks
bedrock-runtime for exact counts.
"""

from ._limits import (
    MAX_TOKENS_PER_RECORD,
    MAX_TOTAL_RECORDS,
    MAX_TRAIN_BYTES,
    MAX_TRAIN_RECORDS,
    MAX_VALIDATION_BYTES,
    MAX_VALIDATION_RECORDS,
    MIN_RECORDS,
    RESERVED_STRINGS,
)
from .builder import DatasetBuilder
from .conversion import (
    ConversionResult,
    convert_csv,
    convert_openai_chat,
    convert_prompt_completion,
    openai_chat_record,
    prompt_completion_record,
    records_from_rows,
)
from .report import DatasetStats, FilesValidationReport, ValidationIssue, ValidationReport
from .tokens import BedrockTokenCounter, EstimateTokenCounter, TokenCounter, estimate_record_tokens, estimate_tokens
from .validation import MAX_LINE_BYTES, check_record, validate_file, validate_files, validate_stream

__all__ = [
    "MAX_LINE_BYTES",
    "MAX_TOKENS_PER_RECORD",
    "MAX_TOTAL_RECORDS",
    "MAX_TRAIN_BYTES",
    "MAX_TRAIN_RECORDS",
    "MAX_VALIDATION_BYTES",
    "MAX_VALIDATION_RECORDS",
    "MIN_RECORDS",
    "RESERVED_STRINGS",
    "BedrockTokenCounter",
    "ConversionResult",
    "DatasetBuilder",
    "DatasetStats",
    "EstimateTokenCounter",
    "FilesValidationReport",
    "TokenCounter",
    "ValidationIssue",
    "ValidationReport",
    "check_record",
    "convert_csv",
    "convert_openai_chat",
    "convert_prompt_completion",
    "estimate_record_tokens",
    "estimate_tokens",
    "openai_chat_record",
    "prompt_completion_record",
    "records_from_rows",
    "validate_file",
    "validate_files",
    "validate_stream",
]
