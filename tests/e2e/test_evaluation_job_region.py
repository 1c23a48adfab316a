"""LocalBedrock makes evaluation-job ARNs in its own region, as it does every other resource's (they were always
us-west-2's)."""

from __future__ import annotations

from typing import Any

import haiku_finetune as hf
from haiku_finetune.evaluation import EvaluationJob
from haiku_finetune.evaluation.managed import Example
from haiku_finetune.model import BASE_INVOKE_MODEL_ID

LOCAL_BEDROCK_OPTIONS = {"region": "ca-central-1"}  # where Claude 3 Haiku stays available
BUCKET = "eval-region"


def test_an_evaluation_job_arn_names_the_emulated_region(local: Any, transport: hf.BedrockTransport) -> None:
    transport.call(
        "s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "ca-central-1"}
    )
    job = EvaluationJob.create(
        [Example(id="e0", messages=({"role": "user", "content": "q"},), reference="a")],
        model=BASE_INVOKE_MODEL_ID,
        metrics=["Builtin.Accuracy"],
        staging_uri=f"s3://{BUCKET}/evaluation/",
        role_arn="arn:aws:iam::123456789012:role/haiku-eval",
        transport=transport,
    )
    assert job.arn.startswith("arn:aws:bedrock:ca-central-1:123456789012:evaluation-job/"), job.arn
    assert EvaluationJob.attach(job.arn, transport=transport).arn == job.arn
