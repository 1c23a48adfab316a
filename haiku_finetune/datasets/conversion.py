"""Conversions into the Messages format: prompt/completion JSONL, OpenAI chat JSONL, CSV, rows and DataFrames.

Every converter streams its input, reports each bad input line with its number instead of stopping, and
writes its output atomically (a temporary file, then a rename). The converted records are not validated here:
run [`validate_file`][haiku_finetune.datasets.validate_file] on the result (the CLI does).
"""

from __future__ import annotations

import contextlib
import csv
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from .._files import atomic_write, regular_input
from ._lines import LongLine, lines
from .report import ValidationIssue

__all__ = [
    "ConversionResult",
    "convert_csv",
    "convert_openai_chat",
    "convert_prompt_completion",
    "openai_chat_record",
    "prompt_completion_record",
    "records_from_rows",
]

Record = dict[str, Any]


class ConversionProblem(ValueError):
    """One input record that could not be converted (carries a stable code)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(message)


@dataclass
class ConversionResult:
    """What a conversion did.

    Attributes:
        destination: The file written (``None`` when converting in memory, or when no input line converted and
            the output already existed: it is left as it was, not replaced by an empty file).
        written: Records written.
        dropped: Input records skipped on purpose (``drop_unsupported=True``).
        errors: Input lines that could not be converted, with their line numbers.
        records: The converted records, when converting in memory.
    """

    destination: Path | None
    written: int = 0
    dropped: int = 0
    errors: list[ValidationIssue] = field(default_factory=list)
    records: list[Record] = field(default_factory=list, repr=False)

    @property
    def ok(self) -> bool:
        """True when every input line converted."""
        return not self.errors

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "destination": str(self.destination) if self.destination else None,
            "written": self.written,
            "dropped": self.dropped,
            "errors": [e.to_dict() for e in self.errors],
        }


def prompt_completion_record(
    data: Any, *, system: str | None = None, prompt_key: str = "prompt", completion_key: str = "completion"
) -> Record:
    """Turn one ``{"prompt": ..., "completion": ...}`` object into a Messages record.

    Raises:
        ConversionProblem: Not an object, a key missing, or a value that is not a non-empty string.
    """
    if not isinstance(data, dict):
        raise ConversionProblem("not_object", "each line must be a JSON object with prompt and completion")
    for key in (prompt_key, completion_key):
        if key not in data:
            raise ConversionProblem("missing_key", f"missing {key!r} (keys present: {sorted(data)})")
        if not isinstance(data[key], str) or not data[key].strip():
            raise ConversionProblem("content_type", f"{key!r} must be a non-empty string")
    return _single_turn(system, data[prompt_key], data[completion_key])


def _single_turn(system: str | None, user: str, assistant: str) -> Record:
    """The record of one user turn and the assistant's reply to it."""
    return _messages_record(system, [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}])


def _messages_record(system: str | None, messages: list[dict[str, str]]) -> Record:
    """A Messages record: ``system`` (left out when None) first, then ``messages``, the key order written out."""
    record: Record = {}
    if system is not None:
        record["system"] = system
    record["messages"] = messages
    return record


def openai_chat_record(data: Any, *, drop_unsupported: bool = False) -> Record | None:
    """Turn one OpenAI chat fine-tuning record into a Messages record.

    System messages at the start are lifted into the top-level ``system``. Tool calls, tool messages,
    images and ``name`` fields have no Claude 3 Haiku equivalent: they are refused, or dropped when
    ``drop_unsupported`` is set (a record whose turns rely on tools is dropped whole: returns ``None``).
    A message's ``weight`` is dropped: Bedrock trains on the last assistant message only, so a record whose last
    assistant message has weight 0 is refused (or dropped whole).

    Raises:
        ConversionProblem: Something that cannot be converted.
    """
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise ConversionProblem("missing_messages", "each line must be an object with a 'messages' list")
    extra = sorted(set(data) - {"messages"})
    if extra and not drop_unsupported:
        raise ConversionProblem(
            "unsupported", f"unsupported top-level key(s) {extra}; pass drop_unsupported=True to drop them"
        )
    systems: list[str] = []
    messages: list[dict[str, str]] = []
    for index, message in enumerate(data["messages"]):
        if not isinstance(message, dict):
            raise ConversionProblem("message_not_object", f"message {index} is not an object")
        role = message.get("role")
        if role in ("tool", "function") or message.get("tool_calls") or message.get("function_call"):
            if drop_unsupported:
                return None
            raise ConversionProblem(
                "unsupported",
                f"message {index} uses tools or functions, which Claude 3 Haiku fine-tuning does not take; "
                "pass drop_unsupported=True to drop such records",
            )
        if "name" in message and not drop_unsupported:
            raise ConversionProblem(
                "unsupported", f"message {index} has a 'name'; pass drop_unsupported=True to drop names"
            )
        text = _openai_text(message.get("content"), index, drop_unsupported)
        if role == "system":
            if messages:
                raise ConversionProblem(
                    "role_invalid", f"message {index} is a system message after the conversation started"
                )
            systems.append(text)
        elif role in ("user", "assistant"):
            messages.append({"role": role, "content": text})
        else:
            raise ConversionProblem("role_invalid", f"message {index} has role {role!r}")
    # OpenAI's per-message "weight": Bedrock trains on the last assistant message only, so weights on earlier
    # turns change nothing, but a last turn marked weight 0 ("do not learn this") would become the target.
    last = data["messages"][-1] if data["messages"] else None
    if isinstance(last, dict) and last.get("role") == "assistant" and last.get("weight", 1) == 0:
        if drop_unsupported:
            return None
        raise ConversionProblem(
            "unsupported",
            f"message {len(data['messages']) - 1}, the last assistant message, has weight 0, but Bedrock trains on "
            "the last assistant message; end the record on a turn to learn, or pass drop_unsupported=True to drop it",
        )
    return _messages_record("\n\n".join(systems) if systems else None, messages)


def _openai_text(content: Any, index: int, drop_unsupported: bool) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif not drop_unsupported:
                kind = part.get("type") if isinstance(part, dict) else type(part).__name__
                raise ConversionProblem(
                    "unsupported",
                    f"message {index} has a {kind!r} content part; Claude 3 Haiku fine-tuning takes text only "
                    "(pass drop_unsupported=True to drop non-text parts)",
                )
        if texts:
            return "\n".join(texts)
    raise ConversionProblem("content_type", f"message {index} has no text content")


def convert_prompt_completion(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    system: str | None = None,
    prompt_key: str = "prompt",
    completion_key: str = "completion",
) -> ConversionResult:
    """Convert prompt/completion JSONL into Messages JSONL (one user turn, one assistant reply per record).

    Args:
        source: The input JSONL file.
        destination: The output file (written atomically).
        system: A system prompt to put on every record.
        prompt_key: The input key holding the prompt.
        completion_key: The input key holding the completion.

    Returns:
        A [`ConversionResult`][haiku_finetune.datasets.conversion.ConversionResult]; bad input lines are listed in
        ``errors`` and skipped (when no line converts, an existing ``destination`` is left as it was).

    Raises:
        FileNotFoundError: ``source`` does not exist.
        UnsafePathError: ``source`` is a FIFO, a device or a socket; or ``destination`` is ``source`` itself, a
            symbolic link, or an existing FIFO, device or socket (nothing is read or written).
    """
    return _convert_jsonl(
        source,
        destination,
        lambda data: prompt_completion_record(
            data, system=system, prompt_key=prompt_key, completion_key=completion_key
        ),
    )


def convert_openai_chat(
    source: str | os.PathLike[str], destination: str | os.PathLike[str], *, drop_unsupported: bool = False
) -> ConversionResult:
    """Convert OpenAI chat fine-tuning JSONL into Messages JSONL (see
    [`openai_chat_record`][haiku_finetune.datasets.conversion.openai_chat_record])."""
    return _convert_jsonl(source, destination, lambda data: openai_chat_record(data, drop_unsupported=drop_unsupported))


def convert_csv(
    source: str | os.PathLike[str],
    destination: str | os.PathLike[str],
    *,
    user_column: str = "prompt",
    assistant_column: str = "completion",
    system_column: str | None = None,
    system: str | None = None,
) -> ConversionResult:
    """Convert a CSV file (with a header row) into Messages JSONL.

    Rows are parsed strictly, so a malformed row (a stray or unclosed quote, or more non-empty fields than the
    header has: an unquoted comma) is reported at the line where it starts instead of silently swallowing the
    lines after it or shifting text into the wrong column; a chosen column named twice in the header is refused.
    Fields may be up to 16 Mi characters long (far more than a 32,000-token record can hold; the csv module's own
    default limit, 131,072, is less than that).
    Bytes that are not UTF-8 are reported per row (``invalid_utf8``); the other rows still convert.

    Args:
        source: The CSV file (UTF-8; a BOM is tolerated here).
        destination: The output file (written atomically).
        user_column: The column holding the user's prompt.
        assistant_column: The column holding the assistant's reply.
        system_column: A column holding a per-row system prompt.
        system: A system prompt for every row (used where ``system_column`` is empty or absent).

    Returns:
        A [`ConversionResult`][haiku_finetune.datasets.conversion.ConversionResult]; each bad row is listed in
        ``errors`` with the line it starts on, and
        skipped. A header without the columns (or one that cannot be read) writes nothing; when no row converts,
        an existing ``destination`` is left as it was.

    Raises:
        FileNotFoundError: ``source`` does not exist.
        UnsafePathError: ``source`` is a FIFO, a device or a socket; or ``destination`` is ``source`` itself, a
            symbolic link, or an existing FIFO, device or socket (nothing is read or written).
    """
    path = _existing(source)
    # surrogateescape: an undecodable byte becomes a lone surrogate that _undecodable() finds per row, instead
    # of a UnicodeDecodeError that would end the whole conversion without saying where.
    with (
        _LARGE_CSV_FIELDS.raised(),
        open(path, encoding="utf-8-sig", errors="surrogateescape", newline="") as handle,
    ):
        reader = csv.reader(handle, strict=True)
        header_problem: ValidationIssue | None = None
        try:
            header = next(reader, [])
        except csv.Error as error:
            header = []
            header_problem = ValidationIssue("invalid_csv", 1, f"the header row is not valid CSV ({error})")
        if header_problem is None and _undecodable(header) is not None:
            header_problem = ValidationIssue(
                "invalid_utf8", 1, "the header row has bytes that are not UTF-8; re-encode the file as UTF-8"
            )
        missing = [c for c in (user_column, assistant_column, system_column) if c and c not in header]
        if header_problem is None and missing:
            header_problem = ValidationIssue("missing_column", 1, f"column(s) {missing} not in the header {header}")
        twice = [c for c in (user_column, assistant_column, system_column) if c and header.count(c) > 1]
        if header_problem is None and twice:
            header_problem = ValidationIssue(
                "invalid_csv", 1, f"column(s) {twice} appear twice in the header {header}: which one to use is unclear"
            )
        if header_problem is not None:
            result = ConversionResult(destination=None)
            result.errors.append(header_problem)
            return result
        return _write(
            destination,
            path,
            _converted(
                _csv_rows(reader, header),
                lambda row: _row_record(row, user_column, assistant_column, system_column, system),
            ),
        )


class _FieldSizeLimit:
    """Raises the csv module's field size limit while at least one CSV conversion runs, then restores it.

    The limit is process-wide (there is no per-reader setting), so concurrent conversions share one raise, and
    the last one to finish puts back the value found before the first started.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._users = 0
        self._saved = 0

    @contextlib.contextmanager
    def raised(self) -> Iterator[None]:
        with self._lock:
            if self._users == 0:
                self._saved = csv.field_size_limit()
                csv.field_size_limit(max(self._saved, self.limit))  # never lower a limit the caller raised
            self._users += 1
        try:
            yield
        finally:
            with self._lock:
                self._users -= 1
                if self._users == 0:
                    csv.field_size_limit(self._saved)


# 16 Mi characters: hundreds of times what a valid record can hold, yet a bounded allocation when a stray quote
# runs on to the end of a large file. It also fits a C long on every platform, as field_size_limit requires.
_LARGE_CSV_FIELDS = _FieldSizeLimit(16 * 1024 * 1024)


def _csv_rows(reader: Any, header: list[str]) -> Iterator[tuple[int, Any]]:
    """Yield (first physical line, row dict or ConversionProblem) for each data row of a csv reader."""
    while True:
        first = reader.line_num + 1  # a quoted field can span lines: report the row where it starts
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield (
                first,
                ConversionProblem(
                    "invalid_csv", f"the row starting on line {first} is not valid CSV ({error}); check its quotes"
                ),
            )
            continue
        if not row:  # a blank line, which csv.DictReader skips too
            continue
        if any(row[len(header) :]):  # an unquoted comma would shift the text into the wrong column: refuse
            yield (
                first,
                ConversionProblem(
                    "invalid_csv",
                    f"the row starting on line {first} has {len(row)} fields but the header has {len(header)}; "
                    "quote a field that contains a comma",
                ),
            )
            continue
        bad = _undecodable(row)
        if bad is not None:
            column = repr(header[bad]) if bad < len(header) else f"number {bad + 1}"
            yield (
                first,
                ConversionProblem(
                    "invalid_utf8",
                    f"column {column} has bytes that are not UTF-8; re-encode the file as UTF-8 "
                    "(e.g. iconv -f cp1252 -t utf-8)",
                ),
            )
            continue
        yield first, dict(zip(header, row, strict=False))


def _undecodable(fields: list[str]) -> int | None:
    """The index of the first field holding an undecodable byte (a lone surrogate from surrogateescape)."""
    for index, value in enumerate(fields):
        if value.isascii():
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return index
    return None


def records_from_rows(
    rows: Iterable[Mapping[str, Any]] | Any,
    *,
    user_column: str = "prompt",
    assistant_column: str = "completion",
    system_column: str | None = None,
    system: str | None = None,
) -> ConversionResult:
    """Convert rows (an iterable of mappings, or a pandas DataFrame) into records in memory.

    Row numbers in ``errors`` are 1-based positions in ``rows``.
    """
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):  # a DataFrame: no pandas import needed
        rows = rows.to_dict("records")
    result = ConversionResult(destination=None)
    for number, row in enumerate(rows, start=1):
        try:
            record = _row_record(row, user_column, assistant_column, system_column, system)
        except ConversionProblem as problem:
            result.errors.append(ValidationIssue(problem.code, number, f"row {number}: {problem}"))
            continue
        result.records.append(record)
    result.written = len(result.records)
    return result


def _row_record(
    row: Mapping[str, Any], user: str, assistant: str, system_column: str | None, system: str | None
) -> Record:
    values = {}
    for column in (user, assistant):
        value = row.get(column)
        if not isinstance(value, str) or not value.strip():
            raise ConversionProblem("content_type", f"column {column!r} must be non-empty text, got {value!r}")
        values[column] = value
    row_system = row.get(system_column) if system_column else None
    chosen = row_system if isinstance(row_system, str) and row_system.strip() else system
    return _single_turn(chosen, values[user], values[assistant])


def _existing(source: str | os.PathLike[str]) -> Path:
    # os.stat before open: a FIFO or a device is refused instead of blocking or being read without end.
    return regular_input(source, what="input file")


def _convert_jsonl(
    source: str | os.PathLike[str], destination: str | os.PathLike[str], make: Callable[[Any], Record | None]
) -> ConversionResult:
    path = _existing(source)
    with open(path, "rb") as handle:
        return _write(destination, path, _converted(_parsed_lines(handle), make))


def _parsed_lines(handle: BinaryIO) -> Iterator[tuple[int, Any]]:
    # Bounded lines: an over-long line is skipped unread (see _lines), never held in memory.
    for number, raw in enumerate(lines(handle), start=1):
        if isinstance(raw, LongLine):
            yield number, ConversionProblem("line_too_long", raw.message())
            continue
        line = raw.strip()
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        if not line:
            yield number, ConversionProblem("blank_line", "blank line")
            continue
        try:
            yield number, orjson.loads(line)
        except orjson.JSONDecodeError as error:
            yield number, _json_problem(line, error)


def _json_problem(line: bytes, error: orjson.JSONDecodeError) -> ConversionProblem:
    """``invalid_utf8`` for bytes that are not UTF-8 (as `validate` says), else ``invalid_json`` (orjson's reason)."""
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        return ConversionProblem("invalid_utf8", f"not valid UTF-8 at byte {bad.start}; re-encode the file as UTF-8")
    return ConversionProblem("invalid_json", f"not valid JSON ({error.msg})")


@dataclass
class _Tally:
    written: int = 0
    dropped: int = 0
    errors: list[ValidationIssue] = field(default_factory=list)


def _converted(
    items: Iterable[tuple[int, Any]], make: Callable[[Any], Record | None], tally: _Tally | None = None
) -> tuple[_Tally, Iterator[bytes]]:
    counts = tally or _Tally()

    def lines() -> Iterator[bytes]:
        for number, data in items:
            try:
                if isinstance(data, ConversionProblem):
                    raise data
                record = make(data)
            except ConversionProblem as problem:
                counts.errors.append(ValidationIssue(problem.code, number, str(problem)))
                continue
            if record is None:
                counts.dropped += 1
                continue
            counts.written += 1
            yield orjson.dumps(record) + b"\n"

    return counts, lines()


def _write(
    destination: str | os.PathLike[str], source: Path, converted: tuple[_Tally, Iterator[bytes]]
) -> ConversionResult:
    tally, lines = converted
    existed = os.path.lexists(destination)

    def checked() -> Iterator[bytes]:
        yield from lines
        if existed and tally.errors and not tally.written and not tally.dropped:
            raise _NothingConverted  # every line failed (the wrong format?): keep the file DST already was

    try:
        # inputs=: converting a file onto itself would truncate the data being read (refused before any write).
        target = atomic_write(destination, checked(), inputs=[source])
    except _NothingConverted:
        return ConversionResult(destination=None, errors=tally.errors)
    return ConversionResult(destination=target, written=tally.written, dropped=tally.dropped, errors=tally.errors)


class _NothingConverted(Exception):
    """Raised inside the write when no input line converted and the output exists, so `atomic_write` removes its
    temporary file and the old output stays."""
