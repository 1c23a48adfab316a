"""The validator applies the chosen base model's data limits (``base_model=``), read from its profile.

The shipped profiles give Claude Haiku 4.5 Claude 3 Haiku's limits (the conservative value while unconfirmed), so
no record tells them apart yet: a profile with other limits (as a user would define one) shows the limits really
come from the profile given, on the fast path and the slow one.
"""

from __future__ import annotations

import dataclasses
import io
import json
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune.base_models import CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5, BaseModelProfile
from haiku_finetune.datasets import DatasetBuilder, check_record
from haiku_finetune.errors import DatasetValidationError

LONG_LINE = 7
#: ~9,000 estimated tokens: over the narrow profile's 8,000, well within (and not near) Claude 3 Haiku's.
LONG_TEXT = "word " * 5_400


def narrow(**limits: Any) -> BaseModelProfile:
    """A user-defined profile: Claude 3 Haiku with other data limits."""
    return dataclasses.replace(
        CLAUDE_3_HAIKU,
        key="narrow-haiku",
        model_id="example.narrow-haiku-v1:0",
        invoke_model_id="example.narrow-haiku-v1:0",
        limits=dataclasses.replace(CLAUDE_3_HAIKU.limits, **limits),
    )


def rec(i: int, answer: str = "it ships tomorrow") -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"where is order {i}?"}, {"role": "assistant", "content": answer}]}


def data(n: int = 40, *, long_at: int | None = LONG_LINE, answer: str = LONG_TEXT) -> bytes:
    rows = [rec(i, answer if i + 1 == long_at else "it ships tomorrow") for i in range(n)]
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def codes(report: hf.ValidationReport) -> list[tuple[str, int | None]]:
    return [(e.code, e.line) for e in report.errors]


def test_a_record_over_one_models_token_limit_is_flagged_only_for_that_model() -> None:
    for default in (None, CLAUDE_3_HAIKU, "claude-3-haiku", CLAUDE_3_HAIKU.model_id, CLAUDE_3_HAIKU.arn()):
        assert hf.validate_file(io.BytesIO(data()), base_model=default).ok, default
    report = hf.validate_file(io.BytesIO(data()), base_model=narrow(max_tokens_per_record=8_000))
    assert codes(report) == [("record_too_long", LONG_LINE)]
    assert "more than the 8,000 allowed" in report.errors[0].message


def test_the_near_limit_warning_follows_the_models_limit() -> None:
    report = hf.validate_file(io.BytesIO(data()), base_model=narrow(max_tokens_per_record=9_500))
    assert report.ok
    assert [(w.code, w.line) for w in report.warnings] == [("near_token_limit", LONG_LINE)]
    assert "9,500 limit" in report.warnings[0].message


def test_the_shipped_haiku_4_5_profile_applies_claude_3_haikus_limits_as_the_facts_say() -> None:
    assert CLAUDE_HAIKU_4_5.limits == CLAUDE_3_HAIKU.limits  # if a fact changes, the first test still holds
    over = data(answer="word " * 40_000)  # ~66,700 estimated tokens: over both
    for model in ("claude-haiku-4-5", CLAUDE_HAIKU_4_5, None):
        assert codes(hf.validate_file(io.BytesIO(over), base_model=model)) == [("record_too_long", LONG_LINE)]


def test_record_counts_and_sizes_come_from_the_profile() -> None:
    small = narrow(min_records=50, max_validation_records=30)
    assert codes(hf.validate_file(io.BytesIO(data(long_at=None)), base_model=small)) == [("too_few_records", None)]
    report = hf.validate_file(io.BytesIO(data(long_at=None)), split="validation", base_model=small)
    assert codes(report) == [("too_few_records", None), ("too_many_records", None)]
    pair = hf.validate_files(
        io.BytesIO(data(long_at=None)), io.BytesIO(data(35, long_at=None)), base_model=narrow(max_total_records=60)
    )
    assert [(e.code, e.line) for e in pair.cross_errors] == [("total_records_exceeded", None)]
    assert hf.validate_files(io.BytesIO(data(long_at=None)), io.BytesIO(data(35, long_at=None))).cross_errors == []


def test_reserved_strings_come_from_the_profile_on_the_fast_path_and_the_slow_one() -> None:
    marked = narrow(reserved_strings=("###",))
    fast = data(answer="see ### below")
    assert codes(hf.validate_file(io.BytesIO(fast), base_model=marked)) == [("reserved_string", LONG_LINE)]
    assert hf.validate_file(io.BytesIO(fast)).ok
    human = data(answer="ok\nHuman: more")
    assert hf.validate_file(io.BytesIO(human), base_model=marked).ok
    assert codes(hf.validate_file(io.BytesIO(human))) == [("reserved_string", LONG_LINE)]
    # A record that takes the slow path anyway (here: an unknown key) is checked with the same profile.
    bad = {"messages": [{"role": "user", "content": "a ### b"}, {"role": "assistant", "content": "x"}], "k": 1}
    found = {i.code for i in check_record(bad, 3, base_model=marked)}
    assert found == {"unknown_key", "reserved_string"}
    assert {i.code for i in check_record(bad, 3)} == {"unknown_key"}


def test_check_record_and_the_builder_take_base_model() -> None:
    long = rec(0, LONG_TEXT)
    assert check_record(long) == []
    assert [i.code for i in check_record(long, base_model=narrow(max_tokens_per_record=8_000))] == ["record_too_long"]
    builder = DatasetBuilder.from_records([rec(i) for i in range(LONG_LINE - 1)] + [long] + [rec(i) for i in range(40)])
    assert builder.validate().ok
    report = builder.validate(base_model=narrow(max_tokens_per_record=8_000))
    assert codes(report) == [("record_too_long", LONG_LINE)]


def test_builder_write_refuses_data_over_the_models_limit(tmp_path: Any) -> None:
    builder = DatasetBuilder.from_records([rec(i, LONG_TEXT if i == 0 else "ok") for i in range(40)])
    builder.write(tmp_path / "ok.jsonl")
    with pytest.raises(DatasetValidationError, match="record_too_long"):
        builder.write(tmp_path / "no.jsonl", base_model=narrow(max_tokens_per_record=8_000))
    assert not (tmp_path / "no.jsonl").exists()


def test_an_unknown_base_model_is_one_clear_error() -> None:
    with pytest.raises(ValueError, match=r"no base-model profile for 'no-such-model'"):
        hf.validate_file(io.BytesIO(data()), base_model="no-such-model")
