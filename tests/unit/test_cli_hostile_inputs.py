"""Hostile inputs through the command: each failure is one stderr line with the documented exit status, and an
existing output is never replaced by a failed run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from haiku_finetune.cli import EXIT_PROBLEMS, EXIT_USAGE, main


def _record(i: int) -> str:
    return json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}]})


@pytest.mark.parametrize("command", [["validate"], ["stats"], ["split"], ["convert", "openai"]])
@pytest.mark.parametrize("kind", ["fifo", "/dev/null"])
def test_a_fifo_or_device_as_input_is_a_usage_error_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], kind: str
) -> None:
    source = tmp_path / "in.jsonl"
    if kind == "fifo":
        os.mkfifo(source)  # no writer: opening it would block, so the library refuses it after a stat
    else:
        source = Path(kind)
    argv = [*command, str(source)]
    if command[0] == "convert":
        argv.append(str(tmp_path / "out.jsonl"))
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "not a regular file" in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out.jsonl").exists()


@pytest.mark.parametrize(
    ("command", "content"),
    [
        # The wrong format for the file: every line fails to convert.
        (["convert", "prompt-completion"], "\n".join(_record(i) for i in range(5)) + "\n"),
        (["convert", "openai"], "not json\n[1]\n"),
        (["convert", "csv"], 'prompt,completion\n"never closed,y\n'),
    ],
)
def test_a_conversion_where_no_line_converts_leaves_an_existing_output_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], content: str
) -> None:
    source = tmp_path / "in.data"
    source.write_text(content, encoding="utf-8")
    dst = tmp_path / "train.jsonl"
    dst.write_text(_record(0) + "\n", encoding="utf-8")
    assert main([*command, str(source), str(dst)]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "nothing written" in out, out
    assert dst.read_text(encoding="utf-8") == _record(0) + "\n"  # not replaced by an empty file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.data", "train.jsonl"]  # no temporary file left


def _latin1_file(path: Path) -> Path:
    lines = [_record(i).encode() for i in range(40)]
    lines.insert(2, b'{"messages": [{"role": "user", "content": "caf\xe9"}, {"role": "assistant", "content": "y"}]}')
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


@pytest.mark.parametrize("command", [["split", "--validation-size", "5"], ["convert", "openai"]])
def test_bytes_that_are_not_utf8_are_named_so_with_their_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    source = _latin1_file(tmp_path / "latin1.jsonl")
    argv = [*command, str(source)] + ([str(tmp_path / "out.jsonl")] if command[0] == "convert" else [])
    assert main(argv) == EXIT_PROBLEMS
    captured = capsys.readouterr()
    shown = captured.out + captured.err
    assert re.search(r"(line 3: |:3: error )\[invalid_utf8\] not valid UTF-8 at byte \d+; re-encode", shown), shown
    assert "surrogates" not in shown and "invalid_json" not in shown, shown


def test_a_csv_row_with_more_fields_than_the_header_is_refused_not_cut(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # An unquoted comma splits the prompt: converting it would shift "000?" into the reply and drop "yes".
    source = tmp_path / "data.csv"
    source.write_text("prompt,completion\nWhat is 1,000?,yes\nq,a,\n", encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    assert main(["convert", "csv", str(source), str(dst)]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert re.search(r"data\.csv:2: error \[invalid_csv\] .*3 fields.*header has 2", out), out
    # The good row (a trailing empty field, as spreadsheets export) still converts.
    assert [json.loads(line)["messages"][0]["content"] for line in dst.read_text().splitlines()] == ["q"]


def test_a_csv_header_naming_a_chosen_column_twice_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "data.csv"
    source.write_text("prompt,prompt,completion\nfirst,second,reply\n", encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    assert main(["convert", "csv", str(source), str(dst)]) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert re.search(r"data\.csv:1: error \[invalid_csv\] .*'prompt'.*twice", out), out
    assert "nothing written" in out and not dst.exists()


@pytest.mark.parametrize(
    "command", [["convert", "openai", "IN"], ["split", "IN", "--validation-size", "40", "--train-out"]]
)
def test_an_output_ending_in_a_slash_is_refused_not_written_as_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(_record(i) for i in range(100)) + "\n", encoding="utf-8")
    meant = tmp_path / "outdir"  # a directory the user meant to name, which does not exist
    argv = [str(source) if word == "IN" else word for word in command] + [f"{meant}/"]
    assert main(argv) == EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "slash" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


def test_an_output_ending_in_slash_dot_is_refused_not_written_as_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Path("outdir/.") is Path("outdir"): it would be written as a file named like the directory meant.
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(_record(i) for i in range(100)) + "\n", encoding="utf-8")
    assert main(["convert", "openai", str(source), f"{tmp_path / 'outdir'}/."]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "name a file to write" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl"]


@pytest.mark.parametrize("argv", [["validate", "-"], ["invoke", "some-model", "-"]], ids=["validate", "invoke"])
def test_reading_standard_input_when_it_is_closed_is_a_usage_error(tmp_path: Path, argv: list[str]) -> None:
    script = f"import sys\nfrom haiku_finetune.cli import main\nsys.exit(main({argv!r}))\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        stdin=None,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=lambda: os.close(0),
    )
    assert done.returncode == EXIT_USAGE, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "standard input" in done.stderr, done.stderr


def test_a_reader_that_stops_early_is_no_failure_to_report(tmp_path: Path) -> None:
    # `validate big.jsonl | head -1`: the pipe closes while the issues are printed.
    source = tmp_path / "bad.jsonl"
    source.write_text("x\n" * 50_000, encoding="utf-8")
    script = f"import sys\nfrom haiku_finetune.cli import main\nsys.exit(main(['validate', {str(source)!r}]))\n"
    reader, writer = os.pipe()
    os.close(reader)  # nobody reads: the first flush of standard output fails with EPIPE
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], stdout=writer, stderr=subprocess.PIPE, text=True, timeout=60, check=False
        )
    finally:
        os.close(writer)
    assert done.returncode == EXIT_PROBLEMS, done.stderr
    assert done.stderr == "", done.stderr  # no "BrokenPipeError ... please report it", no "Exception ignored"


def test_a_write_that_fails_midway_names_the_output_and_leaves_the_old_file(tmp_path: Path) -> None:
    # A real failing write: a file-size limit makes the write fail with EFBIG halfway, as a full disk would.
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(_record(i) for i in range(5000)) + "\n", encoding="utf-8")
    dst = tmp_path / "out.jsonl"
    dst.write_text("old\n", encoding="utf-8")
    script = (
        "import resource, signal, sys\n"
        "from haiku_finetune.cli import main\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))\n"
        f"sys.exit(main(['convert', 'openai', {str(source)!r}, {str(dst)!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == EXIT_PROBLEMS, done.stderr
    assert done.stderr.splitlines() == [f"haiku-finetune convert: error: File too large: {dst}"], done.stderr
    assert dst.read_text(encoding="utf-8") == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.jsonl", "out.jsonl"]  # no temporary file left


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        # A failed write names its file: the system's reason and the file, as for a full disk.
        (OSError(28, "No space left on device", "out.jsonl"), "No space left on device: out.jsonl"),
        # An OSError naming no file is no user's mistake (a library bug, a socket): it is reported as unexpected.
        (
            ConnectionResetError(104, "Connection reset by peer"),
            "ConnectionResetError: [Errno 104] Connection reset by peer "
            "(run again with -vv for the details, and please report it)",
        ),
    ],
)
def test_an_os_error_is_quiet_only_when_it_names_a_file(
    raised: OSError, expected: str, stats_handler: Callable[[Any], None], capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: object, ctx: object) -> int:
        raise raised

    stats_handler(broken)
    assert main(["stats", __file__]) == EXIT_PROBLEMS
    assert capsys.readouterr().err.splitlines() == [f"haiku-finetune stats: error: {expected}"]


def test_a_broken_pipe_that_is_not_standard_output_is_reported(
    stats_handler: Callable[[Any], None], capsys: pytest.CaptureFixture[str]
) -> None:
    # Only a reader of the output stopping early is quiet: a pipe to anything else breaking is a failure to name.
    def broken(args: object, ctx: object) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    stats_handler(broken)
    assert main(["stats", __file__]) == EXIT_PROBLEMS
    assert capsys.readouterr().err.splitlines() == [
        "haiku-finetune stats: error: BrokenPipeError: [Errno 32] Broken pipe "
        "(run again with -vv for the details, and please report it)"
    ]
