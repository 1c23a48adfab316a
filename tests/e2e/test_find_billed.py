"""`find_billed` lists what the library created that still bills — deployments, and tagged custom models no
deployment serves — with ages on the service's clock; ``deployments orphans --delete`` deletes the listed
deployments after a y/N question. One LocalBedrock in this process (manual clock: emulated hours take no time)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

import haiku_finetune as hf
from haiku_finetune._tags import LIBRARY_TAG_KEY, LIBRARY_TAG_VALUE
from haiku_finetune.deployment import ProvisionedDeployment
from haiku_finetune.local import LocalBedrock
from haiku_finetune.orphans import Orphan, find_billed, find_orphans
from tests.emulator.test_local_scheduler import make_throughput

pytestmark = pytest.mark.filterwarnings("ignore::haiku_finetune.deployment.BillingWarning")


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[LocalBedrock, str]]:
    """A trained custom model carrying the library's tag (as the library's jobs tag theirs), and no PT."""
    with LocalBedrock(pt_ready_seconds=0) as local:
        arn = make_throughput(local, name="billed")
        t = local.transport()
        model = t.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=arn)["modelArn"]
        t.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=arn)
        t.call("bedrock", "TagResource", resourceARN=model, tags=[{"key": LIBRARY_TAG_KEY, "value": LIBRARY_TAG_VALUE}])
        yield local, model


@pytest.fixture
def transport(emulator: tuple[LocalBedrock, str]) -> Iterator[hf.BedrockTransport]:
    local, _ = emulator
    yield local.transport()
    for d in local.deployments():  # a failed test must not leave a PT for the next one
        local.transport().call(
            "bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=d["provisionedModelArn"]
        )


def test_an_unused_tagged_custom_model_is_listed_with_its_age(
    emulator: tuple[LocalBedrock, str], transport: hf.BedrockTransport
) -> None:
    local, model = emulator
    local.advance(3 * 24 * 3600)
    [found] = find_billed(transport=transport)
    assert (found.kind, found.arn, found.status, found.model_units) == ("custom-model", model, "Active", None)
    assert found.age is not None and found.age >= timedelta(days=3)
    assert find_orphans(transport=transport) == []  # find_orphans stays deployments only
    assert find_billed(older_than=timedelta(days=365), transport=transport) == []
    # Untagged: not the library's, not listed.
    transport.call("bedrock", "UntagResource", resourceARN=model, tagKeys=[LIBRARY_TAG_KEY])
    try:
        assert find_billed(transport=transport) == []
    finally:
        transport.call(
            "bedrock", "TagResource", resourceARN=model, tags=[{"key": LIBRARY_TAG_KEY, "value": LIBRARY_TAG_VALUE}]
        )


def test_a_deployment_is_listed_and_its_model_is_not(
    emulator: tuple[LocalBedrock, str], transport: hf.BedrockTransport
) -> None:
    local, model = emulator
    dep = ProvisionedDeployment.create(model, model_units=2, transport=transport)
    local.advance(90 * 60)
    [found] = find_billed(transport=transport)  # created a moment ago on the service's clock: still seen
    assert (found.kind, found.arn, found.name, found.model_units) == ("provisioned-throughput", dep.arn, dep.name, 2)
    assert found.age is not None and timedelta(minutes=90) <= found.age < timedelta(minutes=91)
    # Two started hours × 2 model units × 5.
    assert found.cost_so_far(hf.Pricing(provisioned_per_model_unit_hour=5.0)) == 20.0
    assert found.cost_so_far(hf.Pricing()) is None
    dep.delete()
    assert [o.kind for o in find_billed(transport=transport)] == ["custom-model"]


def test_cost_so_far_of_a_custom_model_is_its_storage() -> None:
    model = Orphan("custom-model", "m", "arn:m", "Active", None, timedelta(days=15))
    assert model.cost_so_far(hf.Pricing(model_storage_per_month=2.0)) == pytest.approx(1.0)
    assert Orphan("custom-model", "m", "arn:m", "Active", None, None).cost_so_far(hf.Pricing()) is None
