"""What validation found: issues with stable codes and line numbers, statistics, and the report around them."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import DatasetValidationError

__all__ = ["DatasetStats", "FilesValidationReport", "ValidationIssue", "ValidationReport"]

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class ValidationIssue:
    """One problem in a dataset.

    Attributes:
        code: A stable code, e.g. ``"roles_not_alternating"`` (the docs list every code with its fix).
        line: The 1-based physical line, or ``None`` for a problem with the whole file.
        message: What is wrong and how to fix it.
        severity: ``"error"`` (the service would reject the data) or ``"warning"`` (worth a look).
    """

    code: str
    line: int | None
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else "file"
        return f"{where}: {self.severity} [{self.code}] {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {"code": self.code, "line": self.line, "message": self.message, "severity": self.severity}


@dataclass
class DatasetStats:
    """Statistics of a dataset (token counts are estimates, except the ``tokens_exact`` ones).

    Attributes:
        records: Records (lines that parsed as JSON objects).
        lines: Physical lines read.
        records_with_system: Records that carry a system prompt.
        turns_min, turns_mean, turns_max: User turns per record.
        tokens_min, tokens_mean, tokens_p50, tokens_p95, tokens_max: Tokens per record (percentiles by
            nearest rank).
        total_tokens: Tokens over all records.
        file_size: Bytes read.
        tokens_exact: Records whose token count is exact (from a token counter); the others are estimates.
    """

    records: int = 0
    lines: int = 0
    records_with_system: int = 0
    turns_min: int = 0
    turns_mean: float = 0.0
    turns_max: int = 0
    tokens_min: int = 0
    tokens_mean: float = 0.0
    tokens_p50: int = 0
    tokens_p95: int = 0
    tokens_max: int = 0
    total_tokens: int = 0
    file_size: int = 0
    tokens_exact: int = 0

    @classmethod
    def compute(
        cls, *, tokens: Iterable[int], turns: Iterable[int], with_system: int, lines: int, file_size: int
    ) -> DatasetStats:
        """Summarize per-record token and turn counts (one value per record)."""
        return cls.from_histograms(
            tokens=Counter(tokens), turns=Counter(turns), with_system=with_system, lines=lines, file_size=file_size
        )

    @classmethod
    def from_histograms(
        cls,
        *,
        tokens: Mapping[int, int],
        turns: Mapping[int, int],
        with_system: int,
        lines: int,
        file_size: int,
        tokens_exact: int = 0,
    ) -> DatasetStats:
        """Summarize histograms of per-record counts exactly, in memory bounded by the distinct values.

        Args:
            tokens: Records by token count (count -> records with that count).
            turns: Records by user turns; must describe the same number of records as ``tokens``.
            with_system: Records with a system prompt.
            lines: Physical lines read.
            file_size: Bytes read.
            tokens_exact: Records whose token count is exact.
        """
        records = sum(tokens.values())
        if not records:
            return cls(lines=lines, file_size=file_size)
        ordered = sorted((value, count) for value, count in tokens.items() if count)
        total = sum(value * count for value, count in ordered)
        turn_values = [value for value, count in turns.items() if count]
        return cls(
            records=records,
            lines=lines,
            records_with_system=with_system,
            turns_min=min(turn_values),
            turns_mean=sum(value * count for value, count in turns.items()) / records,
            turns_max=max(turn_values),
            tokens_min=ordered[0][0],
            tokens_mean=total / records,
            tokens_p50=_percentile(ordered, records, 50),
            tokens_p95=_percentile(ordered, records, 95),
            tokens_max=ordered[-1][0],
            total_tokens=total,
            file_size=file_size,
            tokens_exact=tokens_exact,
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return dict(self.__dict__)

    def __str__(self) -> str:
        return (
            f"records: {self.records} ({self.records_with_system} with a system prompt), "
            f"{self.file_size:,} bytes\n"
            f"user turns per record: min {self.turns_min}, mean {self.turns_mean:.2f}, max {self.turns_max}\n"
            f"tokens per record ({self._kind()}): min {self.tokens_min}, mean {self.tokens_mean:.0f}, "
            f"p50 {self.tokens_p50}, p95 {self.tokens_p95}, max {self.tokens_max}\n"
            f"total tokens ({self._kind()}): {self.total_tokens:,}"
        )

    def _kind(self) -> str:
        if not self.tokens_exact:
            return "estimate"
        return f"estimate; {self.tokens_exact} record(s) counted exactly"


def _percentile(ordered: Iterable[tuple[int, int]], records: int, pct: float) -> int:
    """Nearest-rank percentile from (value, count) pairs sorted by value, over ``records`` values in all."""
    rank = max(1, math.ceil(pct / 100 * records))
    seen = 0
    for value, count in ordered:
        seen += count
        if seen >= rank:
            return value
    raise ValueError(f"the histogram holds {seen} values, fewer than the {records} records given")


@dataclass
class ValidationReport:
    """The result of validating one dataset file.

    Attributes:
        source: The file validated (a path, or a description of a stream).
        split: ``"train"`` or ``"validation"`` (the record limits differ).
        errors: Problems the service would reject, in line order (capped; see ``omitted_errors``).
        warnings: Things worth a look that do not fail the data.
        stats: Dataset statistics.
        omitted_errors: Errors beyond the cap, counted but not listed.
        omitted_warnings: Warnings beyond the cap, counted but not listed.
    """

    source: str
    split: Literal["train", "validation"]
    errors: list[ValidationIssue] = field(default_factory=list)
    warnings: list[ValidationIssue] = field(default_factory=list)
    stats: DatasetStats = field(default_factory=DatasetStats)
    omitted_errors: int = 0
    omitted_warnings: int = 0

    @property
    def ok(self) -> bool:
        """True when the data has no errors (warnings allowed)."""
        return not self.errors and not self.omitted_errors

    def raise_for_errors(self) -> None:
        """Raise [`DatasetValidationError`][haiku_finetune.errors.DatasetValidationError] listing the errors, if there
        are any."""
        if self.ok:
            return
        raise DatasetValidationError(
            _error_text(self.source, self.errors, self.omitted_errors), issues=self.errors, report=self
        )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "source": self.source,
            "split": self.split,
            "ok": self.ok,
            "errors": [i.to_dict() for i in self.errors],
            "warnings": [i.to_dict() for i in self.warnings],
            "omitted_errors": self.omitted_errors,
            "omitted_warnings": self.omitted_warnings,
            "stats": self.stats.to_dict(),
        }

    def __str__(self) -> str:
        verdict = "valid" if self.ok else "INVALID"
        errors = len(self.errors) + self.omitted_errors
        warnings = len(self.warnings) + self.omitted_warnings
        lines = [
            f"{self.source} ({self.split}): {verdict}, {self.stats.records} records, "
            f"{errors} error(s), {warnings} warning(s)"
        ]
        lines += [f"  {issue}" for issue in self.errors + self.warnings]
        if self.omitted_errors or self.omitted_warnings:
            lines.append(f"  ... and {self.omitted_errors} more error(s), {self.omitted_warnings} more warning(s)")
        return "\n".join(lines)


@dataclass
class FilesValidationReport:
    """Training and validation files validated together, with the rules that span both.

    Attributes:
        train: The training file's report.
        validation: The validation file's report, when one was given.
        cross_errors: Errors about the pair (e.g. too many records in all).
        cross_warnings: Warnings about the pair (e.g. validation records also in training).
    """

    train: ValidationReport
    validation: ValidationReport | None = None
    cross_errors: list[ValidationIssue] = field(default_factory=list)
    cross_warnings: list[ValidationIssue] = field(default_factory=list)

    @property
    def errors(self) -> list[ValidationIssue]:
        """Every error: training, validation, then the cross-file ones."""
        return self.train.errors + (self.validation.errors if self.validation else []) + self.cross_errors

    @property
    def warnings(self) -> list[ValidationIssue]:
        """Every warning: training, validation, then the cross-file ones."""
        return self.train.warnings + (self.validation.warnings if self.validation else []) + self.cross_warnings

    @property
    def ok(self) -> bool:
        """True when neither file nor the pair has errors."""
        return self.train.ok and (self.validation is None or self.validation.ok) and not self.cross_errors

    def raise_for_errors(self) -> None:
        """Raise [`DatasetValidationError`][haiku_finetune.errors.DatasetValidationError] listing every error, if
        any."""
        if self.ok:
            return
        parts = []
        for report in (self.train, self.validation):
            if report is not None and not report.ok:
                parts.append(_error_text(report.source, report.errors, report.omitted_errors))
        if self.cross_errors:
            parts.append(_error_text("training + validation", self.cross_errors, 0))
        raise DatasetValidationError("\n".join(parts), issues=self.errors, report=self)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "ok": self.ok,
            "train": self.train.to_dict(),
            "validation": self.validation.to_dict() if self.validation else None,
            "cross_errors": [i.to_dict() for i in self.cross_errors],
            "cross_warnings": [i.to_dict() for i in self.cross_warnings],
        }

    def __str__(self) -> str:
        parts = [str(self.train)]
        if self.validation is not None:
            parts.append(str(self.validation))
        parts += [f"training + validation: {issue}" for issue in self.cross_errors + self.cross_warnings]
        return "\n".join(parts)


def _error_text(source: str, errors: list[ValidationIssue], omitted: int) -> str:
    count = len(errors) + omitted
    shown = "\n".join(f"  {issue}" for issue in errors[:50])
    more = count - min(len(errors), 50)
    tail = f"\n  ... and {more} more" if more > 0 else ""
    return f"{source}: {count} error(s)\n{shown}{tail}"
