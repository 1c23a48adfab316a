"""The haiku-finetune command: its shape (--help everywhere), usage errors, and the offline-only commands."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

import pytest

from haiku_finetune.cli import EXIT_OK, EXIT_USAGE, build_parser, main


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                paths.extend(_command_paths(child, (*prefix, name)))
    return paths


COMMANDS = _command_paths(build_parser())


def test_every_documented_subcommand_exists() -> None:
    expected = {
        ("validate",),
        ("convert", "prompt-completion"),
        ("convert", "openai"),
        ("convert", "csv"),
        ("split",),
        ("stats",),
        ("simulate-early-stopping",),
        ("plan",),
        ("jobs", "list"),
        ("jobs", "show"),
        ("jobs", "wait"),
        ("jobs", "stop"),
        ("jobs", "metrics"),
        ("deployments", "list"),
        ("deployments", "delete"),
        ("deployments", "orphans"),
        ("local", "serve"),
        ("demo",),
    }
    assert expected <= set(COMMANDS)


@pytest.mark.parametrize("path", COMMANDS, ids=lambda p: " ".join(p) or "(top)")
def test_help_everywhere(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*path, "--help"]) == EXIT_OK
    out = capsys.readouterr().out
    assert out.startswith("usage: haiku-finetune")
    assert " ".join(("haiku-finetune", *path)) in out.splitlines()[0]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    import haiku_finetune

    assert main(["--version"]) == EXIT_OK
    assert haiku_finetune.__version__ in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([], "required: COMMAND"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["validate"], "required: FILE"),
        (["validate", "does-not-exist.jsonl"], "no such file: does-not-exist.jsonl"),
        (["validate", __file__, "--split", "test"], "invalid choice: 'test'"),
        (["convert"], "required: FORMAT"),
        (["convert", "yaml", "a", "b"], "invalid choice: 'yaml'"),
        (["convert", "prompt-completion", "missing.jsonl", "out.jsonl"], "no such file"),
        (["split", "missing.jsonl"], "no such file"),
        (["stats"], "required: FILE"),
        (["simulate-early-stopping"], "required: --losses"),
        (["simulate-early-stopping", "--losses", "0.9", "--patience", "0"], "must be at least 1"),
        (["simulate-early-stopping", "--losses", "0.9", "--threshold", "-1"], "must be a finite number >= 0"),
        (["simulate-early-stopping", "--losses", "0.9", "nan"], "not a finite number"),
        (["simulate-early-stopping", "--losses", "zero"], "not a number: 'zero'"),
        (["plan"], "required: --training, --output-uri, --role-arn"),
        (["jobs"], "required: ACTION"),
        (["jobs", "show"], "required: JOB"),
        (["jobs", "wait", "j", "--timeout", "soon"], "not a number"),
        (["jobs", "list", "--limit", "0"], "must be at least 1"),
        (["jobs", "list", "--status", "Done"], "invalid choice: 'Done'"),
        (["jobs", "list", "extra"], "unrecognized arguments: extra"),
        (["jobs", "stop"], "required: JOB"),
        (["jobs", "stop", "a", "b"], "unrecognized arguments: b"),
        (["jobs", "metrics"], "required: JOB"),
        (["jobs", "metrics", "j", "--plot"], "expected one argument"),
        (["deployments", "list", "--older-than", "3"], "unrecognized arguments: --older-than"),
        (["deployments", "list", "--region"], "expected one argument"),
        (["plan", "--training", "t", "--output-uri", "s3://b/o/", "--role-arn", "r", "--epochs", "x"], "invalid int"),
        (["deployments", "remove"], "invalid choice: 'remove'"),
        (["deployments", "delete"], "required: DEPLOYMENT"),
        (["deployments", "orphans", "--older-than", "-3"], "must be a finite number >= 0"),
        (["local", "serve", "--time-scale", "fast"], "not a number"),
        (["demo", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(argv: list[str], fragment: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("haiku-finetune")
    assert "error:" in lines[0]
    assert fragment in lines[0]


def test_split_fraction_and_size_are_exclusive(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["split", __file__, "--validation-fraction", "0.2", "--validation-size", "5"]) == EXIT_USAGE
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize("fraction", ["0", "1", "1.5", "-0.1", "half"])
def test_split_fraction_must_be_inside_0_1(fraction: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["split", __file__, "--validation-fraction", fraction]) == EXIT_USAGE
    assert len(capsys.readouterr().err.splitlines()) == 1


# -- simulate-early-stopping: the documented table ------------------------------------------------------------

DOCUMENTED = ["0.9", "0.8", "0.7", "0.66", "0.64", "0.65", "0.65"]


@pytest.mark.parametrize(
    ("threshold", "patience", "stopped", "best", "best_loss"),
    [("0", "2", 7, 5, 0.64), ("0.05", "1", 4, 4, 0.66)],
)
def test_simulate_reproduces_the_documented_table(
    threshold: str, patience: str, stopped: int, best: int, best_loss: float, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["simulate-early-stopping", "--losses", *DOCUMENTED, "--threshold", threshold, "--patience", patience]
    assert main([*argv, "--json"]) == EXIT_OK
    result = json.loads(capsys.readouterr().out)
    assert result["stopped_epoch"] == stopped
    assert result["best_epoch"] == best
    assert result["best_loss"] == best_loss

    assert main(argv) == EXIT_OK
    out = capsys.readouterr().out
    assert f"stopped early at epoch {stopped}" in out
    assert f"Best checkpoint: epoch {best}" in out
    stop_row = next(line for line in out.splitlines() if "stopped here" in line)
    assert stop_row.split()[0] == str(stopped)


def test_simulate_accepts_commas_and_reports_a_full_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate-early-stopping", "--losses", "1.0,0.8", "0.6", "--patience", "2"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "ran all 3 epoch(s)" in out
    assert "stopped here" not in out


def test_simulate_says_how_many_epochs_would_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate-early-stopping", "--losses", *DOCUMENTED, "--threshold", "0.05", "--patience", "1"]
    assert main(argv) == EXIT_OK
    assert "(3 later epoch(s) would not run)" in capsys.readouterr().out


def test_console_script_entry_and_python_dash_m() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "haiku_finetune", "simulate-early-stopping", "--losses", "1", "0.5", "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["epochs_run"] == 2
    bad = subprocess.run([sys.executable, "-m", "haiku_finetune", "jobs"], capture_output=True, text=True, check=False)
    assert bad.returncode == 2
    assert len(bad.stderr.splitlines()) == 1


def test_help_imports_no_optional_extra() -> None:
    code = (
        "import sys; from haiku_finetune.cli import main; main(['--help']); "
        "heavy = [m for m in ('pandas', 'matplotlib', 'moto') if m in sys.modules]; "
        "print('HEAVY=' + ','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY=\n" in out or out.rstrip().endswith("HEAVY=")


def _options(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> set[str]:
    for name in path:
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = sub.choices[name]
    return {s for a in parser._actions for s in a.option_strings if s.startswith("--") and s not in ("--help",)}


def test_cli_reference_documents_every_command_and_option() -> None:
    from pathlib import Path

    reference = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")
    parser = build_parser()
    for path in COMMANDS:
        if path:
            assert " ".join(path) in reference, f"docs/cli.md does not mention 'haiku-finetune {' '.join(path)}'"
        for option in _options(parser, path):
            assert f"`{option}" in reference or f"[{option}" in reference or f" {option}" in reference, (
                f"docs/cli.md does not document {option} of '{' '.join(path)}'"
            )
