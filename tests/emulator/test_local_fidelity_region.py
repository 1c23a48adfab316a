"""LocalBedrock outside us-west-2: Claude Haiku 4.5 custom models are listed under their own base model's name, and
Claude Haiku 4.5 takes its own output limit (64,000 tokens, BEDROCK-FACTS), not Claude 3 Haiku's 4,096."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from haiku_finetune.local import LocalBedrock
from tests.emulator.test_local_fidelity import RECORDS, ROLE

BUCKET = "fidelity-east"
BASE = "anthropic.claude-haiku-4-5-v1:0:200k"
HAIKU_45 = "anthropic.claude-haiku-4-5-20251001-v1:0"


def test_list_custom_models_names_the_models_own_base() -> None:
    with LocalBedrock(region="us-east-1") as local:
        s3, bedrock = local.client("s3"), local.client("bedrock")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key="train.jsonl", Body="\n".join(json.dumps(r) for r in RECORDS) + "\n")
        bedrock.create_model_customization_job(
            jobName="east",
            customModelName="east-m",
            roleArn=ROLE,
            baseModelIdentifier=BASE,
            trainingDataConfig={"s3Uri": f"s3://{BUCKET}/train.jsonl"},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
            hyperParameters={"epochCount": "1", "batchSize": "8"},
        )
        local.advance(10 * 3600)
        (summary,) = bedrock.list_custom_models()["modelSummaries"]
        assert summary["baseModelArn"].endswith(BASE)
        assert summary["baseModelName"] == "Claude Haiku 4.5"
        s3.close()
        bedrock.close()


def _body(max_tokens: int) -> str:
    return json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": "hi"}],
        }
    )


def test_claude_haiku_4_5_takes_its_own_output_limit() -> None:
    with LocalBedrock(region="us-east-1") as local:
        runtime = local.client("bedrock-runtime")
        answer = json.loads(runtime.invoke_model(modelId=HAIKU_45, body=_body(8192))["body"].read())
        assert answer["stop_reason"] == "end_turn"
        with pytest.raises(ClientError) as refused:
            runtime.invoke_model(modelId=HAIKU_45, body=_body(64_001))
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert "64000" in refused.value.response["Error"]["Message"]
        runtime.close()


def test_client_wires_a_plain_boto3_client_and_refuses_a_service_it_does_not_serve() -> None:
    with LocalBedrock(region="us-east-1") as local:
        sts = local.client("sts")
        assert sts.meta.region_name == "us-east-1"
        assert sts.get_caller_identity()["Account"].isdigit()
        with pytest.raises(ValueError, match=r"LocalBedrock serves .*bedrock-runtime.*, not 'ec2'"):
            local.client("ec2")


def test_client_neither_makes_nor_shares_the_process_default_boto3_session(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3's default session is process-wide (not thread-safe to set up, and carries whatever profile the
    # process set up): the emulator's clients come from a session of their own, as its transports' do.
    import boto3

    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    with LocalBedrock() as local:
        local.client("sts").get_caller_identity()
    assert boto3.DEFAULT_SESSION is None
