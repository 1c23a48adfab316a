"""Property tests: no input makes the validator raise, and every issue points at a real line."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import haiku_finetune as hf

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

ROLES = st.sampled_from(["user", "assistant", "system", "tool", "", "USER"])
CONTENT = st.one_of(st.text(max_size=40), st.sampled_from(["\nHuman: hi", "a\nAssistant:", " ", ""]), JSON_VALUES)
MESSAGE = st.one_of(
    st.fixed_dictionaries({"role": ROLES, "content": CONTENT}),
    st.fixed_dictionaries({"role": ROLES, "content": CONTENT}, optional={"name": st.text(max_size=5)}),
    JSON_VALUES,
)
RECORD_LIKE = st.one_of(
    st.fixed_dictionaries({"messages": st.lists(MESSAGE, max_size=5)}, optional={"system": CONTENT}),
    JSON_VALUES,
)

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check_lines(report: hf.ValidationReport, lines: int) -> None:
    for issue in report.errors + report.warnings:
        assert issue.line is None or 1 <= issue.line <= lines, issue
        assert issue.code and issue.message


@SETTINGS
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    report = hf.validate_file(io.BytesIO(data))
    _check_lines(report, max(1, len(data.splitlines())))
    assert not report.ok  # fewer than 32 records can never pass
    str(report)
    report.to_dict()


@SETTINGS
@given(st.lists(st.one_of(RECORD_LIKE, JSON_VALUES), min_size=1, max_size=40))
def test_arbitrary_json_values_never_raise(values: list[Any]) -> None:
    data = "".join(json.dumps(v) + "\n" for v in values).encode()
    report = hf.validate_file(io.BytesIO(data))
    _check_lines(report, len(values))
    assert report.stats.records <= len(values)


@SETTINGS
@given(st.lists(RECORD_LIKE, min_size=1, max_size=10))
def test_fast_and_detailed_paths_agree(values: list[Any]) -> None:
    # 32 valid records, then the arbitrary ones: a record is clean exactly when check_record finds nothing.
    good = [
        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]} for i in range(32)
    ]
    data = "".join(json.dumps(v) + "\n" for v in good + values).encode()
    report = hf.validate_file(io.BytesIO(data))
    for offset, value in enumerate(values, start=33):
        expected = (
            {i.code for i in hf.datasets.check_record(value) if i.severity == "error"}
            if isinstance(value, dict)
            else {"not_object"}
        )
        found = {e.code for e in report.errors if e.line == offset}
        assert found == expected, (value, found, expected)
