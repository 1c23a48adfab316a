"""The haiku-finetune command: its shape (--help everywhere), usage errors, and the offline-only commands."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from haiku_finetune.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, build_parser, main


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
        ("jobs", "create"),
        ("jobs", "list"),
        ("jobs", "show"),
        ("jobs", "wait"),
        ("jobs", "stop"),
        ("jobs", "metrics"),
        ("search",),
        ("deployments", "create"),
        ("deployments", "show"),
        ("invoke",),
        ("evaluate",),
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


# -- no tracebacks: every mistake is one line and exit status 1 or 2 ---------------------------------------------

_AWS_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_BEDROCK",
)


@pytest.fixture
def aws_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """An AWS setup of our own: one profile whose credential_process fails, no credentials anywhere else.

    Nothing can reach the network: credentials fail before a request is signed, and the metadata service is off.
    """
    config = tmp_path / "aws-config"
    config.write_text("[profile broken]\ncredential_process = false\nregion = us-west-2\n", encoding="utf-8")
    (tmp_path / "aws-credentials").write_text("", encoding="utf-8")
    for name in _AWS_ENV:
        monkeypatch.delenv(name, raising=False)
    env = {
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_DEFAULT_REGION": "us-west-2",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that something already listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        yield listener.getsockname()[1]


def _mistakes(tmp: Path, port: int) -> list[tuple[str, list[str], dict[str, str], int, str]]:
    """(id, argv, extra environment, exit status, fragment of the one error line)."""
    a_file = tmp / "a-file.txt"
    a_file.write_text("not a directory\n", encoding="utf-8")
    src = tmp / "in.jsonl"
    src.write_text('{"prompt": "p", "completion": "c"}\n', encoding="utf-8")
    missing = tmp / "no-such-dir"
    losses = ["simulate-early-stopping", "--losses", "0.9", "0.8"]
    return [
        ("unknown --profile", ["jobs", "list", "--profile", "nope"], {}, EXIT_PROBLEMS, "nope"),
        ("AWS_PROFILE typo", ["jobs", "list"], {"AWS_PROFILE": "typo"}, EXIT_PROBLEMS, "typo"),
        ("failing credential_process", ["jobs", "list", "--profile", "broken"], {}, EXIT_PROBLEMS, "credential"),
        ("endpoint not a URL", ["jobs", "list", "--endpoint-url", "localhost"], {}, EXIT_USAGE, "--endpoint-url"),
        ("endpoint scheme", ["jobs", "list", "--endpoint-url", "ftp://h/"], {}, EXIT_USAGE, "http://"),
        ("endpoint port", ["deployments", "list", "--endpoint-url", "http://h:70000"], {}, EXIT_USAGE, "port"),
        ("time scale 0", ["local", "serve", "--time-scale", "0"], {}, EXIT_USAGE, "> 0"),
        ("time scale < 0", ["local", "serve", "--time-scale", "-60"], {}, EXIT_USAGE, "> 0"),
        ("time scale inf", ["local", "serve", "--time-scale", "inf"], {}, EXIT_USAGE, "finite"),
        ("port in use", ["local", "serve", "--port", str(port)], {}, EXIT_USAGE, f"port {port}"),
        ("port out of range", ["local", "serve", "--port", "70000"], {}, EXIT_USAGE, "65535"),
        ("demo output is a file", ["demo", "--output", str(a_file)], {}, EXIT_USAGE, "existing file"),
        ("demo output under a file", ["demo", "--output", str(a_file / "out")], {}, EXIT_USAGE, "is a file"),
        ("demo --yes without --aws", ["demo", "--yes", "--output", str(tmp / "d")], {}, EXIT_USAGE, "--aws"),
        (
            "convert into a missing dir",
            ["convert", "prompt-completion", str(src), str(missing / "o.jsonl")],
            {},
            EXIT_USAGE,
            "does not exist",
        ),
        (
            "convert under a file",
            ["convert", "openai", str(src), str(a_file / "o.jsonl")],
            {},
            EXIT_USAGE,
            "cannot write",
        ),
        ("convert onto a dir", ["convert", "csv", str(src), str(tmp)], {}, EXIT_USAGE, "is a directory"),
        (
            "split into a missing dir",
            ["split", str(src), "--train-out", str(missing / "t.jsonl")],
            {},
            EXIT_USAGE,
            "does not exist",
        ),
        (
            "plot into a missing dir",
            ["jobs", "metrics", "j", "--plot", str(missing / "p.png")],
            {},
            EXIT_USAGE,
            "does not exist",
        ),
        ("threshold above range", [*losses, "--threshold", "0.5"], {}, EXIT_USAGE, "earlyStoppingThreshold"),
        ("threshold below range", [*losses, "--threshold", "-0.01"], {}, EXIT_USAGE, ">= 0"),
        ("patience above range", [*losses, "--patience", "11"], {}, EXIT_USAGE, "earlyStoppingPatience"),
        ("patience below range", [*losses, "--patience", "0"], {}, EXIT_USAGE, "at least 1"),
        (
            "plan epochs out of range",
            [
                "plan",
                "--training",
                str(src),
                "--output-uri",
                "s3://b/o/",
                "--role-arn",
                "arn:aws:iam::123456789012:role/r",
                "--epochs",
                "11",
                "--endpoint-url",
                "http://127.0.0.1:9",
            ],
            {},
            EXIT_USAGE,
            "epoch",
        ),
    ]


_ROW_NAMES = [
    "unknown --profile",
    "AWS_PROFILE typo",
    "failing credential_process",
    "endpoint not a URL",
    "endpoint scheme",
    "endpoint port",
    "time scale 0",
    "time scale < 0",
    "time scale inf",
    "port in use",
    "port out of range",
    "demo output is a file",
    "demo output under a file",
    "demo --yes without --aws",
    "convert into a missing dir",
    "convert under a file",
    "convert onto a dir",
    "split into a missing dir",
    "plot into a missing dir",
    "threshold above range",
    "threshold below range",
    "patience above range",
    "patience below range",
    "plan epochs out of range",
]


def _check_one_line(code: int, out: str, err: str, expected: int, fragment: str) -> None:
    assert "Traceback" not in out and "Traceback" not in err, err
    assert code in (EXIT_PROBLEMS, EXIT_USAGE) and code == expected, (code, err)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("haiku-finetune") and "error:" in lines[0], lines[0]
    assert fragment in lines[0], lines[0]


@pytest.mark.parametrize("name", _ROW_NAMES)
def test_mistakes_are_one_line_in_process(
    name: str,
    tmp_path: Path,
    aws_home: dict[str, str],
    busy_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    [(_, argv, env, expected, fragment)] = [row for row in _mistakes(tmp_path, busy_port) if row[0] == name]
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code = main(argv)
    captured = capsys.readouterr()
    _check_one_line(code, captured.out, captured.err, expected, fragment)


def test_the_table_has_every_row_tested(tmp_path: Path) -> None:
    assert [row[0] for row in _mistakes(tmp_path, 1)] == _ROW_NAMES


@pytest.mark.parametrize(
    "name", ["unknown --profile", "AWS_PROFILE typo", "failing credential_process", "time scale 0", "port in use"]
)
def test_mistakes_are_one_line_in_a_real_process(
    name: str, tmp_path: Path, aws_home: dict[str, str], busy_port: int
) -> None:
    [(_, argv, env, expected, fragment)] = [row for row in _mistakes(tmp_path, busy_port) if row[0] == name]
    full_env = {k: v for k, v in os.environ.items() if k not in _AWS_ENV} | aws_home | env
    done = subprocess.run(
        [sys.executable, "-m", "haiku_finetune", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        check=False,
    )
    _check_one_line(done.returncode, done.stdout, done.stderr, expected, fragment)


def test_unexpected_failures_are_one_line_and_vv_shows_the_details(
    aws_home: dict[str, str], stats_handler: Callable[[Any], None], capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(args: argparse.Namespace, ctx: object) -> int:
        raise RuntimeError("something inside broke")

    def run(argv: list[str]) -> tuple[int, str]:
        stats_handler(broken)
        code = main(argv)
        return code, capsys.readouterr().err

    code, err = run(["stats", __file__])
    assert code == EXIT_PROBLEMS
    assert err.splitlines() == [
        "haiku-finetune stats: error: RuntimeError: something inside broke "
        "(run again with -vv for the details, and please report it)"
    ]
    code, err = run(["stats", __file__, "-vv"])
    assert code == EXIT_PROBLEMS
    assert "DEBUG haiku_finetune.cli: haiku-finetune stats failed" in err and "Traceback" in err
    # The log handler is removed afterwards: the library logs nothing once the command has returned.
    import logging

    assert not logging.getLogger("haiku_finetune").handlers
    assert logging.getLogger("haiku_finetune").level == logging.NOTSET


@pytest.mark.parametrize(("argv", "level"), [(["-v", "stats"], 1), (["stats", "-vv"], 2), (["stats"], 0)])
def test_verbose_goes_before_or_after_the_command(argv: list[str], level: int) -> None:
    args = build_parser().parse_args([*argv, __file__])
    assert getattr(args, "verbose", 0) == level


def test_an_endpoint_nobody_serves_is_one_line_naming_the_option(
    aws_home: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from haiku_finetune import RetryPolicy
    from haiku_finetune.cli import _transport

    real = _transport.transport_from_args

    def no_sleeping(args: argparse.Namespace) -> object:
        built = real(args)
        built.retry = RetryPolicy(sleep=lambda seconds: None)  # the real policy, without the real backoff
        return built

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setattr(_transport, "transport_from_args", no_sleeping)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"  # bound, never listening: connections are refused
        code = main(["jobs", "list", "--endpoint-url", url])
    captured = capsys.readouterr()
    _check_one_line(code, captured.out, captured.err, EXIT_PROBLEMS, f"is anything serving {url}? check --endpoint-url")


@pytest.mark.parametrize(
    ("flags", "shown"),
    [([], set()), (["-v"], {"INFO"}), (["-vv"], {"INFO", "DEBUG"}), (["-v", "-v"], {"INFO", "DEBUG"})],
)
def test_verbose_sends_library_records_to_stderr(
    flags: list[str], shown: set[str], stats_handler: Callable[[Any], None], capsys: pytest.CaptureFixture[str]
) -> None:
    import logging

    def chatty(args: argparse.Namespace, ctx: object) -> int:
        logging.getLogger("haiku_finetune.jobs").info("an info record")
        logging.getLogger("haiku_finetune.jobs").debug("a debug record")
        return EXIT_OK

    stats_handler(chatty)
    assert main([*flags, "stats", __file__]) == EXIT_OK
    err = capsys.readouterr().err
    assert ("INFO haiku_finetune.jobs: an info record" in err) is ("INFO" in shown)
    assert ("DEBUG haiku_finetune.jobs: a debug record" in err) is ("DEBUG" in shown)


def test_guard_options_the_library_does_not_take_are_refused_in_one_line() -> None:
    from haiku_finetune.cli._context import UsageError
    from haiku_finetune.cli.deployments import _guard_options

    def create_without_guards(model: str, *, model_units: int = 1) -> None:
        """A ProvisionedDeployment.create of a library version without cost-safety guards."""

    def create_with_guards(model: str, *, max_lifetime: float | None = None, guard: str | None = None) -> None:
        """One with them."""

    args = argparse.Namespace(max_lifetime=2.0, guard="watchdog")
    with pytest.raises(UsageError, match=r"^--max-lifetime, --guard: this version of haiku_finetune cannot guard"):
        _guard_options(args, create_without_guards)
    assert _guard_options(args, create_with_guards) == {"max_lifetime": 7200.0, "guard": "watchdog"}
    assert _guard_options(argparse.Namespace(max_lifetime=None, guard=None), create_without_guards) == {}


def test_field_lines_never_run_a_value_into_a_key_longer_than_the_width() -> None:
    from haiku_finetune.cli._format import field_lines

    # deployments show pads to 14, and a failed deployment's "failure_message:" is 16 characters.
    lines = field_lines({"name": "pt", "status": "Failed", "failure_message": "boom", "arn": None}, 14)
    assert lines == ["name:            pt", "status:          Failed", "failure_message: boom"]
    assert field_lines({"name": "pt", "failure_message": None}, 14) == ["name:         pt"]
