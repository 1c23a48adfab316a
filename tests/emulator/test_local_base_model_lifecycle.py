"""LocalBedrock knows the date: each base model's lifecycle per region over emulated time, as the profiles give it.

Claude 3 Haiku: Active, then Legacy (from 2026-03-10, derived) and end of life on 2026-09-10 in most regions (us-west-2
here); still Active in ca-central-1, eu-central-2 and sa-east-1; Legacy in ap-northeast-2. Claude Haiku 4.5 is
fine-tunable in us-east-1. Past the end of life the emulator answers as the service does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune.base_models import CLAUDE_3_HAIKU, CLAUDE_HAIKU_4_5
from haiku_finetune.local import LocalBedrock

BUCKET = "eol-data"
ROLE = "arn:aws:iam::123456789012:role/BedrockFineTuning"
_EOL = "This model version has reached the end of its life."


@contextmanager
def _emulator(on: date, region: str = "us-west-2") -> Iterator[tuple[LocalBedrock, hf.BedrockTransport]]:
    with LocalBedrock(date=on, region=region) as local:
        yield local, local.transport()


def _lifecycle(t: hf.BedrockTransport, model_id: str) -> dict[str, Any]:
    details: dict[str, Any] = t.call("bedrock", "GetFoundationModel", modelIdentifier=model_id)["modelDetails"]
    return dict(details["modelLifecycle"])


def _fine_tunable(t: hf.BedrockTransport) -> list[str]:
    listed = t.call("bedrock", "ListFoundationModels", byCustomizationType="FINE_TUNING")["modelSummaries"]
    return [m["modelId"] for m in listed]


def test_the_date_is_settable_and_advances_with_the_clock() -> None:
    with _emulator(date(2026, 9, 9)) as (local, t):
        assert local.date == date(2026, 9, 9)
        assert t.now().date() == date(2026, 9, 9)
        local.advance(2 * 86_400)
        assert local.date == date(2026, 9, 11)
        answered = t.call("bedrock", "ListFoundationModels")
        assert t.response_time(answered).date() == date(2026, 9, 11)  # the Date header is emulated time


def test_the_default_date_is_the_real_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_BEDROCK_DATE")
    with LocalBedrock() as local:
        assert local.date == datetime.now(timezone.utc).date()


def test_bad_dates_and_regions_are_refused_at_once() -> None:
    with pytest.raises(TypeError, match="date"):
        LocalBedrock(date="2026-01-01")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="region"):
        LocalBedrock(region="mars")


def test_before_the_legacy_period_claude_3_haiku_is_active_in_us_west_2() -> None:
    with _emulator(date(2026, 2, 1)) as (_, t):
        lifecycle = _lifecycle(t, CLAUDE_3_HAIKU.model_id)
        assert lifecycle["status"] == "ACTIVE"
        assert lifecycle["endOfLifeTime"].date() == date(2026, 9, 10)
        assert lifecycle["legacyTime"].date() == date(2026, 3, 10)
        assert _fine_tunable(t) == [CLAUDE_3_HAIKU.model_id]


def test_inside_the_legacy_window_it_is_legacy_and_still_trains() -> None:
    with _emulator(date(2026, 6, 1)) as (_, t):
        assert _lifecycle(t, CLAUDE_3_HAIKU.model_id)["status"] == "LEGACY"
        assert _fine_tunable(t) == [CLAUDE_3_HAIKU.model_id]
        body = json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            }
        )
        t.call("bedrock-runtime", "InvokeModel", modelId=CLAUDE_3_HAIKU.invoke_model_id, body=body.encode())


def test_after_the_end_of_life_it_answers_as_the_service_does() -> None:
    with _emulator(date(2026, 12, 2)) as (_, t):
        assert _fine_tunable(t) == []
        with pytest.raises(hf.ModelEndOfLifeError, match="2026-09-10") as caught:
            t.call("bedrock", "GetFoundationModel", modelIdentifier=CLAUDE_3_HAIKU.model_id)
        assert caught.value.message == _EOL and caught.value.successor == CLAUDE_HAIKU_4_5.key
        t.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        t.call("s3", "PutObject", Bucket=BUCKET, Key="train.jsonl", Body=b"{}\n")
        with pytest.raises(hf.ModelEndOfLifeError):
            t.call(
                "bedrock",
                "CreateModelCustomizationJob",
                jobName="late",
                customModelName="late-model",
                roleArn=ROLE,
                baseModelIdentifier=CLAUDE_3_HAIKU.arn("us-west-2"),
                trainingDataConfig={"s3Uri": f"s3://{BUCKET}/train.jsonl"},
                outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
            )
        body = json.dumps(
            {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 5,
                "messages": [{"role": "user", "content": "hi"}],
            }
        )
        with pytest.raises(hf.ModelEndOfLifeError):
            t.call("bedrock-runtime", "InvokeModel", modelId=CLAUDE_3_HAIKU.invoke_model_id, body=body.encode())


@pytest.mark.parametrize(
    ("region", "status"),
    [("ca-central-1", "ACTIVE"), ("eu-central-2", "ACTIVE"), ("sa-east-1", "ACTIVE"), ("ap-northeast-2", "LEGACY")],
)
def test_the_regions_where_it_remains(region: str, status: str) -> None:
    with _emulator(date(2026, 12, 2), region) as (_, t):
        assert _lifecycle(t, CLAUDE_3_HAIKU.model_id)["status"] == status
        assert t.call("bedrock", "GetFoundationModel", modelIdentifier=CLAUDE_3_HAIKU.model_id)["modelDetails"][
            "modelArn"
        ].startswith(f"arn:aws:bedrock:{region}::foundation-model/")


def test_claude_haiku_4_5_is_fine_tunable_in_us_east_1() -> None:
    with _emulator(date(2026, 12, 2), "us-east-1") as (local, t):
        assert _fine_tunable(t) == [CLAUDE_HAIKU_4_5.model_id]
        lifecycle = _lifecycle(t, CLAUDE_HAIKU_4_5.model_id)
        assert lifecycle["status"] == "ACTIVE" and lifecycle["startOfLifeTime"].date() == date(2025, 10, 16)
        assert local.session_env()["AWS_REGION"] == "us-east-1" and t.region == "us-east-1"


def test_a_provisioned_throughput_on_a_model_past_its_end_of_life_is_refused() -> None:
    records = b"".join(
        json.dumps(
            {"messages": [{"role": "user", "content": f"q {i}"}, {"role": "assistant", "content": "a"}]}
        ).encode()
        + b"\n"
        for i in range(40)
    )
    with _emulator(date(2026, 9, 1)) as (local, t):
        t.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
        t.call("s3", "PutObject", Bucket=BUCKET, Key="train.jsonl", Body=records)
        job = t.call(
            "bedrock",
            "CreateModelCustomizationJob",
            jobName="before",
            customModelName="before-model",
            roleArn=ROLE,
            baseModelIdentifier=CLAUDE_3_HAIKU.model_id,
            trainingDataConfig={"s3Uri": f"s3://{BUCKET}/train.jsonl"},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/out/"},
            hyperParameters={"epochCount": "1", "batchSize": "8"},
        )["jobArn"]
        for _ in range(200):
            found = t.call("bedrock", "GetModelCustomizationJob", jobIdentifier=job)
            if found["status"] != "InProgress":
                break
            local.advance(600)
        assert found["status"] == "Completed"
        local.advance(20 * 86_400)  # past 2026-09-10
        with pytest.raises(hf.ModelEndOfLifeError, match="claude-haiku-4-5"):
            t.call(
                "bedrock",
                "CreateProvisionedModelThroughput",
                modelUnits=1,
                provisionedModelName="late-pt",
                modelId=found["outputModelArn"],
            )
