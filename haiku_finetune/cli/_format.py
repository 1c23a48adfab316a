"""Formatting for the command's output: tables, compiler-style issue lines, JSON-ready values, error lines.

Pure formatting: no I/O, no AWS, nothing heavy imported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._table import text_table

__all__ = ["field_lines", "issue_lines", "json_ready", "one_line", "os_error", "table"]


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Render a plain-text table with a header rule; numbers right-aligned."""
    return text_table(headers, rows)


def field_lines(fields: Mapping[str, object], width: int) -> list[str]:
    """One ``key:  value`` line per field that has a value (``None`` is left out), keys padded to ``width``.

    A key too long for ``width`` widens every line, so a value never runs into its key.
    """
    shown = {key: value for key, value in fields.items() if value is not None}
    width = max([width, *(len(key) + 2 for key in shown)])
    return [f"{key + ':':<{width}}{value}" for key, value in shown.items()]


def issue_lines(source: str, issues: Iterable[Any], kind: str) -> list[str]:
    """Format issues compiler-style: ``FILE:LINE: error [code] message``."""
    lines = []
    for issue in issues:
        where = f"{source}:{issue.line}" if getattr(issue, "line", None) is not None else source
        lines.append(f"{where}: {kind} [{issue.code}] {issue.message}")
    return lines


def json_ready(value: Any) -> Any:
    """Return a JSON-ready form of a pydantic model, an object with ``to_dict()``, or a plain value."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


def os_error(error: OSError) -> str:
    """Say what an ``OSError`` means for the user, naming the file: ``No such file or directory: x.jsonl``."""
    name = error.filename if error.filename is not None else ""
    reason = error.strerror or str(error)
    return f"{reason}: {name}" if name else reason


def one_line(text: str) -> str:
    """The first line of ``text``, saying how many more there were."""
    first, _, rest = text.strip().partition("\n")
    return first + (f" (+{rest.count(chr(10)) + 1} more line(s))" if rest else "")
