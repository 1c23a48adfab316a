"""CustomModel and the library tag, through botocore's Stubber."""

from __future__ import annotations

from datetime import datetime, timezone

import boto3
import pytest
from botocore.stub import Stubber

import haiku_finetune as hf
from haiku_finetune._tags import has_library_tag, with_library_tag

MODEL_ARN = (
    "arn:aws:bedrock:us-west-2:123456789012:custom-model/anthropic.claude-3-haiku-20240307-v1:0:200k/abcdefghijkl"
)


@pytest.fixture
def stubbed() -> tuple[hf.BedrockTransport, Stubber]:
    client = boto3.client("bedrock", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    return hf.BedrockTransport(clients={"bedrock": client}), Stubber(client)


def test_get_reads_hyperparameters_back(stubbed: tuple[hf.BedrockTransport, Stubber]) -> None:
    transport, stub = stubbed
    stub.add_response(
        "get_custom_model",
        {
            "modelArn": MODEL_ARN,
            "modelName": "support-tickets",
            "jobArn": "arn:aws:bedrock:us-west-2:123456789012:model-customization-job/x/abcdefghijkl",
            "baseModelArn": "arn:aws:bedrock:us-west-2::foundation-model/" + hf.BASE_MODEL_ID,
            "hyperParameters": {"epochCount": "5", "learningRateMultiplier": "0.5"},
            "trainingDataConfig": {"s3Uri": "s3://b/train.jsonl"},
            "outputDataConfig": {"s3Uri": "s3://b/out/"},
            "creationTime": datetime(2024, 6, 1, tzinfo=timezone.utc),
        },
        {"modelIdentifier": "support-tickets"},
    )
    with stub:
        model = hf.CustomModel.get("support-tickets", transport=transport)
    assert model.arn == MODEL_ARN and model.name == "support-tickets"
    assert model.hyperparameters == hf.Hyperparameters(epoch_count=5, learning_rate_multiplier=0.5)
    assert model.base_model is not None and model.base_model.endswith(hf.BASE_MODEL_ID)


def test_list_walks_every_page_and_delete_calls_the_api(stubbed: tuple[hf.BedrockTransport, Stubber]) -> None:
    transport, stub = stubbed
    summary = {
        "modelArn": MODEL_ARN,
        "modelName": "m1",
        "creationTime": datetime(2024, 6, 1, tzinfo=timezone.utc),
        "baseModelArn": "arn:aws:bedrock:us-west-2::foundation-model/x",
        "baseModelName": "x",
    }
    stub.add_response("list_custom_models", {"modelSummaries": [summary], "nextToken": "n"}, {"nameContains": "m"})
    stub.add_response(
        "list_custom_models",
        {"modelSummaries": [{**summary, "modelName": "m2"}]},
        {"nameContains": "m", "nextToken": "n"},
    )
    stub.add_response("delete_custom_model", {}, {"modelIdentifier": MODEL_ARN})
    with stub:
        models = hf.CustomModel.list(name_contains="m", transport=transport)
        assert [m.name for m in models] == ["m1", "m2"]
        models[0].delete(transport=transport)
        stub.assert_no_pending_responses()


def test_library_tag_is_added_once_and_found() -> None:
    tags = with_library_tag({"team": "ml"})
    assert {"key": "team", "value": "ml"} in tags
    assert has_library_tag(tags)
    assert len(with_library_tag({"created-by": "haiku-finetune"})) == 1
    assert not has_library_tag([{"key": "team", "value": "ml"}])


def test_a_custom_model_carries_its_transport_and_equality_ignores_it(
    stubbed: tuple[hf.BedrockTransport, Stubber],
) -> None:
    transport, stub = stubbed
    model = hf.CustomModel.create(arn=MODEL_ARN, name="m", transport=transport)
    assert model.transport is transport
    assert model == hf.CustomModel(arn=MODEL_ARN, name="m")
    assert model.model_copy().transport is transport
    assert model.with_transport(None).transport is hf.get_default_transport()
    stub.add_response("delete_custom_model", {}, {"modelIdentifier": MODEL_ARN})
    with stub:
        model.delete()  # through the carried transport's (stubbed) client
    stub.assert_no_pending_responses()
