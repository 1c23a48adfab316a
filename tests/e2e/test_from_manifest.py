"""CustomizationJob.from_manifest: re-run a job on another base-model profile, then compare old and new.

On LocalBedrock at 2026-02-01 in us-west-2. The emulator fine-tunes a model only where its profile documents
fine-tuning, so the test registers Claude Haiku 4.5's profile with us-west-2 added (restored afterwards): both
jobs then run in one emulator and the existing paired evaluation compares the two deployments.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

import haiku_finetune as hf
from haiku_finetune.base_models import CLAUDE_HAIKU_4_5, ProvisionalProfileWarning, register_profile
from haiku_finetune.data import SYSTEM_PROMPT, support_tickets_path
from haiku_finetune.deployment import BillingWarning
from haiku_finetune.evaluation import LabelAccuracy, evaluate
from haiku_finetune.local import LocalBedrock

BUCKET = "from-manifest"


def _tickets() -> list[dict[str, Any]]:
    records = []
    for line in support_tickets_path().read_bytes().splitlines():
        item = orjson.loads(line)
        messages = [{"role": "user", "content": item["prompt"]}, {"role": "assistant", "content": item["completion"]}]
        records.append({"system": SYSTEM_PROMPT, "messages": messages})
    return records


@pytest.fixture
def haiku_45_here() -> Iterator[hf.BaseModelProfile]:
    widened = dataclasses.replace(CLAUDE_HAIKU_4_5, fine_tuning_regions=("us-east-1", "us-west-2"))
    register_profile(widened, replace_existing=True)
    try:
        yield widened
    finally:
        register_profile(CLAUDE_HAIKU_4_5, replace_existing=True)


@pytest.fixture
def first_job(tmp_path: Path) -> Iterator[tuple[LocalBedrock, hf.BedrockTransport, hf.CustomizationJob, Path]]:
    with LocalBedrock(date=date(2026, 2, 1)) as local:
        t = local.transport()
        t.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        tickets = _tickets()
        for name, records in (("train.jsonl", tickets[:160]), ("validation.jsonl", tickets[160:200])):
            t.call(
                "s3",
                "PutObject",
                Bucket=BUCKET,
                Key=f"data/{name}",
                Body=b"".join(orjson.dumps(r) + b"\n" for r in records),
            )
        role = hf.iam.ensure_service_role(
            "from-manifest", training=f"s3://{BUCKET}/data/", output=f"s3://{BUCKET}/out/", transport=t
        )
        job = hf.CustomizationJob.create(
            training_data=f"s3://{BUCKET}/data/train.jsonl",
            validation_data=f"s3://{BUCKET}/data/validation.jsonl",
            output_uri=f"s3://{BUCKET}/out/",
            role_arn=role,
            hyperparameters={"epoch_count": 2, "batch_size": 8},
            transport=t,
        ).wait(progress=False)
        path = tmp_path / "manifest.json"
        job.manifest(path)
        yield local, t, job, path


def test_from_manifest_reruns_on_the_successor_and_the_paired_evaluation_compares_them(
    first_job: Any, haiku_45_here: hf.BaseModelProfile
) -> None:
    local, t, old, path = first_job
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProvisionalProfileWarning)
        new = hf.CustomizationJob.from_manifest(path, base_model="claude-haiku-4-5", transport=t)
    new.wait(progress=False)
    assert new.status == "Completed" and new.name != old.name
    description = t.call("bedrock", "GetModelCustomizationJob", jobIdentifier=new.arn)
    assert description["baseModelArn"].endswith(CLAUDE_HAIKU_4_5.model_id)
    assert description["trainingDataConfig"] == {"s3Uri": old.training_uri}
    assert description["hyperParameters"]["epochCount"] == "2"

    truth = {r["messages"][0]["content"]: r["messages"][1]["content"] for r in _tickets()}
    test = _tickets()[200:230]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BillingWarning)
        deployments = {
            name: hf.ProvisionedDeployment.create(job.custom_model, transport=t)
            for name, job in (("old", old), ("new", new))
        }
        for dep in deployments.values():
            dep.wait(progress=False)
    local.set_responder(old.custom_model.arn, lambda request: "technical")
    local.set_responder(new.custom_model.arn, lambda request: truth[request["messages"][-1]["content"]])
    try:
        models = {name: dep.model for name, dep in deployments.items()}
        report = evaluate(models, test, scorers=[LabelAccuracy()], progress=False)
        comparison = report.compare("new", "old")["label_accuracy"]
        assert comparison.better == "new" and comparison.wins > 0 and comparison.losses == 0
    finally:
        for dep in deployments.values():
            dep.delete()


def test_from_manifest_refuses_values_outside_the_new_profile_with_its_recommendations(first_job: Any) -> None:
    _, t, _, path = first_job
    manifest = json.loads(path.read_text())
    manifest["hyperparameters"]["effective"]["epoch_count"] = 11  # e.g. a profile with a narrower range
    with pytest.raises(hf.HyperparameterError, match=r"recommended values: .*epoch_count=5, batch_size=4"):
        hf.CustomizationJob.from_manifest(manifest, base_model="claude-haiku-4-5", transport=t)


def test_from_manifest_revalidates_the_data(first_job: Any) -> None:
    _, t, _, path = first_job
    t.call("s3", "PutObject", Bucket=BUCKET, Key="data/bad.jsonl", Body=b'{"messages": []}\n')
    with pytest.raises(hf.DatasetValidationError):
        hf.CustomizationJob.from_manifest(
            path, base_model="claude-3-haiku", training_data=f"s3://{BUCKET}/data/bad.jsonl", transport=t
        )


def test_from_manifest_without_a_role_names_what_is_missing(first_job: Any) -> None:
    _, t, _, path = first_job
    manifest = json.loads(path.read_text())
    manifest["job"]["role_arn"] = None
    with pytest.raises(ValueError, match="role_arn"):
        hf.CustomizationJob.from_manifest(manifest, base_model="claude-3-haiku", transport=t)


def test_from_manifest_revalidates_the_data_against_the_new_profile(first_job: Any) -> None:
    """160 training records pass Claude 3 Haiku's limits; a profile asking for more refuses them before submitting."""
    _, t, _, path = first_job
    stricter = dataclasses.replace(
        CLAUDE_HAIKU_4_5,
        fine_tuning_regions=("us-east-1", "us-west-2"),
        limits=dataclasses.replace(CLAUDE_HAIKU_4_5.limits, min_records=500),
    )
    register_profile(stricter, replace_existing=True)
    try:
        with pytest.raises(hf.DatasetValidationError, match="too_few_records"):
            hf.CustomizationJob.from_manifest(path, base_model="claude-haiku-4-5", transport=t)
    finally:
        register_profile(CLAUDE_HAIKU_4_5, replace_existing=True)
    assert len(t.call("bedrock", "ListModelCustomizationJobs")["modelCustomizationJobSummaries"]) == 1
