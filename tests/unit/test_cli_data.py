"""The offline dataset commands: validate, convert, split, stats — good data, bad data (exit 1 with line numbers)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from haiku_finetune.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, main
from haiku_finetune.data import SYSTEM_PROMPT, support_tickets_path


def _record(i: int, label: str = "billing") -> dict[str, Any]:
    return {
        "system": "You label tickets.",
        "messages": [
            {"role": "user", "content": f"Ticket {i}: please look at invoice {i}."},
            {"role": "assistant", "content": label},
        ],
    }


def _write(path: Path, records: list[Any], *, extra_lines: tuple[str, ...] = ()) -> Path:
    lines = [json.dumps(r) for r in records] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def good(tmp_path: Path) -> Path:
    return _write(tmp_path / "good.jsonl", [_record(i) for i in range(40)])


@pytest.fixture
def bad(tmp_path: Path) -> Path:
    records: list[Any] = [_record(i) for i in range(40)]
    records[2] = {"messages": [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "x"}]}
    records[6] = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], "extra": 1}
    return _write(tmp_path / "bad.jsonl", records, extra_lines=("{not json",))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- validate --------------------------------------------------------------------------------------------------


def test_validate_good_file(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["validate", str(good)], capsys)
    assert code == EXIT_OK
    assert err == ""
    assert out.strip() == f"{good}: valid as train data: 40 records, 0 error(s), 0 warning(s)"


def test_validate_bad_file_lists_every_problem_with_its_line(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["validate", str(bad)], capsys)
    assert code == EXIT_PROBLEMS
    lines = out.splitlines()
    assert f"{bad}:3: error [first_not_user]" in out
    assert f"{bad}:3: error [last_not_assistant]" in out
    assert f"{bad}:7: error [unknown_key]" in out
    assert f"{bad}:41: error [invalid_json]" in out
    assert lines[-1].startswith(f"{bad}: INVALID as train data:")
    # Errors come in line order.
    numbers = [int(line.split(":")[1]) for line in lines if line.startswith(f"{bad}:") and line.split(":")[1].isdigit()]
    assert numbers == sorted(numbers)


def test_validate_json(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["validate", str(bad), "--json"], capsys)
    assert code == EXIT_PROBLEMS
    report = json.loads(out)
    assert report["ok"] is False
    assert {(e["line"], e["code"]) for e in report["errors"]} >= {(3, "first_not_user"), (41, "invalid_json")}


def test_validate_max_issues_caps_the_list(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["validate", str(bad), "--max-issues", "1"], capsys)
    assert code == EXIT_PROBLEMS
    assert sum(" error [" in line for line in out.splitlines()) == 1
    assert "raise --max-issues" in out


def test_validate_warnings_do_not_fail_and_quiet_hides_them(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write(tmp_path / "dup.jsonl", [_record(i) for i in range(40)] + [_record(0)])
    code, out, _ = _run(["validate", str(data)], capsys)
    assert code == EXIT_OK
    assert f"{data}:41: warning [duplicate_record]" in out
    code, out, _ = _run(["validate", str(data), "-q"], capsys)
    assert code == EXIT_OK
    assert "warning [" not in out


def test_validate_with_a_validation_file_checks_both_and_the_pair(
    tmp_path: Path, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    val = _write(tmp_path / "val.jsonl", [_record(i) for i in range(32)])
    code, out, _ = _run(["validate", str(good), "--validation", str(val)], capsys)
    assert code == EXIT_OK
    assert f"{val}: valid as validation data: 32 records" in out
    assert "warning [validation_overlap]" in out
    code, out, _ = _run(["validate", str(good), "--validation", str(val), "--json"], capsys)
    assert json.loads(out)["validation"]["split"] == "validation"


def test_validate_validation_split_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    big = _write(tmp_path / "big.jsonl", [_record(i) for i in range(1001)])
    assert _run(["validate", str(big)], capsys)[0] == EXIT_OK
    code, out, _ = _run(["validate", str(big), "--split", "validation"], capsys)
    assert code == EXIT_PROBLEMS
    assert "error [too_many_records]" in out


def test_validate_a_directory_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["validate", str(tmp_path)], capsys)
    assert code == EXIT_USAGE
    assert "is a directory" in err and len(err.splitlines()) == 1


# -- convert ---------------------------------------------------------------------------------------------------


def test_convert_prompt_completion_the_sample_dataset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_path = tmp_path / "messages.jsonl"
    argv = ["convert", "prompt-completion", str(support_tickets_path()), str(out_path), "--system", SYSTEM_PROMPT]
    code, out, _ = _run(argv, capsys)
    assert code == EXIT_OK
    assert "wrote 360 record(s)" in out
    first = json.loads(out_path.read_text(encoding="utf-8").splitlines()[0])
    assert first["system"] == SYSTEM_PROMPT
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"]
    assert _run(["validate", str(out_path)], capsys)[0] == EXIT_OK


def test_convert_reports_bad_input_lines_and_keeps_the_good(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "pc.jsonl"
    src.write_text('{"prompt": "a", "completion": "b"}\n{"prompt": 1}\nnot json\n', encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    code, out, _ = _run(["convert", "prompt-completion", str(src), str(dst)], capsys)
    assert code == EXIT_PROBLEMS
    assert f"{src}:2: error [" in out
    assert f"{src}:3: error [invalid_json]" in out
    assert "wrote 1 record(s)" in out
    assert len(dst.read_text(encoding="utf-8").splitlines()) == 1
    code, out, _ = _run(["convert", "prompt-completion", str(src), str(dst), "--json"], capsys)
    assert code == EXIT_PROBLEMS
    assert [e["line"] for e in json.loads(out)["errors"]] == [2, 3]


def test_convert_openai_lifts_the_system_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "chat.jsonl"
    record = {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
        ]
    }
    src.write_text(json.dumps(record) + "\n", encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    code, _, _ = _run(["convert", "openai", str(src), str(dst)], capsys)
    assert code == EXIT_OK
    converted = json.loads(dst.read_text(encoding="utf-8"))
    assert converted["system"] == "Be brief."
    assert [m["role"] for m in converted["messages"]] == ["user", "assistant"]


def test_convert_openai_tool_calls_refused_unless_dropped(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "tools.jsonl"
    call = {"role": "assistant", "content": None, "tool_calls": [{"id": "1", "type": "function"}]}
    lines = [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]},
        {"messages": [{"role": "user", "content": "Weather?"}, call]},
    ]
    src.write_text("".join(json.dumps(r) + "\n" for r in lines), encoding="utf-8")
    code, out, _ = _run(["convert", "openai", str(src), str(tmp_path / "a.jsonl")], capsys)
    assert code == EXIT_PROBLEMS
    assert f"{src}:2: error [" in out
    code, out, _ = _run(["convert", "openai", str(src), str(tmp_path / "b.jsonl"), "--drop-unsupported"], capsys)
    assert code == EXIT_OK
    assert "dropped on purpose" in out


def test_convert_csv_with_chosen_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "data.csv"
    src.write_text('question,answer\n"Where is my parcel?",shipping\n"Refund please",refund\n', encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    argv = ["convert", "csv", str(src), str(dst), "--user-column", "question", "--assistant-column", "answer"]
    code, _, _ = _run([*argv, "--system", "Label it."], capsys)
    assert code == EXIT_OK
    rows = [json.loads(line) for line in dst.read_text(encoding="utf-8").splitlines()]
    assert [r["messages"][1]["content"] for r in rows] == ["shipping", "refund"]
    assert rows[0]["system"] == "Label it."


def test_convert_csv_missing_column_is_a_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "data.csv"
    src.write_text("q,a\nx,y\n", encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    code, out, _ = _run(["convert", "csv", str(src), str(dst)], capsys)
    assert code == EXIT_PROBLEMS
    assert "missing_column" in out
    assert not dst.exists()


def test_convert_onto_itself_is_a_usage_error(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    before = good.read_bytes()
    code, _, err = _run(["convert", "openai", str(good), str(good)], capsys)
    assert code == EXIT_USAGE
    assert "is the input file" in err and len(err.splitlines()) == 1
    assert good.read_bytes() == before


def test_convert_onto_a_hard_link_of_the_input_is_refused_by_the_library(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = good.with_name("same-inode.jsonl")
    os.link(good, link)
    before = good.read_bytes()
    code, _, err = _run(["convert", "openai", str(good), str(link)], capsys)
    assert code == EXIT_USAGE
    assert "is the input file" in err and len(err.splitlines()) == 1
    assert good.read_bytes() == before


# -- split -----------------------------------------------------------------------------------------------------


def test_split_is_deterministic_and_respects_the_size(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "all.jsonl", [_record(i) for i in range(100)])
    code, out, _ = _run(["split", str(src), "--validation-size", "33", "--seed", "5", "--json"], capsys)
    assert code == EXIT_OK
    first = json.loads(out)
    assert first["train"]["records"] == 67 and first["validation"]["records"] == 33
    assert Path(first["train"]["path"]) == tmp_path / "all.train.jsonl"
    assert len((tmp_path / "all.validation.jsonl").read_text(encoding="utf-8").splitlines()) == 33
    _, out, _ = _run(["split", str(src), "--validation-size", "33", "--seed", "5", "--json"], capsys)
    assert json.loads(out)["train"]["sha256"] == first["train"]["sha256"]
    code, out, _ = _run(["split", str(src), "--validation-size", "33", "--seed", "6", "--json"], capsys)
    assert json.loads(out)["train"]["sha256"] != first["train"]["sha256"]


def test_split_by_fraction_to_named_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(tmp_path / "all.jsonl", [_record(i) for i in range(400)])
    train, val = tmp_path / "t.jsonl", tmp_path / "v.jsonl"
    argv = ["split", str(src), "--validation-fraction", "0.1", "--train-out", str(train), "--validation-out", str(val)]
    code, out, _ = _run(argv, capsys)
    assert code == EXIT_OK
    assert "360 records" in out and "40 records" in out
    assert len(val.read_text(encoding="utf-8").splitlines()) == 40


def test_split_bad_data_exits_1_with_the_line_numbers(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["split", str(bad)], capsys)
    assert code == EXIT_PROBLEMS
    assert out == ""
    assert not bad.with_name("bad.train.jsonl").exists() and not bad.with_name("bad.validation.jsonl").exists()
    assert err.splitlines()[0].startswith("haiku-finetune split: error:")
    assert "line 41: [invalid_json]" in err


def test_split_impossible_size_is_a_usage_error(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["split", str(good), "--validation-size", "40"], capsys)
    assert code == EXIT_USAGE
    assert len(err.splitlines()) == 1


def test_split_outputs_must_differ_from_the_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = _write(tmp_path / "all.jsonl", [_record(i) for i in range(80)])
    before = good.read_bytes()
    code, _, err = _run(["split", str(good), "--validation-size", "32", "--train-out", str(good)], capsys)
    assert code == EXIT_USAGE
    assert "is the input file" in err and len(err.splitlines()) == 1
    assert good.read_bytes() == before


def test_split_of_51_records_at_10_percent_writes_nothing_and_explains(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "msgs.jsonl", [_record(i) for i in range(51)])
    code, out, err = _run(["split", str(src), "--validation-fraction", "0.1"], capsys)
    assert code == EXIT_USAGE
    assert out == "" and len(err.splitlines()) == 1
    assert "at least 32 records" in err
    assert "add at least 13 records" in err  # 51 < 2 * 32: no --validation-size can help
    assert sorted(p.name for p in tmp_path.iterdir()) == ["msgs.jsonl"]


def test_split_too_small_a_fraction_suggests_validation_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = _write(tmp_path / "msgs.jsonl", [_record(i) for i in range(100)])
    code, _, err = _run(["split", str(src), "--validation-fraction", "0.1"], capsys)
    assert code == EXIT_USAGE
    assert "--validation-size N" in err and "32 <= N <= 68" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["msgs.jsonl"]


# -- validate - (standard input) -------------------------------------------------------------------------------


def test_validate_dash_reads_standard_input(
    good: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(good.read_bytes())))
    code, out, _ = _run(["validate", "-"], capsys)
    assert code == EXIT_OK
    assert "<stdin>: valid as train data: 40 records" in out


def test_validate_dash_with_a_validation_file_is_a_usage_error(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["validate", "-", "--validation", str(good)], capsys)
    assert code == EXIT_USAGE and len(err.splitlines()) == 1


@pytest.mark.skipif(not Path("/dev/zero").exists() or sys.platform != "linux", reason="needs Linux /dev/zero")
def test_validate_dash_on_dev_zero_ends_in_bounded_memory_with_one_line(tmp_path: Path) -> None:
    # A real process: standard input is /dev/zero itself, an endless line with no newline.
    script = (
        "import re, sys\n"
        "from haiku_finetune.cli import main\n"
        "code = main(['validate', '-', '--json'])\n"
        # VmHWM, not ru_maxrss: ru_maxrss survives exec and may report the (large) test runner that forked us.
        "status = open('/proc/self/status').read()\n"
        "peak = int(re.search(r'VmHWM:\\s+(\\d+)', status).group(1)) // 1024\n"
        "sys.stderr.write(f'peak {peak} MB\\n')\n"
        "sys.exit(code)\n"
    )
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run(
            [sys.executable, "-c", script], stdin=zero, capture_output=True, text=True, timeout=120, check=False
        )
    assert done.returncode == EXIT_PROBLEMS, done.stderr
    assert "Traceback" not in done.stderr
    peak = int(done.stderr.strip().splitlines()[-1].split()[1])
    assert peak <= 100, f"peak RSS {peak} MB"
    report = json.loads(done.stdout)
    assert [issue["code"] for issue in report["errors"]].count("line_too_long") == 1


def _console_script() -> str:
    """The installed ``haiku-finetune`` command (beside this interpreter), as a user runs it."""
    script = Path(sys.executable).parent / "haiku-finetune"
    if not script.exists():
        pytest.skip("the haiku-finetune console script is not installed beside this interpreter")
    return str(script)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_validate_dash_on_dev_zero_prints_one_error_line() -> None:
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run(
            [_console_script(), "validate", "-"],
            stdin=zero,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == EXIT_PROBLEMS
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stdout.splitlines() if "error" in line and "line_too_long" in line]
    assert len(errors) == 1, done.stdout


# -- stats -----------------------------------------------------------------------------------------------------


def test_stats(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["stats", str(good)], capsys)
    assert code == EXIT_OK
    assert "records: 40 (40 with a system prompt)" in out
    assert "total tokens (estimate)" in out
    code, out, _ = _run(["stats", str(good), "--json"], capsys)
    stats = json.loads(out)["stats"]
    assert stats["records"] == 40
    assert stats["tokens_max"] >= stats["tokens_p50"] >= stats["tokens_min"] > 0


def test_stats_of_bad_data_points_to_validate(bad: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["stats", str(bad)], capsys)
    assert code == EXIT_PROBLEMS
    assert f"haiku-finetune validate {bad}" in out


def test_validate_applies_the_base_models_limits(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--base-model picks a registered profile's limits: 40 records pass Claude 3 Haiku's, not a stricter one's."""
    import dataclasses

    from haiku_finetune import base_models

    strict = dataclasses.replace(
        base_models.CLAUDE_3_HAIKU,
        key="strict-haiku",
        model_id="example.strict-haiku-v1:0",
        invoke_model_id="example.strict-haiku-v1:0",
        limits=dataclasses.replace(base_models.CLAUDE_3_HAIKU.limits, min_records=100),
    )
    base_models.register_profile(strict)
    try:
        code, out, _ = _run(["validate", str(good), "--base-model", "strict-haiku"], capsys)
        assert code == EXIT_PROBLEMS
        assert "[too_few_records] 40 valid record(s); fine-tuning needs at least 100" in out
        assert _run(["validate", str(good), "--base-model", "claude-3-haiku"], capsys)[0] == EXIT_OK
    finally:
        del base_models._registry["strict-haiku"]
    code, out, err = _run(["validate", str(good), "--base-model", "no-such-model"], capsys)
    assert code == EXIT_USAGE
    assert "--base-model: no base-model profile for 'no-such-model'" in err
    assert len(err.strip().splitlines()) == 1
