"""The AWS commands of haiku-finetune against LocalBedrock: plan, jobs, deployments, and ``local serve``.

Every command runs through ``main(argv, transport=...)`` on one emulator for the module (manual clock: waiting
takes no real time). Jobs and deployments are made with the library, then inspected, waited for, stopped and
deleted with the CLI; text and ``--json`` output and the exit statuses are checked, the exit-1 paths included.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import iam, storage
from haiku_finetune.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, main
from haiku_finetune.deployment import ProvisionedDeployment
from haiku_finetune.jobs import CustomizationJob
from tests.e2e.test_jobs_e2e import _records, _write
from tests.serve_process import serve

pytestmark = pytest.mark.filterwarnings("ignore::haiku_finetune.deployment.BillingWarning")

BUCKET = "haiku-cli-aws"
#: Validation losses every job in this module follows: best at epoch 2, and 3 epochs run with patience 2.
LOSSES = [0.9, 0.7, 0.75]
LOCAL_BEDROCK_OPTIONS = {"validation_losses": LOSSES}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's IHDR chunk (the first chunk, right after the signature)."""
    assert data[:8] == PNG_SIGNATURE, data[:8]
    length, kind = struct.unpack(">I4s", data[8:16])
    assert (length, kind) == (13, b"IHDR")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


@pytest.fixture(scope="module")
def env(transport: hf.BedrockTransport, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A bucket, valid local and uploaded data, an invalid uploaded file, and a service role."""
    folder = tmp_path_factory.mktemp("data")
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    train = _write(folder / "train.jsonl", _records(64))
    validation = _write(folder / "validation.jsonl", _records(32, start=100))
    bad_records = _records(40)
    bad_records[2] = {"messages": [{"role": "user", "content": "no answer here"}]}
    bad = _write(folder / "bad.jsonl", bad_records)
    output = f"s3://{BUCKET}/out/"
    role = iam.ensure_service_role("haiku-cli-aws", training=f"s3://{BUCKET}/data/", output=output, transport=transport)
    return {
        "train_path": train,
        "validation_path": validation,
        "bad_path": bad,
        "train_uri": storage.upload_dataset(train, f"s3://{BUCKET}/data/", transport=transport),
        "validation_uri": storage.upload_dataset(
            validation, f"s3://{BUCKET}/data/", split="validation", transport=transport
        ),
        "bad_uri": storage.upload_dataset(bad, f"s3://{BUCKET}/data/bad.jsonl", validate=False, transport=transport),
        "output_uri": output,
        "role_arn": role,
    }


def _create(env: dict[str, Any], transport: hf.BedrockTransport, **overrides: Any) -> CustomizationJob:
    args: dict[str, Any] = {
        "training_data": env["train_uri"],
        "validation_data": env["validation_uri"],
        "output_uri": env["output_uri"],
        "role_arn": env["role_arn"],
        "hyperparameters": hf.Hyperparameters(epoch_count=3, batch_size=8),
        "transport": transport,
        **overrides,
    }
    return CustomizationJob.create(**args)


@pytest.fixture(scope="module")
def completed(env: dict[str, Any], transport: hf.BedrockTransport) -> CustomizationJob:
    return _create(env, transport).wait(progress=False)


@pytest.fixture(scope="module")
def failed(env: dict[str, Any], transport: hf.BedrockTransport) -> CustomizationJob:
    """A job on invalid data: the emulator fails it with the line-numbered problems (not waited for yet)."""
    return _create(env, transport, training_data=env["bad_uri"], validation_data=None)


class Run:
    """Run the command against the emulator and capture what it printed."""

    def __init__(self, transport: hf.BedrockTransport, capsys: pytest.CaptureFixture[str]) -> None:
        self.transport = transport
        self.capsys = capsys

    def __call__(self, *argv: str) -> tuple[int, str, str]:
        code = main(list(argv), transport=self.transport)
        captured = self.capsys.readouterr()
        return code, captured.out, captured.err


@pytest.fixture
def run(transport: hf.BedrockTransport, capsys: pytest.CaptureFixture[str]) -> Run:
    return Run(transport, capsys)


# -- plan -------------------------------------------------------------------------------------------------------


def _plan_args(env: dict[str, Any], *, training: str | Path, validation: str | Path | None = None) -> list[str]:
    args = ["plan", "--training", str(training), "--output-uri", env["output_uri"], "--role-arn", env["role_arn"]]
    if validation is not None:
        args += ["--validation", str(validation)]
    return [*args, "--staging-uri", f"s3://{BUCKET}/staging/", "--epochs", "3", "--batch-size", "8"]


def test_plan_with_local_data_passes_and_estimates(env: dict[str, Any], run: Run, local: Any) -> None:
    argv = _plan_args(env, training=env["train_path"], validation=env["validation_path"])
    code, out, err = run(*argv, "--price-per-1k-training-tokens", "0.01")
    assert (code, err) == (EXIT_OK, "")
    assert "[ok  ] training data: 64 records valid" in out
    assert "records 64, steps/epoch 8, epochs 3, total steps 24" in out
    assert "training cost unknown" not in out
    assert out.rstrip().endswith("Result: ready to submit")

    jobs_before = len(local.jobs())
    code, out, _ = run(*argv, "--json")
    assert code == EXIT_OK
    plan = json.loads(out)
    assert plan["ok"] is True
    assert plan["training"]["records"] == 64 and plan["validation"]["records"] == 32
    assert plan["estimate"]["total_steps"] == 24
    assert len(local.jobs()) == jobs_before  # a plan submits nothing


def test_plan_with_a_failing_check_exits_1(env: dict[str, Any], run: Run) -> None:
    code, out, _ = run(*_plan_args(env, training=f"s3://{BUCKET}/data/missing.jsonl"))
    assert code == EXIT_PROBLEMS
    assert f"[FAIL] training data: s3://{BUCKET}/data/missing.jsonl does not exist" in out
    assert "Result: 1 check(s) failed" in out

    code, out, _ = run(*_plan_args(env, training=f"s3://{BUCKET}/data/missing.jsonl"), "--json")
    assert code == EXIT_PROBLEMS
    plan = json.loads(out)
    assert plan["ok"] is False
    assert [c["name"] for c in plan["checks"] if c["status"] == "fail"] == ["training data"]


def test_plan_with_invalid_local_data_names_the_lines(env: dict[str, Any], run: Run) -> None:
    code, out, _ = run(*_plan_args(env, training=env["bad_path"]))
    assert code == EXIT_PROBLEMS
    failed = next(line for line in out.splitlines() if line.startswith("  [FAIL] training data:"))
    assert "line 3: [last_not_assistant]" in failed


def test_plan_with_an_out_of_range_hyperparameter_is_a_usage_error(env: dict[str, Any], run: Run) -> None:
    code, out, err = run(*_plan_args(env, training=env["train_path"]), "--learning-rate-multiplier", "0.05")
    assert (code, out) == (EXIT_USAGE, "")
    [line] = err.splitlines()
    assert line.startswith("haiku-finetune plan: error: learning_rate_multiplier")


# -- jobs -------------------------------------------------------------------------------------------------------


def test_jobs_list_text_json_and_filters(completed: CustomizationJob, failed: CustomizationJob, run: Run) -> None:
    code, out, err = run("jobs", "list")
    assert (code, err) == (EXIT_OK, "")
    header, rule, *rows = out.splitlines()
    assert header.split() == ["name", "status", "arn"] and set(rule) == {"-", " "}
    assert any(row.split()[:3] == [completed.name, "Completed", completed.arn] for row in rows)
    assert any(row.split()[0] == failed.name for row in rows)

    code, out, _ = run("jobs", "list", "--json", "--name-contains", completed.name)
    assert code == EXIT_OK
    assert json.loads(out) == [
        {"name": completed.name, "arn": completed.arn, "status": "Completed", "stage": None, "failure_message": None}
    ]

    code, out, _ = run("jobs", "list", "--json", "--status", "Completed")
    assert {j["status"] for j in json.loads(out)} == {"Completed"}
    code, out, _ = run("jobs", "list", "--json", "--limit", "1")
    assert len(json.loads(out)) == 1
    code, out, _ = run("jobs", "list", "--name-contains", "no-job-is-called-this")
    assert (code, out.strip()) == (EXIT_OK, "no customization jobs found")


def test_jobs_show_a_completed_job(completed: CustomizationJob, run: Run) -> None:
    code, out, err = run("jobs", "show", completed.name)
    assert (code, err) == (EXIT_OK, "")
    assert f"name:             {completed.name}" in out
    assert "status:           Completed" in out
    assert "'epoch_count': 3" in out

    code, out, _ = run("jobs", "show", completed.arn, "--json")
    shown = json.loads(out)
    assert code == EXIT_OK
    assert (shown["name"], shown["status"]) == (completed.name, "Completed")
    assert shown["hyperparameters"]["batch_size"] == 8


def test_jobs_wait_and_show_on_a_failed_job_print_the_line_numbered_problem(failed: CustomizationJob, run: Run) -> None:
    code, out, err = run("jobs", "wait", failed.name, "--no-progress")
    assert (code, out) == (EXIT_PROBLEMS, "")
    assert err.startswith(f"haiku-finetune jobs wait: error: customization job {failed.name} failed:")
    assert "line 3" in err

    code, out, _ = run("jobs", "show", failed.name)
    assert code == EXIT_PROBLEMS
    assert "status:           Failed" in out
    failure = next(line for line in out.splitlines() if line.startswith("failure_message:"))
    assert "line 3" in failure

    code, out, _ = run("jobs", "show", failed.name, "--json")
    shown = json.loads(out)
    assert code == EXIT_PROBLEMS
    assert shown["status"] == "Failed" and "line 3" in shown["failure_message"]


def test_jobs_wait_on_a_completed_job(completed: CustomizationJob, run: Run) -> None:
    assert run("jobs", "wait", completed.name, "--no-progress") == (EXIT_OK, f"{completed.name}: Completed\n", "")


def test_jobs_wait_timeout_exits_1_and_leaves_the_job_running(
    env: dict[str, Any], transport: hf.BedrockTransport, run: Run
) -> None:
    job = _create(env, transport)
    try:
        code, out, err = run("jobs", "wait", job.name, "--timeout", "0", "--no-progress")
        assert (code, out) == (EXIT_PROBLEMS, "")
        assert err.startswith("haiku-finetune jobs wait: error:")
        assert job.refresh().status == "InProgress"
    finally:
        job.stop()


def test_jobs_stop_a_running_job_then_again(env: dict[str, Any], transport: hf.BedrockTransport, run: Run) -> None:
    job = _create(env, transport)
    assert run("jobs", "stop", job.name) == (EXIT_OK, f"{job.name}: stop requested (status Stopping)\n", "")
    assert job.refresh().status == "Stopping"  # the manual clock has not moved: it stays Stopping for now
    assert run("jobs", "stop", job.name) == (EXIT_OK, f"{job.name}: already stopping; nothing sent\n", "")

    code, out, err = run("jobs", "wait", job.name, "--no-progress")
    assert (code, out) == (EXIT_PROBLEMS, "")
    assert err == f"haiku-finetune jobs wait: error: customization job {job.name} was stopped\n"
    assert run("jobs", "show", job.name)[0] == EXIT_PROBLEMS
    assert run("jobs", "stop", job.name) == (
        EXIT_OK,
        f"{job.name}: already finished (status Stopped); nothing to stop\n",
        "",
    )


def test_jobs_stop_a_finished_job_says_so_and_sends_nothing(completed: CustomizationJob, run: Run, local: Any) -> None:
    stops_before = [op for op, _ in local.responses()].count("StopModelCustomizationJob")
    code, out, err = run("jobs", "stop", completed.name)
    assert (code, err) == (EXIT_OK, "")
    assert out == f"{completed.name}: already finished (status Completed); nothing to stop\n"
    assert [op for op, _ in local.responses()].count("StopModelCustomizationJob") == stops_before
    assert completed.refresh().status == "Completed"


def test_jobs_show_an_unknown_job_names_the_action(run: Run) -> None:
    code, out, err = run("jobs", "show", "no-such-job")
    assert (code, out) == (EXIT_PROBLEMS, "")
    [line] = err.splitlines()
    assert line.startswith("haiku-finetune jobs show: error:")


def test_jobs_metrics_table_explanation_and_json(completed: CustomizationJob, run: Run) -> None:
    code, out, err = run("jobs", "metrics", completed.name)
    assert (code, err) == (EXIT_OK, "")
    lines = out.splitlines()
    assert lines[0].split() == ["epoch", "steps", "mean", "training", "loss", "validation", "loss", "note"]
    assert lines[1].split() == ["-----", "-----", "-" * 18, "-" * 15, "----"]
    rows = [line.split() for line in lines[2:5]]
    assert [row[0] for row in rows] == ["1", "2", "3"]
    assert [float(row[3]) for row in rows] == pytest.approx(LOSSES)
    assert rows[1][-1] == "best" and len(rows[0]) == len(rows[2]) == 4
    assert "Best checkpoint: epoch 2" in out

    code, out, _ = run("jobs", "metrics", completed.arn, "--json")
    metrics = json.loads(out)
    assert code == EXIT_OK
    assert metrics["job"] == completed.arn
    assert metrics["validation_losses"] == pytest.approx(LOSSES)
    assert metrics["best_validation_loss"] == pytest.approx(0.7)
    assert metrics["early_stopping"]["best_epoch"] == 2
    assert metrics["plot"] is None


def test_jobs_metrics_plot_writes_a_png(completed: CustomizationJob, run: Run, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    plot = tmp_path / "loss.png"
    code, out, _ = run("jobs", "metrics", completed.name, "--plot", str(plot))
    assert code == EXIT_OK
    assert out.rstrip().endswith(f"loss plot written to {plot}")
    width, height = _png_size(plot.read_bytes())
    assert width > 0 and height > 0

    again = tmp_path / "again.png"
    code, out, _ = run("jobs", "metrics", completed.name, "--plot", str(again), "--json")
    assert code == EXIT_OK and json.loads(out)["plot"] == str(again)
    assert _png_size(again.read_bytes()) == (width, height)


def test_jobs_metrics_of_a_job_without_metrics_exits_1(failed: CustomizationJob, run: Run, tmp_path: Path) -> None:
    # Whether it has failed yet or not, a job that never trained has no metrics to read.
    plot = tmp_path / "never.png"
    code, out, err = run("jobs", "metrics", failed.name, "--plot", str(plot))
    assert (code, out) == (EXIT_PROBLEMS, "")
    [line] = err.splitlines()
    assert line.startswith("haiku-finetune jobs metrics: error:")
    assert not plot.exists()


# -- deployments ------------------------------------------------------------------------------------------------


class _Terminal:
    """A stand-in for an interactive standard input."""

    def isatty(self) -> bool:
        return True


def test_deployments_list_orphans_delete(
    completed: CustomizationJob, transport: hf.BedrockTransport, run: Run, local: Any
) -> None:
    dep = ProvisionedDeployment.create(completed.custom_model, model_units=1, transport=transport).wait(progress=False)
    try:
        code, out, err = run("deployments", "list")
        assert (code, err) == (EXIT_OK, "")
        assert out.splitlines()[0].split() == ["name", "status", "model", "units", "arn"]
        assert [dep.name, "InService", "1", dep.arn] in [line.split() for line in out.splitlines()[2:]]
        code, out, _ = run("deployments", "list", "--json")
        assert code == EXIT_OK
        assert {"name": dep.name, "arn": dep.arn, "status": "InService", "model_units": 1, "commitment": None} in (
            json.loads(out)
        )

        # An orphan (tagged by the library, still running) is found, and that is exit status 1.
        code, out, _ = run("deployments", "orphans")
        assert code == EXIT_PROBLEMS
        assert dep.arn in out and "still billed by the hour" in out
        code, out, _ = run("deployments", "orphans", "--json")
        assert code == EXIT_PROBLEMS and [d["arn"] for d in json.loads(out)] == [dep.arn]
        # Younger than a century: filtered out.
        assert run("deployments", "orphans", "--older-than", "876000") == (
            EXIT_OK,
            "no deployments created by haiku-finetune are running\n",
            "",
        )

        code, out, err = run("deployments", "delete", dep.name, "--yes")
        assert (code, out, err) == (EXIT_OK, f"deleted {dep.name}\n", "")
        assert local.deployments() == []
    finally:
        if local.deployments():
            dep.delete()
    assert run("deployments", "list") == (EXIT_OK, "no Provisioned Throughput deployments found\n", "")
    assert run("deployments", "orphans") == (EXIT_OK, "no deployments created by haiku-finetune are running\n", "")
    assert run("deployments", "orphans", "--json") == (EXIT_OK, "[]\n", "")


def test_deployments_delete_asks_first(
    completed: CustomizationJob,
    transport: hf.BedrockTransport,
    run: Run,
    local: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    dep = ProvisionedDeployment.create(completed.custom_model, model_units=1, transport=transport)
    try:
        # No terminal to ask on, and no --yes: refused, one line, exit 2.
        monkeypatch.setattr("sys.stdin", type("NoTerminal", (), {"isatty": lambda self: False})())
        code, out, err = run("deployments", "delete", dep.name)
        assert (code, out) == (EXIT_USAGE, "")
        assert err == (
            f"haiku-finetune deployments delete: error: refusing to delete {dep.name} without confirmation: "
            "pass --yes\n"
        )

        # On a terminal, anything but yes keeps it.
        questions: list[str] = []
        monkeypatch.setattr("sys.stdin", _Terminal())
        monkeypatch.setattr("builtins.input", lambda question: questions.append(question) or "n")
        assert run("deployments", "delete", dep.arn) == (EXIT_OK, "not deleted\n", "")
        assert questions == [f"Delete Provisioned Throughput {dep.name} ({dep.arn})? [y/N] "]
        assert [d["provisionedModelArn"] for d in local.deployments()] == [dep.arn]

        monkeypatch.setattr("builtins.input", lambda question: "yes")
        assert run("deployments", "delete", dep.name) == (EXIT_OK, f"deleted {dep.name}\n", "")
        assert local.deployments() == []
    finally:
        if local.deployments():
            dep.delete()


# -- local serve ------------------------------------------------------------------------------------------------


def test_local_serve_prints_the_environment_and_stops_on_ctrl_c() -> None:
    with serve(["-m", "haiku_finetune", "local", "serve", "--seed", "3"], ready="# Serving until Ctrl-C") as served:
        assert served.lines[0].startswith("# LocalBedrock: emulated account 123456789012, region us-west-2")
        assert served.env["AWS_ENDPOINT_URL_BEDROCK"].startswith("http://127.0.0.1:")
        client = served.bedrock()
        assert client.list_foundation_models(byCustomizationType="FINE_TUNING")["modelSummaries"]
        client.close()
    assert served.returncode == EXIT_OK, served.err
    assert served.out.strip() == "# LocalBedrock stopped"
    assert "Traceback" not in served.err


def test_endpoint_url_points_the_aws_commands_at_a_served_emulator(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Only --endpoint-url routes Bedrock calls to the emulator: the environment points them at a dead local port."""
    with serve(["-m", "haiku_finetune", "local", "serve"], ready="# Serving until Ctrl-C") as served:
        url = served.env["AWS_ENDPOINT_URL_BEDROCK"]
        for key, value in served.env.items():
            if key.startswith("AWS_ENDPOINT_URL_BEDROCK"):
                monkeypatch.setenv(key, "http://127.0.0.1:9")  # never the network, even if the flag were ignored
            else:
                monkeypatch.setenv(key, value)
        monkeypatch.delenv("AWS_PROFILE", raising=False)
        assert main(["jobs", "list", "--json", "--endpoint-url", url]) == EXIT_OK
        assert json.loads(capsys.readouterr().out) == []
        assert main(["deployments", "list", "--json", "--endpoint-url", url, "-v"]) == EXIT_OK
        captured = capsys.readouterr()
        assert json.loads(captured.out) == []
        assert "Traceback" not in captured.err
    assert served.returncode == EXIT_OK, served.err
