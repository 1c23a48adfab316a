"""The streaming validator for fine-tuning data: every problem, with its line number, fast.

The rules and limits are a base model's (``base_model=``, default Claude 3 Haiku), read from its profile in
`haiku_finetune.base_models` once per file, before the loop; this module keeps no limit of its own.

One pass over the file in binary, read in chunks and cut into lines in bounded memory (``_lines``: a line over
4 MiB is reported ``line_too_long`` without being held), one JSON parse per line (orjson), then plain checks
on dicts; detailed messages are only built for records that fail. Nothing here raises for bad data: only a
missing or unreadable path, or one that is not a regular file (a FIFO, a device), raises.

Duplicate keys: orjson keeps the last of two equal keys. A record that passes the fast checks has a known
number of strings, so counting the quotes of its line (less escaped ones) says whether a duplicate can hide
in it; only then, and for records that fail anyway, is the line parsed again with every member kept.

Memory does not grow with the number of records past a fixed cap:

- statistics keep histograms (token count -> records, user turns -> records) instead of one value per record,
  so their size is bounded by the number of distinct values, which is bounded by the longest line; the
  minimum, mean, percentiles and maximum computed from them are exact;
- duplicate and overlap detection remembers the hashes of the first 10,000 records only: a file with more
  records than that already fails ``too_many_records``, so a later record is still reported when it repeats
  one of those first records, but not when it repeats another later one;
- the listed issues are capped by ``max_issues``.

Longer than ~600 lines on purpose: the hot loop and the slow path that explains its refusals must stay in step.
"""

from __future__ import annotations

import io
import json
import os
from functools import partial
from itertools import chain
from typing import Any, BinaryIO, Literal

import orjson

from .._files import regular_input
from ..base_models import DEFAULT_BASE_MODEL, BaseModelProfile, DataLimits, get_profile
from ._limits import NEAR_TOKEN_LIMIT_FRACTION
from ._lines import MAX_LINE_BYTES, READ_LIMIT, skip_long_line
from .report import DatasetStats, FilesValidationReport, ValidationIssue, ValidationReport
from .tokens import TokenCounter, counted_exactly, estimate_record_tokens

__all__ = ["MAX_LINE_BYTES", "DataSource", "check_record", "validate_file", "validate_files", "validate_stream"]

Split = Literal["train", "validation"]
#: A file path, or a binary file object (e.g. ``io.BytesIO``) positioned at the start of the data.
DataSource = str | os.PathLike[str] | BinaryIO

#: A base model for the data rules: a profile, or a key, model id or ARN `get_profile` knows (``None``: the default).
BaseModelChoice = str | BaseModelProfile | None

_BOM = b"\xef\xbb\xbf"
#: The record format the inline fast path is written for; a profile with another one takes the slow path.
_FAST_RECORD_KEYS = frozenset({"system", "messages"})
_FAST_MESSAGE_KEYS = frozenset({"role", "content"})
#: Token counts below this are tallied in a list (see _validate).
_SMALL_COUNTS = 1024


def _tracked_records(limits: DataLimits) -> int:
    """Records whose hashes are remembered for duplicate and overlap detection.

    The largest number of records that can still be valid in one file (training, and training + validation).
    Past it the file fails ``too_many_records`` anyway, and remembering more would make memory grow with the file.
    """
    return max(limits.max_train_records, limits.max_validation_records, limits.max_total_records)


def _near(limits: DataLimits) -> int:
    return int(limits.max_tokens_per_record * NEAR_TOKEN_LIMIT_FRACTION)


def _has_reserved(text: str, reserved: tuple[str, ...]) -> bool:
    # A loop, not any(genexpr): no generator object per call (it runs on every text with a newline).
    for marker in reserved:  # noqa: SIM110
        if marker in text:
            return True
    return False


def _reserved_gate(reserved: tuple[str, ...]) -> str:
    """A character every reserved string starts with (one cheap scan spares the searches), else ``""``."""
    firsts = {marker[:1] for marker in reserved}
    return firsts.pop() if len(firsts) == 1 else ""


def _needs_escape(reserved: tuple[str, ...]) -> bool:
    """Whether every reserved string holds a character JSON must escape (a line with no backslash has none)."""
    return all(any(c in '"\\' or c < " " for c in marker) for marker in reserved)


def _two_keys_each(messages: list[Any]) -> bool:
    """Whether every message has two keys (with 'role' and 'content' found, no other)."""
    for message in messages:  # noqa: SIM110 (a loop: no generator per call)
        if len(message) != 2:
            return False
    return True


class _Collector:
    """Keeps issues up to a cap and counts the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.errors: list[ValidationIssue] = []
        self.warnings: list[ValidationIssue] = []
        self.omitted_errors = 0
        self.omitted_warnings = 0

    def error(self, code: str, line: int | None, message: str) -> None:
        if len(self.errors) + len(self.warnings) < self.cap:
            self.errors.append(ValidationIssue(code, line, message))
        else:
            self.omitted_errors += 1

    def warning(self, code: str, line: int | None, message: str) -> None:
        if len(self.errors) + len(self.warnings) < self.cap:
            self.warnings.append(ValidationIssue(code, line, message, "warning"))
        else:
            self.omitted_warnings += 1


def validate_file(
    source: DataSource,
    *,
    split: Split = "train",
    max_issues: int = 1000,
    token_counter: TokenCounter | None = None,
    base_model: BaseModelChoice = None,
) -> ValidationReport:
    """Validate a JSON Lines training or validation file for fine-tuning a base model (default: Claude 3 Haiku).

    Args:
        source: A path, or a binary file object.
        split: ``"train"`` or ``"validation"`` (their record and size limits differ).
        max_issues: List at most this many issues; the rest are counted (``omitted_errors``/``_warnings``).
        token_counter: Counts tokens exactly for records the estimate puts near the 32,000-token limit
            (e.g. [`BedrockTokenCounter`][haiku_finetune.datasets.BedrockTokenCounter]); default: the estimate alone.
            Records
            that already fail another rule are not sent to it. Each issue says whether its count was exact
            (see [`TokenCounter`][haiku_finetune.datasets.TokenCounter] for how a counter says so).
        base_model: Whose data limits apply (records, tokens per record, file sizes, reserved strings, keys): a
            ``BaseModelProfile``, or a profile key, base model id or ARN that
            ``haiku_finetune.base_models.get_profile`` knows. Default: Claude 3 Haiku's.

    Returns:
        A [`ValidationReport`][haiku_finetune.datasets.validation.ValidationReport] listing every problem with its line
        number. ``duplicate_record`` compares
        each record with the first 10,000 records only (a longer file fails ``too_many_records`` anyway), so
        memory stays bounded however many records the file has.

    Raises:
        FileNotFoundError: The path does not exist.
        PermissionError: The path cannot be read.
        IsADirectoryError: The path is a directory.
        UnsafePathError: The path is a FIFO, a device or a socket (checked with ``os.stat``, never opened: pass
            an open stream to [`validate_stream`][haiku_finetune.datasets.validation.validate_stream] to read one, e.g.
            stdin).
        ValueError: ``split`` or ``max_issues`` is not valid, or no profile knows ``base_model``.
    """
    limits = get_profile(base_model).limits
    report, _, _ = _validate(
        source, split=split, max_issues=max_issues, token_counter=token_counter, keep_hashes=False, limits=limits
    )
    return report


def validate_stream(
    stream: BinaryIO,
    *,
    split: Split = "train",
    max_issues: int = 1000,
    token_counter: TokenCounter | None = None,
    base_model: BaseModelChoice = None,
) -> ValidationReport:
    """Validate JSON Lines read from an open binary stream (``sys.stdin.buffer``, a pipe, a socket file).

    The stream is read to its end (or until reading stops, below) and not closed. Memory stays bounded
    whatever arrives: no line over `MAX_LINE_BYTES` (4 MiB) is held (it is reported ``line_too_long``
    and skipped), and after 64 MiB with no newline reading stops with a ``line_too_long`` error, so even
    ``/dev/zero`` ends promptly.

    Args and returns as [`validate_file`][haiku_finetune.datasets.validation.validate_file].

    Raises:
        TypeError: ``stream`` is a text stream (open it with ``"rb"``, or use ``sys.stdin.buffer``).
    """
    return validate_file(stream, split=split, max_issues=max_issues, token_counter=token_counter, base_model=base_model)


def validate_files(
    train: DataSource,
    validation: DataSource | None = None,
    *,
    max_issues: int = 1000,
    token_counter: TokenCounter | None = None,
    base_model: BaseModelChoice = None,
) -> FilesValidationReport:
    """Validate a training file and, optionally, a validation file, plus the rules that span both.

    Cross-file rules: ``total_records_exceeded`` (more than the base model's total, 10,000 by default, an error) and
    ``validation_overlap`` (a validation record that is also in training, a warning: it inflates the
    validation score). Overlap compares the first 10,000 records of each file, the most a valid pair can have.

    Args and raises as [`validate_file`][haiku_finetune.datasets.validation.validate_file].
    """
    limits = get_profile(base_model).limits
    train_report, first_train_line, _ = _validate(
        train, split="train", max_issues=max_issues, token_counter=token_counter, keep_hashes=False, limits=limits
    )
    result = FilesValidationReport(train=train_report)
    if validation is None:
        return result
    val_report, _, val_hashes = _validate(
        validation,
        split="validation",
        max_issues=max_issues,
        token_counter=token_counter,
        keep_hashes=True,
        limits=limits,
    )
    result.validation = val_report
    total = train_report.stats.records + val_report.stats.records
    if total > limits.max_total_records:
        result.cross_errors.append(
            ValidationIssue(
                "total_records_exceeded",
                None,
                f"{train_report.stats.records:,} training + {val_report.stats.records:,} validation records = "
                f"{total:,}, more than the {limits.max_total_records:,} allowed in all; drop records (or raise the "
                "quota in Service Quotas)",
            )
        )
    for line, digest in val_hashes:
        if len(result.cross_warnings) >= max_issues:
            break
        if digest in first_train_line:
            result.cross_warnings.append(
                ValidationIssue(
                    "validation_overlap",
                    line,
                    f"this validation record is also training line {first_train_line[digest]}; validation "
                    "loss on it says little about new data: remove it from one of the files",
                    "warning",
                )
            )
    return result


def check_record(record: Any, line: int | None = None, *, base_model: BaseModelChoice = None) -> list[ValidationIssue]:
    """Check one parsed record against the record-level rules (tokens by estimate).

    Never raises for any JSON value (``[]``, ``"x"``, ``None``, ``5``, nested junk): whatever is not a valid
    record comes back as issues. A parsed value cannot show duplicate keys (the parser already dropped them):
    [`validate_file`][haiku_finetune.datasets.validation.validate_file] checks those on the raw line.

    Args:
        record: The parsed JSON value.
        line: The line number to put on the issues.
        base_model: Whose data limits apply, as in [`validate_file`][haiku_finetune.datasets.validation.validate_file].

    Returns:
        The problems found (errors and warnings), empty when the record is valid.
    """
    limits = get_profile(base_model).limits
    issues = _Collector(cap=1_000_000)
    if type(record) is not dict:
        issues.error("not_object", line or 0, f"a record must be a JSON object with 'messages', got {_kind(record)}")
    else:
        count, _ = _check(record, line or 0, issues, limits)
        _token_issues(count, line or 0, issues, limits, exact=False)
    found = issues.errors + issues.warnings
    return found if line is not None else [ValidationIssue(i.code, None, i.message, i.severity) for i in found]


def _validate(
    source: DataSource,
    *,
    split: Split,
    max_issues: int,
    token_counter: TokenCounter | None,
    keep_hashes: bool,
    limits: DataLimits = DEFAULT_BASE_MODEL.limits,
) -> tuple[ValidationReport, dict[int, int], list[tuple[int, int]]]:
    """Validate one file against ``limits`` (resolved once here, read from locals in the loop).

    Returns:
        The report; the first line of each of the first `_tracked_records` distinct records by hash; and,
        with ``keep_hashes``, (line, hash) of each of the first ``_tracked_records`` records (else empty).
    """
    if split not in ("train", "validation"):
        raise ValueError(f"split must be 'train' or 'validation', got {split!r}")
    if max_issues < 0:
        raise ValueError(f"max_issues must be >= 0, got {max_issues}")
    issues = _Collector(max_issues)
    name, stream, close = _open(source)
    # Histograms (value -> records), not per-record lists: distinct values are bounded by the longest line, not
    # by the record count. Plain dicts with a bound get: about twice as fast per record as Counter's += here.
    tokens: dict[int, int] = {}
    # The small token counts (short records) in a list: an index is cheaper than a dict's get and set.
    small = [0] * _SMALL_COUNTS
    turns: dict[int, int] = {}
    tokens_get, turns_get = tokens.get, turns.get
    exact_counts = 0
    with_system = 0
    size = 0
    lineno = 0
    seen: dict[int, int] = {}
    hashes: list[tuple[int, int]] = []
    loads = orjson.loads
    dumps = orjson.dumps
    remember = seen.setdefault
    seen_get = seen.get
    near = _near(limits)
    tracked = _tracked_records(limits)
    # The last line whose record is remembered: the tracked-th record's, pushed on by each line without one.
    last_tracked = tracked
    reserved = limits.reserved_strings
    gate = _reserved_gate(reserved)
    scan_always = not _needs_escape(reserved)
    # A profile whose record format is not the one the inline checks are written for takes the slow path.
    fast_format = limits.allowed_record_keys == _FAST_RECORD_KEYS and limits.allowed_message_keys == _FAST_MESSAGE_KEYS
    limit = READ_LIMIT
    readline = stream.readline
    try:
        # readline(limit) from C (iter + partial: no Python frame per line): a longer line arrives in pieces,
        # each at most `limit` bytes (see _lines).
        pieces = iter(partial(readline, limit), b"")
        head = next(pieces, b"")
        if head.startswith(_BOM) and (len(head) < limit or head[-1] == 10):
            issues.error(
                "utf8_bom",
                1,
                "the file starts with a UTF-8 byte order mark (BOM); save it as UTF-8 without BOM",
            )
            head = head[3:]
            size = 3
        for raw in chain((head,), pieces) if head else pieces:
            lineno += 1
            n = len(raw)
            size += n
            try:
                record = loads(raw)  # JSON allows the trailing "\r\n" / "\n": no copy to strip it
            except orjson.JSONDecodeError as error:
                last_tracked += 1  # not a record
                if n == limit and raw[-1] != 10:
                    if _long_line(readline, raw, lineno, issues):
                        break
                elif not raw or raw.isspace():
                    issues.error("blank_line", lineno, "blank line: every line must be one JSON record; delete it")
                else:
                    _parse_error(raw.rstrip(b"\r\n"), lineno, error, issues)
                continue
            end = raw[-1]
            if end != 10 and n == limit:  # the first 4 MiB of a longer line happened to parse
                last_tracked += 1
                if _long_line(readline, raw, lineno, issues):
                    break
                continue
            # The common case in one tight pass, inline (a call and a tuple per record cost ~5% on short records):
            # a valid record gives its estimated tokens, user turns, whether it has a system prompt. Whatever is
            # not a well-formed record fails a lookup, a length or a check here (KeyError/TypeError/AttributeError),
            # cheaper than checking types up front. (The number of keys of each message is checked below, with
            # the duplicate keys: most often the line's length proves it.)
            try:
                keys = len(record) if fast_format else 0
                # 92 is "\\": `in` with an int is one memchr; `in` with b"\\" first fails (and formats) a TypeError.
                escaped = 92 in raw
                # A backslash is the only way a JSON string holds a control character (orjson refuses them raw),
                # so with none on the line no text can hold a reserved string that needs one ("\n...").
                scan = escaped or scan_always
                if keys == 1:
                    system = None
                elif keys == 2:
                    system = record["system"]
                    if type(system) is not str or (scan and gate in system and _has_reserved(system, reserved)):
                        raise KeyError
                else:
                    raise KeyError
                # No type check on 'messages': whatever is not a list of objects fails below all the same (the
                # items of a string, or the keys of an object, are strings, and a string["role"] is a TypeError).
                messages = record["messages"]
                msgs = len(messages)
                if msgs != 2 and (msgs < 2 or msgs % 2):
                    raise KeyError
                ascii_chars = other = 0
                if system is not None:
                    if system.isascii():
                        ascii_chars = len(system)
                    else:
                        ascii_chars = len(system.encode("ascii", "ignore"))
                        other = len(system) - ascii_chars
                # A turn (user message, assistant reply) a step: no role to alternate by hand.
                if msgs == 2:
                    pairs: Any = (messages,)
                else:
                    turn = iter(messages)
                    pairs = zip(turn, turn)  # noqa: B905 (an even number: nothing left over; no keyword to pass)
                for user, reply in pairs:
                    if user["role"] != "user" or reply["role"] != "assistant":
                        raise KeyError
                    asked = user["content"]
                    said = reply["content"]
                    # A non-string content fails here: falsy, or no isspace().
                    if not asked or not said or asked.isspace() or said.isspace():
                        raise KeyError
                    if scan and (
                        (gate in asked and _has_reserved(asked, reserved))
                        or (gate in said and _has_reserved(said, reserved))
                    ):
                        raise KeyError
                    if asked.isascii() and said.isascii():  # O(1) in CPython
                        ascii_chars += len(asked) + len(said)
                        continue
                    for content in (asked, said):
                        k = len(content.encode("ascii", "ignore"))
                        ascii_chars += k
                        other += len(content) - k
                user_turns = msgs // 2
                has_system = keys == 2
                # The line's length proves what is left when it is the record's compact form. That form is the
                # shortest text the record can have (its values are all strings, each written with the fewest
                # escapes); a duplicate key, or a key beyond 'role' and 'content' on a message, adds at least
                # 6 bytes (,"k":v) to the line. For ASCII text with no backslash on the line, the length of the
                # form for exactly these keys is arithmetic: {"messages":[...]} is 14 bytes, each user+assistant
                # pair 63 plus its text, a system prompt 12 plus its text. Else orjson writes the form, and that
                # one counts any extra key, so the keys are counted first.
                wide = other or escaped
                if wide and not _two_keys_each(messages):
                    raise KeyError
                compact = len(dumps(record)) if wide else 14 + 63 * user_turns + ascii_chars + 12 * has_system
                if compact + 1 == n and end == 10:  # compact JSON and "\n": proven, and nothing to normalize
                    compact_line = True
                else:
                    compact_line = False
                    if compact != n and compact + 1 != n:  # the length proves nothing: check, count strings
                        if not wide and not _two_keys_each(messages):
                            raise KeyError
                        compact = -1
            except (KeyError, TypeError, AttributeError):  # not a well-formed record: the slow path says what
                compact_line = False
                if type(record) is not dict:
                    last_tracked += 1
                    issues.error(
                        "not_object",
                        lineno,
                        f"a record must be a JSON object with 'messages', got {_kind(record)}",
                    )
                    continue
                before = len(issues.errors) + issues.omitted_errors
                count, user_turns = _check(record, lineno, issues, limits)
                has_system = "system" in record
                unique = _no_duplicate_keys(raw, lineno, issues)
                clean = unique and len(issues.errors) + issues.omitted_errors == before
            else:
                count = (ascii_chars + 2) // 3 + other
                clean = True
                # orjson keeps the last of duplicate keys, so a duplicate must be found in the line itself. Failing
                # the length (above): a valid record has exactly 1 + 2*system + 8*turns strings, 2 unescaped quotes
                # each, and a duplicate adds at least one string; escaped quotes (\") are subtracted, and a doubled
                # backslash makes that count unsure. Only a record that fails all of these takes the exact (slow)
                # check.
                if compact < 0:
                    quotes = raw.count(b'"')
                    if escaped:
                        quotes = -1 if b"\\\\" in raw else quotes - raw.count(b'\\"')
                    if quotes != 2 + 4 * has_system + 16 * user_turns:
                        clean = _no_duplicate_keys(raw, lineno, issues)
            if count > near:
                exact = False
                # A record that already fails would only earn a pointless (or refused) CountTokens call.
                if token_counter is not None and clean:
                    count = token_counter.count(record)
                    exact = counted_exactly(token_counter)
                    exact_counts += exact
                _token_issues(count, lineno, issues, limits, exact=exact)
                tokens[count] = tokens_get(count, 0) + 1  # a counter's count may be anything
            elif count < _SMALL_COUNTS:  # an estimate: never negative
                small[count] += 1
            else:
                tokens[count] = tokens_get(count, 0) + 1
            # Records of one turn (most) are counted at the end: all records less the others.
            if user_turns != 1:
                turns[user_turns] = turns_get(user_turns, 0) + 1
            if has_system:
                with_system += 1
            # Python's hash of the line with "\n" as its ending: fast, stable within this process (all duplicate
            # and overlap checks happen in one process); a collision would only cost a spurious warning. Only a
            # CRLF line or a last line without a newline pays for a copy. (An object's line has >= 2 bytes.)
            if not compact_line:
                if end != 10:
                    raw += b"\n"
                elif raw[-2] == 13:
                    raw = raw[:-2] + b"\n"
            digest = hash(raw)
            # Past the cap the file fails too_many_records anyway: look up, but stop remembering.
            if lineno <= last_tracked:
                first = remember(digest, lineno)
                if keep_hashes:
                    hashes.append((lineno, digest))
            else:
                first = seen_get(digest, lineno)
            if first != lineno:
                issues.warning(
                    "duplicate_record",
                    lineno,
                    f"exact repeat of line {first}; duplicates weigh a record twice: remove it "
                    "(DatasetBuilder.deduplicate() does)",
                )
    finally:
        if close:
            stream.close()
    records = lineno - (last_tracked - tracked)
    for value, number in enumerate(small):
        if number:
            tokens[value] = tokens_get(value, 0) + number
    if records > sum(turns.values()):
        turns[1] = records - sum(turns.values())
    _file_issues(split, records, size, lineno, issues, limits)
    stats = DatasetStats.from_histograms(
        tokens=tokens,
        turns=turns,
        with_system=with_system,
        lines=lineno,
        file_size=size,
        tokens_exact=exact_counts,
    )
    report = ValidationReport(
        source=name,
        split=split,
        errors=sorted(issues.errors, key=_order),
        warnings=sorted(issues.warnings, key=_order),
        stats=stats,
        omitted_errors=issues.omitted_errors,
        omitted_warnings=issues.omitted_warnings,
    )
    return report, seen, hashes


def _order(issue: ValidationIssue) -> tuple[int, int]:
    # File-level issues (no line) after the line-level ones.
    return (1, 0) if issue.line is None else (0, issue.line)


def _open(source: DataSource) -> tuple[str, BinaryIO, bool]:
    if isinstance(source, (str, os.PathLike)):
        # os.stat before open: a FIFO with no writer would block open() forever, a device be read without end.
        path = regular_input(source, what="dataset file")
        return str(path), open(path, "rb"), True
    if isinstance(source, io.TextIOBase):
        raise TypeError("open the dataset in binary mode ('rb') or pass its path")
    if not callable(getattr(source, "read", None)):
        raise TypeError(f"a dataset is a path or a binary file object, got {type(source).__name__}")
    name = getattr(source, "name", None)
    return (name if isinstance(name, str) else "<stream>"), source, False


class _Pairs(list[tuple[str, Any]]):
    """An object's members in order, duplicates kept (``object_pairs_hook`` for the exact duplicate check)."""


def _no_duplicate_keys(raw: bytes, lineno: int, issues: _Collector) -> bool:
    """Parse the line again keeping every member; report the first duplicated key. True when there is none."""
    try:
        tree = json.loads(raw, object_pairs_hook=_Pairs)
        found = _duplicate(tree, "")
    except (ValueError, RecursionError):  # orjson parsed it; a parser disagreement is not this check's business
        return True
    if found is None:
        return True
    path, key = found
    issues.error(
        "duplicate_key",
        lineno,
        f"duplicate key {key!r} at {_join(path, key)}; JSON parsers disagree on which value counts (this one "
        "keeps the last, others the first or refuse the record): keep exactly one",
    )
    return False


def _duplicate(value: Any, path: str) -> tuple[str, str] | None:
    """(path of the object, key) of the first duplicated key in a ``_Pairs`` tree, depth first; else None."""
    if type(value) is _Pairs:
        keys: set[str] = set()
        for key, _ in value:
            if key in keys:
                return path, key
            keys.add(key)
        for key, item in value:
            found = _duplicate(item, _join(path, key))
            if found is not None:
                return found
    elif type(value) is list:
        for index, item in enumerate(value):
            found = _duplicate(item, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def _join(path: str, key: str) -> str:
    step = key if key.isidentifier() else json.dumps(key, ensure_ascii=False)
    if not key.isidentifier():
        return f"{path}[{step}]"
    return f"{path}.{step}" if path else step


def _long_line(readline: Any, raw: bytes, lineno: int, issues: _Collector) -> bool:
    """Skip and report an over-long line; True when reading must stop (no newline within MAX_SKIP_BYTES)."""
    long = skip_long_line(readline, len(raw))
    issues.error("line_too_long", lineno, long.message())
    return long.stopped


def _kind(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number"
    )


def _parse_error(line: bytes, lineno: int, error: orjson.JSONDecodeError, issues: _Collector) -> None:
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as bad:
        issues.error(
            "invalid_utf8",
            lineno,
            f"not valid UTF-8 at byte {bad.start}; re-encode the file as UTF-8",
        )
        return
    issues.error(
        "invalid_json",
        lineno,
        f"not valid JSON ({error.msg} at column {error.colno}); each line must be exactly one JSON object "
        "(no trailing text, no NaN or Infinity, no comments)",
    )


def _check(record: dict[str, Any], lineno: int, issues: _Collector, limits: DataLimits) -> tuple[int, int]:
    """Record-level rules with full messages; returns (estimated tokens, user turns)."""
    if not limits.allowed_record_keys.issuperset(record):
        _unknown_keys(record, limits.allowed_record_keys, "on the record; only {} are allowed", lineno, issues)
    system = record.get("system")
    if "system" in record:
        if not isinstance(system, str):
            issues.error("system_type", lineno, f"'system' must be a string, got {_kind(system)}")
        elif _has_reserved(system, limits.reserved_strings):
            _reserved(system, "the system prompt", lineno, issues, limits)
    if "messages" not in record:
        issues.error(
            "missing_messages",
            lineno,
            "the record has no 'messages'; add a list of user/assistant messages",
        )
        return estimate_record_tokens(record), 0
    messages = record["messages"]
    if not isinstance(messages, list):
        issues.error(
            "messages_type",
            lineno,
            f"'messages' must be a list of messages, got {_kind(messages)}",
        )
        return estimate_record_tokens(record), 0
    if len(messages) < 2:
        issues.error(
            "too_few_messages",
            lineno,
            f"'messages' has {len(messages)} message(s); a record needs at least a user message and the "
            "assistant reply to learn",
        )
    roles_ok = True
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            issues.error(
                "message_not_object",
                lineno,
                f"message {index} must be an object with 'role' and 'content', got {_kind(message)}",
            )
            roles_ok = False
            continue
        if not limits.allowed_message_keys.issuperset(message):
            where = f"on message {index}; a message has only {{}}"
            _unknown_keys(message, limits.allowed_message_keys, where, lineno, issues)
        role = message.get("role")
        if role != "user" and role != "assistant":
            roles_ok = False
            hint = (
                "; move the system prompt to the record's top-level 'system' key"
                if role == "system"
                else "; use 'user' or 'assistant'"
            )
            issues.error(
                "role_invalid",
                lineno,
                f"message {index} has role {role!r}{hint}",
            )
        content = message.get("content")
        if not isinstance(content, str):
            detail = "is missing" if "content" not in message else f"is {_kind(content)}"
            issues.error(
                "content_type",
                lineno,
                f"message {index} content {detail}; it must be a plain string (Claude 3 Haiku fine-tuning "
                "takes text only, not content blocks)",
            )
        elif not content.strip():
            issues.error("content_empty", lineno, f"message {index} content is empty; write the text or drop the turn")
        elif _has_reserved(content, limits.reserved_strings):
            _reserved(content, f"message {index}", lineno, issues, limits)
    if roles_ok and messages:
        if messages[0]["role"] != "user":
            issues.error(
                "first_not_user",
                lineno,
                "the first message must come from the user; start with the user's prompt",
            )
        if messages[-1]["role"] != "assistant":
            issues.error(
                "last_not_assistant",
                lineno,
                "the last message must be the assistant's reply (the target the model learns)",
            )
        for index in range(1, len(messages)):
            if messages[index]["role"] == messages[index - 1]["role"]:
                issues.error(
                    "roles_not_alternating",
                    lineno,
                    f"messages {index - 1} and {index} are both from the {messages[index]['role']}; roles must "
                    "alternate user/assistant: merge the two",
                )
                break
    turns = sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "user")
    return estimate_record_tokens(record), turns


def _unknown_keys(found: dict[str, Any], allowed: frozenset[str], where: str, lineno: int, issues: _Collector) -> None:
    """Report the keys of ``found`` not in ``allowed``; ``where`` has one ``{}`` for the allowed keys."""
    extra = ", ".join(repr(k) for k in sorted(set(found) - allowed))
    names = " and ".join(
        repr(k) for k in sorted(allowed, reverse=True)
    )  # 'system' and 'messages', 'role' and 'content'
    issues.error("unknown_key", lineno, f"unknown key(s) {extra} {where.format(names)}: remove them")


def _reserved(text: str, where: str, lineno: int, issues: _Collector, limits: DataLimits) -> None:
    marker = next(m for m in limits.reserved_strings if m in text)
    issues.error(
        "reserved_string",
        lineno,
        f"{where} contains the reserved turn marker {marker!r}; reword it (e.g. drop the newline before it)",
    )


def _token_issues(count: int, lineno: int, issues: _Collector, limits: DataLimits, *, exact: bool) -> None:
    # Say which kind of count it is: an exact count is final, an estimate errs high and deserves a check.
    counted = f"{count:,} tokens (exact count)" if exact else f"an estimated {count:,} tokens"
    maximum = limits.max_tokens_per_record
    if count > maximum:
        issues.error(
            "record_too_long",
            lineno,
            f"the record has {counted}, more than the {maximum:,} allowed (system prompt plus all "
            "messages); shorten or split it",
        )
    elif count > _near(limits):
        advice = (
            "it fits, with little room to spare"
            if exact
            else "the estimate errs high, but check it (BedrockTokenCounter counts exactly)"
        )
        issues.warning(
            "near_token_limit",
            lineno,
            f"the record has {counted}, over 90% of the {maximum:,} limit; {advice}",
        )


def _file_issues(split: Split, records: int, size: int, lines: int, issues: _Collector, limits: DataLimits) -> None:
    minimum = limits.min_records
    if lines == 0:
        issues.error(
            "empty_file", None, f"the file is empty; it needs at least {minimum} records, one JSON object per line"
        )
        return
    if records < minimum:
        issues.error(
            "too_few_records",
            None,
            f"{records} valid record(s); fine-tuning needs at least {minimum}",
        )
    limit = limits.max_train_records if split == "train" else limits.max_validation_records
    if records > limit:
        issues.error(
            "too_many_records",
            None,
            f"{records:,} records; a {split} file may have at most {limit:,}",
        )
    max_bytes = limits.max_train_bytes if split == "train" else limits.max_validation_bytes
    if size > max_bytes:
        issues.error(
            "file_too_large",
            None,
            f"{size:,} bytes; a {split} file may be at most {max_bytes // 1024**3} GB",
        )
