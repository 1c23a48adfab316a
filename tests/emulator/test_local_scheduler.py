"""The emulated EventBridge Scheduler: one-time schedules that delete a Provisioned Throughput on the emulated clock."""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from haiku_finetune.errors import ConflictError
from haiku_finetune.guard import at_expression
from haiku_finetune.local import LocalBedrock
from haiku_finetune.local.scheduler import DELETE_PT_TARGET, Scheduler
from haiku_finetune.local.wire import ApiError

ROLE = "arn:aws:iam::123456789012:role/guard"
BUCKET = "scheduler-emulation"


def make_throughput(local: LocalBedrock, name: str = "guarded") -> str:
    """Train a one-epoch custom model on the emulator and buy a Provisioned Throughput for it; return its ARN."""
    transport = local.transport()
    with contextlib.suppress(ConflictError):  # a second PT in the same emulator
        transport.call(
            "s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"}
        )
    record = {
        "messages": [{"role": "user", "content": "Ticket: charged twice"}, {"role": "assistant", "content": "billing"}]
    }
    body = "".join(json.dumps(record) + "\n" for _ in range(40)).encode()
    transport.call("s3", "PutObject", Bucket=BUCKET, Key="train.jsonl", Body=body)
    job = transport.call(
        "bedrock",
        "CreateModelCustomizationJob",
        jobName=f"{name}-job",
        customModelName=f"{name}-model",
        roleArn="arn:aws:iam::123456789012:role/bedrock",
        baseModelIdentifier="anthropic.claude-3-haiku-20240307-v1:0:200k",
        customizationType="FINE_TUNING",
        trainingDataConfig={"s3Uri": f"s3://{BUCKET}/train.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
        hyperParameters={"epochCount": "1", "batchSize": "8"},
    )["jobArn"]
    for _ in range(1000):
        status = transport.call("bedrock", "GetModelCustomizationJob", jobIdentifier=job)["status"]
        if status != "InProgress":
            break
        local.advance(600)
    assert status == "Completed", status
    model = transport.call("bedrock", "GetModelCustomizationJob", jobIdentifier=job)["outputModelArn"]
    arn: str = transport.call(
        "bedrock", "CreateProvisionedModelThroughput", modelUnits=1, provisionedModelName=name, modelId=model
    )["provisionedModelArn"]
    return arn


def _live(local: LocalBedrock) -> set[str]:
    return {d["provisionedModelArn"] for d in local.deployments()}


def _definition(local: LocalBedrock, arn: str, *, after: float = 3600, name: str = "g1") -> dict[str, Any]:
    return {
        "Name": name,
        "ScheduleExpression": at_expression(local.clock.now() + timedelta(seconds=after)),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "ActionAfterCompletion": "DELETE",
        "Target": {"Arn": DELETE_PT_TARGET, "RoleArn": ROLE, "Input": json.dumps({"ProvisionedModelId": arn})},
    }


@pytest.fixture
def emulated(local: LocalBedrock) -> tuple[LocalBedrock, Scheduler, str]:
    return local, Scheduler.for_emulator(local), make_throughput(local)


def test_a_schedule_fires_on_the_emulated_clock_and_really_deletes_the_pt(
    emulated: tuple[LocalBedrock, Scheduler, str],
) -> None:
    local, scheduler, arn = emulated
    scheduler.handle("CreateSchedule", _definition(local, arn, after=3600))
    local.advance(3599)
    assert scheduler.fire_due() == []
    assert arn in _live(local)
    local.advance(2)
    fired = scheduler.fire_due()
    assert [(f.provisioned_arn, f.outcome) for f in fired] == [(arn, "ok")]
    assert arn not in _live(local)
    assert 1.0 <= local.meter(arn) <= 1.01  # billed the hour, and no longer
    assert scheduler.schedules() == []  # ActionAfterCompletion=DELETE


def test_update_moves_and_delete_cancels(emulated: tuple[LocalBedrock, Scheduler, str]) -> None:
    local, scheduler, arn = emulated
    scheduler.handle("CreateSchedule", _definition(local, arn, after=60))
    scheduler.handle("UpdateSchedule", _definition(local, arn, after=7200))
    local.advance(3600)
    assert scheduler.fire_due() == []
    got = scheduler.handle("GetSchedule", {"Name": "g1"})
    assert got["ScheduleExpression"] == _definition(local, arn, after=3600)["ScheduleExpression"]
    scheduler.handle("DeleteSchedule", {"Name": "g1"})
    local.advance(7200)
    assert scheduler.fire_due() == []
    assert arn in _live(local)


def test_a_schedule_whose_pt_is_gone_records_the_failure(emulated: tuple[LocalBedrock, Scheduler, str]) -> None:
    local, scheduler, arn = emulated
    scheduler.handle("CreateSchedule", _definition(local, arn, after=10))
    local.transport().call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=arn)
    local.advance(11)
    (fired,) = scheduler.fire_due()
    assert fired.outcome.startswith("ResourceNotFoundException")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ScheduleExpression": "rate(5 minutes)"}, "only one-time"),
        ({"ScheduleExpressionTimezone": "Europe/Paris"}, "only ScheduleExpressionTimezone UTC"),
        ({"Target": {"Arn": "arn:aws:sqs:us-west-2:123456789012:q", "RoleArn": ROLE}}, "only the target"),
        ({"Target": {"Arn": DELETE_PT_TARGET, "RoleArn": ROLE, "Input": "{}"}}, "must set ProvisionedModelId"),
    ],
)
def test_what_is_not_emulated_is_refused_by_name(
    emulated: tuple[LocalBedrock, Scheduler, str], change: dict[str, Any], message: str
) -> None:
    local, scheduler, arn = emulated
    with pytest.raises(ApiError, match=message) as raised:
        scheduler.handle("CreateSchedule", {**_definition(local, arn), **change})
    assert raised.value.code == "ValidationException"


def test_over_http_with_plain_boto3(emulated: tuple[LocalBedrock, Scheduler, str]) -> None:
    local, _, arn = emulated
    # Served on LocalBedrock's own port, as session_env() says.
    url = local.session_env()["AWS_ENDPOINT_URL_SCHEDULER"]
    assert url == local.endpoint_url
    client = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-west-2"
    ).client("scheduler", endpoint_url=url)
    created = client.create_schedule(**_definition(local, arn, after=600))
    assert created["ScheduleArn"].endswith(":schedule/default/g1")
    with pytest.raises(ClientError) as taken:
        client.create_schedule(**_definition(local, arn, after=600))
    assert taken.value.response["Error"]["Code"] == "ConflictException"
    listed = client.list_schedules(NamePrefix="g")["Schedules"]
    assert [s["Name"] for s in listed] == ["g1"]
    got = client.get_schedule(Name="g1")
    assert got["Target"]["Arn"] == DELETE_PT_TARGET
    assert got["ActionAfterCompletion"] == "DELETE"
    local.advance(601)
    with pytest.raises(ClientError) as gone:  # fired (before answering) and removed itself
        client.get_schedule(Name="g1")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    client.close()
    assert arn not in _live(local)


def test_localbedrock_serves_the_scheduler_on_its_own_port_and_advance_fires(local: LocalBedrock) -> None:
    from haiku_finetune.guard import SchedulerGuard

    arn = make_throughput(local)
    assert local.session_env()["AWS_ENDPOINT_URL_SCHEDULER"] == local.endpoint_url
    transport = local.transport()
    handle = SchedulerGuard(transport=transport, now=local.clock.now).arm(arn, 3600)
    (schedule,) = transport.call("scheduler", "ListSchedules")["Schedules"]
    assert schedule["Name"] == handle.schedule_name
    assert [s["Name"] for s in local.scheduler.schedules()] == [handle.schedule_name]
    local.advance(3601)  # advance() fires what fell due
    assert arn not in _live(local)
    assert [(i.provisioned_arn, i.outcome) for i in local.scheduler.invocations] == [(arn, "ok")]
    handle.release()  # the schedule removed itself on firing: releasing is still fine
    assert transport.call("scheduler", "ListSchedules")["Schedules"] == []
