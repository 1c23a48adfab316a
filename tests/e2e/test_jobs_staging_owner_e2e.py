"""On LocalBedrock: staging a job's data names the expected bucket owner on every S3 call and writes
conditionally, so an object already at the content address is never replaced."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import iam, storage
from haiku_finetune.jobs import CustomizationJob, _staging

BUCKET = "haiku-staging-owner"
STAGING = f"s3://{BUCKET}/staging/"
ACCOUNT = "123456789012"  # the emulated account


def _write(path: Path, n: int, start: int) -> Path:
    lines = [
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": f"Ticket {i}: my parcel number {i} never arrived."},
                    {"role": "assistant", "content": "shipping"},
                ]
            }
        )
        for i in range(start, start + n)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def env(transport: hf.BedrockTransport) -> dict[str, Any]:
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    output = f"s3://{BUCKET}/out/"
    role = iam.ensure_service_role("haiku-staging-owner", training=STAGING, output=output, transport=transport)
    iam._touched.pop(role, None)  # no propagation window: not what these tests are about
    return {"output_uri": output, "role_arn": role, "staging_uri": STAGING}


def test_staging_names_the_owner_and_writes_conditionally(env: dict[str, Any], local: Any, tmp_path: Path) -> None:
    t = local.transport()
    seen: list[tuple[str, dict[str, Any]]] = []

    def record(params: dict[str, Any], model: Any, **kwargs: Any) -> None:
        seen.append((model.name, dict(params)))

    t.client("s3").meta.events.register("before-parameter-build.s3", record)
    train = _write(tmp_path / "train.jsonl", 40, start=0)
    CustomizationJob.create(**env, training_data=train, hyperparameters=hf.Hyperparameters(batch_size=8), transport=t)
    operations = {name for name, _ in seen}
    assert {"HeadObject", "PutObject"} <= operations
    for name, params in seen:
        if "Bucket" in params:
            assert params.get("ExpectedBucketOwner") == ACCOUNT, f"{name} did not name the bucket owner"
    assert all(params.get("IfNoneMatch") == "*" for name, params in seen if name == "PutObject")


def test_other_bytes_at_the_content_address_are_refused_not_replaced(
    env: dict[str, Any], local: Any, transport: hf.BedrockTransport, tmp_path: Path
) -> None:
    train = _write(tmp_path / "train.jsonl", 40, start=100)
    sha = hashlib.sha256(train.read_bytes()).hexdigest()
    target = _staging.content_uri(STAGING, sha, "train")
    squatter = b"someone else's bytes\n"
    transport.call("s3", "PutObject", Bucket=target.bucket, Key=target.key, Body=squatter)
    before = len(local.jobs())
    with pytest.raises(hf.ConflictError, match="never replaced"):
        CustomizationJob.create(
            **env, training_data=train, hyperparameters=hf.Hyperparameters(batch_size=8), transport=transport
        )
    assert len(local.jobs()) == before
    assert storage.download_bytes(target, transport=transport) == squatter
