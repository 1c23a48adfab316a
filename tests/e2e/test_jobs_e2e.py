"""End to end on LocalBedrock (manual clock, no real sleeping): role, upload, plan, create, wait, metrics, the
documented early-stopping table, a job failing on bad data, re-attach, stop, and a create retried under
throttling that makes exactly one job."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import iam, storage
from haiku_finetune.jobs import CustomizationJob

BUCKET = "haiku-e2e"
DOC_LOSSES = [0.9, 0.8, 0.7, 0.66, 0.64, 0.65, 0.65]


def _records(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {
            "system": "You label support tickets with one word.",
            "messages": [
                {"role": "user", "content": f"Ticket {i}: my invoice number {i} shows the wrong amount."},
                {"role": "assistant", "content": "billing"},
            ],
        }
        for i in range(start, start + n)
    ]


def _write(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def data(transport: hf.BedrockTransport, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A bucket with valid training and validation data in S3, and a service role."""
    folder = tmp_path_factory.mktemp("data")
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    train = storage.upload_dataset(
        _write(folder / "train.jsonl", _records(64)), f"s3://{BUCKET}/data/", transport=transport
    )
    validation = storage.upload_dataset(
        _write(folder / "validation.jsonl", _records(32, start=100)),
        f"s3://{BUCKET}/data/",
        split="validation",
        transport=transport,
    )
    output = f"s3://{BUCKET}/out/"
    role = iam.ensure_service_role("haiku-e2e", training=f"s3://{BUCKET}/data/", output=output, transport=transport)
    return {"training_data": train, "validation_data": validation, "output_uri": output, "role_arn": role}


@pytest.fixture
def env(local: Any, transport: hf.BedrockTransport, data: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Job arguments; the emulator's loss curve and faults are reset after each test."""
    yield {**data, "transport": transport}
    local.validation_losses = None
    local.faults = None


def test_plan_create_wait_metrics_scenario_1(env: dict[str, Any], local: Any) -> None:
    local_losses(local, DOC_LOSSES)
    hp = hf.Hyperparameters(epoch_count=7, batch_size=8, early_stopping_threshold=0.0, early_stopping_patience=2)
    plan = CustomizationJob.plan(**env, hyperparameters=hp, pricing=hf.Pricing(training_per_1k_tokens=0.01))
    status = {c.name: c.status for c in plan.checks}
    assert plan.ok, str(plan)
    for name in ("bucket region", "training data", "validation data", "role trust", "base model", "job name free"):
        assert status[name] == "pass", (name, str(plan))
    assert status["role permissions"] in ("pass", "not checked")

    job = CustomizationJob.create(**env, hyperparameters=hp)
    assert job.status == "InProgress"
    assert job.wait(progress=False) is job and job.status == "Completed"
    metrics = job.metrics()
    assert metrics.epoch_validation_losses() == pytest.approx(DOC_LOSSES)
    result = metrics.early_stopping()
    assert (result.stopped_epoch, result.best_epoch) == (7, 5) and result.best_loss == pytest.approx(0.64)
    assert "Best checkpoint: epoch 5" in str(result)

    model = job.custom_model
    assert model.arn.startswith("arn:aws:bedrock:us-west-2:123456789012:custom-model/")
    assert hf.CustomModel.get(model.arn, transport=env["transport"]).name == job.custom_model_name
    tags = job.tags()
    assert tags["created-by"] == "haiku-finetune"
    manifest = job.manifest()
    assert manifest["datasets"]["training"]["uri"] == env["training_data"]
    assert manifest["custom_model"]["arn"] == model.arn and manifest["job"]["status"] == "Completed"


def test_scenario_2_stops_at_epoch_4(env: dict[str, Any], local: Any) -> None:
    local_losses(local, DOC_LOSSES)
    hp = hf.Hyperparameters(epoch_count=7, batch_size=8, early_stopping_threshold=0.05, early_stopping_patience=1)
    job = CustomizationJob.create(**env, hyperparameters=hp).wait(progress=False)
    metrics = job.metrics()
    assert metrics.epoch_validation_losses() == pytest.approx(DOC_LOSSES[:4])
    result = metrics.early_stopping()
    assert (result.stopped_epoch, result.best_epoch) == (4, 4) and result.best_loss == pytest.approx(0.66)


def test_invalid_data_fails_with_the_line_numbered_message(env: dict[str, Any], tmp_path: Path) -> None:
    records = _records(40)
    records[2] = {"messages": [{"role": "user", "content": "no answer here"}]}
    bad = storage.upload_dataset(
        _write(tmp_path / "bad.jsonl", records),
        f"s3://{BUCKET}/data/bad.jsonl",
        validate=False,
        transport=env["transport"],
    )
    job = CustomizationJob.create(**{**env, "training_data": bad, "validation_data": None})
    with pytest.raises(hf.JobFailedError) as caught:
        job.wait(progress=False)
    assert caught.value.failure_message and "line 3" in caught.value.failure_message
    assert caught.value.failure_message in str(caught.value)
    assert job.failure_message == caught.value.failure_message


def test_reattach_by_name_and_stop(env: dict[str, Any]) -> None:
    job = CustomizationJob.create(**env, hyperparameters=hf.Hyperparameters(epoch_count=3, batch_size=8))
    again = CustomizationJob.attach(job.name, transport=env["transport"])
    assert again.arn == job.arn and again.status == "InProgress"
    assert [j.arn for j in CustomizationJob.list(name_contains=job.name, transport=env["transport"])] == [job.arn]
    again.stop()
    assert again.status in ("Stopping", "Stopped")
    with pytest.raises(hf.JobStoppedError):
        again.wait(progress=False)
    assert CustomizationJob.attach(job.arn, transport=env["transport"]).status == "Stopped"


# throttle, drop and server_error refuse the request before it is handled; lose_response lets the first two
# attempts create and drops their answers, so only the reused clientRequestToken keeps it to one job.
@pytest.mark.parametrize("fault", ["throttle", "drop", "server_error", "lose_response"])
def test_retried_create_makes_exactly_one_job(env: dict[str, Any], local: Any, fault: str) -> None:
    from haiku_finetune.local import Faults

    spec: dict[str, Any] = {fault: {"CreateModelCustomizationJob": 2}}
    local.faults = Faults(**spec)
    before = len(local.jobs())
    job = CustomizationJob.create(**env, hyperparameters=hf.Hyperparameters(batch_size=8))
    jobs = local.jobs()
    assert len(jobs) == before + 1
    assert job.arn in {_arn(j) for j in jobs}


def test_local_data_is_validated_staged_and_hashed(env: dict[str, Any], tmp_path: Path) -> None:
    train = _write(tmp_path / "local-train.jsonl", _records(40))
    args = {**env, "training_data": train, "validation_data": None, "staging_uri": f"s3://{BUCKET}/data/staging/"}
    job = CustomizationJob.create(**args, hyperparameters=hf.Hyperparameters(batch_size=8))
    sha = hashlib.sha256(train.read_bytes()).hexdigest()
    assert job.training_uri == f"s3://{BUCKET}/data/staging/{sha}/train.jsonl"  # by content, not by job name
    info = job.manifest()["datasets"]["training"]
    assert info["sha256"] == sha and info["records"] == 40
    assert job.tags()["haiku-finetune:training-records"] == "40"


def test_s3_data_keeps_its_sha256_and_record_count_in_the_manifest(env: dict[str, Any]) -> None:
    import hashlib

    t = env["transport"]
    # Data uploaded by upload_dataset (the module's fixture), then used by its S3 URI.
    job = CustomizationJob.create(**env, hyperparameters=hf.Hyperparameters(batch_size=8))
    datasets = job.manifest()["datasets"]
    expected = "".join(json.dumps(r) + "\n" for r in _records(64)).encode("utf-8")
    assert datasets["training"]["uri"] == env["training_data"]
    assert datasets["training"]["sha256"] == hashlib.sha256(expected).hexdigest()
    assert datasets["training"]["records"] == 64 and datasets["training"]["bytes"] == len(expected)
    assert datasets["training"]["note"] is None
    assert datasets["validation"]["records"] == 32 and datasets["validation"]["sha256"]
    # Re-attached, the manifest gets the same from the job's tags.
    again = CustomizationJob.attach(job.name, transport=t).manifest()["datasets"]["training"]
    assert (again["sha256"], again["records"]) == (datasets["training"]["sha256"], 64)

    # Data put there some other way: no SHA-256 checksum, no record count, and the note says so.
    t.call("s3", "PutObject", Bucket=BUCKET, Key="data/plain.jsonl", Body=expected)
    plain = CustomizationJob.create(
        **{**env, "training_data": f"s3://{BUCKET}/data/plain.jsonl"}, hyperparameters=hf.Hyperparameters(batch_size=8)
    )
    entry = plain.manifest()["datasets"]["training"]
    assert entry["sha256"] is None and entry["records"] is None and entry["bytes"] == len(expected)
    assert "no SHA-256" in entry["note"] and "upload_dataset" in entry["note"]


def test_invalid_local_data_is_refused_before_anything(env: dict[str, Any], tmp_path: Path, local: Any) -> None:
    records = _records(40)
    records[4]["messages"].append({"role": "user", "content": "dangling"})
    bad = _write(tmp_path / "bad.jsonl", records)
    before = len(local.jobs())
    args = {**env, "training_data": bad, "validation_data": None, "staging_uri": f"s3://{BUCKET}/staging/"}
    with pytest.raises(hf.PlanCheckError, match="line 5"):
        CustomizationJob.create(**args)
    assert len(local.jobs()) == before
    assert not storage.object_exists(f"s3://{BUCKET}/staging/", transport=env["transport"])


# -- adapters to the emulator's inspection API ----------------------------------------------------------------


def local_losses(local: Any, losses: list[float]) -> None:
    local.validation_losses = list(losses)


def _arn(job: Any) -> str:
    return str(job["jobArn"] if isinstance(job, dict) else job.arn)


def test_plan_fails_a_batch_larger_than_the_data_and_a_role_that_does_not_exist(
    env: dict[str, Any], tmp_path: Path
) -> None:
    small = _write(tmp_path / "small.jsonl", _records(40))
    args = {**env, "training_data": small, "staging_uri": f"s3://{BUCKET}/staging/"}
    args.pop("validation_data")
    args["role_arn"] = "arn:aws:iam::123456789012:role/no-such-role"
    plan = CustomizationJob.plan(**args, hyperparameters=hf.Hyperparameters(batch_size=64))
    checks = {c.name: c for c in plan.checks}
    assert checks["batch size"].status == "fail" and "64 is larger than the 40" in checks["batch size"].detail
    assert checks["role trust"].status == "fail" and "no-such-role" in checks["role trust"].detail
    assert not plan.ok
    before = len(env["transport"].call("bedrock", "ListModelCustomizationJobs")["modelCustomizationJobSummaries"])
    with pytest.raises(hf.PlanCheckError, match="batch size"):
        CustomizationJob.create(**args, hyperparameters=hf.Hyperparameters(batch_size=64))
    after = env["transport"].call("bedrock", "ListModelCustomizationJobs")["modelCustomizationJobSummaries"]
    assert len(after) == before  # nothing submitted
