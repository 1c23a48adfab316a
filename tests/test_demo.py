"""The README's main command: the demo runs the whole workflow offline and leaves nothing billing."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from haiku_finetune import simulate_early_stopping
from haiku_finetune.demo import DEMO_VALIDATION_LOSSES, DemoOptions, run_demo
from haiku_finetune.local import LocalBedrock

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_the_demo_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    out = io.StringIO()
    with LocalBedrock(validation_losses=list(DEMO_VALIDATION_LOSSES)) as local:
        result = run_demo(DemoOptions(output=tmp_path / "demo", progress=False), out=out, local=local)
        assert local.deployments() == []  # nothing left running
        assert local.meter() > 0  # and it did bill while deployed
        jobs = local.jobs()
    printed = out.getvalue()
    assert result.ok, printed

    # The job completed at the epoch the documented early-stopping rules give for its losses and settings.
    [job] = jobs
    assert result.job_status == job["status"] == "Completed"
    settings = job["hyperParameters"]
    rules = simulate_early_stopping(
        list(DEMO_VALIDATION_LOSSES)[: int(settings["epochCount"])],
        threshold=float(settings["earlyStoppingThreshold"]),
        patience=int(settings["earlyStoppingPatience"]),
    )
    assert result.epochs_run == result.expected_epochs == rules.epochs_run
    assert result.best_epoch == rules.best_epoch

    # The loss plot is a real PNG; the evaluation report and manifest exist.
    plot = result.files["loss plot"]
    data = plot.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1_000
    assert result.files["evaluation report"].exists() and result.files["evaluation summary"].exists()
    manifest = json.loads(result.files["job manifest"].read_text())
    assert manifest  # written and parseable
    assert result.deployment_deleted and result.deployment_arn
    assert result.scores["tuned"]["label_accuracy"] > result.scores["base"]["label_accuracy"]
    assert result.corrections  # the blog post's out-of-range values were corrected, and said so
    assert "Summary" in printed and str(plot) in printed


def test_the_cli_demo_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    from haiku_finetune.cli import main

    assert main(["demo", "--output", str(tmp_path / "cli-demo"), "--no-progress"]) == 0
    assert (tmp_path / "cli-demo" / "loss.png").read_bytes().startswith(PNG_MAGIC)
    assert "The demo completed" in capsys.readouterr().out
