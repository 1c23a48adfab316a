"""The dataset toolkit: validate, convert, count and build Claude 3 Haiku fine-tuning data, locally and fast.

Everything here works offline except [`BedrockTokenCounter`][haiku_finetune.datasets.BedrockTokenCounter], which asks
bedrock-runtime for exact counts.

Names load lazily (PEP 562), so ``import haiku_finetune.datasets`` (which the package face does, to read
``__all__``) imports no AWS or orjson code: a name is imported from its submodule on first use. To export a new
name, add it to ``__all__`` and to the ``TYPE_CHECKING`` block; the submodule that defines it must list it in its own
``__all__``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Where ``__getattr__`` looks for a name, cheapest first; each module's own ``__all__`` says what it defines.
_SUBMODULES: tuple[str, ...] = ("_limits", "report", "conversion", "tokens", "validation", "builder")


if not TYPE_CHECKING:  # hidden from type checkers, so a misspelt name is an error, not ``Any``

    def __getattr__(name: str) -> Any:
        """Import the submodule that defines ``name`` on first use, and remember the value."""
        if name in __all__:
            for module_name in _SUBMODULES:
                module = importlib.import_module(f".{module_name}", __name__)
                if name in module.__all__:
                    value = getattr(module, name)
                    globals()[name] = value
                    return value
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
