"""The validator's fast path reports what the full checks report, however a record's line is written.

The fast path proves some rules from a line's length (a compact line cannot hide an extra or duplicated key) and
skips reserved-string searches on lines without a backslash; these tests write the same records in every common
form (compact, spaced, escaped, non-ASCII, CRLF, no final newline) and expect the same issues on each.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable

import orjson
import pytest

from haiku_finetune.datasets.validation import validate_file

_GOOD = {"messages": [{"role": "user", "content": "where is my order"}, {"role": "assistant", "content": "here"}]}


def _escape_every_e(line: bytes) -> bytes:
    # Every letter e, in keys and values alike, written as \u0065; existing \uXXXX escapes are kept whole.
    return re.sub(rb"\\u[0-9a-fA-F]{4}|e", lambda m: m.group() if m.group() != b"e" else b"\\u0065", line)


_LINE_FORMS: dict[str, Callable[[object], bytes]] = {
    "compact": orjson.dumps,
    "spaced": lambda r: json.dumps(r).encode(),
    "escaped": lambda r: _escape_every_e(json.dumps(r, ensure_ascii=True).encode()),
    "leading space": lambda r: b" " + orjson.dumps(r),
    "trailing tab": lambda r: orjson.dumps(r) + b"\t",
}
_ENDINGS = [b"\n", b"\r\n"]


def _codes(record_line: bytes, ending: bytes) -> list[str]:
    # 40 distinct good records first (the file minimum), the line under test last, with or without its ending.
    lines = [
        orjson.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]})
        for i in range(40)
    ]
    data = b"\n".join(lines) + b"\n" + record_line + ending
    report = validate_file(io.BytesIO(data))
    return sorted({issue.code for issue in report.errors + report.warnings if issue.line == 41})


_CASES: list[tuple[str, object, set[str]]] = [
    ("valid", _GOOD, set()),
    ("valid with system", {"system": "be brief", **_GOOD}, set()),
    ("valid two turns", {"messages": _GOOD["messages"] * 2}, set()),
    ("non-ASCII", {"messages": [{"role": "user", "content": "caf\u00e9 \u65e5"}, _GOOD["messages"][1]]}, set()),
    ("extra key on a message", {"messages": [{**_GOOD["messages"][0], "x": 1}, _GOOD["messages"][1]]}, {"unknown_key"}),
    (
        "extra key on the reply",
        {"messages": [_GOOD["messages"][0], {**_GOOD["messages"][1], "x": "y"}]},
        {"unknown_key"},
    ),
    ("extra record key", {**_GOOD, "x": 1}, {"unknown_key"}),
    ("messages an object", {"messages": {"role": "user", "content": "x"}}, {"messages_type"}),
    ("messages a string", {"messages": "ab"}, {"messages_type"}),
    (
        "newline turn marker",
        {"messages": [{"role": "user", "content": "a\nHuman: b"}, _GOOD["messages"][1]]},
        {"reserved_string"},
    ),
    ("blank content", {"messages": [{"role": "user", "content": "\u3000"}, _GOOD["messages"][1]]}, {"content_empty"}),
]


@pytest.mark.parametrize("form", sorted(_LINE_FORMS))
@pytest.mark.parametrize("ending", [*_ENDINGS, b""], ids=["lf", "crlf", "eof"])
@pytest.mark.parametrize(("name", "record", "expected"), _CASES, ids=[c[0] for c in _CASES])
def test_every_line_form_gets_the_same_issues(
    form: str, ending: bytes, name: str, record: object, expected: set[str]
) -> None:
    assert set(_codes(_LINE_FORMS[form](record), ending)) == expected, name


@pytest.mark.parametrize("ending", [*_ENDINGS, b""], ids=["lf", "crlf", "eof"])
@pytest.mark.parametrize(
    "line",
    [
        b'{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}],"messages":[]}',
        b'{"messages":[{"role":"user","role":"user","content":"x"},{"role":"assistant","content":"y"}]}',
        b'{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y","content":"z"}]}',
        b'{"system":"a","system":"b","messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]}',
        b'{"messages": [{"role": "user", "content": "x\\"", "content": "w"}, {"role": "assistant", "content": "y"}]}',
        b'{"messages":[{"role":"user","content":"caf\xc3\xa9"},{"role":"assistant","content":"y","role":"assistant"}]}',
    ],
)
def test_a_duplicate_key_is_found_in_any_form(line: bytes, ending: bytes) -> None:
    assert "duplicate_key" in _codes(line, ending)


def test_statistics_count_turns_and_system_prompts_of_every_record() -> None:
    one = _GOOD
    two = {"messages": _GOOD["messages"] * 2}
    system = {"system": "s", **_GOOD}
    records = [one] * 20 + [two] * 15 + [system] * 5 + [{"messages": []}]
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    stats = validate_file(io.BytesIO(data)).stats
    assert (stats.records, stats.records_with_system, stats.turns_min, stats.turns_max) == (41, 5, 0, 2)
    assert stats.turns_mean == pytest.approx((25 * 1 + 15 * 2) / 41)


def test_repeats_are_found_before_and_past_the_remembered_records() -> None:
    lines = [
        orjson.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]})
        for i in range(10_050)
    ]
    lines[3] = b"not json"  # a line without a record does not use up a remembered place
    lines[10_040] = lines[10_000 - 1]  # line 10,000 is remembered
    lines[10_045] = lines[10_000]  # line 10,001 holds the 10,000th record (line 4 holds none): remembered
    lines[10_048] = lines[10_001]  # line 10,002 holds the 10,001st record: not remembered
    report = validate_file(io.BytesIO(b"\n".join(lines) + b"\n"))
    repeats = [(w.line, w.message.split(";")[0]) for w in report.warnings if w.code == "duplicate_record"]
    assert repeats == [(10_041, "exact repeat of line 10000"), (10_046, "exact repeat of line 10001")]
