"""The ``haiku-finetune`` command (``haiku_finetune.cli:main``); see `haiku_finetune.cli.main`.

This package hands on the names programs and tests use; the parser lives in `main`, the commands in one
module per group. Importing it loads no AWS, pydantic or emulator code.
"""

from __future__ import annotations

from ._context import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, UsageError
from .main import build_parser, main

__all__ = ["EXIT_OK", "EXIT_PROBLEMS", "EXIT_USAGE", "UsageError", "build_parser", "main"]
