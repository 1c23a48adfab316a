"""LocalBedrock driven by plain boto3 clients: job lifecycle, the documented early-stopping table, failures."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import math
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from haiku_finetune.errors import UnparseableResponseError
from haiku_finetune.local import EmulatedClock, LocalBedrock

BUCKET = "lifecycle-data"
ROLE = "arn:aws:iam::123456789012:role/BedrockFineTuning"
BASE = "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0:200k"
SEED_LOSSES = [0.9, 0.8, 0.7, 0.66, 0.64, 0.65, 0.65]


@pytest.fixture
def clients(local: LocalBedrock, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    """Plain boto3 clients pointed at the emulator only through ``session_env()``."""
    for name, value in local.session_env().items():
        monkeypatch.setenv(name, value)
    session = boto3.session.Session()
    made = {name: session.client(name) for name in ("bedrock", "s3")}
    made["s3"].create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    yield made
    for client in made.values():
        client.close()


def _records(n: int, start: int = 0) -> bytes:
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"ticket {i}: my card was charged twice"},
                {"role": "assistant", "content": "billing"},
            ]
        }
        for i in range(start, start + n)
    ]
    return b"".join(json.dumps(r).encode() + b"\n" for r in rows)


def _create(bedrock: Any, name: str, *, hyper: dict[str, str] | None = None, validation: bool = True) -> str:
    params: dict[str, Any] = {
        "jobName": name,
        "customModelName": f"{name}-model",
        "roleArn": ROLE,
        "baseModelIdentifier": BASE,
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/train.jsonl"},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/out/{name}/"},
        "hyperParameters": hyper or {"epochCount": "2", "batchSize": "8"},
    }
    if validation:
        params["validationDataConfig"] = {"validators": [{"s3Uri": f"s3://{BUCKET}/validation.jsonl"}]}
    arn: str = bedrock.create_model_customization_job(**params)["jobArn"]
    return arn


def _upload(s3: Any, train: bytes, validation: bytes | None = None) -> None:
    s3.put_object(Bucket=BUCKET, Key="train.jsonl", Body=train)
    if validation is not None:
        s3.put_object(Bucket=BUCKET, Key="validation.jsonl", Body=validation)


def _run_to_end(local: LocalBedrock, bedrock: Any, arn: str, step: float = 60.0) -> list[tuple[str, tuple[str, ...]]]:
    """Advance the clock until the job ends; return each distinct (status, stage statuses) seen."""
    seen: list[tuple[str, tuple[str, ...]]] = []
    for _ in range(10_000):
        job = bedrock.get_model_customization_job(jobIdentifier=arn)
        details = job.get("statusDetails", {})
        stages = tuple(
            details.get(k, {}).get("status", "-")
            for k in ("validationDetails", "dataProcessingDetails", "trainingDetails")
        )
        if not seen or seen[-1] != (job["status"], stages):
            seen.append((job["status"], stages))
        if job["status"] in ("Completed", "Failed", "Stopped"):
            return seen
        local.advance(step)
    raise AssertionError("the job never ended")


def _csv(s3: Any, key: str) -> list[dict[str, str]]:
    body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_full_lifecycle_with_stages_metrics_and_model(local: LocalBedrock, clients: dict[str, Any]) -> None:
    bedrock, s3 = clients["bedrock"], clients["s3"]
    _upload(s3, _records(100), _records(40, start=100))
    arn = _create(bedrock, "lifecycle")
    states = _run_to_end(local, bedrock, arn)
    assert states == [
        ("InProgress", ("InProgress", "NotStarted", "NotStarted")),
        ("InProgress", ("Completed", "InProgress", "NotStarted")),
        ("InProgress", ("Completed", "Completed", "InProgress")),
        ("Completed", ("Completed", "Completed", "Completed")),
    ]
    job = bedrock.get_model_customization_job(jobIdentifier=arn)
    assert job["trainingMetrics"]["trainingLoss"] > 0 and job["validationMetrics"][0]["validationLoss"] > 0
    assert job["outputModelName"] == "lifecycle-model" and job["endTime"] > job["creationTime"]

    job_id = arn.rsplit("/", 1)[-1]
    steps = _csv(
        s3, f"out/lifecycle/model-customization-job-{job_id}/training_artifacts/step_wise_training_metrics.csv"
    )
    assert list(steps[0]) == ["step_number", "epoch_number", "training_loss", "perplexity"]
    per_epoch = math.ceil(100 / 8)
    assert len(steps) == 2 * per_epoch and [r["step_number"] for r in steps] == [str(i) for i in range(26)]
    assert [r["epoch_number"] for r in steps] == ["0"] * per_epoch + ["1"] * per_epoch  # numbered from 0
    for row in steps:
        assert math.isclose(float(row["perplexity"]), math.exp(float(row["training_loss"])), rel_tol=1e-3)
    validation = _csv(
        s3,
        f"out/lifecycle/model-customization-job-{job_id}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
    )
    assert list(validation[0]) == ["step_number", "epoch_number", "validation_loss", "perplexity"]
    assert [r["epoch_number"] for r in validation] == ["0", "1"]

    model = bedrock.get_custom_model(modelIdentifier="lifecycle-model")
    assert model["jobArn"] == arn and model["baseModelArn"] == BASE
    assert [m["modelName"] for m in bedrock.list_custom_models()["modelSummaries"]] == ["lifecycle-model"]
    bedrock.delete_custom_model(modelIdentifier="lifecycle-model")
    with pytest.raises(ClientError) as gone:
        bedrock.get_custom_model(modelIdentifier="lifecycle-model")
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize(
    ("threshold", "patience", "epochs", "final"),
    [("0", "2", 7, "Completed"), ("0.05", "1", 4, "Completed")],
)
def test_the_documented_early_stopping_table(
    local: LocalBedrock, clients: dict[str, Any], threshold: str, patience: str, epochs: int, final: str
) -> None:
    bedrock, s3 = clients["bedrock"], clients["s3"]
    local.validation_losses = SEED_LOSSES
    _upload(s3, _records(64), _records(32, start=64))
    hyper = {
        "epochCount": "10",
        "batchSize": "32",
        "earlyStoppingThreshold": threshold,
        "earlyStoppingPatience": patience,
    }
    arn = _create(bedrock, "table", hyper=hyper)
    assert _run_to_end(local, bedrock, arn, step=600)[-1][0] == final
    job_id = arn.rsplit("/", 1)[-1]
    rows = _csv(
        s3,
        f"out/table/model-customization-job-{job_id}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
    )
    assert [int(r["epoch_number"]) for r in rows] == list(range(epochs))
    assert [float(r["validation_loss"]) for r in rows] == pytest.approx(SEED_LOSSES[:epochs])
    steps = _csv(s3, f"out/table/model-customization-job-{job_id}/training_artifacts/step_wise_training_metrics.csv")
    assert len(steps) == epochs * 2  # ceil(64 / 32) steps per epoch
    # One validation metric per validator: the best epoch's loss (per-epoch losses are in the CSV).
    job = bedrock.get_model_customization_job(jobIdentifier=arn)
    assert job["validationMetrics"] == [{"validationLoss": pytest.approx(min(SEED_LOSSES[:epochs]))}]


def test_pagination_and_stop(local: LocalBedrock, clients: dict[str, Any]) -> None:
    bedrock, s3 = clients["bedrock"], clients["s3"]
    _upload(s3, _records(64), _records(32, start=64))
    arns = [_create(bedrock, f"page-{i}") for i in range(3)]
    names, token = [], None
    while True:
        page = bedrock.list_model_customization_jobs(maxResults=1, **({"nextToken": token} if token else {}))
        names += [s["jobName"] for s in page["modelCustomizationJobSummaries"]]
        token = page.get("nextToken")
        if not token:
            break
    assert sorted(names) == ["page-0", "page-1", "page-2"]

    bedrock.stop_model_customization_job(jobIdentifier=arns[0])
    assert bedrock.get_model_customization_job(jobIdentifier=arns[0])["status"] == "Stopping"
    local.advance(120)
    stopped = bedrock.get_model_customization_job(jobIdentifier=arns[0])
    assert stopped["status"] == "Stopped"
    with pytest.raises(ClientError) as again:
        bedrock.stop_model_customization_job(jobIdentifier=arns[0])
    assert again.value.response["Error"]["Code"] == "ValidationException"
    # A stopped job's name stays taken.
    with pytest.raises(ClientError) as taken:
        _create(bedrock, "page-0")
    assert taken.value.response["Error"]["Code"] == "ConflictException"
    assert taken.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400  # as the service model says


def test_invalid_data_fails_the_job_naming_line_and_rule(local: LocalBedrock, clients: dict[str, Any]) -> None:
    bedrock, s3 = clients["bedrock"], clients["s3"]
    lines = _records(40).splitlines(keepends=True)
    lines[16] = b'{"messages": [{"role": "assistant", "content": "no question"}, {"role": "user", "content": "?"}]}\n'
    _upload(s3, b"".join(lines))
    arn = _create(bedrock, "broken", validation=False)
    states = _run_to_end(local, bedrock, arn)
    assert states[-1] == ("Failed", ("Failed", "NotStarted", "NotStarted"))
    message = bedrock.get_model_customization_job(jobIdentifier=arn)["failureMessage"]
    assert "line 17" in message and "first_not_user" in message
    # A failed job's name stays taken too.
    with pytest.raises(ClientError) as taken:
        _create(bedrock, "broken", validation=False)
    assert taken.value.response["Error"]["Code"] == "ConflictException"


@pytest.mark.parametrize(
    ("change", "code", "status"),
    [
        ({"hyperParameters": {"learningRateMultiplier": "0.05"}}, "ValidationException", 400),
        ({"hyperParameters": {"epochCount": "11"}}, "ValidationException", 400),
        ({"roleArn": "not-a-role"}, "ValidationException", 400),
        ({"trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/missing.jsonl"}}, "ValidationException", 400),
        ({"jobName": "bad name!"}, "ValidationException", 400),
        ({"baseModelIdentifier": "anthropic.claude-3-sonnet-20240229-v1:0"}, "ValidationException", 400),
    ],
)
def test_bad_requests_get_the_real_codes(
    clients: dict[str, Any], change: dict[str, Any], code: str, status: int
) -> None:
    bedrock, s3 = clients["bedrock"], clients["s3"]
    _upload(s3, _records(40))
    params: dict[str, Any] = {
        "jobName": "good-name",
        "customModelName": "good-model",
        "roleArn": ROLE,
        "baseModelIdentifier": BASE,
        "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/train.jsonl"},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/out/"},
        "hyperParameters": {"epochCount": "2"},
    }
    params.update(change)
    with pytest.raises(ClientError) as refused:
        bedrock.create_model_customization_job(**params)
    assert refused.value.response["Error"]["Code"] == code
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []


def test_unknown_job_is_not_found(clients: dict[str, Any]) -> None:
    with pytest.raises(ClientError) as missing:
        clients["bedrock"].get_model_customization_job(jobIdentifier="nope")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_custom_model_name_is_taken_by_a_running_or_finished_job(
    local: LocalBedrock, clients: dict[str, Any]
) -> None:
    bedrock, s3 = clients["bedrock"], clients["s3"]
    _upload(s3, _records(64), _records(32, start=64))
    _create(bedrock, "first")  # its model is "first-model"
    params = {"customModelName": "first-model"}
    with pytest.raises(ClientError) as taken:
        bedrock.create_model_customization_job(
            jobName="second",
            roleArn=ROLE,
            baseModelIdentifier=BASE,
            trainingDataConfig={"s3Uri": f"s3://{BUCKET}/train.jsonl"},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/second/"},
            **params,
        )
    assert taken.value.response["Error"]["Code"] == "ConflictException"
    assert "first-model" in taken.value.response["Error"]["Message"]


def _loss_curve(local: LocalBedrock, bedrock: Any, s3: Any, name: str, lr: str) -> list[float]:
    hyper = {"epochCount": "5", "batchSize": "32", "learningRateMultiplier": lr, "earlyStoppingThreshold": "0"}
    arn = _create(bedrock, name, hyper=hyper)
    assert _run_to_end(local, bedrock, arn, step=600)[-1][0] == "Completed"
    job_id = arn.rsplit("/", 1)[-1]
    rows = _csv(
        s3,
        f"out/{name}/model-customization-job-{job_id}/validation_artifacts/post_fine_tuning_validation/validation_metrics.csv",
    )
    return [float(r["validation_loss"]) for r in rows]


def test_the_default_loss_curve_is_seeded_and_responds_to_the_learning_rate(
    local: LocalBedrock, clients: dict[str, Any]
) -> None:
    bedrock, s3 = clients["bedrock"], clients["s3"]
    _upload(s3, _records(64), _records(32, start=64))
    slow = _loss_curve(local, bedrock, s3, "slow", "0.2")
    fast = _loss_curve(local, bedrock, s3, "fast", "1")
    assert slow == sorted(slow, reverse=True) and fast == sorted(fast, reverse=True)  # decaying
    assert fast[-1] < slow[-1] - 0.1  # a larger multiplier learns faster here
    # Deterministic: a fresh emulator with the same seed draws the same curve for the same job.
    local.stop()
    with LocalBedrock() as again, _clients_for(again) as (bedrock2, s3_2):
        _upload(s3_2, _records(64), _records(32, start=64))
        assert _loss_curve(again, bedrock2, s3_2, "slow", "0.2") == slow
    with LocalBedrock(seed=5) as other, _clients_for(other) as (bedrock3, s3_3):
        _upload(s3_3, _records(64), _records(32, start=64))
        assert _loss_curve(other, bedrock3, s3_3, "slow", "0.2") != slow


@contextlib.contextmanager
def _clients_for(local: LocalBedrock) -> Iterator[tuple[Any, Any]]:
    bedrock, s3 = local.client("bedrock"), local.client("s3")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    try:
        yield bedrock, s3
    finally:
        bedrock.close()
        s3.close()


def test_time_scale_runs_jobs_on_sped_up_real_time() -> None:
    real = [1000.0]  # a fake real monotonic clock: the test never waits
    local = LocalBedrock(time_scale=3600)
    local.clock = EmulatedClock(3600, real_time=lambda: real[0])
    with local, _clients_for(local) as (bedrock, s3):
        _upload(s3, _records(64), _records(32, start=64))
        arn = _create(bedrock, "scaled")
        assert bedrock.get_model_customization_job(jobIdentifier=arn)["status"] == "InProgress"
        real[0] += 0.01  # 36 emulated seconds: still validating
        assert bedrock.get_model_customization_job(jobIdentifier=arn)["status"] == "InProgress"
        real[0] += 10  # ten more real seconds: ten emulated hours
        job = bedrock.get_model_customization_job(jobIdentifier=arn)
        assert job["status"] == "Completed"
        assert local.clock.monotonic() == pytest.approx(10.01 * 3600)


def test_get_foundation_model_offers_haiku_for_fine_tuning(clients: dict[str, Any]) -> None:
    details = clients["bedrock"].get_foundation_model(modelIdentifier=BASE.rsplit("/", 1)[-1])["modelDetails"]
    assert details["modelArn"] == BASE and "FINE_TUNING" in details["customizationsSupported"]
    listed = clients["bedrock"].list_foundation_models(byCustomizationType="FINE_TUNING")["modelSummaries"]
    assert [m["modelArn"] for m in listed] == [BASE]
    with pytest.raises(ClientError) as missing:
        clients["bedrock"].get_foundation_model(modelIdentifier="anthropic.claude-v9")
    assert missing.value.response["Error"]["Code"] in ("ResourceNotFoundException", "ValidationException")


def test_an_api_moto_lacks_is_a_clean_error_without_a_traceback(
    local: LocalBedrock, caplog: pytest.LogCaptureFixture
) -> None:
    transport = local.transport()
    # moto answers a bare HTML 500, which botocore cannot parse (the library's IAM check says "not checked").
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(UnparseableResponseError):
            transport.call(
                "iam",
                "SimulatePrincipalPolicy",
                PolicySourceArn="arn:aws:iam::123456789012:role/x",
                ActionNames=["s3:GetObject"],
            )
        local.stop()  # werkzeug logs after it has answered: stopping joins its threads
    assert not [r for r in caplog.records if r.getMessage().startswith("Error on request")]
    assert any("moto does not implement" in r.getMessage() for r in caplog.records)


def test_the_default_curve_still_learns_at_the_documented_minimum_learning_rate(
    local: LocalBedrock, clients: dict[str, Any]
) -> None:
    bedrock, s3 = clients["bedrock"], clients["s3"]
    _upload(s3, _records(64), _records(32, start=64))
    losses = _loss_curve(local, bedrock, s3, "coolest", "0.1")
    assert len(losses) == 5 and losses == sorted(losses, reverse=True) and losses[-1] < losses[0] - 0.1
