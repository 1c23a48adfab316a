"""Acceptance: every create-type call's answer lost (LocalBedrock fault ``lose_response`` at 100 %), 20 seeds of the
whole workflow — job, custom model, deployment in a ``with`` block, batch-inference job: every resource made has a
handle, none is made twice, and no Provisioned Throughput is left billing. Also: an interrupted create finds and
deletes what it bought, and ``find_orphans`` with its defaults sees a deployment created a moment ago."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import iam, storage
from haiku_finetune.deployment import CLIENT_TOKEN_TAG, ProvisionedDeployment, find_orphans
from haiku_finetune.evaluation.batch_inference import submit_batch_inference
from haiku_finetune.jobs import CustomizationJob
from haiku_finetune.local import Faults

BUCKET = "haiku-lost"
CREATES = ("CreateModelCustomizationJob", "CreateProvisionedModelThroughput", "CreateModelInvocationJob")
LOCAL_BEDROCK_OPTIONS = {"pt_ready_seconds": 120.0}
_BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}


def _records(n: int) -> list[dict[str, Any]]:
    return [
        {"messages": [{"role": "user", "content": f"Ticket {i}: charged twice"}, {"role": "assistant", "content": "x"}]}
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def data(transport: hf.BedrockTransport, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("data")
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    path = folder / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _records(40)), encoding="utf-8")
    train = storage.upload_dataset(path, f"s3://{BUCKET}/data/", transport=transport)
    output = f"s3://{BUCKET}/out/"
    role = iam.ensure_service_role("haiku-lost", training=f"s3://{BUCKET}/", output=output, transport=transport)
    return {"training_data": train, "validation_data": None, "output_uri": output, "role_arn": role}


def _listed(transport: hf.BedrockTransport, operation: str, key: str, field: str) -> list[str]:
    return [item[field] for page in transport.paginate("bedrock", operation) for item in page.get(key, [])]


@pytest.mark.parametrize("seed", range(20))
def test_every_create_answer_lost_leaves_handles_no_duplicates_no_pt(
    local: Any, transport: hf.BedrockTransport, data: dict[str, Any], seed: int, tmp_path: Path
) -> None:
    jobs = _listed(transport, "ListModelCustomizationJobs", "modelCustomizationJobSummaries", "jobArn")
    models = _listed(transport, "ListCustomModels", "modelSummaries", "modelArn")
    batches = _listed(transport, "ListModelInvocationJobs", "invocationJobSummaries", "jobArn")
    local.faults = Faults(lose_response=dict.fromkeys(CREATES, 1.0), seed=seed)
    try:
        job = CustomizationJob.create(
            **data, transport=transport, hyperparameters=hf.Hyperparameters(epoch_count=1, batch_size=8)
        )
        job.wait(progress=False)
        model = job.custom_model
        with ProvisionedDeployment.create(model, transport=transport) as dep:
            assert dep.status == "InService"
            batch = submit_batch_inference(
                model.arn,
                [_BODY],
                staging_uri=f"s3://{BUCKET}/batch/{seed}/",
                role_arn=data["role_arn"],
                transport=transport,
            )
    finally:
        local.faults = None
    new_jobs = set(_listed(transport, "ListModelCustomizationJobs", "modelCustomizationJobSummaries", "jobArn"))
    new_models = set(_listed(transport, "ListCustomModels", "modelSummaries", "modelArn"))
    new_batches = set(_listed(transport, "ListModelInvocationJobs", "invocationJobSummaries", "jobArn"))
    assert new_jobs - set(jobs) == {job.arn}  # one job, and it is the one we hold
    assert new_models - set(models) == {model.arn}
    assert new_batches - set(batches) == {batch.arn}
    assert local.deployments() == []  # 0 PTs left billing


def test_a_create_interrupted_after_the_service_made_the_pt_deletes_it(
    local: Any, transport: hf.BedrockTransport, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(transport, data)
    real_call = transport.call

    def call(service: str, operation: str, /, **params: Any) -> dict[str, Any]:
        answer = real_call(service, operation, **params)
        if operation == "CreateProvisionedModelThroughput":
            raise KeyboardInterrupt  # the PT exists; the answer never reaches the caller
        return answer

    monkeypatch.setattr(transport, "call", call)
    with pytest.raises(KeyboardInterrupt):
        ProvisionedDeployment.create(model, name="interrupted-pt", transport=transport)
    monkeypatch.undo()
    assert local.deployments() == []


def test_a_lost_answer_for_a_name_someone_else_holds_is_not_adopted(
    local: Any, transport: hf.BedrockTransport, data: dict[str, Any]
) -> None:
    model = _model(transport, data)
    theirs = transport.call(
        "bedrock", "CreateProvisionedModelThroughput", modelUnits=1, provisionedModelName="taken-pt", modelId=model
    )["provisionedModelArn"]
    local.faults = Faults(lose_response={"CreateProvisionedModelThroughput": 1.0})
    try:
        with pytest.raises(hf.ConflictError, match="was not made by this call"):
            ProvisionedDeployment.create(model, name="taken-pt", transport=transport)
    finally:
        local.faults = None
    assert [d["provisionedModelArn"] for d in local.deployments()] == [theirs]  # left alone
    ProvisionedDeployment(theirs, transport=transport).delete()


def test_find_orphans_defaults_see_a_deployment_created_a_moment_ago(
    local: Any, transport: hf.BedrockTransport, data: dict[str, Any]
) -> None:
    dep = ProvisionedDeployment.create(_model(transport, data), transport=transport)
    try:
        tags = transport.call("bedrock", "ListTagsForResource", resourceARN=dep.arn)["tags"]
        assert any(t["key"] == CLIENT_TOKEN_TAG for t in tags)
        assert [o.arn for o in find_orphans(transport=transport)] == [dep.arn]
    finally:
        dep.delete()


def _model(transport: hf.BedrockTransport, data: dict[str, Any]) -> str:
    """A custom model's ARN (one trained by an earlier test in the module, else a fresh one)."""
    found = _listed(transport, "ListCustomModels", "modelSummaries", "modelArn")
    if found:
        return found[0]
    job = CustomizationJob.create(**data, transport=transport, hyperparameters=hf.Hyperparameters(epoch_count=1))
    job.wait(progress=False)
    return job.custom_model.arn
