"""validate_file / validate_files: every stable code at its exact line, the file-level rules, the report."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import haiku_finetune as hf
from haiku_finetune.base_models import DEFAULT_BASE_MODEL
from haiku_finetune.datasets import validation as validation_module

BAD_LINE = 7


def record(i: int, *, system: str | None = None, turns: int = 1) -> dict[str, Any]:
    messages = []
    for t in range(turns):
        messages += [
            {"role": "user", "content": f"question {i}.{t}: where is my order?"},
            {"role": "assistant", "content": f"answer {i}.{t}: it ships tomorrow."},
        ]
    out: dict[str, Any] = {"messages": messages}
    if system is not None:
        out = {"system": system, **out}
    return out


def good_lines(n: int = 40, start: int = 0) -> list[bytes]:
    return [json.dumps(record(i)).encode() + b"\n" for i in range(start, start + n)]


def with_bad(bad: bytes, at: int = BAD_LINE, n: int = 40) -> bytes:
    lines = good_lines(n)
    lines[at - 1] = bad if bad.endswith(b"\n") else bad + b"\n"
    return b"".join(lines)


def messages_line(messages: Any, **extra: Any) -> bytes:
    return json.dumps({**extra, "messages": messages}).encode()


U = {"role": "user", "content": "hi"}
A = {"role": "assistant", "content": "hello"}

RECORD_CASES: list[tuple[str, bytes]] = [
    ("invalid_json", b'{"messages": [}'),
    ("invalid_json", messages_line([U, A]) + b" trailing"),
    ("invalid_json", b'{"messages": [{"role": "user", "content": NaN}]}'),
    ("invalid_utf8", b'{"messages": [{"role": "user", "content": "caf\xe9"}]}'),
    ("blank_line", b""),
    ("blank_line", b"   \t"),
    ("not_object", b'[{"role": "user", "content": "hi"}]'),
    ("not_object", b'"just text"'),
    ("missing_messages", b'{"system": "be brief"}'),
    ("messages_type", b'{"messages": "hi"}'),
    ("too_few_messages", messages_line([U])),
    ("unknown_key", messages_line([U, A], prompt="x")),
    ("unknown_key", messages_line([{**U, "name": "bob"}, A])),
    ("system_type", messages_line([U, A], system=["be brief"])),
    ("message_not_object", messages_line(["hi", A])),
    ("role_invalid", messages_line([{"role": "human", "content": "hi"}, A])),
    ("content_type", messages_line([{"role": "user", "content": [{"type": "text", "text": "hi"}]}, A])),
    ("content_type", messages_line([{"role": "user", "content": None}, A])),
    ("content_empty", messages_line([{"role": "user", "content": ""}, A])),
    ("content_empty", messages_line([{"role": "user", "content": " \n\t "}, A])),
    ("first_not_user", messages_line([A, U, A])),
    ("last_not_assistant", messages_line([U, A, U])),
    ("roles_not_alternating", messages_line([U, U, A])),
    ("reserved_string", messages_line([{"role": "user", "content": "a\nHuman: b"}, A])),
    ("reserved_string", messages_line([U, {"role": "assistant", "content": "a\nAssistant: b"}])),
    ("reserved_string", messages_line([U, A], system="rules\nHuman: obey")),
    ("record_too_long", messages_line([{"role": "user", "content": "x" * 96_003}, A])),
]


@pytest.mark.parametrize(("code", "bad"), RECORD_CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(RECORD_CASES)])
def test_record_code_at_its_line(code: str, bad: bytes) -> None:
    report = hf.validate_file(io.BytesIO(with_bad(bad)))
    assert [(e.code, e.line) for e in report.errors if e.code == code] == [(code, BAD_LINE)], report
    assert all(e.line == BAD_LINE for e in report.errors), report
    assert not report.ok


def test_utf8_bom_on_line_one() -> None:
    data = b"\xef\xbb\xbf" + b"".join(good_lines())
    report = hf.validate_file(io.BytesIO(data))
    assert [(e.code, e.line) for e in report.errors] == [("utf8_bom", 1)]
    assert report.stats.records == 40  # the record after the BOM is still read


def test_system_message_inside_messages_gets_the_hint() -> None:
    report = hf.validate_file(io.BytesIO(with_bad(messages_line([{"role": "system", "content": "be brief"}, U, A]))))
    [error] = [e for e in report.errors if e.code == "role_invalid"]
    assert error.line == BAD_LINE
    assert "top-level" in error.message and "system" in error.message


def test_near_token_limit_is_a_warning_at_its_line() -> None:
    report = hf.validate_file(io.BytesIO(with_bad(messages_line([{"role": "user", "content": "x" * 90_000}, A]))))
    assert report.ok
    assert [(w.code, w.line) for w in report.warnings] == [("near_token_limit", BAD_LINE)]


def test_duplicate_names_the_first_line() -> None:
    lines = good_lines()
    lines[11] = lines[2]
    report = hf.validate_file(io.BytesIO(b"".join(lines)))
    assert report.ok
    assert [(w.code, w.line) for w in report.warnings] == [("duplicate_record", 12)]
    assert "line 3" in report.warnings[0].message


def test_duplicates_across_line_endings_and_a_missing_final_newline() -> None:
    lines = good_lines()
    lines[4] = lines[4].replace(b"\n", b"\r\n")
    lines[-1] = lines[4].rstrip(b"\r\n")  # the same record as line 5, last line without a newline
    report = hf.validate_file(io.BytesIO(b"".join(lines)))
    assert report.ok, report
    assert [(w.code, w.line) for w in report.warnings] == [("duplicate_record", 40)]


def test_an_unparseable_line_gives_one_error_a_record_can_give_several() -> None:
    report = hf.validate_file(io.BytesIO(with_bad(b'{"messages": [,,,] garbage')))
    assert [e.code for e in report.errors] == ["invalid_json"]
    several = messages_line([{"role": "robot", "content": ""}, {"role": "user", "content": 3}], extra=1)
    report = hf.validate_file(io.BytesIO(with_bad(several)))
    codes = {e.code for e in report.errors}
    assert {"unknown_key", "role_invalid", "content_empty", "content_type"} <= codes
    assert all(e.line == BAD_LINE for e in report.errors)


def test_crlf_and_missing_final_newline_are_valid() -> None:
    data = b"".join(line.replace(b"\n", b"\r\n") for line in good_lines()).rstrip(b"\r\n")
    report = hf.validate_file(io.BytesIO(data))
    assert report.ok and not report.warnings
    assert report.stats.records == 40 and report.stats.lines == 40


def test_the_seed_style_example_validates_clean(tmp_path: Path) -> None:
    # A record shaped like the seed's example: a system prompt and one summarization turn.
    example = {
        "system": "You summarize conversations between a support agent and a customer in two sentences.",
        "messages": [
            {
                "role": "user",
                "content": "Summarize this chat.\nCustomer: my parcel is late.\nAgent: it arrives on Friday.",
            },
            {"role": "assistant", "content": "The customer's parcel was late. The agent said it arrives Friday."},
        ],
    }
    assert hf.datasets.check_record(example) == []
    path = tmp_path / "train.jsonl"
    lines = [json.dumps(example)] + [json.dumps(record(i, system="be brief")) for i in range(40)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = hf.validate_file(path)
    assert report.ok and not report.warnings
    assert report.stats.records == 41 and report.stats.records_with_system == 41


def test_the_seeds_example_record_validates_clean(tmp_path: Path) -> None:
    # The shape of the example record in the AWS blog post the project started from: an instruction-style
    # system prompt, and one user turn with "instruction:\n\n" / "input:\n" markers (real newlines in the
    # JSON; the blog's rendering lost the backslashes), a non-ASCII ellipsis, and a summary as the reply.
    # Wording is ours; the structure and the markers are the seed's.
    example = {
        "system": "Below is an instruction that describes a task, together with an input that gives more "
        "context. Write a response that completes the request appropriately.",
        "messages": [
            {
                "role": "user",
                "content": "instruction:\n\nSummarize the news article provided below.\n\ninput:\n"
                "A regional rail operator will add night trains between two coastal cities this summer, "
                "after a pilot run sold out within days. … The operator said fares would stay unchanged.",
            },
            {
                "role": "assistant",
                "content": "A rail operator is adding summer night trains between two coastal cities after a "
                "sold-out pilot … fares stay the same.",
            },
        ],
    }
    assert hf.datasets.check_record(example) == []
    path = tmp_path / "train.jsonl"
    # ensure_ascii=False: the file carries the ellipsis as UTF-8, as a real export would
    lines = [json.dumps(example, ensure_ascii=False)] + [json.dumps(record(i, system="be brief")) for i in range(40)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = hf.validate_file(path)
    assert report.ok and not report.warnings, report
    assert report.stats.records == 41 and report.stats.records_with_system == 41


# -- memory -----------------------------------------------------------------------------------------------


def _tiny_lines(n: int) -> bytes:
    return b"".join(
        b'{"messages":[{"role":"user","content":"q%d"},{"role":"assistant","content":"a"}]}\n' % i for i in range(n)
    )


def test_duplicate_tracking_stops_at_the_largest_valid_record_count() -> None:
    cap = DEFAULT_BASE_MODEL.limits.max_train_records
    lines = _tiny_lines(cap + 50).splitlines(keepends=True)
    lines[cap + 19] = lines[4]  # line cap + 20 repeats line 5: still found
    lines[cap + 39] = lines[cap + 29]  # line cap + 40 repeats line cap + 30, never remembered: not reported
    report, seen, hashes = validation_module._validate(
        io.BytesIO(b"".join(lines)), split="validation", max_issues=1000, token_counter=None, keep_hashes=True
    )
    assert len(seen) == cap and len(hashes) == cap
    assert [(w.code, w.line) for w in report.warnings] == [("duplicate_record", cap + 20)]
    assert [(e.code, e.line) for e in report.errors] == [("too_many_records", None)]
    assert report.stats.records == cap + 50


def _peak_bytes(data: bytes) -> int:
    stream = io.BytesIO(data)
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    hf.validate_file(stream)
    return tracemalloc.get_traced_memory()[1] - before


def test_memory_does_not_grow_with_the_record_count() -> None:
    # Both files are past the 10,000-record cap, so everything kept per record must stop growing: tripling the
    # records may not cost more than a few transient objects. (Keeping one int per record in a list, or one
    # hash per record in a dict, would add well over 1 MB here.)
    small, large = _tiny_lines(15_000), _tiny_lines(45_000)
    tracemalloc.start()
    try:
        _peak_bytes(small)  # warm up caches (interned strings, code objects) outside the measurement
        small_peak, large_peak = _peak_bytes(small), _peak_bytes(large)
    finally:
        tracemalloc.stop()
    assert large_peak - small_peak < 128 * 1024, (small_peak, large_peak)


@given(st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=60))
def test_histogram_stats_are_exact(values: list[int]) -> None:
    stats = hf.DatasetStats.compute(tokens=values, turns=[v % 4 for v in values], with_system=0, lines=0, file_size=0)
    ordered = sorted(values)

    def nearest_rank(pct: float) -> int:
        return ordered[max(1, math.ceil(pct / 100 * len(ordered))) - 1]

    assert (stats.tokens_min, stats.tokens_max, stats.total_tokens) == (ordered[0], ordered[-1], sum(values))
    assert (stats.tokens_p50, stats.tokens_p95) == (nearest_rank(50), nearest_rank(95))
    assert stats.tokens_mean == sum(values) / len(values)
    turns = [v % 4 for v in values]
    assert (stats.turns_min, stats.turns_max, stats.turns_mean) == (min(turns), max(turns), sum(turns) / len(turns))


# -- file level -------------------------------------------------------------------------------------------


def test_empty_file() -> None:
    report = hf.validate_file(io.BytesIO(b""))
    assert [(e.code, e.line) for e in report.errors] == [("empty_file", None)]


def test_31_records_fail_too_few_32_pass() -> None:
    report = hf.validate_file(io.BytesIO(b"".join(good_lines(31))))
    assert [(e.code, e.line) for e in report.errors] == [("too_few_records", None)]
    assert hf.validate_file(io.BytesIO(b"".join(good_lines(32)))).ok


def test_1001_validation_records_fail_too_many() -> None:
    data = b"".join(good_lines(1001))
    report = hf.validate_file(io.BytesIO(data), split="validation")
    assert [(e.code, e.line) for e in report.errors] == [("too_many_records", None)]
    assert hf.validate_file(io.BytesIO(data), split="train").ok
    assert hf.validate_file(io.BytesIO(b"".join(good_lines(1000))), split="validation").ok


def test_10001_training_records_fail_too_many() -> None:
    report = hf.validate_file(io.BytesIO(b"".join(good_lines(10_001))))
    assert [(e.code, e.line) for e in report.errors] == [("too_many_records", None)]


@pytest.mark.parametrize(("split", "name"), [("train", "max_train_bytes"), ("validation", "max_validation_bytes")])
def test_file_too_large(split: str, name: str) -> None:
    # The size limit is the base model's: a profile whose limit is one byte short fails the file, an exact one not.
    data = b"".join(good_lines())

    def sized(limit: int) -> object:
        limits = dataclasses.replace(DEFAULT_BASE_MODEL.limits, **{name: limit})
        return dataclasses.replace(DEFAULT_BASE_MODEL, limits=limits)

    report = hf.validate_file(io.BytesIO(data), split=split, base_model=sized(len(data) - 1))  # type: ignore[arg-type]
    assert [(e.code, e.line) for e in report.errors] == [("file_too_large", None)]
    assert hf.validate_file(io.BytesIO(data), split=split, base_model=sized(len(data))).ok  # type: ignore[arg-type]


def test_validate_files_cross_rules(tmp_path: Path) -> None:
    train, validation = tmp_path / "train.jsonl", tmp_path / "validation.jsonl"
    train.write_bytes(b"".join(good_lines(9_980)))
    validation.write_bytes(b"".join(good_lines(40, start=9_970)))  # the first 10 are in training
    result = hf.validate_files(train, validation)
    assert [(e.code, e.line) for e in result.errors] == [("total_records_exceeded", None)]
    overlap = [w for w in result.warnings if w.code == "validation_overlap"]
    assert [w.line for w in overlap] == list(range(1, 11))
    assert "training line 9971" in overlap[0].message
    assert not result.ok
    with pytest.raises(hf.DatasetValidationError, match="total_records_exceeded"):
        result.raise_for_errors()


def test_validate_files_clean_pair_and_training_only(tmp_path: Path) -> None:
    train, validation = tmp_path / "train.jsonl", tmp_path / "validation.jsonl"
    train.write_bytes(b"".join(good_lines(100)))
    validation.write_bytes(b"".join(good_lines(40, start=100)))
    assert hf.validate_files(train, validation).ok
    alone = hf.validate_files(train)
    assert alone.ok and alone.validation is None


# -- the report -------------------------------------------------------------------------------------------


def test_issue_cap_counts_the_rest() -> None:
    data = b"".join(good_lines(40)) + b"not json\n" * 30
    report = hf.validate_file(io.BytesIO(data), max_issues=10)
    assert len(report.errors) == 10 and report.omitted_errors == 20
    assert [e.line for e in report.errors] == list(range(41, 51))
    assert "20 more error(s)" in str(report)
    default = hf.validate_file(io.BytesIO(b"x\n" * 1_500))
    assert len(default.errors) == 1_000 and default.omitted_errors == 501  # 500 lines + too_few_records


def test_stats() -> None:
    lines = [json.dumps(record(i, system="s" if i < 10 else None, turns=1 + i % 3)).encode() + b"\n" for i in range(40)]
    data = b"".join(lines)
    stats = hf.validate_file(io.BytesIO(data)).stats
    assert stats.records == 40 and stats.lines == 40 and stats.records_with_system == 10
    assert (stats.turns_min, stats.turns_max) == (1, 3)
    assert stats.turns_mean == pytest.approx(sum(1 + i % 3 for i in range(40)) / 40)
    per_record = sorted(hf.datasets.estimate_record_tokens(json.loads(line)) for line in lines)
    assert (stats.tokens_min, stats.tokens_max) == (per_record[0], per_record[-1])
    assert stats.total_tokens == sum(per_record)
    assert stats.tokens_mean == pytest.approx(sum(per_record) / 40)
    assert stats.tokens_p50 == per_record[19] and stats.tokens_p95 == per_record[37]
    assert stats.file_size == len(data)


def test_report_str_to_dict_and_raise(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(with_bad(b"{oops"))
    report = hf.validate_file(path)
    text = str(report)
    assert "INVALID" in text and f"line {BAD_LINE}" in text and "invalid_json" in text
    as_dict = report.to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
    assert as_dict["ok"] is False and as_dict["errors"][0] == {
        "code": "invalid_json",
        "line": BAD_LINE,
        "message": report.errors[0].message,
        "severity": "error",
    }
    with pytest.raises(hf.DatasetValidationError) as caught:
        report.raise_for_errors()
    assert caught.value.issues == report.errors and caught.value.report is report
    assert f"line {BAD_LINE}" in str(caught.value) and str(path) in str(caught.value)
    hf.validate_file(io.BytesIO(b"".join(good_lines()))).raise_for_errors()  # a valid file: nothing raised


def test_missing_or_unreadable_paths_raise_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.jsonl"):
        hf.validate_file(tmp_path / "nope.jsonl")
    with pytest.raises(IsADirectoryError, match="directory"):
        hf.validate_file(tmp_path)
    with pytest.raises(ValueError, match="split"):
        hf.validate_file(io.BytesIO(b""), split="test")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="binary"):
        hf.validate_file(io.StringIO(""))  # type: ignore[arg-type]


def test_check_record_in_memory() -> None:
    assert hf.datasets.check_record(record(1)) == []
    issues = hf.datasets.check_record({"messages": [A, U]}, line=3)
    assert {(i.code, i.line) for i in issues} == {("first_not_user", 3), ("last_not_assistant", 3)}
    assert all(i.line is None for i in hf.datasets.check_record({"messages": [A, U]}))
