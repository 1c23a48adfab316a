"""CustomizationJob without the emulator: the exact create request (botocore Stubber), names, plan checks that
need no AWS, waiting (poll counts on a fake clock), stages, failures, the role-propagation retry, manifests."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, cast

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.stub import ANY, Stubber

import haiku_finetune as hf
from haiku_finetune import iam, jobs
from haiku_finetune.jobs import CustomizationJob
from haiku_finetune.pricing import Pricing
from tests.fakes import FakeClock

ROLE = "arn:aws:iam::123456789012:role/service-role/haiku-ft"
JOB_ARN = (
    "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/anthropic.claude-3-haiku-20240307-v1:0:200k/"
    "abcdefghijkl"
)
MODEL_ARN = (
    "arn:aws:bedrock:us-west-2:123456789012:custom-model/anthropic.claude-3-haiku-20240307-v1:0:200k/mnopqrstuvwx"
)
SEED_HYPERPARAMETERS = {
    "epochCount": "5",
    "batchSize": "32",
    "learningRateMultiplier": "0.05",
    "earlyStoppingThreshold": "0.001",
    "earlyStoppingPatience": "2",
}
IN_RANGE = {**SEED_HYPERPARAMETERS, "learningRateMultiplier": "0.5"}
SEED_ARGS: dict[str, Any] = {
    "training_data": "s3://my-bucket/haiku/train.jsonl",
    "validation_data": "s3://my-bucket/haiku/validation.jsonl",
    "output_uri": "s3://my-bucket/outputs/output-finetuned-model/",
    "role_arn": ROLE,
    "job_name": "model-finetune-job-2024-06-01-12-00-00",
    "custom_model_name": "finetuned-model-2024-06-01-12-00-00",
}
LIBRARY_TAG = {"key": "created-by", "value": "haiku-finetune"}


@pytest.fixture(autouse=True)
def _no_recent_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Roles touched by other tests must not open a propagation window here."""
    monkeypatch.setattr(iam, "_touched", {})


def _bedrock() -> Any:
    return boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-west-2").client(
        "bedrock", config=Config(retries={"total_max_attempts": 1})
    )


def _s3(head: dict[str, Any] | None = None) -> Any:
    """An S3 client whose every HeadObject gets ``head`` (default: an object without checksum or metadata),
    offline; the params it was called with are kept in ``client.heads``."""
    client = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-west-2").client(
        "s3", config=Config(retries={"total_max_attempts": 1})
    )
    client.heads = []

    def answer(params: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]]:
        client.heads.append(params)
        return _Http(), {"ContentLength": 10, **(head or {})}

    client.meta.events.register("before-call.s3.HeadObject", answer)
    return client


class _Http:
    """The HTTP response a botocore ``before-call`` handler returns with its parsed answer."""

    def __init__(self) -> None:
        self.status_code = 200
        self.headers: dict[str, str] = {}


def _sts() -> Any:
    """An STS client that answers GetCallerIdentity offline (S3 calls name the caller's account as bucket owner)."""
    client = boto3.Session(aws_access_key_id="x", aws_secret_access_key="x", region_name="us-west-2").client(
        "sts", config=Config(retries={"total_max_attempts": 1})
    )

    def answer(**_: Any) -> tuple[Any, dict[str, Any]]:
        return _Http(), {"Account": "123456789012", "Arn": "arn:aws:iam::123456789012:user/test", "UserId": "test"}

    client.meta.events.register("before-call.sts.GetCallerIdentity", answer)
    return client


def _transport(client: Any, clock: FakeClock | None = None, s3: Any = None) -> hf.BedrockTransport:
    clock = clock or FakeClock()
    retry = hf.RetryPolicy(sleep=clock.sleep, clock=clock.monotonic)
    clients = {"bedrock": client, "s3": s3 or _s3(), "sts": _sts()}
    return hf.BedrockTransport(clients=clients, retry=retry, clock=clock)


# -- the exact request ---------------------------------------------------------------------------------------


def test_seed_example_exact_request() -> None:
    client = _bedrock()
    expected = {
        "jobName": SEED_ARGS["job_name"],
        "customModelName": SEED_ARGS["custom_model_name"],
        "roleArn": ROLE,
        "baseModelIdentifier": "anthropic.claude-3-haiku-20240307-v1:0:200k",
        "customizationType": "FINE_TUNING",
        "hyperParameters": IN_RANGE,
        "trainingDataConfig": {"s3Uri": "s3://my-bucket/haiku/train.jsonl"},
        "validationDataConfig": {"validators": [{"s3Uri": "s3://my-bucket/haiku/validation.jsonl"}]},
        "outputDataConfig": {"s3Uri": "s3://my-bucket/outputs/output-finetuned-model/"},
        "clientRequestToken": ANY,
        "jobTags": [LIBRARY_TAG],
        "customModelTags": [LIBRARY_TAG],
    }
    tokens: list[str] = []
    client.meta.events.register_first(
        "before-parameter-build.bedrock.CreateModelCustomizationJob",
        lambda params, **_: tokens.append(params["clientRequestToken"]),
    )
    with Stubber(client) as stub:
        stub.add_response("create_model_customization_job", {"jobArn": JOB_ARN}, expected)
        job = CustomizationJob.create(**SEED_ARGS, hyperparameters=IN_RANGE, transport=_transport(client))
        stub.assert_no_pending_responses()
    assert job.arn == JOB_ARN and job.name == SEED_ARGS["job_name"] and job.status == "InProgress"
    assert len(tokens) == 1 and re.fullmatch(r"[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?", tokens[0])
    assert job.hyperparameters.learning_rate_multiplier == 0.5 and job.hyperparameters.epoch_count == 5
    assert job.creation_plan is not None and job.creation_plan.ok


def test_seed_learning_rate_is_refused_before_any_call() -> None:
    client = _bedrock()
    with Stubber(client) as stub:  # no responses queued: any call would fail the test
        with pytest.raises(hf.HyperparameterError, match="learning_rate_multiplier") as caught:
            CustomizationJob.create(**SEED_ARGS, hyperparameters=SEED_HYPERPARAMETERS, transport=_transport(client))
        stub.assert_no_pending_responses()
    assert caught.value.field == "learning_rate_multiplier" and caught.value.value == 0.05


def test_extra_tags_kms_and_vpc_in_request() -> None:
    client = _bedrock()
    key = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    with Stubber(client) as stub:
        stub.add_response(
            "create_model_customization_job",
            {"jobArn": JOB_ARN},
            {
                "jobName": "j1",
                "customModelName": "m1",
                "roleArn": ROLE,
                "baseModelIdentifier": hf.BASE_MODEL_ID,
                "customizationType": "FINE_TUNING",
                "trainingDataConfig": {"s3Uri": "s3://b-1/t.jsonl"},
                "outputDataConfig": {"s3Uri": "s3://b-1/out/"},
                "customModelKmsKeyId": key,
                "vpcConfig": {"subnetIds": ["subnet-1"], "securityGroupIds": ["sg-1"]},
                "clientRequestToken": ANY,
                "jobTags": [{"key": "team", "value": "nlp"}, LIBRARY_TAG],
                "customModelTags": [{"key": "owner", "value": "me"}, LIBRARY_TAG],
            },
        )
        CustomizationJob.create(
            training_data="s3://b-1/t.jsonl",
            output_uri="s3://b-1/out/",
            role_arn=ROLE,
            job_name="j1",
            custom_model_name="m1",
            kms_key_id=key,
            vpc_config={"subnet_ids": ["subnet-1"], "security_group_ids": ["sg-1"]},
            job_tags={"team": "nlp"},
            model_tags={"owner": "me"},
            transport=_transport(client),
        )
        stub.assert_no_pending_responses()


@pytest.mark.parametrize("which", ["job_tags", "model_tags"])
def test_a_user_tag_cannot_replace_the_library_tag(which: str) -> None:
    client = _bedrock()
    with Stubber(client) as stub:  # nothing queued: any call would fail the test
        with pytest.raises(ValueError, match="'created-by' is reserved"):
            CustomizationJob.create(**SEED_ARGS, **{which: {"created-by": "alice"}}, transport=_transport(client))
        with pytest.raises(ValueError, match="'created-by' is reserved"):
            CustomizationJob.plan(**SEED_ARGS, **{which: {"created-by": "alice"}}, transport=_transport(client))
        stub.assert_no_pending_responses()


def test_the_library_tag_given_by_the_user_is_sent_once() -> None:
    from haiku_finetune._tags import with_library_tag

    tags = with_library_tag({"created-by": "haiku-finetune", "team": "nlp"})
    assert tags == [{"key": "team", "value": "nlp"}, LIBRARY_TAG]


def test_failing_local_check_submits_nothing_unless_skipped() -> None:
    client = _bedrock()
    bad = {**SEED_ARGS, "job_name": "-bad name-", "hyperparameters": IN_RANGE}
    with Stubber(client) as stub:
        with pytest.raises(hf.PlanCheckError, match="job name") as caught:
            CustomizationJob.create(**bad, transport=_transport(client))
        plan = caught.value.plan
        assert isinstance(plan, jobs.JobPlan) and not plan.ok
        assert [c.name for c in plan.failures] == ["names"]
        stub.add_response("create_model_customization_job", {"jobArn": JOB_ARN})
        CustomizationJob.create(**bad, skip_checks=True, transport=_transport(client))
        stub.assert_no_pending_responses()


# -- names -----------------------------------------------------------------------------------------------------


def _pattern(member: str) -> re.Pattern[str]:
    model = botocore.session.get_session().get_service_model("bedrock")
    input_shape = model.operation_model("CreateModelCustomizationJob").input_shape
    assert input_shape is not None
    shape = input_shape.members[member]
    return re.compile(shape.metadata["pattern"])


def test_generated_names_match_the_service_model() -> None:
    job_pattern, model_pattern = _pattern("jobName"), _pattern("customModelName")
    for prefix in ("haiku-ft", "My Project!", "x" * 80, "---", "a_b"):
        job, model = jobs.generate_names(prefix, now=datetime(2024, 6, 1, 12, 0, 0, tzinfo=timezone.utc))
        assert job_pattern.fullmatch(job) and len(job) <= 63, job
        assert model_pattern.fullmatch(model) and len(model) <= 63, model
        assert "20240601-120000" in job and "20240601-120000" in model
    first, second = jobs.generate_names(), jobs.generate_names()
    assert first != second  # the random suffix keeps same-second jobs apart


@pytest.mark.parametrize("name", ["job-1", "a", "A.b+c-d", "x" * 63])
def test_valid_job_names(name: str) -> None:
    assert jobs.validate_job_name(name) is None
    assert _pattern("jobName").fullmatch(name)


@pytest.mark.parametrize("name", ["", "-a", "a_b", "a b", "x" * 64])
def test_invalid_job_names(name: str) -> None:
    assert jobs.validate_job_name(name) is not None


@pytest.mark.parametrize(("name", "ok"), [("model_1-a", True), ("a--b", False), ("a__b", False), ("a.b", False)])
def test_model_names(name: str, ok: bool) -> None:
    assert (jobs.validate_model_name(name) is None) is ok
    assert bool(_pattern("customModelName").fullmatch(name)) is ok


# -- a scripted transport for the job lifecycle ------------------------------------------------------------------


class ScriptedTransport:
    """Answers GetModelCustomizationJob from a function of emulated time; records every call."""

    def __init__(self, describe: Any, clock: FakeClock | None = None) -> None:
        self.clock = clock or FakeClock(0.0)
        self.retry = hf.RetryPolicy(sleep=self.clock.sleep, clock=self.clock.monotonic)
        self.region = "us-west-2"
        self.describe = describe
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.responses: dict[str, Any] = {
            "HeadObject": {"ContentLength": 10},  # create reads S3 data's checksum
            "GetFoundationModel": {"modelDetails": {"modelLifecycle": {"status": "ACTIVE"}}},
        }

    def account_id(self) -> str:
        return "123456789012"

    def now(self) -> datetime:
        # Before Claude 3 Haiku's Legacy period in us-west-2: the plan's lifecycle check passes.
        return datetime(2026, 2, 1, tzinfo=timezone.utc)

    def call(self, service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        self.calls.append((operation, params))
        if operation == "GetModelCustomizationJob":
            return cast(dict[str, Any], self.describe(self.clock.now))
        answer = self.responses[operation]
        if isinstance(answer, BaseException):
            raise answer
        if callable(answer):
            return cast(dict[str, Any], answer(params))
        return cast(dict[str, Any], answer)


def _description(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "jobArn": JOB_ARN,
        "jobName": "j1",
        "outputModelName": "m1",
        "roleArn": ROLE,
        "status": status,
        "baseModelArn": "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:200k",
        "hyperParameters": {"epochCount": "3", "batchSize": "8"},
        "trainingDataConfig": {"s3Uri": "s3://b-1/t.jsonl"},
        "validationDataConfig": {"validators": [{"s3Uri": "s3://b-1/v.jsonl"}]},
        "outputDataConfig": {"s3Uri": "s3://b-1/out/"},
        "creationTime": datetime(2024, 6, 1, tzinfo=timezone.utc),
        **extra,
    }


def _job(transport: ScriptedTransport) -> CustomizationJob:
    return CustomizationJob(_description("InProgress"), transport=cast(hf.BedrockTransport, transport))


def test_two_hour_job_takes_fewer_than_150_polls() -> None:
    transport = ScriptedTransport(lambda now: _description("Completed" if now >= 7200 else "InProgress"))
    job = _job(transport).wait(progress=False)
    polls = [c for c in transport.calls if c[0] == "GetModelCustomizationJob"]
    assert job.status == "Completed"
    assert len(polls) < 150
    assert 40 <= len(polls) <= 80  # about 65: 30 s growing by 25 % to 2 min
    sleeps = transport.clock.sleeps
    assert sleeps[0] == pytest.approx(30.0) and max(sleeps) == pytest.approx(120.0)
    assert sleeps == sorted(sleeps)


def test_failed_job_raises_with_the_service_message() -> None:
    message = "Training data line 17: the last message must be from the assistant"
    transport = ScriptedTransport(
        lambda now: _description("Failed", failureMessage=message) if now > 60 else _description("InProgress")
    )
    with pytest.raises(hf.JobFailedError) as caught:
        _job(transport).wait(progress=False)
    assert caught.value.failure_message == message
    assert "line 17" in str(caught.value) and caught.value.job_arn == JOB_ARN


def test_stopped_job_raises_stopped() -> None:
    transport = ScriptedTransport(lambda now: _description("Stopped"))
    with pytest.raises(hf.JobStoppedError):
        _job(transport).wait(progress=False)


def test_timeout_leaves_the_job_running() -> None:
    transport = ScriptedTransport(lambda now: _description("InProgress"))
    with pytest.raises(hf.WaitTimeoutError) as caught:
        _job(transport).wait(timeout=600, progress=False)
    assert caught.value.last_status == "InProgress"
    assert transport.clock.now == pytest.approx(600)
    assert not any(op == "StopModelCustomizationJob" for op, _ in transport.calls)


def test_ctrl_c_says_how_to_reattach(capsys: pytest.CaptureFixture[str]) -> None:
    def interrupt(now: float) -> dict[str, Any]:
        if now > 100:
            raise KeyboardInterrupt
        return _description("InProgress")

    transport = ScriptedTransport(interrupt)
    with pytest.raises(KeyboardInterrupt):
        _job(transport).wait(progress=False)
    assert "CustomizationJob.attach('j1').wait()" in capsys.readouterr().err
    assert not any(op == "StopModelCustomizationJob" for op, _ in transport.calls)


def test_stage_from_status_details() -> None:
    def details(validation: str, processing: str, training: str) -> dict[str, Any]:
        return {
            "validationDetails": {"status": validation},
            "dataProcessingDetails": {"status": processing},
            "trainingDetails": {"status": training},
        }

    def stage(**extra: Any) -> str | None:
        return CustomizationJob(_description("InProgress", **extra), transport=cast(Any, ScriptedTransport(None))).stage

    assert stage() is None
    assert stage(statusDetails=details("InProgress", "NotStarted", "NotStarted")) == "validation"
    assert stage(statusDetails=details("Completed", "InProgress", "NotStarted")) == "data processing"
    assert stage(statusDetails=details("Completed", "Completed", "InProgress")) == "training"
    assert stage(statusDetails=details("Completed", "Completed", "Completed")) == "completed"


def test_custom_model_only_after_completion() -> None:
    transport = ScriptedTransport(lambda now: _description("InProgress"))
    job = _job(transport)
    with pytest.raises(hf.JobError, match="wait"):
        _ = job.custom_model
    transport.describe = lambda now: _description("Completed", outputModelArn=MODEL_ARN)
    model = job.refresh().custom_model
    assert model.arn == MODEL_ARN and model.name == "m1" and model.job_arn == JOB_ARN
    assert model.hyperparameters is not None and model.hyperparameters.epoch_count == 3


def test_stop_is_a_no_op_once_ended() -> None:
    transport = ScriptedTransport(lambda now: _description("Completed"))
    _job(transport).stop()
    assert [op for op, _ in transport.calls] == ["GetModelCustomizationJob"]


def test_manifest_of_an_attached_job_uses_its_tags(tmp_path: Path) -> None:
    transport = ScriptedTransport(lambda now: _description("Completed", outputModelArn=MODEL_ARN))
    transport.responses["ListTagsForResource"] = {
        "tags": [
            LIBRARY_TAG,
            {"key": "haiku-finetune:training-sha256", "value": "ab" * 32},
            {"key": "haiku-finetune:training-records", "value": "120"},
        ]
    }
    manifest = _job(transport).manifest(tmp_path / "m" / "manifest.json")
    assert manifest["datasets"]["training"]["sha256"] == "ab" * 32
    assert manifest["datasets"]["training"]["records"] == 120
    assert manifest["datasets"]["validation"]["uri"] == "s3://b-1/v.jsonl"
    assert manifest["job"]["arn"] == JOB_ARN and manifest["custom_model"]["arn"] == MODEL_ARN
    assert manifest["hyperparameters"]["effective"]["epoch_count"] == 3
    assert manifest["library"]["version"] == hf.__version__ and manifest["region"] == "us-west-2"
    assert json.loads((tmp_path / "m" / "manifest.json").read_text()) == manifest


# -- role propagation ----------------------------------------------------------------------------------------


def _refusal() -> hf.ServiceValidationError:
    return hf.ServiceValidationError(
        "Could not assume the provided IAM role. Check its trust policy.",
        operation="CreateModelCustomizationJob",
        code="ValidationException",
    )


def _create_args() -> dict[str, Any]:
    return {**SEED_ARGS, "hyperparameters": IN_RANGE, "job_name": "j1", "custom_model_name": "m1"}


def test_fresh_role_refusal_is_retried_with_the_same_token(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = ScriptedTransport(None)
    monkeypatch.setitem(iam._touched, ROLE, (transport.clock, transport.clock.now))
    attempts: list[str] = []

    def create(params: dict[str, Any]) -> dict[str, Any]:
        attempts.append(params["clientRequestToken"])
        if len(attempts) < 4:
            raise _refusal()
        return {"jobArn": JOB_ARN}

    transport.responses["CreateModelCustomizationJob"] = create
    job = CustomizationJob.create(
        **{**SEED_ARGS, "role_arn": ROLE}, hyperparameters=IN_RANGE, transport=cast(Any, transport)
    )
    assert job.arn == JOB_ARN
    assert len(attempts) == 4 and len(set(attempts)) == 1
    assert 0 < transport.clock.now <= iam.ROLE_PROPAGATION_SECONDS


def test_refusal_gives_up_after_the_window(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = ScriptedTransport(None)
    monkeypatch.setitem(iam._touched, ROLE, (transport.clock, transport.clock.now))
    transport.responses["CreateModelCustomizationJob"] = lambda params: (_ for _ in ()).throw(_refusal())
    with pytest.raises(hf.ServiceValidationError, match="propagating"):
        CustomizationJob.create(**_create_args(), transport=cast(Any, transport))
    assert transport.clock.now == pytest.approx(iam.ROLE_PROPAGATION_SECONDS)


def test_refusal_of_an_old_role_is_not_retried() -> None:
    transport = ScriptedTransport(None)
    transport.responses["CreateModelCustomizationJob"] = _refusal()
    with pytest.raises(hf.ServiceValidationError):
        CustomizationJob.create(**_create_args(), transport=cast(Any, transport))
    assert transport.clock.sleeps == []
    assert len([c for c in transport.calls if c[0] == "CreateModelCustomizationJob"]) == 1


def test_role_touched_under_another_clock_is_still_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = ScriptedTransport(None)
    monkeypatch.setitem(iam._touched, ROLE, (FakeClock(), 0.0))
    transport.responses["CreateModelCustomizationJob"] = lambda params: (_ for _ in ()).throw(_refusal())
    with pytest.raises(hf.ServiceValidationError):
        CustomizationJob.create(**_create_args(), transport=cast(Any, transport))
    assert transport.clock.now == pytest.approx(iam.ROLE_PROPAGATION_SECONDS)


def test_other_refusals_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    transport = ScriptedTransport(None)
    monkeypatch.setitem(iam._touched, ROLE, (transport.clock, transport.clock.now))
    transport.responses["CreateModelCustomizationJob"] = hf.ServiceValidationError(
        "batchSize must be at most 256", operation="CreateModelCustomizationJob", code="ValidationException"
    )
    with pytest.raises(hf.ServiceValidationError, match="batchSize"):
        CustomizationJob.create(**_create_args(), transport=cast(Any, transport))
    assert transport.clock.sleeps == []


# -- local plan checks and the estimate ------------------------------------------------------------------------


def test_estimate_numbers_and_cost() -> None:
    hp = hf.Hyperparameters(epoch_count=3, batch_size=8)
    estimate = jobs.estimate_job(
        records=100, tokens=50_000, hyperparameters=hp, pricing=Pricing(training_per_1k_tokens=0.01)
    )
    assert (estimate.steps_per_epoch, estimate.total_steps) == (13, 39)
    assert estimate.training_tokens == 150_000 and estimate.cost == pytest.approx(1.5)
    unpriced = jobs.estimate_job(records=None, tokens=None, hyperparameters=hp)
    assert unpriced.cost is None and unpriced.total_steps is None
    assert any("no training price" in n for n in unpriced.notes)


def test_plan_reports_local_problems_without_raising() -> None:
    transport = ScriptedTransport(None)
    transport.responses.update(
        {
            "GetBucketLocation": {"LocationConstraint": "us-west-2"},
            "HeadObject": {"ContentLength": 10},
            "GetRole": hf.AccessDeniedError("no", operation="GetRole", code="AccessDenied"),
            "SimulatePrincipalPolicy": hf.AccessDeniedError("no", operation="Sim", code="AccessDenied"),
            "ListFoundationModels": {"modelSummaries": [{"modelId": hf.BASE_MODEL_ID}]},
            "GetCustomModel": hf.ResourceNotFoundError(
                "none", operation="GetCustomModel", code="ResourceNotFoundException"
            ),
        }
    )
    transport.describe = lambda now: (_ for _ in ()).throw(
        hf.ResourceNotFoundError("none", operation="GetModelCustomizationJob", code="ResourceNotFoundException")
    )
    plan = CustomizationJob.plan(
        training_data="s3://b-1/my data.jsonl",
        output_uri="s3://b-1/out/",
        role_arn="not-an-arn",
        hyperparameters=SEED_HYPERPARAMETERS,
        transport=cast(Any, transport),
    )
    status = {c.name: c.status for c in plan.checks}
    assert status["hyperparameters"] == "fail" and status["role ARN"] == "fail" and status["S3 locations"] == "fail"
    assert status["base model"] == "pass" and status["job name free"] == "pass" and status["model name free"] == "pass"
    assert status["batch size"] == "not checked"
    assert not plan.ok
    text = str(plan)
    assert "[FAIL] hyperparameters" in text and "0.05" in text and "Result: 3 check(s) failed" in text
    assert plan.model_dump(mode="json")["checks"]


def test_plan_degrades_aws_checks_to_not_checked() -> None:
    denied = hf.AccessDeniedError("User is not authorized", operation="X", code="AccessDeniedException")
    transport = ScriptedTransport(lambda now: (_ for _ in ()).throw(denied))
    for op in (
        "GetBucketLocation",
        "HeadObject",
        "GetRole",
        "SimulatePrincipalPolicy",
        "ListFoundationModels",
        "GetCustomModel",
        "GetFoundationModel",
    ):
        transport.responses[op] = denied
    plan = CustomizationJob.plan(**SEED_ARGS, hyperparameters=IN_RANGE, transport=cast(Any, transport))
    remote = [c for c in plan.checks if not c.local]
    assert {c.name for c in remote} == {
        "bucket region",
        "training data",
        "validation data",
        "role trust",
        "role permissions",
        "base model",
        "job name free",
        "model name free",
        "base model lifecycle",
    }
    lifecycle = next(c for c in remote if c.name == "base model lifecycle")
    remote = [c for c in remote if c is not lifecycle]
    assert lifecycle.status == "pass" and "profile only" in lifecycle.detail  # the profile decides when denied
    assert all(c.status == "not checked" and "not allowed" in c.detail for c in remote)
    assert plan.ok  # nothing failed; "not checked" does not block


def test_plan_fails_on_wrong_region_missing_object_and_taken_names() -> None:
    transport = ScriptedTransport(lambda now: _description("Failed"))
    transport.responses.update(
        {
            "GetBucketLocation": {"LocationConstraint": "eu-west-1"},
            "HeadObject": hf.ResourceNotFoundError("Not Found", operation="HeadObject", code="404"),
            "GetRole": {
                "Role": {
                    "RoleName": "haiku-ft",
                    "Arn": ROLE,
                    "AssumeRolePolicyDocument": iam.trust_policy("123456789012", "us-west-2"),
                }
            },
            "SimulatePrincipalPolicy": {"EvaluationResults": [{"EvalDecision": "implicitDeny"}]},
            "ListFoundationModels": {"modelSummaries": [{"modelId": "anthropic.claude-3-haiku-20240307-v1:0"}]},
            "GetCustomModel": {"modelArn": MODEL_ARN},
        }
    )
    plan = CustomizationJob.plan(**SEED_ARGS, hyperparameters=IN_RANGE, transport=cast(Any, transport))
    status = {c.name: (c.status, c.detail) for c in plan.checks}
    assert status["bucket region"][0] == "fail" and "eu-west-1" in status["bucket region"][1]
    assert status["training data"] == ("fail", "s3://my-bucket/haiku/train.jsonl does not exist")
    assert status["role trust"][0] == "pass"
    assert status["role permissions"][0] == "fail" and "implicitDeny" in status["role permissions"][1]
    assert status["base model"][0] == "fail" and "offered Haiku models" in status["base model"][1]
    assert status["job name free"][0] == "fail" and "cannot be reused" in status["job name free"][1]
    assert status["model name free"][0] == "fail"
    with pytest.raises(hf.PlanCheckError, match="bucket region"):
        plan.raise_for_failures()
    plan.raise_for_failures(local_only=True)  # every failure needs AWS to see


def test_s3_checksum_becomes_the_dataset_sha() -> None:
    import base64
    import hashlib

    digest = hashlib.sha256(b"data").digest()
    assert jobs._staging.sha256_hex(base64.b64encode(digest).decode()) == digest.hex()
    assert jobs._staging.sha256_hex("abc-3") is None and jobs._staging.sha256_hex(None) is None


def test_create_reads_the_sha256_and_record_count_of_s3_data_for_the_manifest() -> None:
    import base64
    import hashlib

    digest = hashlib.sha256(b"training bytes").digest()
    transport = ScriptedTransport(lambda now: _description("InProgress"))
    heads = {
        "train.jsonl": {
            "ContentLength": 14,
            "ChecksumSHA256": base64.b64encode(digest).decode(),
            "Metadata": {"haiku-finetune-records": "900"},
        },
        "validation.jsonl": {"ContentLength": 5, "ChecksumSHA256": "abc-3"},  # uploaded in parts: composite
    }
    transport.responses["HeadObject"] = lambda params: heads[params["Key"].rsplit("/", 1)[-1]]
    sent: list[dict[str, Any]] = []
    transport.responses["CreateModelCustomizationJob"] = lambda params: sent.append(params) or {"jobArn": JOB_ARN}
    job = CustomizationJob.create(**_create_args(), transport=cast(Any, transport))
    assert all(p.get("ChecksumMode") == "ENABLED" for op, p in transport.calls if op == "HeadObject")
    datasets = job.manifest()["datasets"]
    assert datasets["training"] == {
        "uri": "s3://my-bucket/haiku/train.jsonl",
        "sha256": digest.hex(),
        "records": 900,
        "bytes": 14,
        "tokens": None,
        "note": None,
    }
    validation = datasets["validation"]
    assert validation["sha256"] is None and validation["records"] is None and validation["bytes"] == 5
    assert "composite checksum" in validation["note"] and "upload_dataset" in validation["note"]
    # The same details go into the job's tags, so a manifest rebuilt after attach has them too.
    tags = {t["key"]: t["value"] for t in sent[0]["jobTags"]}
    assert tags["haiku-finetune:training-sha256"] == digest.hex() and tags["haiku-finetune:training-records"] == "900"


def test_s3_data_that_cannot_be_read_leaves_the_manifest_details_unknown_with_why() -> None:
    transport = ScriptedTransport(lambda now: _description("InProgress"))
    transport.responses["HeadObject"] = hf.AccessDeniedError("Forbidden", operation="HeadObject", code="403")
    transport.responses["CreateModelCustomizationJob"] = {"jobArn": JOB_ARN}
    job = CustomizationJob.create(**_create_args(), transport=cast(Any, transport))  # the create goes ahead
    training = job.manifest()["datasets"]["training"]
    assert training["sha256"] is None and "could not read the object's checksum" in training["note"]


def test_hyperparameters_from_snake_case_mapping_and_bad_type() -> None:
    assert jobs._coerce_hyperparameters({"epoch_count": 3}).epoch_count == 3
    assert jobs._coerce_hyperparameters({"epochCount": "4"}).epoch_count == 4
    with pytest.raises(hf.HyperparameterError):
        jobs._coerce_hyperparameters(cast(Any, [1, 2]))


# -- list and attach through the real botocore model ---------------------------------------------------------


def _summary(name: str, status: str) -> dict[str, Any]:
    return {
        "jobArn": JOB_ARN.replace("abcdefghijkl", f"{name:0<12}"[:12]),
        "jobName": name,
        "status": status,
        "baseModelArn": "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:200k",
        "creationTime": datetime(2024, 6, 1, tzinfo=timezone.utc),
    }


def test_list_reads_every_page_with_filters() -> None:
    client = _bedrock()
    filters = {
        "sortBy": "CreationTime",
        "sortOrder": "Descending",
        "statusEquals": "Completed",
        "nameContains": "haiku",
        "creationTimeAfter": datetime(2024, 1, 1, tzinfo=timezone.utc),
    }
    with Stubber(client) as stub:
        stub.add_response(
            "list_model_customization_jobs",
            {"modelCustomizationJobSummaries": [_summary("haiku-a", "Completed")], "nextToken": "page2"},
            filters,
        )
        stub.add_response(
            "list_model_customization_jobs",
            {"modelCustomizationJobSummaries": [_summary("haiku-b", "Completed")]},
            {**filters, "nextToken": "page2"},
        )
        found = CustomizationJob.list(
            status="Completed",
            name_contains="haiku",
            created_after=datetime(2024, 1, 1, tzinfo=timezone.utc),
            transport=_transport(client),
        )
        stub.assert_no_pending_responses()
    assert [(j.name, j.status) for j in found] == [("haiku-a", "Completed"), ("haiku-b", "Completed")]


def test_attach_by_name_and_lazy_details() -> None:
    client = _bedrock()
    full = {
        **_description("InProgress"),
        "statusDetails": {"validationDetails": {"status": "InProgress"}},
    }
    with Stubber(client) as stub:
        stub.add_response("get_model_customization_job", full, {"jobIdentifier": "j1"})
        job = CustomizationJob.attach("j1", transport=_transport(client))
        stub.assert_no_pending_responses()
    assert job.arn == JOB_ARN and job.job_id == "abcdefghijkl" and job.stage == "validation"
    assert job.output_uri == "s3://b-1/out/" and job.validation_uris == ["s3://b-1/v.jsonl"]
    assert job.training_uri == "s3://b-1/t.jsonl" and job.custom_model_name == "m1"
    assert "j1" in repr(job)

    # A list summary lacks the details: the first property that needs them fetches them once.
    client = _bedrock()
    with Stubber(client) as stub:
        summary = {**_summary("j1", "InProgress"), "jobArn": JOB_ARN}
        stub.add_response("get_model_customization_job", full, {"jobIdentifier": JOB_ARN})
        summary_job = CustomizationJob(summary, transport=_transport(client))
        assert summary_job.status == "InProgress"
        assert summary_job.output_uri == "s3://b-1/out/"
        assert summary_job.training_uri == "s3://b-1/t.jsonl"
        stub.assert_no_pending_responses()


def test_attach_unknown_job_is_not_found() -> None:
    client = _bedrock()
    with Stubber(client) as stub:
        stub.add_client_error("get_model_customization_job", "ResourceNotFoundException", "no such job", 404)
        with pytest.raises(hf.ResourceNotFoundError):
            CustomizationJob.attach("nope", transport=_transport(client))


def test_stop_running_job_through_botocore() -> None:
    client = _bedrock()
    with Stubber(client) as stub:
        stub.add_response("get_model_customization_job", _description("InProgress"), {"jobIdentifier": JOB_ARN})
        stub.add_response("stop_model_customization_job", {}, {"jobIdentifier": JOB_ARN})
        stub.add_response("get_model_customization_job", _description("Stopping"), {"jobIdentifier": JOB_ARN})
        job = CustomizationJob(_description("InProgress"), transport=_transport(client)).stop()
        stub.assert_no_pending_responses()
    assert job.status == "Stopping"
