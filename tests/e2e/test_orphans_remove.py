"""Everything billed can be found and removed: `find_billed` lists the library's batch-inference jobs still to run
or running, and ``deployments orphans --all --delete`` (after one y/N question naming every kind) deletes the
deployments, custom models and stale guard schedules and stops the jobs, through `stop_billing`. One LocalBedrock
per test, in this process (manual clock: emulated hours take no time)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune._tags import LIBRARY_TAG_KEY, LIBRARY_TAG_VALUE
from haiku_finetune.cli import EXIT_OK, EXIT_PROBLEMS, main
from haiku_finetune.errors import ConflictError
from haiku_finetune.evaluation.batch_inference import submit_batch_inference
from haiku_finetune.guard import SchedulerGuard
from haiku_finetune.local import LocalBedrock
from haiku_finetune.orphans import Orphan, find_billed, stop_billing
from tests.emulator.test_local_scheduler import BUCKET, make_throughput

pytestmark = pytest.mark.filterwarnings("ignore::haiku_finetune.deployment.BillingWarning")

ROLE = "arn:aws:iam::123456789012:role/guard"
BASE = "anthropic.claude-3-haiku-20240307-v1:0"
BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 16, "messages": [{"role": "user", "content": "hi"}]}
TAG = [{"key": LIBRARY_TAG_KEY, "value": LIBRARY_TAG_VALUE}]


@pytest.fixture
def local() -> Iterator[LocalBedrock]:
    with LocalBedrock(pt_ready_seconds=0) as emulator:
        yield emulator


def _batch(t: hf.BedrockTransport, name: str) -> str:
    return submit_batch_inference(
        BASE, [BODY], staging_uri=f"s3://{BUCKET}/batch/{name}/", role_arn=ROLE, job_name=name, transport=t
    ).arn


def _one_of_each(local: LocalBedrock) -> dict[str, str]:
    """A tagged PT, a tagged unused custom model, a running tagged customization job and batch job, a stale
    guard schedule; return each kind's ARN (the schedule: the PT it guarded)."""
    t = local.transport()
    gone = make_throughput(local, name="gone")  # trains "gone-model" and buys a PT for it
    model = t.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=gone)["modelArn"]
    SchedulerGuard(transport=t, role_arn=ROLE, now=local.clock.now).arm(gone, 24 * 3600)
    t.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=gone)  # the guard is now stale
    pt = hf.ProvisionedDeployment.create(model, name="still-billing", transport=t).arn
    model_two = t.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=make_throughput(local))
    t.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=model_two["provisionedModelArn"])
    t.call("bedrock", "TagResource", resourceARN=model_two["modelArn"], tags=TAG)
    job = hf.CustomizationJob.create(
        training_data=f"s3://{BUCKET}/train.jsonl",
        output_uri=f"s3://{BUCKET}/out/",
        role_arn="arn:aws:iam::123456789012:role/bedrock",
        job_name="still-training",
        skip_checks=True,
        transport=t,
    ).arn
    batch = _batch(t, "still-answering")
    local.advance(30)
    return {
        "provisioned-throughput": pt,
        "custom-model": model_two["modelArn"],
        "customization-job": job,
        "batch-inference-job": batch,
        "guard-schedule": gone,
    }


def test_a_running_tagged_batch_job_is_listed_until_it_completes(local: LocalBedrock) -> None:
    t = local.transport()
    make_throughput(local)  # makes the bucket
    for d in local.deployments():
        t.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=d["provisionedModelArn"])
    ours = _batch(t, "ours")
    theirs = _batch(t, "theirs")
    t.call("bedrock", "UntagResource", resourceARN=theirs, tagKeys=[LIBRARY_TAG_KEY])  # someone else's
    local.advance(90)  # Submitted for a minute, then InProgress

    [found] = [o for o in find_billed(transport=t) if o.kind == "batch-inference-job"]
    assert (found.arn, found.name, found.status) == (ours, "ours", "InProgress")
    assert found.age is not None and timedelta(seconds=90) <= found.age < timedelta(seconds=100)  # from submitTime
    assert found.cost_so_far(hf.Pricing(provisioned_per_model_unit_hour=9.0)) is None  # billed per token
    assert find_billed(older_than=timedelta(hours=1), transport=t) == []

    local.advance(180)  # the emulator completes it
    assert t.call("bedrock", "GetModelInvocationJob", jobIdentifier=ours)["status"] == "Completed"
    assert [o for o in find_billed(transport=t) if o.kind == "batch-inference-job"] == []


def test_orphans_all_delete_yes_removes_every_kind_and_nothing_is_left(
    local: LocalBedrock, capsys: pytest.CaptureFixture[str]
) -> None:
    t = local.transport()
    arns = _one_of_each(local)
    find_billed_before = find_billed(transport=t)
    assert [o.kind for o in find_billed_before] == list(arns)
    assert [o.arn for o in find_billed_before] == list(arns.values())

    assert main(["deployments", "orphans", "--all", "--delete", "--yes"], transport=t) == EXIT_OK
    out = capsys.readouterr().out
    assert "aws bedrock stop-model-invocation-job --job-identifier ARN --region us-west-2" in out
    schedule = next(o.name for o in find_billed_before if o.kind == "guard-schedule")
    done = [line for line in out.splitlines() if line.startswith(("deleted ", "stopped "))]
    assert done == [
        "deleted still-billing",
        "deleted guarded-model",
        "stopped still-training",
        "stopped still-answering",
        f"deleted {schedule}",
    ]
    assert find_billed(transport=t) == []
    assert local.deployments() == []
    assert t.call("bedrock", "GetModelCustomizationJob", jobIdentifier=arns["customization-job"])["status"] in (
        "Stopping",
        "Stopped",
    )
    assert t.call("bedrock", "GetModelInvocationJob", jobIdentifier=arns["batch-inference-job"])["status"] in (
        "Stopping",
        "Stopped",
    )
    with pytest.raises(hf.errors.ResourceNotFoundError):
        t.call("bedrock", "GetCustomModel", modelIdentifier=arns["custom-model"])
    assert t.call("scheduler", "ListSchedules")["Schedules"] == []


def test_the_question_names_every_kind_and_no_means_nothing_is_removed(
    local: LocalBedrock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = local.transport()
    arns = _one_of_each(local)
    questions: list[str] = []
    monkeypatch.setattr("sys.stdin", type("Terminal", (), {"isatty": lambda self: True})())

    def answer_no(question: str) -> str:
        questions.append(question)
        return "n"

    monkeypatch.setattr("builtins.input", answer_no)
    assert main(["deployments", "orphans", "--all", "--delete"], transport=t) == EXIT_PROBLEMS
    assert capsys.readouterr().out.endswith("not deleted\n")
    assert questions == [
        "Delete these 1 Provisioned Throughput(s), 1 custom model(s) (for good, with their trained weights) and "
        "1 stale guard schedule(s), and stop these 1 customization job(s) and 1 batch inference job(s)? [y/N] "
    ]
    assert [o.arn for o in find_billed(transport=t)] == list(arns.values())  # all still there


def test_without_all_delete_removes_only_the_deployments(
    local: LocalBedrock, capsys: pytest.CaptureFixture[str]
) -> None:
    t = local.transport()
    arns = _one_of_each(local)
    assert main(["deployments", "orphans", "--delete", "--yes"], transport=t) == EXIT_OK
    assert capsys.readouterr().out.endswith("deleted still-billing\n")
    assert [o.kind for o in find_billed(transport=t)] == [k for k in arns if k != "provisioned-throughput"]


def test_a_refused_removal_is_one_error_line_the_rest_still_go_and_the_exit_says_so(
    local: LocalBedrock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    t = local.transport()
    arns = _one_of_each(local)

    scanned: list[Orphan] = []

    def scan_then_a_deployment_takes_the_model(**kwargs: Any) -> list[Orphan]:
        scanned.extend(find_billed(**kwargs))
        t.call(  # between the scan and the deletion: the service now refuses to delete the model
            "bedrock",
            "CreateProvisionedModelThroughput",
            provisionedModelName="late",
            modelId=arns["custom-model"],
            modelUnits=1,
        )
        return scanned

    monkeypatch.setattr("haiku_finetune.orphans.find_billed", scan_then_a_deployment_takes_the_model)
    assert main(["deployments", "orphans", "--all", "--delete", "--yes"], transport=t) == EXIT_PROBLEMS
    captured = capsys.readouterr()
    [line] = captured.err.splitlines()
    assert line.startswith("haiku-finetune deployments orphans: error: could not remove custom-model guarded-model:")
    assert "in use" in line
    assert "deleted still-billing" in captured.out and "stopped still-answering" in captured.out
    # The rest went; the model is left, served by the late (untagged, so not the library's) deployment.
    assert find_billed(transport=t) == []
    model = next(o for o in scanned if o.kind == "custom-model")
    with pytest.raises(ConflictError, match="in use"):
        stop_billing(model, transport=t)


def test_stop_billing_on_what_is_already_gone_says_so(local: LocalBedrock) -> None:
    t = local.transport()
    model = (
        "arn:aws:bedrock:us-west-2:123456789012:custom-model/anthropic.claude-3-haiku-20240307-v1:0:200k/abcdef123456"
    )
    job = "arn:aws:bedrock:us-west-2:123456789012:model-invocation-job/abcdef123456"
    assert stop_billing(Orphan("custom-model", "m", model, "Active", None, None), transport=t) == "already gone"
    assert stop_billing(Orphan("batch-inference-job", "j", job, "InProgress", None, None), transport=t) == (
        "already gone"
    )


def test_prices_show_each_ones_cost_so_far(local: LocalBedrock, capsys: pytest.CaptureFixture[str]) -> None:
    t = local.transport()
    _one_of_each(local)
    local.advance(2.5 * 3600)  # three started hours of the PT
    argv = ["deployments", "orphans", "--all", "--json", "--price-per-model-unit-hour", "20"]
    assert main([*argv, "--price-per-model-month", "1.95"], transport=t) == EXIT_PROBLEMS
    costs = {row["kind"]: row["cost_so_far"] for row in json.loads(capsys.readouterr().out)}
    assert costs["provisioned-throughput"] == 60.0
    assert costs["custom-model"] is not None and 0.0 < costs["custom-model"] < 0.1
    assert costs["guard-schedule"] == 0.0  # (the jobs have finished in these emulated hours)
    assert main(["deployments", "orphans", "--price-per-model-unit-hour", "20"], transport=t) == EXIT_PROBLEMS
    assert "60.00 USD" in capsys.readouterr().out


def test_deleting_a_guarded_deployment_also_deletes_its_guard_schedule(
    local: LocalBedrock, capsys: pytest.CaptureFixture[str]
) -> None:
    t = local.transport()
    arns = _one_of_each(local)
    SchedulerGuard(transport=t, role_arn=ROLE, now=local.clock.now).arm(arns["provisioned-throughput"], 3600)
    assert main(["deployments", "orphans", "--delete", "--yes"], transport=t) == EXIT_OK
    capsys.readouterr()
    # Only the stale guard of the earlier deployment is left: the deleted deployment's guard went with it.
    targets = [o.arn for o in find_billed(transport=t) if o.kind == "guard-schedule"]
    assert targets == [arns["guard-schedule"]]


def test_a_batch_job_that_moves_on_between_the_listings_is_listed_once(
    local: LocalBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = local.transport()
    make_throughput(local)
    ours = _batch(t, "ours")
    paginate = t.paginate

    def paginate_and_move_on(service: str, operation: str, **params: Any) -> Any:
        pages = list(paginate(service, operation, **params))
        if params.get("statusEquals") == "Submitted":
            local.advance(90)  # InProgress by the next listing
        return iter(pages)

    monkeypatch.setattr(t, "paginate", paginate_and_move_on)
    batches = [o for o in find_billed(transport=t) if o.kind == "batch-inference-job"]
    assert [(o.arn, o.status) for o in batches] == [(ours, "InProgress")]


def test_a_custom_model_an_on_demand_deployment_serves_is_not_listed(
    local: LocalBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = local.transport()
    arns = _one_of_each(local)
    served = {
        "customModelDeploymentArn": "arn:aws:bedrock:us-west-2:123456789012:custom-model-deployment/abcdef123456",
        "customModelDeploymentName": "on-demand",
        "modelArn": arns["custom-model"],
        "createdAt": local.clock.now(),
        "status": "Active",
    }
    monkeypatch.setattr(
        local._service, "op_ListCustomModelDeployments", lambda params: {"modelDeploymentSummaries": [served]}
    )
    assert "custom-model" not in [o.kind for o in find_billed(transport=t)]


def test_no_terminal_json_and_unknown_kinds_are_refused_in_one_line(
    local: LocalBedrock, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from haiku_finetune.cli import EXIT_USAGE

    t = local.transport()
    arns = _one_of_each(local)
    monkeypatch.setattr("sys.stdin", type("NoTerminal", (), {"isatty": lambda self: False})())
    assert main(["deployments", "orphans", "--all", "--delete"], transport=t) == EXIT_USAGE
    assert capsys.readouterr().err == (
        "haiku-finetune deployments orphans: error: refusing to delete 1 Provisioned Throughput(s), 1 custom model(s) "
        "(for good, with their trained weights) and 1 stale guard schedule(s), and stop 1 customization job(s) and 1 "
        "batch inference job(s) without confirmation: pass --yes\n"
    )
    assert main(["deployments", "orphans", "--all", "--delete", "--json"], transport=t) == EXIT_USAGE
    assert capsys.readouterr().err.endswith("error: --json with --delete needs --yes\n")
    assert [o.arn for o in find_billed(transport=t)] == list(arns.values())  # nothing removed

    # --json --yes: standard output is still one JSON document; what was done goes to standard error.
    assert main(["deployments", "orphans", "--all", "--delete", "--json", "--yes"], transport=t) == EXIT_OK
    captured = capsys.readouterr()
    assert [row["kind"] for row in json.loads(captured.out)] == list(arns)
    assert captured.err.splitlines()[0] == "deleted still-billing"

    with pytest.raises(ValueError, match="unknown orphan kind 'x'"):
        stop_billing(Orphan("x", "n", "arn", "?", None, None), transport=t)  # type: ignore[arg-type]


def test_stop_billing_on_a_deployment_already_gone_says_so(local: LocalBedrock) -> None:
    t = local.transport()
    arns = _one_of_each(local)
    [pt] = [o for o in find_billed(transport=t) if o.kind == "provisioned-throughput"]
    t.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=arns["provisioned-throughput"])
    assert stop_billing(pt, transport=t) == "already gone"
