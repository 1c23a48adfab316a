"""Hostile and careless input: nothing overwritten, nothing destroyed, bounded reads, duplicate keys, check_record
never raising, split all or nothing (issue 14)."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import haiku_finetune as hf
from haiku_finetune._files import UnsafePathError
from haiku_finetune.datasets import (
    MAX_LINE_BYTES,
    DatasetBuilder,
    check_record,
    convert_csv,
    convert_openai_chat,
    convert_prompt_completion,
    validate_file,
    validate_files,
    validate_stream,
)

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _record(i: int) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]}


def _good_lines(n: int) -> list[bytes]:
    return [orjson.dumps(_record(i)) for i in range(n)]


def _codes_at(data: bytes, line: int) -> set[str]:
    report = validate_stream(io.BytesIO(data))
    return {i.code for i in report.errors + report.warnings if i.line == line}


# -- bounded reads -----------------------------------------------------------------------------------------


def test_a_fifo_with_no_writer_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "train.jsonl"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            validate_file(fifo)
        except BaseException as error:  # handed to the test thread
            outcome.append(error)
        else:
            outcome.append(None)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive(), "validate_file blocked on a FIFO"
    assert isinstance(outcome[0], UnsafePathError)
    assert "FIFO" in str(outcome[0]) and "\n" not in str(outcome[0])


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused_as_a_path(device: str) -> None:
    if not os.path.exists(device):
        pytest.skip(f"no {device}")
    with pytest.raises(UnsafePathError, match="character device"):
        validate_file(device)
    with pytest.raises(UnsafePathError, match="character device"):
        validate_files(device)


def test_converters_refuse_a_fifo_input(tmp_path: Path) -> None:
    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    for convert in (convert_prompt_completion, convert_openai_chat, convert_csv):
        with pytest.raises(UnsafePathError, match="FIFO"):
            convert(fifo, tmp_path / "out.jsonl")
    with pytest.raises(UnsafePathError, match="FIFO"):
        DatasetBuilder.from_jsonl(fifo)
    assert not (tmp_path / "out.jsonl").exists()


def test_an_over_long_line_is_reported_at_its_line_and_the_rest_is_checked() -> None:
    lines = _good_lines(40)
    long = b'{"messages": [{"role": "user", "content": "' + b"x" * (MAX_LINE_BYTES + 10) + b'"}]}'
    data = b"\n".join([*lines[:5], long, *lines[5:], b"[]"]) + b"\n"
    report = validate_stream(io.BytesIO(data))
    found = {(i.code, i.line) for i in report.errors}
    assert ("line_too_long", 6) in found
    assert ("not_object", 42) in found  # line numbering goes on after the skipped line
    assert report.stats.records == 40


def test_a_line_of_exactly_the_bound_is_read_as_a_record() -> None:
    head = b'{"messages": [{"role": "user", "content": "'
    tail = b'"}, {"role": "assistant", "content": "ok"}]}'
    line = head + b"x" * (MAX_LINE_BYTES - len(head) - len(tail)) + tail
    assert len(line) == MAX_LINE_BYTES
    assert _codes_at(line + b"\n", 1) == {"record_too_long"}


def test_a_prefix_that_parses_does_not_hide_an_over_long_line() -> None:
    # "{}" then spaces: the first 4 MiB alone are valid JSON, the line is still too long.
    line = b"{}" + b" " * (MAX_LINE_BYTES + 100) + b"\n"
    assert _codes_at(line + b"[]\n", 1) == {"line_too_long"}
    assert _codes_at(line + b"[]\n", 2) == {"not_object"}


def test_converters_report_an_over_long_line(tmp_path: Path) -> None:
    src = tmp_path / "pc.jsonl"
    long = b'{"prompt": "' + b"p" * (MAX_LINE_BYTES + 1) + b'", "completion": "c"}'
    src.write_bytes(b'{"prompt": "a", "completion": "b"}\n' + long + b'\n{"prompt": "c", "completion": "d"}\n')
    result = convert_prompt_completion(src, tmp_path / "out.jsonl")
    assert [(e.code, e.line) for e in result.errors] == [("line_too_long", 2)]
    assert result.written == 2


_ZERO_CHILD = """
import time, sys
from haiku_finetune.datasets import validate_stream
start = time.monotonic()
with open('/dev/zero', 'rb') as stream:
    report = validate_stream(stream)
elapsed = time.monotonic() - start
with open('/proc/self/status') as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith('VmHWM:'))
print(report.errors[0].code, report.errors[0].line, peak, elapsed)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is read from /proc")
def test_validating_dev_zero_as_a_stream_ends_in_bounded_memory_and_time() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _ZERO_CHILD], capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    code, line, peak_kb, elapsed = out[0], int(out[1]), int(out[2]), float(out[3])
    assert (code, line) == ("line_too_long", 1)
    assert peak_kb < 100 * 1024, f"peak RSS {peak_kb / 1024:.0f} MB"
    assert elapsed < 60


# -- duplicate keys ----------------------------------------------------------------------------------------

_Q = '{"role": "user", "content": "Refund?"}'
_A = '{"role": "assistant", "content": "Yes."}'


@pytest.mark.parametrize(
    ("line", "path"),
    [
        (f'{{"messages": [{_Q}, {_A}], "messages": [{_Q}, {_A}]}}', "messages"),
        (f'{{"system": "a", "system": "b", "messages": [{_Q}, {_A}]}}', "system"),
        (
            f'{{"messages": [{_Q}, {{"role": "assistant", "content": "No.", "content": "Yes."}}]}}',
            "messages[1].content",
        ),
        (f'{{"messages": [{{"role": "user", "role": "user", "content": "x"}}, {_A}]}}', "messages[0].role"),
        # compact, escaped and spaced variants: the cheap checks must not let any of them through
        (f'{{"messages":[{_Q},{{"role":"assistant","content":"a","c\\u006fntent":"b"}}]}}', "messages[1].content"),
        (f'{{"messages" :[{_Q},{{"role" :"assistant","content" :"a","content" :"b"}}]}}', "messages[1].content"),
        (f'{{"messages":[{{"role":"user","content":"q\\\\","content":"\\"\\""}},{_A}]}}', "messages[0].content"),
        # duplicates inside a record that fails anyway, and deeper than the schema
        (f'{{"messages": [{_Q}, {{"role": "assistant", "content": {{"a": 1, "a": 2}}}}]}}', "messages[1].content.a"),
        (f'{{"messages": [{_Q}, {_A}], "x y": 1, "x y": 2}}', '["x y"]'),
    ],
)
def test_duplicate_keys_are_errors_naming_the_key_and_its_path(line: str, path: str) -> None:
    data = b"\n".join([*_good_lines(3), line.encode()]) + b"\n"
    report = validate_stream(io.BytesIO(data))
    issues = [i for i in report.errors if i.code == "duplicate_key"]
    assert [i.line for i in issues] == [4]
    assert f" at {path};" in issues[0].message, issues[0].message


@pytest.mark.parametrize(
    "line",
    [
        f'{{"messages": [{_Q}, {_A}]}}',  # spaced (json.dumps default)
        '{"messages":[{"role":"user","content":"say \\"role\\": and \\"content\\":"},' + _A + "]}",
        '{"messages":[{"role":"user","content":"role"},{"role":"assistant","content":"content"}]}',
        '{"messages":[{"role":"user","content":"a\\\\b \\u00e9"},' + _A + "]}\r",
    ],
)
def test_no_false_duplicates(line: str) -> None:
    assert _codes_at(b"\n".join([*_good_lines(3), line.encode()]) + b"\n", 4) == set()


@SETTINGS
@given(st.lists(st.sampled_from(["messages", "system", "role", "content", "x"]), min_size=2, max_size=6))
def test_any_repeated_key_is_found(keys: list[str]) -> None:
    members = ", ".join(f'"{k}": "v{i}"' for i, k in enumerate(keys))
    line = f'{{"messages": [{_Q}, {{{members}}}]}}'.encode()
    found = "duplicate_key" in _codes_at(line + b"\n", 1)
    assert found == (len(set(keys)) < len(keys))


# -- check_record never raises -----------------------------------------------------------------------------

JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=25,
)
MESSAGES_LIKE = st.dictionaries(
    st.sampled_from(["messages", "system", "other"]),
    st.one_of(
        st.lists(st.one_of(JSON_VALUES, st.dictionaries(st.sampled_from(["role", "content"]), JSON_VALUES))),
        JSON_VALUES,
    ),
)


@pytest.mark.parametrize("value", [[], "x", None, 5, True, 1.5, {"messages": None}, {"messages": [[]]}])
def test_check_record_returns_issues_for_junk(value: Any) -> None:
    issues = check_record(value, line=3)
    assert issues and all(i.line == 3 and i.severity == "error" for i in issues)


@SETTINGS
@given(st.one_of(JSON_VALUES, MESSAGES_LIKE))
def test_check_record_never_raises(value: Any) -> None:
    for issue in check_record(value):
        assert issue.code and issue.message and issue.line is None


@SETTINGS
@given(st.lists(st.one_of(JSON_VALUES, MESSAGES_LIKE), min_size=1, max_size=10), st.binary(max_size=200))
def test_validate_files_never_raises(values: list[Any], noise: bytes) -> None:
    train = "".join(json.dumps(v) + "\n" for v in values).encode() + noise
    both = validate_files(io.BytesIO(train), io.BytesIO(noise + train))
    assert not both.ok


@SETTINGS
@given(st.lists(st.one_of(JSON_VALUES, MESSAGES_LIKE), max_size=8), st.binary(max_size=100))
def test_converters_never_raise(tmp_path_factory: pytest.TempPathFactory, values: list[Any], noise: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    src = folder / "in.jsonl"
    src.write_bytes("".join(json.dumps(v) + "\n" for v in values).encode() + noise)
    for convert in (convert_prompt_completion, convert_openai_chat):
        result = convert(src, folder / "out.jsonl")
        assert result.written + result.dropped + len(result.errors) >= len(values)
    csv_src = folder / "in.csv"
    csv_src.write_bytes(b"prompt,completion\n" + noise)
    convert_csv(csv_src, folder / "out.jsonl")


# -- outputs -------------------------------------------------------------------------------------------------


def _prompt_completion_file(path: Path, n: int = 3) -> bytes:
    data = b"".join(orjson.dumps({"prompt": f"p{i}", "completion": f"c{i}"}) + b"\n" for i in range(n))
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("convert", [convert_prompt_completion, convert_openai_chat, convert_csv])
def test_converting_a_file_onto_itself_is_refused_and_the_input_kept(tmp_path: Path, convert: Any) -> None:
    src = tmp_path / "data.jsonl"
    data = _prompt_completion_file(src) if convert is not convert_csv else b"prompt,completion\na,b\n"
    src.write_bytes(data)
    os.link(src, tmp_path / "hardlink.jsonl")
    for target in (src, tmp_path / "." / "data.jsonl", tmp_path / "hardlink.jsonl"):
        with pytest.raises(UnsafePathError, match="is the input file"):
            convert(src, target)
    assert src.read_bytes() == data


def test_dev_null_as_output_is_refused_and_stays_a_device(tmp_path: Path) -> None:
    src = tmp_path / "pc.jsonl"
    _prompt_completion_file(src)
    with pytest.raises(UnsafePathError, match="character device"):
        convert_prompt_completion(src, "/dev/null")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    assert not [p for p in Path("/dev").glob(".null.*.tmp")]


def test_a_fifo_or_a_symlink_at_the_output_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "pc.jsonl"
    _prompt_completion_file(src)
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePathError, match="FIFO"):
        convert_prompt_completion(src, fifo)
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    real = tmp_path / "real.jsonl"
    real.write_bytes(b"keep\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with pytest.raises(UnsafePathError, match="symbolic link"):
        convert_prompt_completion(src, link)
    assert link.is_symlink() and real.read_bytes() == b"keep\n"


def test_a_private_output_stays_private(tmp_path: Path) -> None:
    src = tmp_path / "pc.jsonl"
    _prompt_completion_file(src)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"old\n")
    out.chmod(0o600)
    convert_prompt_completion(src, out)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert out.read_bytes() != b"old\n"


# -- split ----------------------------------------------------------------------------------------------------


def test_split_of_51_records_explains_the_minimum_and_writes_nothing(tmp_path: Path) -> None:
    builder = DatasetBuilder(_record(i) for i in range(51))
    train, validation = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    with pytest.raises(ValueError, match=r"5 validation and 46 training records.*at least 32.*add at least 13") as info:
        builder.write_split(train, validation, validation_fraction=0.1)
    assert "\n" not in str(info.value)
    assert not train.exists() and not validation.exists()


def test_split_suggests_a_validation_size_that_works(tmp_path: Path) -> None:
    builder = DatasetBuilder(_record(i) for i in range(100))
    with pytest.raises(ValueError, match=r"validation_size=N \(--validation-size N\) with 32 <= N <= 68"):
        builder.write_split(tmp_path / "t.jsonl", tmp_path / "v.jsonl", validation_fraction=0.1)
    train, validation = builder.write_split(tmp_path / "t.jsonl", tmp_path / "v.jsonl", validation_size=32, seed=3)
    assert (len(train), len(validation)) == (68, 32)
    assert validate_file(tmp_path / "t.jsonl").ok and validate_file(tmp_path / "v.jsonl", split="validation").ok


def test_split_writes_neither_file_when_the_second_cannot_be_written(tmp_path: Path) -> None:
    builder = DatasetBuilder(_record(i) for i in range(80))
    fifo = tmp_path / "v.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(UnsafePathError):
        builder.write_split(tmp_path / "t.jsonl", fifo, validation_size=32)
    assert not (tmp_path / "t.jsonl").exists()
    with pytest.raises(UnsafePathError, match="same"):
        builder.write_split(tmp_path / "t.jsonl", tmp_path / "t.jsonl", validation_size=32)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.jsonl"]


def test_split_validates_both_parts_before_writing(tmp_path: Path) -> None:
    records = [_record(i) for i in range(80)]
    records[0] = {"messages": [{"role": "user", "content": "only a question"}]}
    with pytest.raises(hf.DatasetValidationError):
        DatasetBuilder(records).write_split(tmp_path / "t.jsonl", tmp_path / "v.jsonl", validation_size=40, seed=1)
    assert list(tmp_path.iterdir()) == []
