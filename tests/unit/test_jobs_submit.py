"""Submitting a job without the emulator: JobSpec and keyword calls, the request's token, and what create does
when its answer is lost, it is interrupted (Ctrl-C), or the name is taken."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, cast

import pytest

import haiku_finetune as hf
from haiku_finetune import iam
from haiku_finetune.jobs import CustomizationJob, JobSpec
from tests.fakes import FakeClock

ROLE = "arn:aws:iam::123456789012:role/haiku-ft"
ARN = "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/anthropic.claude-3-haiku-20240307-v1:0:200k/abc"
SPEC = JobSpec(
    training_data="s3://b-1/t.jsonl",
    output_uri="s3://b-1/out/",
    role_arn=ROLE,
    hyperparameters={"batchSize": "8"},
    job_name="j1",
    custom_model_name="m1",
)
COMMANDS = (
    "aws bedrock get-model-customization-job --job-identifier j1",
    "aws bedrock stop-model-customization-job --job-identifier j1",
)


@pytest.fixture(autouse=True)
def _no_recent_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(iam, "_touched", {})


class Fake:
    """A transport double: the create and the lookup answer what the test scripts; calls are recorded."""

    def __init__(self, create: Any, lookup: Any) -> None:
        self.clock = FakeClock(0.0)
        self.retry = hf.RetryPolicy(sleep=self.clock.sleep, clock=self.clock.monotonic)
        self.region = "us-west-2"
        self.create, self.lookup = create, lookup
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        self.calls.append((operation, params))
        scripted = {"CreateModelCustomizationJob": self.create, "GetModelCustomizationJob": self.lookup}
        denied = hf.AccessDeniedError("not here", operation=operation, code="AccessDeniedException")
        answer = scripted.get(operation, {"ContentLength": 10} if operation == "HeadObject" else denied)
        if callable(answer):
            answer = answer(params)
        if isinstance(answer, BaseException):
            raise answer
        return cast(dict[str, Any], answer)

    def account_id(self) -> str:
        return "123456789012"

    def token(self) -> str:
        return str(next(p for op, p in self.calls if op == "CreateModelCustomizationJob")["clientRequestToken"])

    def creates(self) -> int:
        return len([c for c in self.calls if c[0] == "CreateModelCustomizationJob"])


def _lost() -> hf.ConnectionFailedError:
    return hf.ConnectionFailedError("connection closed", operation="CreateModelCustomizationJob", attempts=5)


def _found(fake: Fake, token: str | None = None) -> Any:
    def answer(params: dict[str, Any]) -> dict[str, Any]:
        return {"jobArn": ARN, "jobName": params["jobIdentifier"], "clientRequestToken": token or fake.token()}

    return answer


def _not_found(params: dict[str, Any]) -> BaseException:
    return hf.ResourceNotFoundError("no job", operation="GetModelCustomizationJob", code="ResourceNotFoundException")


def _create(fake: Fake, spec: JobSpec = SPEC) -> CustomizationJob:
    return CustomizationJob.create(spec, transport=cast(Any, fake))


# -- the spec --------------------------------------------------------------------------------------------------


def test_spec_and_keywords_describe_the_same_job() -> None:
    a, b = Fake({"jobArn": ARN}, None), Fake({"jobArn": ARN}, None)
    _create(a)
    CustomizationJob.create(**dataclasses.asdict(SPEC), transport=cast(Any, b))
    assert a.calls == b.calls  # same request, same (derived) token
    plan = CustomizationJob.plan(SPEC, job_name="other", transport=cast(Any, Fake(None, _not_found)))
    assert plan.job_name == "other" and plan.custom_model_name == "m1"


def test_spec_is_frozen_and_refuses_unknown_fields() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SPEC.job_name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError, match="trainig_data"):
        CustomizationJob.create(SPEC, trainig_data="s3://b-1/x.jsonl", transport=cast(Any, Fake(None, None)))
    with pytest.raises(TypeError, match="output_uri"):
        CustomizationJob.plan(training_data="s3://b-1/t.jsonl", role_arn=ROLE)


def test_token_is_derived_from_the_request() -> None:
    a, b, c = Fake({"jobArn": ARN}, None), Fake({"jobArn": ARN}, None), Fake({"jobArn": ARN}, None)
    _create(a), _create(b), _create(c, SPEC.replace(hyperparameters={"batchSize": "16"}))
    assert a.token() == b.token() != c.token()


def test_vpc_config_is_taken_with_either_key_style() -> None:
    snake, camel = Fake({"jobArn": ARN}, None), Fake({"jobArn": ARN}, None)
    _create(snake, SPEC.replace(vpc_config={"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1"]}))
    _create(camel, SPEC.replace(vpc_config={"subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"]}))
    assert snake.calls == camel.calls
    sent = next(p for op, p in snake.calls if op == "CreateModelCustomizationJob")
    assert sent["vpcConfig"] == {"subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"]}
    plan = CustomizationJob.plan(
        SPEC, vpc_config={"subnet_ids": [], "securityGroupIds": ["sg-1"]}, transport=cast(Any, Fake(None, _not_found))
    )
    vpc = next(c for c in plan.checks if c.name == "VPC")
    assert vpc.status == "fail" and "got 0 and 1" in vpc.detail


# -- lost answers -------------------------------------------------------------------------------------------


def test_lost_answer_is_resolved_by_a_lookup_by_name(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="haiku_finetune.jobs")
    fake = Fake(_lost(), None)
    fake.lookup = _found(fake)
    job = _create(fake)
    assert job.arn == ARN and job.name == "j1" and fake.creates() == 1
    assert ("GetModelCustomizationJob", {"jobIdentifier": "j1"}) in fake.calls
    assert caplog.text.index("creating customization job j1") < caplog.text.index("was lost")


def test_lost_answer_and_no_such_job_says_it_was_not_created() -> None:
    fake = Fake(_lost(), _not_found)
    with pytest.raises(hf.ConnectionFailedError, match="it was not created") as caught:
        _create(fake)
    assert COMMANDS[0] in str(caught.value)


def test_lost_answer_and_failed_lookup_names_the_job_and_the_commands() -> None:
    lookup_error = hf.ConnectionFailedError("timed out", operation="GetModelCustomizationJob")
    fake = Fake(_lost(), lookup_error)
    with pytest.raises(hf.ConnectionFailedError) as caught:
        _create(fake)
    message = str(caught.value)
    assert "may or may not have been created" in message and all(c in message for c in COMMANDS)


def test_lost_answer_and_a_job_of_another_request_is_a_conflict() -> None:
    fake = Fake(_lost(), None)
    fake.lookup = _found(fake, token="someone-else")
    with pytest.raises(hf.ConflictError, match="made by another request"):
        _create(fake)


# -- Ctrl-C ------------------------------------------------------------------------------------------------


def test_interrupt_after_the_job_was_made_returns_its_handle(caplog: pytest.LogCaptureFixture) -> None:
    fake = Fake(KeyboardInterrupt(), None)
    fake.lookup = _found(fake)
    job = _create(fake)
    assert job.arn == ARN and fake.creates() == 1
    assert COMMANDS[1] in caplog.text  # how to stop the job that was made


def test_interrupt_before_the_job_was_made_is_raised_after_saying_how_to_check(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = Fake(KeyboardInterrupt(), _not_found)
    with pytest.raises(KeyboardInterrupt):
        _create(fake)
    assert COMMANDS[0] in caplog.text and "was not created by this request" in caplog.text


def test_interrupt_and_failed_lookup_is_raised_with_both_commands(caplog: pytest.LogCaptureFixture) -> None:
    fake = Fake(KeyboardInterrupt(), hf.ConnectionFailedError("timed out", operation="GetModelCustomizationJob"))
    with pytest.raises(KeyboardInterrupt):
        _create(fake)
    assert all(c in caplog.text for c in COMMANDS)


# -- a taken name --------------------------------------------------------------------------------------------


def _conflict(params: dict[str, Any]) -> BaseException:
    return hf.ConflictError("name taken", operation="CreateModelCustomizationJob", code="ConflictException")


def test_conflict_with_the_job_of_this_same_request_attaches() -> None:
    fake = Fake(_conflict, None)
    fake.lookup = _found(fake)
    assert _create(fake).arn == ARN


def test_conflict_with_another_job_is_raised() -> None:
    fake = Fake(_conflict, None)
    fake.lookup = _found(fake, token="someone-else")
    with pytest.raises(hf.ConflictError, match="name taken"):
        _create(fake)


def test_conflict_with_a_job_that_reports_no_token_is_raised() -> None:
    fake = Fake(_conflict, {"jobArn": ARN, "jobName": "j1"})
    with pytest.raises(hf.ConflictError, match="name taken"):
        _create(fake)
