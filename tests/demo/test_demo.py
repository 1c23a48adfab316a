"""The README's main command: the demo runs the whole workflow offline and leaves nothing billing."""

from __future__ import annotations

import io
import json
import struct
import sys
from pathlib import Path
from typing import Any

import pytest

from haiku_finetune import errors as hf_errors
from haiku_finetune import simulate_early_stopping
from haiku_finetune.demo import DEMO_VALIDATION_LOSSES, DemoOptions, run_demo
from haiku_finetune.local import LocalBedrock

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first chunk, right after the signature)."""
    assert data[:8] == PNG_MAGIC, data[:8]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


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
    assert 0 < result.seconds < 60  # the README's promise: under a minute

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

    # The plan was made on the local files, so its estimate knows the records and tokens.
    plan = printed[printed.index("Plan for job") : printed.index("Result: ready to submit")]
    assert "unknown" not in plan.replace("training cost unknown", "")
    assert "records 240, steps/epoch 8, epochs 5, total steps 40" in plan
    assert f"Plan for job {job['jobName']} -> model {job['outputModelName']}" in plan  # the job that was planned

    # The metrics table's every column has a header.
    header = next(line for line in printed.splitlines() if line.strip().startswith("epoch  steps"))
    assert header.split()[-1] == "note"

    # The paired comparison's verdict follows the evaluation tables.
    verdict = next(line.strip() for line in printed.splitlines() if "tuned vs base:" in line)
    assert verdict.startswith("label_accuracy: tuned vs base: 60 wins, 0 ties, 0 losses")
    assert "tuned is better" in verdict
    assert printed.index("Confusion matrix of tuned") < printed.index(verdict)

    # The loss plot is a real PNG; the evaluation report and manifest exist.
    plot = result.files["loss plot"]
    width, height = _png_size(plot.read_bytes())
    assert width > 100 and height > 100
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
    assert min(_png_size((tmp_path / "cli-demo" / "loss.png").read_bytes())) > 0
    assert "The demo completed" in capsys.readouterr().out


# -- demo --aws: against an account (here the emulator), asking before each billable step -------------------------

AWS_BUCKET = "demo-aws-bucket"
JOB_QUESTION = "The job trains on up to"
DEPLOY_QUESTION = "Provisioned Throughput is billed by the hour"


class _Terminal:
    """A stand-in for an interactive standard input."""

    def isatty(self) -> bool:
        return True


class _NoTerminal:
    def isatty(self) -> bool:
        return False


def _answering(monkeypatch: pytest.MonkeyPatch, *answers: str) -> list[str]:
    """Answer the demo's questions in turn, on a pretend terminal; returns the prompts asked (it grows)."""
    asked: list[str] = []
    pending = list(answers)

    def answer(prompt: str) -> str:
        asked.append(prompt)
        assert pending, f"asked more questions than expected: {prompt!r}"
        return pending.pop(0)

    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setattr("builtins.input", answer)
    return asked


def _aws_demo(local: Any, tmp_path: Path, **options: Any) -> tuple[Any, str]:
    """Run ``run_demo(aws=True)`` on the emulator's transport (as a real account would be reached)."""
    pytest.importorskip("matplotlib")
    transport = local.transport()
    transport.call(
        "s3", "CreateBucket", Bucket=AWS_BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    out = io.StringIO()
    # The command's one y/N prompt, as `haiku-finetune demo --aws` lends it.
    from haiku_finetune.cli.demo import _confirm_billable

    options.setdefault("confirm", _confirm_billable)
    opts = DemoOptions(output=tmp_path / "aws", aws=True, bucket=AWS_BUCKET, progress=False, **options)
    result = run_demo(opts, out=out, transport=transport)
    return result, out.getvalue()


def _custom_models(local: Any) -> list[str]:
    models: list[dict[str, Any]] = local.transport().call("bedrock", "ListCustomModels").get("modelSummaries", [])
    return [m["modelArn"] for m in models]


def test_demo_aws_declined_before_the_job_submits_nothing(
    local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _answering(monkeypatch, "n")
    result, printed = _aws_demo(local, tmp_path)
    assert not result.ok
    assert len(asked) == 1 and JOB_QUESTION in printed and DEPLOY_QUESTION not in printed
    assert "Demo ended: stopped at your request before a billable step" in printed
    assert local.jobs() == [] and local.deployments() == [] and _custom_models(local) == []
    assert result.job_arn is None and result.deployment_arn is None


@pytest.mark.parametrize("keep", [False, True], ids=["delete-model", "keep"])
def test_demo_aws_declined_before_the_deployment_leaves_no_deployment(
    keep: bool, local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _answering(monkeypatch, "y", "no")
    result, printed = _aws_demo(local, tmp_path, keep=keep)
    assert not result.ok and len(asked) == 2
    assert DEPLOY_QUESTION in printed and "Demo ended: stopped at your request" in printed
    [job] = local.jobs()  # the one billable step agreed to
    assert job["jobArn"] == result.job_arn and job["status"] == "Completed"
    assert local.deployments() == [] and local.meter() == 0
    assert result.deployment_arn is None
    # The custom model (billed monthly for storage) is deleted unless --keep.
    assert _custom_models(local) == ([job["outputModelArn"]] if keep else [])
    assert ("deleted the custom model" in printed) is not keep


def test_demo_aws_without_a_terminal_refuses_before_anything_billable(
    local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", _NoTerminal())

    def no_questions(prompt: str) -> str:
        raise AssertionError(f"asked {prompt!r} with no terminal")

    monkeypatch.setattr("builtins.input", no_questions)
    result, printed = _aws_demo(local, tmp_path)
    assert not result.ok
    assert "no terminal to ask on: pass --yes" in printed
    assert local.jobs() == [] and local.deployments() == []


def test_demo_aws_with_nobody_to_ask_declines_before_anything_billable(local: Any, tmp_path: Path) -> None:
    result, printed = _aws_demo(local, tmp_path, confirm=None)
    assert not result.ok
    assert "nobody to ask before a billable step" in printed
    assert local.jobs() == [] and local.deployments() == []


def test_demo_aws_accepted_runs_everything_and_cleans_up(
    local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _answering(monkeypatch, "y", "Y")
    result, printed = _aws_demo(local, tmp_path)
    assert result.ok, printed
    assert len(asked) == 2
    [job] = local.jobs()
    assert result.job_status == job["status"] == "Completed"
    assert result.deployment_arn and result.deployment_deleted
    assert local.deployments() == [] and local.meter() > 0  # it was deployed, billed, and deleted
    assert _custom_models(local) == []  # --keep was not given
    assert f"deleted the custom model {job['outputModelName']}" in printed
    assert f"left in your account: the uploaded data under s3://{AWS_BUCKET}/demo/" in printed
    assert min(_png_size(result.files["loss plot"].read_bytes())) > 0


def test_the_cli_demo_aws_with_yes_asks_nothing(
    local: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib")
    from haiku_finetune.cli import main

    monkeypatch.setattr(sys, "stdin", _NoTerminal())
    monkeypatch.setattr("builtins.input", _fail_on_question)
    transport = local.transport()
    transport.call(
        "s3", "CreateBucket", Bucket=AWS_BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
    )
    argv = ["demo", "--aws", "--bucket", AWS_BUCKET, "--yes", "--output", str(tmp_path / "cli"), "--no-progress"]
    assert main(argv, transport=transport) == 0
    assert "The demo completed" in capsys.readouterr().out
    assert [j["status"] for j in local.jobs()] == ["Completed"]
    assert local.deployments() == [] and _custom_models(local) == []


def _fail_on_question(prompt: str) -> str:
    raise AssertionError(f"asked {prompt!r} despite --yes")


def test_correct_hyperparameters_moves_out_of_range_values_to_the_bound() -> None:
    from haiku_finetune.demo import SEED_HYPERPARAMETERS
    from haiku_finetune.hyperparameters import correct_hyperparameters

    fixed, notes = correct_hyperparameters(SEED_HYPERPARAMETERS)
    assert fixed.learning_rate_multiplier == 0.1 and fixed.epoch_count == 5
    assert len(notes) == 1 and "learningRateMultiplier = 0.05 is below the documented minimum" in notes[0]
    fixed, notes = correct_hyperparameters({"batchSize": "512"})
    assert fixed.batch_size == 256 and "above the documented maximum" in notes[0]
    with pytest.raises(hf_errors.HyperparameterError, match="unknown hyperparameter"):
        correct_hyperparameters({"epochs": "2"})
