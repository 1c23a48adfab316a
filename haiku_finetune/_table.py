"""Plain-text tables: a header, a rule, and rows with numbers right-aligned.

Used by [`TrainingMetrics.table`][haiku_finetune.metrics.TrainingMetrics.table] and the CLI. Pure
formatting: this module must import nothing from the package and do no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

__all__ = ["text_table"]


def text_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """Render a plain-text table with a header rule; numeric columns right-aligned, ``None`` shown as ``-``.

    Args:
        headers: The column titles.
        rows: The rows, each as long as ``headers``.

    Returns:
        The table, lines joined by newlines, without a trailing newline.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, value in enumerate(row):
            widths[i] = max(widths[i], len(value))
    numeric = [all(_is_number(row[i]) for row in cells) if cells else False for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(list(headers)), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if math.isfinite(value) else str(value)
    return str(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "-"
    return True
