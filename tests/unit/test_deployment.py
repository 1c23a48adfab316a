"""ProvisionedDeployment through botocore's Stubber: exact requests, waits, and leak-proof `with` blocks."""

from __future__ import annotations

import warnings
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

import haiku_finetune as hf
from haiku_finetune.deployment import BillingWarning, ProvisionedDeployment, find_orphans
from tests.fakes import FakeClock

PT_ARN = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abcdefghijkl"
MODEL_ARN = (
    "arn:aws:bedrock:us-west-2:123456789012:custom-model/anthropic.claude-3-haiku-20240307-v1:0:200k/abcdefghijkl"
)
CREATED = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def stub() -> Any:
    client = boto3.client("bedrock", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.transport = hf.BedrockTransport(clients={"bedrock": client}, clock=FakeClock())  # type: ignore[attr-defined]
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


def _pt(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "modelUnits": 1,
        "desiredModelUnits": 1,
        "provisionedModelName": "support-pt",
        "provisionedModelArn": PT_ARN,
        "modelArn": MODEL_ARN,
        "desiredModelArn": MODEL_ARN,
        "foundationModelArn": "arn:aws:bedrock:us-west-2::foundation-model/" + hf.BASE_MODEL_ID,
        "status": status,
        "creationTime": CREATED,
        "lastModifiedTime": CREATED,
        **extra,
    }


def _not_found(stub: Stubber) -> None:
    stub.add_client_error("get_provisioned_model_throughput", "ResourceNotFoundException", "gone", 404)


def _create(stub: Any, **kwargs: Any) -> ProvisionedDeployment:
    # No BillingWarning at create(): it comes at the first use outside a `with` block (test_billing_warning_*).
    return ProvisionedDeployment.create(MODEL_ARN, name="support-pt", transport=stub.transport, **kwargs)


def test_create_sends_one_tagged_request(stub: Any) -> None:
    stub.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PT_ARN},
        {
            "modelUnits": 2,
            "provisionedModelName": "support-pt",
            "modelId": MODEL_ARN,
            "tags": [
                {"key": "team", "value": "ml"},
                {"key": "created-by", "value": "haiku-finetune"},
                {"key": "haiku-finetune:client-token", "value": ANY},
            ],
            "clientRequestToken": ANY,
        },
    )
    dep = _create(stub, model_units=2, tags={"team": "ml"})
    assert dep.arn == PT_ARN
    with pytest.warns(BillingWarning, match="billed every hour"):
        assert dep.model.model_id == PT_ARN


def test_a_user_tag_cannot_replace_the_library_tag(stub: Any) -> None:
    # Nothing queued on the stub: a purchase would fail the test with an unstubbed call.
    with pytest.raises(ValueError, match="'created-by' is reserved"):
        ProvisionedDeployment.create(MODEL_ARN, tags={"created-by": "alice"}, transport=stub.transport)


def test_with_block_waits_then_deletes_on_normal_exit(stub: Any) -> None:
    stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN})
    stub.add_response("get_provisioned_model_throughput", _pt("Creating"))  # commitment check
    stub.add_response("get_provisioned_model_throughput", _pt("Creating"))  # first poll
    stub.add_response("get_provisioned_model_throughput", _pt("InService"))
    stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    _not_found(stub)
    with _create(stub) as dep:
        assert dep.status == "InService"


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_with_block_deletes_on_exception_and_ctrl_c(stub: Any, error: BaseException) -> None:
    stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN})
    stub.add_response("get_provisioned_model_throughput", _pt("InService"))
    stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    _not_found(stub)
    with pytest.raises(type(error)), _create(stub):
        raise error


def test_interrupted_wait_inside_enter_still_deletes(stub: Any) -> None:
    stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN})
    stub.add_response("get_provisioned_model_throughput", _pt("Creating"))
    stub.add_response("get_provisioned_model_throughput", _pt("Failed", failureMessage="capacity"))
    stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    _not_found(stub)
    with pytest.raises(hf.DeploymentError, match="capacity"), _create(stub):
        pytest.fail("the block must not run when the deployment failed")


def test_committed_deployment_is_refused_in_a_with_block(stub: Any) -> None:
    stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN})
    stub.add_response("get_provisioned_model_throughput", _pt("Creating", commitmentDuration="OneMonth"))
    with pytest.raises(hf.DeploymentError, match="OneMonth commitment"), _create(stub, commitment="OneMonth"):
        pytest.fail("unreachable")


def test_delete_is_confirmed_by_polling(stub: Any) -> None:
    stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    stub.add_response("get_provisioned_model_throughput", _pt("InService"))
    _not_found(stub)
    ProvisionedDeployment(PT_ARN, transport=stub.transport).delete()


def test_delete_that_never_completes_raises(stub: Any) -> None:
    stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    for _ in range(3):
        stub.add_response("get_provisioned_model_throughput", _pt("InService"))
    with pytest.raises(hf.DeploymentError, match="still listed"):
        ProvisionedDeployment(PT_ARN, transport=stub.transport).delete(confirm_timeout=10)


def test_failed_wait_raises_with_the_failure_message(stub: Any) -> None:
    stub.add_response("get_provisioned_model_throughput", _pt("Failed", failureMessage="no capacity"))
    with pytest.raises(hf.DeploymentError, match="no capacity"):
        ProvisionedDeployment(PT_ARN, transport=stub.transport).wait(progress=False)


def test_a_timed_out_wait_polls_gently_and_says_how_to_resume_it(stub: Any) -> None:
    for _ in range(3):
        stub.add_response("get_provisioned_model_throughput", _pt("Creating"))
    with pytest.raises(hf.WaitTimeoutError) as caught:
        ProvisionedDeployment(PT_ARN, transport=stub.transport).wait(timeout=60, progress=False)
    assert f"ProvisionedDeployment.attach({PT_ARN!r}).wait()" in str(caught.value)
    assert stub.transport.clock.sleeps == [30.0, 30.0]  # 30 s, then the 60 s timeout cuts the 37.5 s step


def test_update_and_attach(stub: Any) -> None:
    stub.add_response("get_provisioned_model_throughput", _pt("InService"), {"provisionedModelId": "support-pt"})
    stub.add_response(
        "update_provisioned_model_throughput",
        {},
        {"provisionedModelId": PT_ARN, "desiredProvisionedModelName": "renamed"},
    )
    stub.add_response("get_provisioned_model_throughput", _pt("Updating", provisionedModelName="renamed"))
    dep = ProvisionedDeployment.attach("support-pt", transport=stub.transport)
    assert dep.update(name="renamed").status == "Updating"
    with pytest.raises(ValueError, match="new name or a new model"):
        dep.update()


def test_hourly_cost_needs_a_price(stub: Any) -> None:
    stub.add_response("get_provisioned_model_throughput", _pt("InService", modelUnits=2))
    dep = ProvisionedDeployment(PT_ARN, transport=stub.transport)
    assert dep.hourly_cost(hf.Pricing(provisioned_per_model_unit_hour=20.0)) == pytest.approx(40.0)
    assert dep.hourly_cost(hf.Pricing()) is None


def test_find_orphans_lists_only_old_tagged_deployments(stub: Any) -> None:
    old = {k: v for k, v in _pt("InService").items() if k != "failureMessage"}
    summaries = [
        {**_summary(old), "provisionedModelArn": PT_ARN},
        {**_summary(old), "provisionedModelArn": PT_ARN.replace("abcdefghijkl", "zzzzzzzzzzzz")},
        {
            **_summary(old),
            "provisionedModelArn": PT_ARN.replace("abcdefghijkl", "newnewnewnew"),
            "creationTime": CREATED + timedelta(days=2),
        },
    ]
    stub.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": summaries})
    stub.add_response("list_tags_for_resource", {"tags": [{"key": "created-by", "value": "haiku-finetune"}]})
    stub.add_response("list_tags_for_resource", {"tags": [{"key": "team", "value": "ml"}]})
    orphans = find_orphans(older_than=timedelta(days=1), now=CREATED + timedelta(days=2), transport=stub.transport)
    assert [o.arn for o in orphans] == [PT_ARN]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_units": 0}, "model_units"),
        ({"commitment": "OneYear"}, "commitment"),
        ({"name": "-bad"}, "name"),
        ({"name": "two--dashes"}, "name"),
        ({"name": "x" * 64}, "name"),
    ],
)
def test_bad_arguments_buy_nothing(stub: Any, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProvisionedDeployment.create(MODEL_ARN, transport=stub.transport, **kwargs)


def _summary(details: dict[str, Any]) -> dict[str, Any]:
    keep = {
        "provisionedModelName",
        "provisionedModelArn",
        "modelArn",
        "desiredModelArn",
        "foundationModelArn",
        "modelUnits",
        "desiredModelUnits",
        "status",
        "creationTime",
        "lastModifiedTime",
    }
    return {k: v for k, v in details.items() if k in keep}


def _stub_create(stub: Any) -> None:
    stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN}, None)


def test_billing_warning_comes_once_at_the_first_use_outside_a_with_block(stub: Any) -> None:
    _stub_create(stub)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # create() itself warns nothing
        dep = ProvisionedDeployment.create(MODEL_ARN, name="support-pt", transport=stub.transport)
    stub.add_response("get_provisioned_model_throughput", _pt("InService"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dep.wait(progress=False)
        assert dep.model.model_id == PT_ARN
    assert [(w.category, "support-pt" in str(w.message)) for w in caught] == [(BillingWarning, True)]  # once
    # With warnings as errors it raises after create() returned: the handle is kept, nothing is lost.
    _stub_create(stub)
    again = ProvisionedDeployment.create(MODEL_ARN, name="support-pt", transport=stub.transport)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(BillingWarning):
            _ = again.model
    assert again.arn == PT_ARN


def test_no_billing_warning_inside_the_recommended_with_block(stub: Any) -> None:
    _stub_create(stub)
    stub.add_response("get_provisioned_model_throughput", _pt("InService"))  # __enter__: the commitment
    stub.add_response("get_provisioned_model_throughput", _pt("InService"))  # dep.wait()
    stub.add_response("delete_provisioned_model_throughput", {})
    _not_found(stub)  # the delete is confirmed
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ProvisionedDeployment.create(MODEL_ARN, name="support-pt", transport=stub.transport) as dep:
            assert dep.model.model_id == PT_ARN
            dep.wait(progress=False)


def test_no_billing_warning_for_an_attached_or_deleted_deployment(stub: Any) -> None:
    _stub_create(stub)
    dep = ProvisionedDeployment.create(MODEL_ARN, name="support-pt", transport=stub.transport)
    stub.add_response("delete_provisioned_model_throughput", {})
    _not_found(stub)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dep.delete()
        _ = dep.model
        _ = ProvisionedDeployment(PT_ARN, transport=stub.transport).model


def test_find_orphans_skips_a_deployment_deleted_while_scanning(stub: Any) -> None:
    summary = {k: v for k, v in _pt("InService").items() if k != "failureMessage"}
    stub.add_response("list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary]})
    stub.add_client_error("list_tags_for_resource", "ResourceNotFoundException", "gone", 404)
    assert find_orphans(now=CREATED + timedelta(days=1), transport=stub.transport) == []


def test_ctrl_c_during_the_delete_says_what_may_still_bill(stub: Any, capsys: pytest.CaptureFixture[str]) -> None:
    stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN})
    stub.add_response("get_provisioned_model_throughput", _pt("InService"))
    stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    stub.add_response("get_provisioned_model_throughput", _pt("InService"))  # still there: next poll sleeps
    stub.transport.clock.sleep = _raise_interrupt
    with pytest.raises(KeyboardInterrupt), _create(stub):
        pass
    assert f"attach({PT_ARN!r}).delete()" in capsys.readouterr().err


def _raise_interrupt(seconds: float) -> None:
    raise KeyboardInterrupt


def _interrupted_while_coming_up(stub: Any) -> None:
    stub.add_response("create_provisioned_model_throughput", {"provisionedModelArn": PT_ARN})
    stub.add_response("get_provisioned_model_throughput", _pt("Creating"))  # commitment check
    stub.add_response("get_provisioned_model_throughput", _pt("Creating"))  # first poll; then Ctrl-C in the sleep
    stub.add_response("delete_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN})
    stub.transport.clock.sleep = _raise_interrupt


def test_ctrl_c_while_coming_up_deletes_and_says_so(stub: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _interrupted_while_coming_up(stub)
    _not_found(stub)  # the delete is confirmed at once: no sleep
    with pytest.raises(KeyboardInterrupt), _create(stub):
        pytest.fail("the block must not run")
    err = capsys.readouterr().err
    assert f"waiting for provisioned throughput {PT_ARN} to come up; deleting it" in err
    assert "left running" not in err and "re-attach" not in err  # it is not left: it is being deleted


def test_a_second_ctrl_c_during_that_delete_warns_it_may_still_bill(
    stub: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    _interrupted_while_coming_up(stub)
    stub.add_response("get_provisioned_model_throughput", _pt("InService"))  # still listed: the confirm sleeps
    with pytest.raises(KeyboardInterrupt), _create(stub):
        pytest.fail("the block must not run")
    err = capsys.readouterr().err
    assert "deleting it" in err
    assert f"Interrupted while deleting provisioned throughput {PT_ARN}; it may still be billed" in err
    assert f"ProvisionedDeployment.attach({PT_ARN!r}).delete()" in err


def test_generated_names_are_valid_and_do_not_collide_within_a_second() -> None:
    from haiku_finetune.deployment import _NAME, _generated_name

    names = {_generated_name("haiku-ft-model_" + "x" * 80) for _ in range(20)}
    assert len(names) == 20
    assert all(len(n) <= 63 and _NAME.fullmatch(n) for n in names)
    assert _NAME.fullmatch("support_pt-2")  # underscores are allowed by the service


def test_list_passes_its_filters_and_reads_every_page(stub: Any) -> None:
    summary = {k: v for k, v in _pt("InService").items() if k != "failureMessage"}
    expected = {"nameContains": "support", "statusEquals": "InService", "modelArnEquals": MODEL_ARN}
    stub.add_response(
        "list_provisioned_model_throughputs", {"provisionedModelSummaries": [summary], "nextToken": "t1"}, expected
    )
    stub.add_response(
        "list_provisioned_model_throughputs",
        {"provisionedModelSummaries": [{**summary, "provisionedModelArn": PT_ARN[:-1] + "x"}]},
        {**expected, "nextToken": "t1"},
    )
    found = ProvisionedDeployment.list(
        name_contains="support", status="InService", model=MODEL_ARN, transport=stub.transport
    )
    assert [d.arn for d in found] == [PT_ARN, PT_ARN[:-1] + "x"]
    assert found[0].status == "InService"


def test_update_refuses_an_invalid_name_before_calling(stub: Any) -> None:
    with pytest.raises(ValueError, match="invalid"):
        ProvisionedDeployment(PT_ARN, transport=stub.transport).update(name="bad name")


def test_a_commitment_is_sent_as_its_duration(stub: Any) -> None:
    stub.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PT_ARN},
        {
            "modelUnits": 1,
            "provisionedModelName": "support-pt",
            "modelId": MODEL_ARN,
            "commitmentDuration": "SixMonths",
            "tags": [
                {"key": "created-by", "value": "haiku-finetune"},
                {"key": "haiku-finetune:client-token", "value": ANY},
            ],
            "clientRequestToken": ANY,
        },
    )
    assert _create(stub, commitment="SixMonths").arn == PT_ARN
    with pytest.raises(ValueError, match="commitment"):
        ProvisionedDeployment.create(MODEL_ARN, commitment="OneYear", transport=stub.transport)  # type: ignore[arg-type]


def test_update_points_the_deployment_at_another_model(stub: Any) -> None:
    other = MODEL_ARN.replace("abcdefghijkl", "zyxwvutsrqpo")
    assert other != MODEL_ARN
    stub.add_response(
        "update_provisioned_model_throughput", {}, {"provisionedModelId": PT_ARN, "desiredModelId": other}
    )
    stub.add_response("get_provisioned_model_throughput", _pt("Updating", desiredModelArn=other))
    dep = ProvisionedDeployment(PT_ARN, transport=stub.transport)
    assert dep.update(model=other).status == "Updating"


def test_create_from_a_custom_model_uses_its_transport_and_hands_it_on(stub: Any) -> None:
    model = hf.CustomModel.create(arn=MODEL_ARN, name="support", transport=stub.transport)
    stub.add_response(
        "create_provisioned_model_throughput",
        {"provisionedModelArn": PT_ARN},
        {
            "modelUnits": 1,
            "provisionedModelName": "support-pt",
            "modelId": MODEL_ARN,
            "tags": ANY,
            "clientRequestToken": ANY,
        },
    )
    try:
        hf.set_default_transport(
            hf.BedrockTransport(region="us-west-2", endpoint_urls={"bedrock": "http://127.0.0.1:9"})
        )
        deployment = ProvisionedDeployment.create(model, name="support-pt")  # no transport of its own
    finally:
        hf.set_default_transport(None)
    assert deployment.transport is stub.transport
    with pytest.warns(BillingWarning):
        assert deployment.model.transport is stub.transport
    assert deployment.model.base().transport is stub.transport


def test_an_interrupted_create_with_nothing_found_says_it_may_yet_appear_and_how_to_delete_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from haiku_finetune.deployment import _undo_interrupted_create

    client = boto3.client("bedrock", region_name="us-west-2", aws_access_key_id="x", aws_secret_access_key="x")
    transport = hf.BedrockTransport(clients={"bedrock": client}, clock=FakeClock())
    with Stubber(client) as stubber:
        for _ in range(40):  # the settle window polls on the fake clock; more answers than it asks for
            _not_found(stubber)
        _undo_interrupted_create(transport, "support-pt", "token", [], None)
    err = capsys.readouterr().err
    assert "none of that name appeared within 5s" in err
    assert "a request still in flight could yet create it" in err
    assert "get-provisioned-model-throughput --provisioned-model-id support-pt" in err
    assert "delete-provisioned-model-throughput --provisioned-model-id support-pt" in err
    assert sum(transport.clock.sleeps) <= 5.0  # type: ignore[attr-defined]


def test_create_knows_when_its_result_goes_straight_into_a_with_block() -> None:
    import contextlib
    import sys

    from haiku_finetune.deployment import _enters_a_with_block

    seen: list[bool] = []

    def probe() -> contextlib.nullcontext[None]:
        seen.append(_enters_a_with_block(sys._getframe(1)))
        return contextlib.nullcontext()

    with probe():
        pass
    plain = probe()
    with contextlib.ExitStack() as stack:
        stack.enter_context(probe())
    with plain:
        pass
    assert seen == [True, False, False]
