"""Token estimates err high; exact counts come from CountTokens, only for records near the limit."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import haiku_finetune as hf
from haiku_finetune.datasets import (
    BedrockTokenCounter,
    EstimateTokenCounter,
    TokenCounter,
    estimate_record_tokens,
    estimate_tokens,
)


@given(st.text())
def test_estimate_errs_high_for_every_script(text: str) -> None:
    ascii_chars = sum(1 for c in text if ord(c) < 128)
    assert estimate_tokens(text) >= ascii_chars / 3 + (len(text) - ascii_chars)


def test_estimate_examples() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abc") == 1 and estimate_tokens("abcd") == 2
    assert estimate_tokens("日本語のテキスト") == 8  # at least one token per non-ASCII character
    assert estimate_tokens("ok 日本") == 1 + 2
    record = {"system": "abc", "messages": [{"role": "user", "content": "abc"}, {"role": "assistant", "content": "é"}]}
    assert estimate_record_tokens(record) == (6 + 2) // 3 + 1
    assert EstimateTokenCounter().count(record) == estimate_record_tokens(record)
    assert isinstance(EstimateTokenCounter(), TokenCounter)


class _Counting:
    """A counter that says every record has a fixed count, and remembers what it was asked."""

    def __init__(self, answer: int) -> None:
        self.answer = answer
        self.asked: list[Mapping[str, Any]] = []

    def count(self, record: Mapping[str, Any]) -> int:
        self.asked.append(record)
        return self.answer


def _file(long_user_chars: int) -> bytes:
    lines = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]} for i in range(40)
    ]
    lines[4] = {"messages": [{"role": "user", "content": "x" * long_user_chars}, {"role": "assistant", "content": "a"}]}
    return "".join(json.dumps(r) + "\n" for r in lines).encode()


def test_exact_counter_is_asked_only_near_the_limit() -> None:
    counter = _Counting(20_000)
    report = hf.validate_file(io.BytesIO(_file(90_000)), token_counter=counter)  # ~30,000 by estimate
    assert len(counter.asked) == 1 and counter.asked[0]["messages"][0]["content"].startswith("xxx")
    assert report.ok and not report.warnings  # the exact count clears the record
    assert report.stats.tokens_max == 20_000

    over = _Counting(40_000)
    report = hf.validate_file(io.BytesIO(_file(90_000)), token_counter=over)
    assert [(e.code, e.line) for e in report.errors] == [("record_too_long", 5)]
    assert "40,000" in report.errors[0].message

    unused = _Counting(1)
    hf.validate_file(io.BytesIO(_file(30)), token_counter=unused)
    assert unused.asked == []


def test_bedrock_counter_counts_through_countTokens(transport: hf.BedrockTransport) -> None:
    counter = BedrockTokenCounter(transport=transport)
    record = {"system": "Be brief.", "messages": [{"role": "user", "content": "hello " * 50}]}
    exact = counter.count(record)
    assert exact > 0 and counter.fallback_reason is None
    assert isinstance(counter, TokenCounter)


def test_bedrock_counter_falls_back_once_when_refused(
    transport: hf.BedrockTransport, caplog: pytest.LogCaptureFixture
) -> None:
    counter = BedrockTokenCounter("anthropic.no-such-model-v1:0", transport=transport)
    record = {"messages": [{"role": "user", "content": "abcdef"}, {"role": "assistant", "content": "abc"}]}
    with caplog.at_level(logging.WARNING, logger="haiku_finetune.datasets.tokens"):
        first = counter.count(record)
        second = counter.count(record)
    assert first == second == estimate_record_tokens(record)
    assert counter.fallback_reason is not None
    said = [r for r in caplog.records if "CountTokens is not available" in r.getMessage()]
    assert len(said) == 1
