"""Token estimates err high; exact counts come from CountTokens, only for records near the limit."""

from __future__ import annotations

import io
import json
import logging
import socket
from collections.abc import Mapping
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
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
from tests.fakes import FakeClock


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


# -- when CountTokens fails -------------------------------------------------------------------------------

RECORD = {"messages": [{"role": "user", "content": "abcdef"}, {"role": "assistant", "content": "abc"}]}


@pytest.fixture
def stubbed() -> tuple[hf.BedrockTransport, Stubber, FakeClock]:
    client = boto3.client("bedrock-runtime", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    clock = FakeClock()
    # Two attempts, sleeping on a fake clock: throttling is retried once by the transport, instantly.
    retry = hf.RetryPolicy(max_attempts=2, sleep=clock.sleep, clock=clock.monotonic)
    return hf.BedrockTransport(clients={"bedrock-runtime": client}, retry=retry), Stubber(client), clock


def _counted(stub: Stubber, tokens: int) -> None:
    stub.add_response("count_tokens", {"inputTokens": tokens})


def _refused(stub: Stubber, code: str, status: int, message: str = "no") -> None:
    stub.add_client_error("count_tokens", service_error_code=code, service_message=message, http_status_code=status)


def _notices(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "CountTokens is not available" in r.getMessage()]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("AccessDeniedException", 403),
        ("ResourceNotFoundException", 404),
        ("ValidationException", 400),  # before any count succeeded: the model is refused
        ("UnknownOperationException", 400),
    ],
)
def test_a_refusal_falls_back_for_good_and_says_so_once(
    stubbed: tuple[hf.BedrockTransport, Stubber, FakeClock], caplog: pytest.LogCaptureFixture, code: str, status: int
) -> None:
    transport, stub, _ = stubbed
    _refused(stub, code, status)
    counter = BedrockTokenCounter(transport=transport)
    with stub, caplog.at_level(logging.WARNING, logger="haiku_finetune.datasets.tokens"):
        assert counter.count(RECORD) == estimate_record_tokens(RECORD)
        assert counter.count(RECORD) == estimate_record_tokens(RECORD)  # not asked again: no response queued
    stub.assert_no_pending_responses()
    assert counter.last_count_exact is False
    assert counter.fallback_reason is not None and code in counter.fallback_reason
    assert len(_notices(caplog)) == 1


def test_a_transient_failure_estimates_that_record_only(
    stubbed: tuple[hf.BedrockTransport, Stubber, FakeClock], caplog: pytest.LogCaptureFixture
) -> None:
    transport, stub, clock = stubbed
    _counted(stub, 29_000)
    _refused(stub, "ThrottlingException", 429)
    _refused(stub, "ThrottlingException", 429)  # the transport's retry: throttled again
    _refused(stub, "ValidationException", 400, "Input is too long for requested model.")  # after a success: this record
    _counted(stub, 29_500)
    counter = BedrockTokenCounter(transport=transport)
    with stub, caplog.at_level(logging.WARNING, logger="haiku_finetune.datasets.tokens"):
        assert counter.count(RECORD) == 29_000 and counter.last_count_exact
        assert counter.count(RECORD) == estimate_record_tokens(RECORD) and not counter.last_count_exact
        assert counter.count(RECORD) == estimate_record_tokens(RECORD) and not counter.last_count_exact
        assert counter.count(RECORD) == 29_500 and counter.last_count_exact
    stub.assert_no_pending_responses()
    assert clock.sleeps, "the transport retried the throttled call before the counter saw it"
    assert counter.fallback_reason is None and not _notices(caplog)
    assert len([r for r in caplog.records if "failed for one record" in r.getMessage()]) == 2


def test_three_failures_in_a_row_fall_back_for_good(
    stubbed: tuple[hf.BedrockTransport, Stubber, FakeClock], caplog: pytest.LogCaptureFixture
) -> None:
    transport, stub, _ = stubbed
    for _ in range(3 * 2):  # three records, each tried twice by the transport
        _refused(stub, "ServiceUnavailableException", 503)
    counter = BedrockTokenCounter(transport=transport)
    with stub, caplog.at_level(logging.WARNING, logger="haiku_finetune.datasets.tokens"):
        for _ in range(4):  # the fourth is not sent
            assert counter.count(RECORD) == estimate_record_tokens(RECORD)
    stub.assert_no_pending_responses()
    assert counter.fallback_reason is not None and "ServiceUnavailableException" in counter.fallback_reason
    assert len(_notices(caplog)) == 1


def test_validate_file_does_not_raise_when_the_endpoint_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    # A real client against a loopback port nobody listens on (just bound, then closed): the connection is
    # refused at once, offline.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-west-2")
    transport = hf.BedrockTransport(
        session=session,
        endpoint_urls={"bedrock-runtime": f"http://127.0.0.1:{port}"},
        retry=hf.RetryPolicy(max_attempts=1),
    )
    counter = BedrockTokenCounter(transport=transport)
    with caplog.at_level(logging.WARNING, logger="haiku_finetune.datasets.tokens"):
        report = hf.validate_file(io.BytesIO(_file(90_000)), token_counter=counter)
    assert counter.fallback_reason is not None and len(_notices(caplog)) == 1
    assert [(w.code, w.line) for w in report.warnings] == [("near_token_limit", 5)]
    assert "an estimated 30,001 tokens" in report.warnings[0].message and "errs high" in report.warnings[0].message
    assert report.stats.tokens_exact == 0


def test_reports_say_whether_a_count_was_exact(stubbed: tuple[hf.BedrockTransport, Stubber, FakeClock]) -> None:
    transport, stub, _ = stubbed
    _counted(stub, 29_000)
    with stub:
        report = hf.validate_file(io.BytesIO(_file(90_000)), token_counter=BedrockTokenCounter(transport=transport))
    [warning] = report.warnings
    assert "29,000 tokens (exact count)" in warning.message and "estimate" not in warning.message
    assert report.stats.tokens_exact == 1 and "1 record(s) counted exactly" in str(report.stats)

    estimate = hf.validate_file(io.BytesIO(_file(90_000)))
    assert "an estimated 30,001 tokens" in estimate.warnings[0].message and estimate.stats.tokens_exact == 0
    assert "(estimate)" in str(estimate.stats)

    class Declining(_Counting):
        last_count_exact = False  # a counter that says its counts are estimates

    declined = hf.validate_file(io.BytesIO(_file(90_000)), token_counter=Declining(40_000))
    assert [(e.code, e.line) for e in declined.errors] == [("record_too_long", 5)]
    assert "an estimated 40,000 tokens" in declined.errors[0].message

    exact = hf.validate_file(io.BytesIO(_file(90_000)), token_counter=_Counting(40_000))  # no flag: trusted
    assert "40,000 tokens (exact count)" in exact.errors[0].message


def test_records_that_already_fail_are_not_sent_to_the_counter() -> None:
    lines = _file(90_000).splitlines(keepends=True)
    bad = {"messages": [{"role": "user", "content": "x" * 90_000}, {"role": "user", "content": "a"}]}
    lines[9] = json.dumps(bad).encode() + b"\n"
    counter = _Counting(20_000)
    report = hf.validate_file(io.BytesIO(b"".join(lines)), token_counter=counter)
    assert len(counter.asked) == 1  # line 5 only; line 10 fails roles_not_alternating anyway
    assert ("near_token_limit", 10) in {(w.code, w.line) for w in report.warnings}
