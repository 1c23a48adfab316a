"""``max_tokens`` is checked against the base model's own output limit, from its profile: 4,096 for Claude 3 Haiku
(the default), 64,000 for Claude Haiku 4.5; a deployment bought from a CustomModel passes its base model on.
Nothing is sent when the check fails (a Stubber with no responses queued fails any call)."""

from __future__ import annotations

import warnings

import boto3
import pytest
from botocore.stub import Stubber

import haiku_finetune as hf
from haiku_finetune.base_models import DEFAULT_BASE_MODEL, get_profile
from haiku_finetune.model import FineTunedModel, InferenceParameters

ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abcdefghijkl"
HAIKU_45 = get_profile("claude-haiku-4-5")


def _model(**kwargs: object) -> tuple[FineTunedModel, Stubber]:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    client = session.client("bedrock-runtime")
    transport = hf.BedrockTransport(clients={"bedrock-runtime": client})
    return FineTunedModel(ARN, transport=transport, **kwargs), Stubber(client)  # type: ignore[arg-type]


def test_the_default_base_model_caps_max_tokens_at_its_limit_and_says_how_to_name_another() -> None:
    model, stub = _model()
    assert model.base_model is DEFAULT_BASE_MODEL
    limit = DEFAULT_BASE_MODEL.runtime.max_output_tokens
    assert model.request_body("hi", max_tokens=limit)["max_tokens"] == limit
    with stub, pytest.raises(ValueError) as caught:
        model.invoke("hi", max_tokens=limit + 1)
    assert str(caught.value) == (
        f"max_tokens must be an integer from 1 to {limit} (Claude 3 Haiku's output limit; a model fine-tuned from "
        f"another base model takes FineTunedModel(..., base_model=...)), got {limit + 1}"
    )


def test_a_model_fine_tuned_from_haiku_4_5_takes_its_larger_limit() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the provisional profile's one-time warning
        model, _ = _model(base_model="claude-haiku-4-5")
    assert model.base_model is HAIKU_45
    big = HAIKU_45.runtime.max_output_tokens
    assert big > DEFAULT_BASE_MODEL.runtime.max_output_tokens
    assert model.request_body("hi", max_tokens=big)["max_tokens"] == big
    assert model.with_model_id("other").base_model is HAIKU_45  # carried along, like the transport
    with pytest.raises(ValueError, match=f"from 1 to {big} "):
        model.request_body("hi", max_tokens=big + 1)


def test_parameters_alone_take_any_known_models_limit_and_check_for_a_given_one() -> None:
    largest = max(DEFAULT_BASE_MODEL.runtime.max_output_tokens, HAIKU_45.runtime.max_output_tokens)
    params = InferenceParameters(max_tokens=largest)
    with pytest.raises(ValueError, match="Claude 3 Haiku's output limit"):
        params.check_for(DEFAULT_BASE_MODEL)
    assert params.check_for(HAIKU_45) is params
    with pytest.raises(ValueError, match="the largest output limit of the base models known"):
        InferenceParameters(max_tokens=largest + 1)


def test_an_unknown_base_model_is_refused_in_one_line() -> None:
    with pytest.raises(ValueError, match="no-such-model"):
        _model(base_model="no-such-model")


def test_a_deployment_bought_from_a_custom_model_passes_its_base_model_on() -> None:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    bedrock = session.client("bedrock")
    transport = hf.BedrockTransport(clients={"bedrock": bedrock})
    custom = hf.CustomModel(
        arn="arn:aws:bedrock:us-east-1:123456789012:custom-model/anthropic.claude-haiku-4-5-v1:0:200k/abcdefghijkl",
        name="tickets",
        base_model=HAIKU_45.arn("us-east-1"),
    )
    stub = Stubber(bedrock)
    stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": ARN})
    with stub, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deployment = hf.ProvisionedDeployment.create(custom, name="tickets-pt", transport=transport)
        assert deployment.base_model is HAIKU_45
        assert deployment.model.base_model is HAIKU_45
    assert hf.ProvisionedDeployment(ARN, transport=transport).model.base_model is DEFAULT_BASE_MODEL  # unknown
