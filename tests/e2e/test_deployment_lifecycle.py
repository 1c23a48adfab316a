"""Provisioned Throughput and the base model's lifecycle, on LocalBedrock at emulated dates in us-west-2.

Inside Claude 3 Haiku's Legacy window the purchase warns (LifecycleWarning, with the end-of-life date); past its
end of life the service refuses and the refusal is ModelEndOfLifeError naming the date and the successor. A
refusal the service might give for a Legacy model (not confirmed either way) becomes a clear DeploymentError.
"""

from __future__ import annotations

import warnings
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from botocore.stub import Stubber

import haiku_finetune as hf
from haiku_finetune.base_models import CLAUDE_3_HAIKU
from haiku_finetune.deployment import BillingWarning
from haiku_finetune.lifecycle import LifecycleWarning
from haiku_finetune.local import LocalBedrock

BUCKET = "pt-lifecycle"


def _trained(local: LocalBedrock, t: hf.BedrockTransport) -> hf.CustomModel:
    t.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    rows = [
        {"messages": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": "a"}]} for i in range(40)
    ]
    t.call("s3", "PutObject", Bucket=BUCKET, Key="t.jsonl", Body=b"".join(orjson.dumps(r) + b"\n" for r in rows))
    role = hf.iam.ensure_service_role("pt-lc", training=f"s3://{BUCKET}/", output=f"s3://{BUCKET}/out/", transport=t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LifecycleWarning)
        job = hf.CustomizationJob.create(
            training_data=f"s3://{BUCKET}/t.jsonl",
            output_uri=f"s3://{BUCKET}/out/",
            role_arn=role,
            hyperparameters={"epoch_count": 1, "batch_size": 8},
            transport=t,
        )
    return job.wait(progress=False).custom_model


def test_legacy_warns_before_the_purchase_and_end_of_life_is_refused() -> None:
    with LocalBedrock(date=date(2026, 8, 1)) as local:
        t = local.transport()
        model = _trained(local, t)
        assert model.base_model and model.base_model.endswith(CLAUDE_3_HAIKU.model_id)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BillingWarning)
            with pytest.warns(LifecycleWarning, match="end of life on 2026-09-10"):
                deployment = hf.ProvisionedDeployment.create(model, transport=t)
            deployment.delete()
        local.advance(45 * 86_400)  # 2026-09-15: past the end of life
        with pytest.raises(hf.ModelEndOfLifeError, match="2026-09-10") as caught:
            hf.ProvisionedDeployment.create(model, transport=t)
        assert caught.value.successor == "claude-haiku-4-5"
        assert local.deployments() == []


class _LegacyClock:
    def monotonic(self) -> float:
        return 0.0

    def sleep(self, seconds: float) -> None:
        pass

    def now(self) -> datetime:
        return datetime(2026, 6, 1, tzinfo=timezone.utc)


def test_a_refusal_for_a_legacy_model_is_a_clear_deployment_error(tmp_path: Path) -> None:
    client = boto3.Session(aws_access_key_id="a", aws_secret_access_key="b", region_name="us-west-2").client("bedrock")
    clock: Any = _LegacyClock()
    t = hf.BedrockTransport(
        clients={"bedrock": client}, clock=clock, retry=hf.RetryPolicy(sleep=clock.sleep, clock=clock.monotonic)
    )
    model = hf.CustomModel(
        arn="arn:aws:bedrock:us-west-2:123456789012:custom-model/x/abc", name="x", base_model=CLAUDE_3_HAIKU.arn()
    ).with_transport(t)
    with Stubber(client) as stub:
        stub.add_client_error(
            "create_provisioned_model_throughput", "ValidationException", "Provisioned Throughput is not available", 400
        )
        with (
            pytest.warns(LifecycleWarning),
            pytest.raises(hf.DeploymentError, match="Legacy model is not confirmed") as caught,
        ):
            hf.ProvisionedDeployment.create(model, name="pt-legacy", transport=t)
    assert "ValidationException" in str(caught.value) and "\n" not in str(caught.value)
