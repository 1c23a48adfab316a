"""The whole workflow from the command line on LocalBedrock: jobs create, deployments create/show, invoke,
evaluate, search, and --json on every list/show command.

Every command runs through ``main(argv, transport=...)`` on one emulator for the module (manual clock). The
confirmations are checked both ways: refused without --yes when there is no terminal (nothing is created),
declined on a terminal, and agreed up front with --yes.
"""

from __future__ import annotations

import argparse
import builtins
import io
import json
import sys
from pathlib import Path
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import iam
from haiku_finetune.cli import EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, build_parser, main
from tests.e2e.test_jobs_e2e import _records, _write

BUCKET = "haiku-cli-workflow"
LOCAL_BEDROCK_OPTIONS = {"validation_losses": [0.9, 0.7, 0.75]}


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Run:
    """Run the command against the emulator; return (exit status, stdout, stderr)."""

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


@pytest.fixture(autouse=True)
def _no_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Standard input is not a terminal unless a test says so (as in CI, cron, a pipe)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


@pytest.fixture(scope="module")
def env(transport: hf.BedrockTransport, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("data")
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    output = f"s3://{BUCKET}/out/"
    staging = f"s3://{BUCKET}/staging/"
    role = iam.ensure_service_role("haiku-cli-workflow", training=staging, output=output, transport=transport)
    test_records = _records(6, start=500)
    test_records[1]["messages"][-1]["content"] = "technical"
    return {
        "train": _write(folder / "train.jsonl", _records(64)),
        "validation": _write(folder / "validation.jsonl", _records(32, start=100)),
        "test": _write(folder / "test.jsonl", test_records),
        "output_uri": output,
        "staging_uri": staging,
        "role_arn": role,
        "folder": folder,
    }


def _job_flags(env: dict[str, Any]) -> list[str]:
    return [
        "--training",
        str(env["train"]),
        "--validation",
        str(env["validation"]),
        "--staging-uri",
        env["staging_uri"],
        "--output-uri",
        env["output_uri"],
        "--role-arn",
        env["role_arn"],
        "--epochs",
        "3",
        "--batch-size",
        "8",
    ]


@pytest.fixture(scope="module")
def completed(env: dict[str, Any], transport: hf.BedrockTransport) -> dict[str, Any]:
    """A job made with ``jobs create --yes --wait --json`` (module-scoped: training dominates the run time)."""
    out = io.StringIO()
    argv = ["jobs", "create", *_job_flags(env), "--job-name", "cli-flow", "--yes", "--wait", "--no-progress", "--json"]
    real = sys.stdout
    sys.stdout = out
    try:
        code = main(argv, transport=transport)
    finally:
        sys.stdout = real
    assert code == EXIT_OK
    summary: dict[str, Any] = json.loads(out.getvalue())
    return summary


@pytest.fixture(scope="module")
def deployment(completed: dict[str, Any], transport: hf.BedrockTransport) -> dict[str, Any]:
    """A deployment bought with ``deployments create --yes --json``; deleted at the end of the module."""
    model = hf.CustomizationJob.attach(completed["name"], transport=transport).custom_model_arn
    assert model is not None
    out = io.StringIO()
    real = sys.stdout
    sys.stdout = out
    try:
        code = main(["deployments", "create", model, "--name", "cli-flow-pt", "--yes", "--json"], transport=transport)
    finally:
        sys.stdout = real
    assert code == EXIT_OK
    summary: dict[str, Any] = json.loads(out.getvalue())
    yield summary
    hf.ProvisionedDeployment.attach(summary["arn"], transport=transport).delete()


# -- jobs create -------------------------------------------------------------------------------------------------


def test_jobs_create_prints_the_plan_submits_and_waits(completed: dict[str, Any], local: Any) -> None:
    assert completed["name"] == "cli-flow"
    assert completed["status"] == "Completed"
    assert any(job["jobName"] == "cli-flow" for job in local.jobs())


def test_jobs_create_without_yes_off_a_terminal_submits_nothing(env: dict[str, Any], run: Run, local: Any) -> None:
    before = len(local.jobs())
    code, out, err = run("jobs", "create", *_job_flags(env), "--job-name", "cli-refused")
    assert code == EXIT_USAGE
    assert "Result: ready to submit" in out  # the plan is shown first
    assert err.strip().endswith("refusing to submit cli-refused without confirmation: pass --yes")
    assert len(local.jobs()) == before


def test_jobs_create_declined_on_a_terminal_submits_nothing(
    env: dict[str, Any], run: Run, local: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", _Terminal())
    asked: list[str] = []
    monkeypatch.setattr(builtins, "input", lambda question: asked.append(question) or "n")
    before = len(local.jobs())
    code, out, _ = run("jobs", "create", *_job_flags(env), "--job-name", "cli-declined")
    assert (code, out.rstrip().splitlines()[-1]) == (EXIT_OK, "not submitted")
    assert asked == ["Submit customization job cli-declined (billed per token trained)? [y/N] "]
    assert len(local.jobs()) == before


def test_jobs_create_from_a_json_spec_with_flags_over_it(env: dict[str, Any], run: Run, local: Any) -> None:
    spec = env["folder"] / "job.json"
    spec.write_text(
        json.dumps(
            {
                "training_data": str(env["train"]),
                "validation_data": str(env["validation"]),
                "staging_uri": env["staging_uri"],
                "output_uri": env["output_uri"],
                "role_arn": env["role_arn"],
                "job_name": "from-spec",
                "hyperparameters": {"epochCount": "3", "batchSize": "8"},
            }
        ),
        encoding="utf-8",
    )
    code, out, err = run("jobs", "create", "--spec", str(spec), "--job-name", "spec-and-flag", "--yes")
    assert (code, err) == (EXIT_OK, "")
    assert "submitted spec-and-flag (" in out
    job = hf.CustomizationJob.attach("spec-and-flag", transport=run.transport)
    assert job.hyperparameters.resolved()["epoch_count"] == 3
    assert job.hyperparameters.resolved()["batch_size"] == 8


def test_jobs_create_from_a_yaml_spec(env: dict[str, Any], run: Run) -> None:
    pytest.importorskip("yaml")
    spec = env["folder"] / "job.yaml"
    spec.write_text(
        f"training_data: {env['train']}\nvalidation_data: {env['validation']}\nstaging_uri: {env['staging_uri']}\n"
        f"output_uri: {env['output_uri']}\nrole_arn: {env['role_arn']}\njob_name: from-yaml\n"
        "hyperparameters:\n  epoch_count: 3\n  batch_size: 8\n",
        encoding="utf-8",
    )
    code, out, err = run("jobs", "create", "--spec", str(spec), "--yes")
    assert (code, err) == (EXIT_OK, "")
    assert "submitted from-yaml (" in out


def test_a_yaml_spec_without_pyyaml_is_one_line_naming_it(
    env: dict[str, Any], run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = env["folder"] / "nopyyaml.yml"
    spec.write_text("job_name: x\n", encoding="utf-8")
    monkeypatch.setitem(sys.modules, "yaml", None)  # import yaml now raises ImportError
    code, out, err = run("jobs", "create", "--spec", str(spec), "--yes")
    assert (code, out) == (EXIT_USAGE, "")
    assert len(err.strip().splitlines()) == 1
    assert "needs PyYAML" in err and "pip install pyyaml" in err


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("[1, 2]", "expected a mapping of job fields, got list"),
        ('{"training_data": "x", "epochs": 3}', "unknown key(s) epochs"),
        ("{not json", "not valid JSON"),
        ('{"job_name": "only-a-name"}', "missing --training, --output-uri, --role-arn"),
    ],
)
def test_bad_spec_files_are_one_line(env: dict[str, Any], run: Run, content: str, fragment: str) -> None:
    spec = env["folder"] / "bad.json"
    spec.write_text(content, encoding="utf-8")
    code, out, err = run("jobs", "create", "--spec", str(spec), "--yes")
    assert (code, out) == (EXIT_USAGE, "")
    assert len(err.strip().splitlines()) == 1 and fragment in err, err


def test_jobs_create_stops_at_a_failing_check(env: dict[str, Any], run: Run, local: Any) -> None:
    before = len(local.jobs())
    flags = _job_flags(env)
    flags[flags.index("--role-arn") + 1] = "not-an-arn"
    code, _, err = run("jobs", "create", *flags, "--yes")
    assert code == EXIT_PROBLEMS
    assert "a preflight check failed: nothing was submitted" in err
    assert len(local.jobs()) == before


# -- deployments -----------------------------------------------------------------------------------------------


def test_deployments_create_confirms_and_is_in_service(deployment: dict[str, Any]) -> None:
    # The module runs with warnings as errors: a BillingWarning after the user agreed would have failed it.
    assert deployment["name"] == "cli-flow-pt"
    assert deployment["status"] == "InService"


def test_deployments_create_without_yes_off_a_terminal_buys_nothing(
    completed: dict[str, Any], run: Run, local: Any
) -> None:
    before = len(local.deployments())
    model = hf.CustomizationJob.attach(completed["name"], transport=run.transport).custom_model_arn
    code, out, err = run("deployments", "create", str(model))
    assert code == EXIT_USAGE
    assert "billed every hour until it is deleted" in out
    assert "refusing to buy Provisioned Throughput without confirmation: pass --yes" in err
    assert len(local.deployments()) == before


def test_max_lifetime_arms_a_guard_that_deletes_the_deployment(completed: dict[str, Any], run: Run, local: Any) -> None:
    model = hf.CustomizationJob.attach(completed["name"], transport=run.transport).custom_model_arn
    code, out, err = run(
        "deployments", "create", str(model), "--name", "guarded-pt", "--max-lifetime", "1", "--yes", "--json"
    )
    assert code == EXIT_OK, err
    assert "deleted after 1 h by a guard" in err  # said before buying (on stderr with --json)
    arn = json.loads(out)["arn"]
    assert arn in {d["provisionedModelArn"] for d in local.deployments()}
    local.advance(2 * 3600)  # past its lifetime: the guard's schedule fires and deletes it
    assert arn not in {d["provisionedModelArn"] for d in local.deployments()}


def test_deployments_show_text_and_json(deployment: dict[str, Any], run: Run) -> None:
    code, out, _ = run("deployments", "show", "cli-flow-pt", "--json")
    assert code == EXIT_OK
    assert json.loads(out)["arn"] == deployment["arn"]
    code, out, _ = run("deployments", "show", deployment["arn"])
    assert code == EXIT_OK and "status:       InService" in out


# -- invoke ----------------------------------------------------------------------------------------------------


def test_invoke_a_prompt_from_the_argument(deployment: dict[str, Any], run: Run) -> None:
    code, out, err = run("invoke", deployment["arn"], "Ticket: my invoice is wrong", "--system", "Label it.")
    assert code == EXIT_OK and out.strip(), err


def test_invoke_by_deployment_name_from_stdin_as_json(
    deployment: dict[str, Any], run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("Ticket: the app crashes"))
    code, out, _ = run("invoke", "cli-flow-pt", "-", "--max-tokens", "20", "--json")
    reply = json.loads(out)
    assert code == EXIT_OK
    assert reply["model"] == deployment["arn"]
    assert reply["text"] and reply["output_tokens"] >= 1


def test_invoke_streams_the_same_reply(deployment: dict[str, Any], run: Run) -> None:
    prompt = "Ticket: please refund order 7"
    _, whole, _ = run("invoke", deployment["arn"], prompt, "--max-tokens", "30")
    code, streamed, _ = run("invoke", deployment["arn"], prompt, "--max-tokens", "30", "--stream")
    assert code == EXIT_OK
    assert streamed == whole


def test_invoke_with_no_prompt_on_a_terminal_or_an_empty_one_is_a_usage_error(
    deployment: dict[str, Any], run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run("invoke", deployment["arn"], "  ")
    assert code == EXIT_USAGE and "the prompt is empty" in err
    monkeypatch.setattr(sys, "stdin", _Terminal())
    code, _, err = run("invoke", deployment["arn"])
    assert code == EXIT_USAGE and "give a PROMPT, or '-'" in err


# -- evaluate --------------------------------------------------------------------------------------------------


def test_evaluate_writes_the_report_and_prints_the_summary(
    deployment: dict[str, Any], env: dict[str, Any], run: Run, tmp_path: Path
) -> None:
    code, out, err = run(
        "evaluate",
        str(env["test"]),
        "--model",
        f"tuned={deployment['arn']}",
        "--model",
        "base=base",
        "--scorer",
        "label_accuracy",
        "--scorer",
        "exact_match",
        "--output",
        str(tmp_path / "report"),
        "--no-progress",
    )
    assert (code, err) == (EXIT_OK, "")
    assert "Evaluation of 6 examples" in out
    assert "label_accuracy" in out and "exact_match" in out
    assert f"report saved to {tmp_path / 'report'}" in out
    saved = hf.EvaluationReport.load(tmp_path / "report")
    assert list(saved.models) == ["tuned", "base"] and saved.scorers == ["label_accuracy", "exact_match"]


def test_evaluate_as_json(deployment: dict[str, Any], env: dict[str, Any], run: Run, tmp_path: Path) -> None:
    code, out, _ = run(
        "evaluate", str(env["test"]), "--model", deployment["arn"], "--output", str(tmp_path), "--no-progress", "--json"
    )
    summary = json.loads(out)
    assert code == EXIT_OK
    assert summary["report"] == str(tmp_path)
    assert summary["summary"]["tuned"]["examples"] == 6


def test_evaluate_refuses_an_unknown_scorer(env: dict[str, Any], run: Run, tmp_path: Path) -> None:
    code, _, err = run("evaluate", str(env["test"]), "--model", "base", "--scorer", "bleu", "--output", str(tmp_path))
    assert code == EXIT_USAGE and "invalid choice: 'bleu'" in err


# -- search ----------------------------------------------------------------------------------------------------


def test_search_plan_only_submits_nothing(env: dict[str, Any], run: Run, local: Any) -> None:
    before = len(local.jobs())
    code, out, _ = run("search", *_job_flags(env), "--grid", "learning_rate_multiplier=0.5,1", "--plan-only")
    assert code == EXIT_OK
    assert "t00" in out and "t01" in out
    assert len(local.jobs()) == before


def test_search_runs_the_grid_and_ranks_it(env: dict[str, Any], run: Run) -> None:
    code, out, err = run(
        "search",
        *_job_flags(env),
        "--job-name",
        "cli-search",
        "--grid",
        "learning_rate_multiplier=0.5,1",
        "--yes",
        "--no-progress",
        "--json",
    )
    assert code == EXIT_OK, err
    result = json.loads(out)
    assert [t["job_name"] for t in result["trials"]] == ["cli-search-t00", "cli-search-t01"]
    assert all(t["status"] == "Completed" for t in result["trials"])
    assert result["best"]["objective"] == pytest.approx(0.7)
    assert "cli-search-t00" in err  # the plan, on stderr with --json


@pytest.mark.parametrize(
    ("grid", "fragment"),
    [
        ("lr=0.5,1", "unknown hyperparameter 'lr'"),
        ("epoch_count", "expected NAME=V1,V2"),
        ("epoch_count=2,x", "not a number: 'x'"),
    ],
)
def test_search_bad_grids_are_one_line(env: dict[str, Any], run: Run, grid: str, fragment: str) -> None:
    code, _, err = run("search", *_job_flags(env), "--grid", grid, "--yes")
    assert code == EXIT_USAGE and fragment in err and len(err.strip().splitlines()) == 1


def test_search_over_budget_is_refused_before_anything_runs(env: dict[str, Any], run: Run, local: Any) -> None:
    before = len(local.jobs())
    code, _, err = run("search", *_job_flags(env), "--grid", "epoch_count=1,2,3", "--budget", "2", "--yes")
    assert code == EXIT_USAGE and "budget allows 2 jobs" in err
    assert len(local.jobs()) == before


# -- --json everywhere --------------------------------------------------------------------------------------------


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                found.append(((*path, name), child))
                found += _commands(child, (*path, name))
    return found


def test_every_list_and_show_command_has_json() -> None:
    listing = [(p, c) for p, c in _commands(build_parser()) if p[-1] in ("list", "show")]
    assert len(listing) >= 4
    missing = [" ".join(p) for p, c in listing if not any("--json" in a.option_strings for a in c._actions)]
    assert missing == []
