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


HAIKU_45_CUSTOM = (
    "arn:aws:bedrock:us-east-1:123456789012:custom-model/anthropic.claude-haiku-4-5-v1:0:200k/abcdefghijkl"
)


def _bedrock() -> tuple[hf.BedrockTransport, Stubber]:
    session = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="y", region_name="us-east-1")
    bedrock = session.client("bedrock")
    return hf.BedrockTransport(clients={"bedrock": bedrock}), Stubber(bedrock)


def _pt(model_arn: str, **extra: object) -> dict[str, object]:
    when = "2026-11-01T00:00:00Z"
    return {
        "provisionedModelArn": ARN,
        "provisionedModelName": "tickets-pt",
        "modelArn": model_arn,
        "desiredModelArn": model_arn,
        "foundationModelArn": HAIKU_45.arn("us-east-1"),
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "status": "InService",
        "creationTime": when,
        "lastModifiedTime": when,
        **extra,
    }


def test_an_attached_deployment_reads_its_base_model_from_the_custom_models_arn_with_no_call() -> None:
    transport, stub = _bedrock()
    stub.add_response("get_provisioned_model_throughput", _pt(HAIKU_45_CUSTOM))
    with stub, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deployment = hf.ProvisionedDeployment.attach("tickets-pt", transport=transport)
        # Nothing more is queued: reading the base model must not call the service.
        assert deployment.model.base_model is HAIKU_45
        assert deployment.model.request_body("hi", max_tokens=8000)["max_tokens"] == 8000
    stub.assert_no_pending_responses()


def test_a_listed_or_created_from_an_arn_deployment_knows_its_base_model_too() -> None:
    transport, stub = _bedrock()
    summary = {k: v for k, v in _pt(HAIKU_45_CUSTOM).items() if k not in ("desiredModelUnits", "foundationModelArn")}
    summary["foundationModelArn"] = HAIKU_45.arn("us-east-1")
    summary["desiredModelUnits"] = 1
    stub.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary]})
    stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": ARN})
    with stub, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        [listed] = hf.ProvisionedDeployment.list(transport=transport)
        assert listed.model.base_model is HAIKU_45
        created = hf.ProvisionedDeployment.create(HAIKU_45_CUSTOM, name="tickets-pt", transport=transport)
        assert created.model.base_model is HAIKU_45


def test_a_base_model_with_no_profile_or_none_named_falls_back_to_the_default(caplog: pytest.LogCaptureFixture) -> None:
    transport, stub = _bedrock()
    unknown = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abcdefghijkl"
    imported = "arn:aws:bedrock:us-east-1:123456789012:custom-model/imported/abcdefghijkl"
    stub.add_response("get_provisioned_model_throughput", _pt(unknown))
    stub.add_response("get_provisioned_model_throughput", _pt(imported))
    with stub, caplog.at_level("WARNING", logger="haiku_finetune.deployment"):
        first = hf.ProvisionedDeployment.attach("a", transport=transport)
        assert first.model.base_model is DEFAULT_BASE_MODEL
        assert first.model.base_model is DEFAULT_BASE_MODEL  # looked for once: one warning
        warned = [r.getMessage() for r in caplog.records]
        assert len(warned) == 1 and "amazon.nova-micro-v1:0:128k" in warned[0] and "base_model=" in warned[0]
        second = hf.ProvisionedDeployment.attach("b", transport=transport)
        assert second.model.base_model is DEFAULT_BASE_MODEL
        assert len(caplog.records) == 1  # an imported model names no base model: nothing to warn about


def test_pointing_a_deployment_at_another_model_reads_that_models_base_model() -> None:
    transport, stub = _bedrock()
    claude_3 = HAIKU_45_CUSTOM.replace("anthropic.claude-haiku-4-5-v1:0:200k", DEFAULT_BASE_MODEL.model_id)
    stub.add_response("get_provisioned_model_throughput", _pt(HAIKU_45_CUSTOM))
    stub.add_response("update_provisioned_model_throughput", {})
    stub.add_response("get_provisioned_model_throughput", _pt(HAIKU_45_CUSTOM, desiredModelArn=claude_3))
    with stub, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deployment = hf.ProvisionedDeployment.attach("tickets-pt", transport=transport)
        assert deployment.model.base_model is HAIKU_45
        deployment.update(model=claude_3)
        assert deployment.model.base_model is DEFAULT_BASE_MODEL


def test_the_cli_invokes_a_deployment_by_name_or_arn_with_its_base_models_limit() -> None:
    from haiku_finetune.cli.invoke import resolve_model

    transport, stub = _bedrock()
    stub.add_response("get_provisioned_model_throughput", _pt(HAIKU_45_CUSTOM))
    stub.add_response("get_provisioned_model_throughput", _pt(HAIKU_45_CUSTOM))
    with stub, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert resolve_model("tickets-pt", transport).base_model is HAIKU_45
        assert resolve_model(ARN, transport).base_model is HAIKU_45
        model = resolve_model(HAIKU_45.invoke_model_id, transport)  # a model id as it is: no call
        assert model.model_id == HAIKU_45.invoke_model_id
    stub.assert_no_pending_responses()


def test_a_deployment_asked_before_its_first_refresh_reads_its_base_model_once_refreshed() -> None:
    transport, stub = _bedrock()
    stub.add_response("get_provisioned_model_throughput", _pt(HAIKU_45_CUSTOM))
    with stub, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        deployment = hf.ProvisionedDeployment(ARN, transport=transport)
        assert deployment.model.base_model is DEFAULT_BASE_MODEL  # nothing known yet, and nothing fetched for it
        deployment.refresh()
        assert deployment.model.base_model is HAIKU_45
    stub.assert_no_pending_responses()


def test_the_cli_invokes_a_deployment_arn_it_may_not_read_as_given_but_not_a_name() -> None:
    from haiku_finetune.cli.invoke import resolve_model

    transport, stub = _bedrock()
    for _ in range(2):
        stub.add_client_error("get_provisioned_model_throughput", "AccessDeniedException", http_status_code=403)
    with stub:
        model = resolve_model(ARN, transport)
        assert (model.model_id, model.base_model) == (ARN, DEFAULT_BASE_MODEL)
        with pytest.raises(hf.AccessDeniedError):
            resolve_model("tickets-pt", transport)  # a name is nothing the runtime could take
    stub.assert_no_pending_responses()
