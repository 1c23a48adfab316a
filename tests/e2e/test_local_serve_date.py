"""``haiku-finetune local serve`` and ``python -m haiku_finetune.local`` with ``--date`` and ``--region``.

Real child processes on 127.0.0.1 (bounded by ``tests.serve_process.serve``) for what the served emulator
answers at a date and in a region; in-process parsing for the one-line errors on bad values.
"""

from __future__ import annotations

import botocore.exceptions
import pytest

from haiku_finetune.base_models import DEFAULT_BASE_MODEL
from haiku_finetune.cli import EXIT_OK, EXIT_USAGE, main
from haiku_finetune.local.serve import serve_main
from tests.serve_process import serve

_READY = "# Serving until Ctrl-C"


def test_served_inside_the_legacy_window_reports_legacy_and_the_end_of_life() -> None:
    # A date that is not today's: if --date were ignored, the real date would decide the state.
    args = ["-m", "haiku_finetune", "local", "serve", "--date", "2026-04-01", "--region", "us-west-2"]
    with serve(args, ready=_READY) as served:
        assert served.lines[0].startswith("# LocalBedrock: emulated account 123456789012, region us-west-2")
        assert served.lines[1].startswith("# Emulated date 2026-04-01 (UTC)")
        client = served.bedrock()
        lifecycle = client.get_foundation_model(modelIdentifier=DEFAULT_BASE_MODEL.model_id)["modelDetails"][
            "modelLifecycle"
        ]
        assert lifecycle["status"] == "LEGACY"
        assert lifecycle["endOfLifeTime"].date().isoformat() == "2026-09-10"
        client.close()
    assert served.returncode == EXIT_OK, served.err
    assert "Traceback" not in served.err


def test_served_after_the_end_of_life_answers_as_the_service_does() -> None:
    with serve(["-m", "haiku_finetune.local", "--date", "2026-09-11"], ready=_READY) as served:
        client = served.bedrock()
        with pytest.raises(botocore.exceptions.ClientError, match="reached the end of its life"):
            client.get_foundation_model(modelIdentifier=DEFAULT_BASE_MODEL.model_id)
        client.close()
    assert served.returncode == EXIT_OK, served.err


def test_served_in_a_region_where_the_model_remains_reports_it_active() -> None:
    args = ["-m", "haiku_finetune.local", "--date", "2026-09-11", "--region", "ca-central-1"]
    with serve(args, ready=_READY) as served:
        assert "region ca-central-1" in served.lines[0]
        assert served.env["AWS_REGION"] == "ca-central-1"
        client = served.bedrock()
        details = client.get_foundation_model(modelIdentifier=DEFAULT_BASE_MODEL.model_id)["modelDetails"]
        assert details["modelLifecycle"]["status"] == "ACTIVE"
        client.close()
    assert served.returncode == EXIT_OK, served.err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--date", "2026-13-01", "argument --date: not a date of the form YYYY-MM-DD: '2026-13-01'"),
        ("--date", "20260910", "argument --date: not a date of the form YYYY-MM-DD: '20260910'"),
        ("--date", "10/09/2026", "argument --date: not a date of the form YYYY-MM-DD: '10/09/2026'"),
        ("--region", "mars", "argument --region: not an AWS region name such as 'us-west-2': 'mars'"),
        ("--region", "US-WEST-2", "argument --region: not an AWS region name such as 'us-west-2': 'US-WEST-2'"),
    ],
)
def test_a_bad_date_or_region_is_one_line_before_anything_starts(
    option: str, value: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "serve", option, value]) == EXIT_USAGE
    cli_err = capsys.readouterr().err.strip()
    assert cli_err.startswith(f"haiku-finetune local serve: error: {message}")
    assert "\n" not in cli_err
    with pytest.raises(SystemExit) as stopped:
        serve_main([option, value])
    assert stopped.value.code == 2
    module_err = capsys.readouterr().err.strip().splitlines()
    assert module_err[-1] == f"python -m haiku_finetune.local: error: {message}"
