"""`find_billed` also lists the library's customization jobs still running and guard schedules whose provisioned
throughput is gone, each with its kind and age on the service's clock. One LocalBedrock in this process (manual
clock: emulated hours take no time); the scheduler is LocalBedrock's own."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune._tags import LIBRARY_TAG_KEY
from haiku_finetune.guard import GUARD_PREFIX, SchedulerGuard
from haiku_finetune.local import LocalBedrock
from haiku_finetune.local.wire import ApiError
from haiku_finetune.orphans import Orphan, find_billed
from tests.emulator.test_local_scheduler import BUCKET, make_throughput

pytestmark = pytest.mark.filterwarnings("ignore::haiku_finetune.deployment.BillingWarning")

ROLE = "arn:aws:iam::123456789012:role/guard"  # given, so no IAM role is made


@pytest.fixture
def local() -> Iterator[LocalBedrock]:
    with LocalBedrock(pt_ready_seconds=0) as emulator:
        yield emulator


def _start_job(t: hf.BedrockTransport, name: str, *, tagged: bool) -> str:
    """Start a fine-tuning job the library's way (it tags the job); untag it to make it someone else's."""
    job = hf.CustomizationJob.create(
        training_data=f"s3://{BUCKET}/train.jsonl",
        output_uri=f"s3://{BUCKET}/out/",
        role_arn="arn:aws:iam::123456789012:role/bedrock",
        job_name=name,
        skip_checks=True,
        transport=t,
    )
    if not tagged:
        t.call("bedrock", "UntagResource", resourceARN=job.arn, tagKeys=[LIBRARY_TAG_KEY])
    return job.arn


def test_running_tagged_jobs_and_stale_guard_schedules_are_listed(local: LocalBedrock) -> None:
    t = local.transport()
    pt = make_throughput(local)  # its model and job are untagged: not the library's, not listed
    handle = SchedulerGuard(transport=t, role_arn=ROLE, now=local.clock.now).arm(pt, 24 * 3600)
    t.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=pt)  # the guard is now stale
    job = _start_job(t, "billed-job", tagged=True)
    _start_job(t, "someone-elses-job", tagged=False)
    local.advance(5 * 60)

    found = find_billed(transport=t)
    assert [o.kind for o in found] == ["customization-job", "guard-schedule"]
    running, stale = found
    assert (running.arn, running.name, running.status) == (job, "billed-job", "InProgress")
    assert running.age is not None and timedelta(minutes=5) <= running.age < timedelta(minutes=6)
    assert running.cost_so_far(hf.Pricing(training_per_1k_tokens=1.0)) is None  # per token, not per hour
    assert stale.name.startswith(GUARD_PREFIX) and (stale.arn, stale.status) == (pt, "stale")
    assert stale.age is not None and stale.age >= timedelta(minutes=5)
    assert stale.cost_so_far(hf.Pricing()) == 0.0
    assert find_billed(older_than=timedelta(days=1), transport=t) == []

    # The job ends and the stale schedule is deleted: nothing of either kind is left.
    for _ in range(1000):
        if t.call("bedrock", "GetModelCustomizationJob", jobIdentifier=job)["status"] != "InProgress":
            break
        local.advance(600)
    handle.release()
    assert [o.kind for o in find_billed(transport=t) if o.kind in ("customization-job", "guard-schedule")] == []


def test_a_guard_schedule_whose_throughput_exists_is_not_listed(local: LocalBedrock) -> None:
    t = local.transport()
    pt = make_throughput(local)
    SchedulerGuard(transport=t, role_arn=ROLE, now=local.clock.now).arm(pt, 3600)
    assert [o.kind for o in find_billed(transport=t)] == []  # the PT is untagged (made by hand) and guarded


def test_a_scan_refused_the_schedules_still_lists_what_bills(
    local: LocalBedrock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    t = local.transport()
    make_throughput(local)  # puts the training data in place
    job = _start_job(t, "billed-job", tagged=True)

    def refuse(params: dict[str, Any]) -> dict[str, Any]:
        raise ApiError("AccessDeniedException", "not authorized to perform: scheduler:ListSchedules", 403)

    monkeypatch.setattr(local.scheduler, "op_ListSchedules", refuse)
    with caplog.at_level(logging.WARNING, logger="haiku_finetune.orphans"):
        assert [o.arn for o in find_billed(transport=t)] == [job]
    assert "guard schedules not listed (access denied)" in caplog.text


def test_cost_so_far_by_kind() -> None:
    job = Orphan("customization-job", "j", "arn:j", "InProgress", None, timedelta(hours=3))
    schedule = Orphan("guard-schedule", "g", "arn:pt", "stale", None, None)
    assert job.cost_so_far(hf.Pricing(provisioned_per_model_unit_hour=5.0)) is None
    assert schedule.cost_so_far(hf.Pricing()) == 0.0


def test_the_cli_lists_running_jobs_and_stale_schedules_with_all(
    local: LocalBedrock, capsys: pytest.CaptureFixture[str]
) -> None:
    """``deployments orphans --all`` shows every kind find_billed finds, each with how to remove it; exit 1."""
    from haiku_finetune.cli import EXIT_OK, EXIT_PROBLEMS, main

    t = local.transport()
    pt = make_throughput(local)
    SchedulerGuard(transport=t, role_arn=ROLE, now=local.clock.now).arm(pt, 24 * 3600)
    t.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=pt)
    _start_job(t, "billed-job", tagged=True)
    local.advance(5 * 60)

    assert main(["deployments", "orphans"], transport=t) == EXIT_OK  # deployments only: none
    capsys.readouterr()
    assert main(["deployments", "orphans", "--all"], transport=t) == EXIT_PROBLEMS
    out = capsys.readouterr().out
    assert "billed-job" in out and "aws bedrock stop-model-customization-job --job-identifier NAME" in out
    assert GUARD_PREFIX in out and pt in out and "aws scheduler delete-schedule --name NAME" in out
    assert main(["deployments", "orphans", "--all", "--json"], transport=t) == EXIT_PROBLEMS
    kinds = [row["kind"] for row in json.loads(capsys.readouterr().out)]
    assert kinds == ["customization-job", "guard-schedule"]
