"""``haiku-finetune local serve`` refuses what the emulator would refuse, in one usage line, before starting
anything; its limits are the emulator's (written out in the CLI so that parsing does not import it)."""

from __future__ import annotations

import pytest

from haiku_finetune.cli import EXIT_USAGE, main
from haiku_finetune.cli import local as cli_local


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--time-scale", "1e9"], "argument --time-scale: must be at most 86400, got 1e9"),
        (["--time-scale", "0"], "argument --time-scale: must be a finite number > 0, got 0"),
        (["--port", "70000"], "argument --port: a port is between 0 and 65535, got 70000"),
        (["--port", "-1"], "argument --port: a port is between 0 and 65535, got -1"),
    ],
)
def test_a_value_the_emulator_refuses_is_one_usage_line(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "serve", *argv]) == EXIT_USAGE
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"haiku-finetune local serve: error: {message}")
    assert "please report" not in line


def test_port_zero_the_default_is_accepted_and_the_limits_are_the_emulators(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("moto")
    from haiku_finetune.local import clock, serve

    assert cli_local._MAX_TIME_SCALE == clock.MAX_TIME_SCALE
    assert cli_local._DATE_VARIABLE == clock.DATE_VARIABLE
    assert serve.add_serve_arguments is cli_local.add_serve_arguments  # one declaration for both entry points
    assert serve.DEFAULT_TIME_SCALE == cli_local.DEFAULT_TIME_SCALE == 60.0
    seen = []
    monkeypatch.setattr(serve, "run_serve", lambda args, **_: seen.append((args.port, args.time_scale)) or 0)
    assert main(["local", "serve", "--port", "0", "--time-scale", "86400"]) == 0
    assert seen == [(0, 86400.0)]
