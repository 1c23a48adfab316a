"""End to end on LocalBedrock (manual clock, no real sleeping): a job's custom model is deployed, served,
invoked three ways, batched under injected faults, and deleted, and nothing is left billing, whatever way the
`with` block ends."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

import haiku_finetune as hf
from haiku_finetune import iam, storage
from haiku_finetune.deployment import BillingWarning, ProvisionedDeployment, find_orphans
from haiku_finetune.jobs import CustomizationJob

BUCKET = "haiku-deploy-e2e"

pytestmark = pytest.mark.filterwarnings("ignore::haiku_finetune.deployment.BillingWarning")


def _records(n: int) -> list[dict[str, Any]]:
    return [
        {
            "system": "You label support tickets with one word.",
            "messages": [
                {"role": "user", "content": f"Ticket {i}: I was charged twice for order {i}."},
                {"role": "assistant", "content": "billing"},
            ],
        }
        for i in range(n)
    ]


def _last_text(request: dict[str, Any]) -> str:
    """The last message's text: a string from InvokeModel, text blocks from Converse."""
    content = request["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return "".join(block.get("text", "") for block in content if block.get("type", "text") == "text")


@pytest.fixture(scope="module")
def custom_model(transport: hf.BedrockTransport, tmp_path_factory: pytest.TempPathFactory) -> hf.CustomModel:
    """A custom model made by a real (emulated) customization job."""
    transport.call("s3", "CreateBucket", Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-west-2"})
    path = tmp_path_factory.mktemp("data") / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _records(40)), encoding="utf-8")
    train = storage.upload_dataset(path, f"s3://{BUCKET}/data/", transport=transport)
    output = f"s3://{BUCKET}/out/"
    role = iam.ensure_service_role(
        "haiku-deploy-e2e", training=f"s3://{BUCKET}/data/", output=output, transport=transport
    )
    job = CustomizationJob.create(
        training_data=train,
        output_uri=output,
        role_arn=role,
        hyperparameters=hf.Hyperparameters(epoch_count=1, batch_size=8),
        transport=transport,
    )
    return job.wait(progress=False).custom_model


def _live_arns(local: Any) -> set[str]:
    found = set()
    for item in local.deployments():
        found.add(item if isinstance(item, str) else item["provisionedModelArn"])
    return found


def test_job_model_to_deployment_to_invoke_converse_stream_to_delete(
    custom_model: hf.CustomModel, transport: hf.BedrockTransport, local: Any
) -> None:
    with ProvisionedDeployment.create(custom_model, model_units=1, name="e2e-pt", transport=transport) as dep:
        assert dep.status == "InService"
        assert dep.arn in _live_arns(local)
        local.set_responder(dep.arn, lambda request: "label: " + _last_text(request).split(":")[0])
        model = dep.model
        completion = model.invoke("Ticket 7: refund please", system="Label it.", max_tokens=20, temperature=0)
        assert completion.text == "label: Ticket 7"
        assert completion.usage.output_tokens > 0
        assert model.converse("Ticket 8: hi", max_tokens=20).text == "label: Ticket 8"
        stream = model.stream("Ticket 9: hello", max_tokens=20)
        assert "".join(stream) == "label: Ticket 9"
        assert stream.completion.text == "label: Ticket 9"
        before = local.meter(dep.arn)  # billing started at creation, while it was still Creating
        assert before > 0
        local.advance(2 * 3600)
        accrued = local.meter(dep.arn)
        assert accrued - before == pytest.approx(2.0, rel=0.01)  # one model unit for two hours
    assert dep.arn not in _live_arns(local)
    with pytest.raises(hf.ResourceNotFoundError):
        dep.refresh()
    local.advance(5 * 3600)
    assert local.meter(dep.arn) == pytest.approx(accrued, abs=0.02)  # stopped accruing


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_an_exception_or_ctrl_c_in_the_block_leaves_nothing_billing(
    custom_model: hf.CustomModel, transport: hf.BedrockTransport, local: Any, error: BaseException
) -> None:
    before = _live_arns(local)
    seen: list[str] = []

    def body() -> None:
        with ProvisionedDeployment.create(custom_model, transport=transport) as dep:
            seen.extend(_live_arns(local) - before)
            assert dep.arn in seen
            raise error

    with pytest.raises(type(error)):
        body()
    assert len(seen) == 1  # it existed inside the block...
    assert _live_arns(local) == before  # ...and nothing is left after it


def test_a_create_whose_answer_was_lost_makes_exactly_one_deployment(
    custom_model: hf.CustomModel, transport: hf.BedrockTransport, local: Any
) -> None:
    before = _live_arns(local)
    # The first attempt is handled (the deployment exists) but never answered; the retry must get it back,
    # not buy a second one.
    local.faults = _faults_for(lose_response={"CreateProvisionedModelThroughput": 1})
    try:
        dep = ProvisionedDeployment.create(custom_model, name="e2e-lost-answer", transport=transport)
    finally:
        local.faults = None
    try:
        assert _live_arns(local) - before == {dep.arn}
    finally:
        dep.delete()


def test_a_committed_deployment_is_refused_in_a_with_block(
    custom_model: hf.CustomModel, transport: hf.BedrockTransport, local: Any
) -> None:
    dep = ProvisionedDeployment.create(custom_model, commitment="OneMonth", transport=transport)
    with pytest.raises(hf.DeploymentError, match="OneMonth commitment"), dep:
        pytest.fail("the block must not run")
    # refused, not deleted: a committed deployment runs until its term ends
    assert dep.arn in _live_arns(local)


def test_billing_warning_and_orphan_scan(
    custom_model: hf.CustomModel, transport: hf.BedrockTransport, local: Any
) -> None:
    dep = ProvisionedDeployment.create(custom_model, name="forgotten-pt", transport=transport)
    with pytest.warns(BillingWarning, match="billed every hour"):  # its first use outside a `with` block
        dep.wait(progress=False)
    untagged = transport.call(
        "bedrock",
        "CreateProvisionedModelThroughput",
        modelUnits=1,
        provisionedModelName="not-ours",
        modelId=custom_model.arn,
    )["provisionedModelArn"]
    try:
        assert dep.hourly_cost(hf.Pricing(provisioned_per_model_unit_hour=20.0)) == pytest.approx(20.0)
        assert dep.hourly_cost(hf.Pricing()) is None

        def orphans() -> set[str]:
            found = find_orphans(older_than=timedelta(hours=1), now=local.clock.now(), transport=transport)
            return {o.arn for o in found}

        assert dep.arn not in orphans()  # too young to be forgotten
        local.advance(3 * 3600)
        found = orphans()
        assert dep.arn in found  # old and ours
        assert untagged not in found  # old, but not the library's
    finally:
        dep.delete()
        ProvisionedDeployment.attach(untagged, transport=transport).delete()
    assert dep.arn not in orphans()


def test_batch_under_throttling_and_5xx_keeps_order_once_each_and_adapts(
    custom_model: hf.CustomModel, transport: hf.BedrockTransport, local: Any
) -> None:
    with ProvisionedDeployment.create(custom_model, transport=transport) as dep:
        seen: Counter[str] = Counter()

        def echo(request: dict[str, Any]) -> str:
            text = request["messages"][-1]["content"]
            seen[text] += 1
            if sum(seen.values()) == 100:  # a storm: the next 24 calls refused, as a deployment over capacity does
                local.faults = _faults_for(throttle={"InvokeModel": 24}, server_error={"InvokeModel": 0})
            if sum(seen.values()) == 200:  # the storm passes: the window must grow back
                local.faults = _faults()
            return f"echo:{text}"

        local.set_responder(dep.arn, echo)
        # Sparse random throttles and 5xx throughout (retried by the transport; that they alone leave the window
        # whole is test_model_local's), then the storm.
        local.faults = _faults(throttle=0.15, server_error=0.05)
        prompts = [f"p{i}" for i in range(400)]
        model = dep.model
        results = model.batch(prompts, concurrency=8, progress=False, on_error="return")
        local.faults = _faults()
        assert len(results) == len(prompts)
        answered = {i: r for i, r in enumerate(results) if isinstance(r, hf.Completion)}
        assert all(r.text == f"echo:p{i}" for i, r in answered.items())  # in input order
        assert len(answered) >= 395  # five attempts each: a prompt failing them all is very rare
        assert all(count == 1 for count in seen.values())  # nothing answered twice
        assert sum(seen.values()) == len(answered)
        stats = model.last_batch_stats
        assert stats is not None
        assert stats.throttled > 0
        assert stats.min_concurrency < 8
        assert stats.final_concurrency == 8  # recovered once the faults stopped
        assert stats.max_in_flight <= 8


def _faults(**rates: float) -> Any:
    from haiku_finetune.local import Faults

    return Faults(**rates)


def _faults_for(**specs: dict[str, int]) -> Any:
    from haiku_finetune.local import Faults

    return Faults(**specs)  # type: ignore[arg-type]
