"""``ProvisionedDeployment.create(max_lifetime=..., guard=...)``: the guard is armed right after the create (before
the InService wait), released with the delete, moved by ``extend()``; a PT left alone is deleted when its lifetime
ends; the owner killed by SIGKILL with the watchdog armed through ``create()`` loses its PT within seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from haiku_finetune.deployment import ProvisionedDeployment
from haiku_finetune.errors import DeploymentError
from haiku_finetune.guard import GuardHandle, SchedulerGuardHandle
from haiku_finetune.local import LocalBedrock
from tests.emulator.test_local_scheduler import make_throughput
from tests.unit.test_guard import _REAL_TIMEOUT, _alive, _endpoints, _live, _wait_until

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes and signals")


def _model(local: LocalBedrock) -> str:
    """A trained custom model's ARN (the PT make_throughput bought for it is deleted again)."""
    t = local.transport()
    arn = make_throughput(local, "seed")
    model = str(t.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=arn)["modelArn"])
    ProvisionedDeployment(arn, transport=t).delete()
    return model


def _schedules(local: LocalBedrock) -> list[str]:
    t = local.transport()
    return [s["Name"] for page in t.paginate("scheduler", "ListSchedules") for s in page.get("Schedules", [])]


def test_the_guard_is_armed_at_create_moved_by_extend_and_released_with_the_delete(local: LocalBedrock) -> None:
    model = _model(local)
    t = local.transport()
    with ProvisionedDeployment.create(model, max_lifetime=timedelta(hours=2), transport=t) as dep:
        handle = dep.guard
        assert isinstance(handle, SchedulerGuardHandle)
        assert _schedules(local) == [handle.schedule_name]
        created = t.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=dep.arn)["creationTime"]
        # Counted on the service's clock from the PT's creation, not on this machine's.
        assert abs((handle.expires_at - created).total_seconds() - 7200) < 5
        dep.extend(timedelta(hours=5))
        assert abs((handle.expires_at - created).total_seconds() - 5 * 3600) < 5
    assert _schedules(local) == []  # released with the PT
    assert dep.guard is None


def test_a_guarded_pt_left_alone_is_deleted_when_its_lifetime_ends(local: LocalBedrock) -> None:
    model = _model(local)
    dep = ProvisionedDeployment.create(model, max_lifetime=600, transport=local.transport())
    assert dep.arn in _live(local)
    local.advance(601)
    assert dep.arn not in _live(local)
    assert local.meter(dep.arn) < 1.0 * 601 / 3600 + 0.01  # billed for the lifetime only


def test_a_guard_that_cannot_be_armed_deletes_the_pt_it_was_for(local: LocalBedrock) -> None:
    from haiku_finetune.errors import HaikuFinetuneError

    class Broken:
        def arm(self, provisioned_arn: str, lifetime: float | timedelta) -> GuardHandle:
            raise HaikuFinetuneError("no guard today")

    model = _model(local)
    with pytest.raises(HaikuFinetuneError, match="no guard today"):
        ProvisionedDeployment.create(model, max_lifetime=600, guard=Broken(), transport=local.transport())
    assert _live(local) == set()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"guard": "scheduler"}, "needs max_lifetime"),
        ({"max_lifetime": 0}, "more than 0"),
        ({"max_lifetime": -5.0}, "more than 0"),
        ({"max_lifetime": 60, "guard": "cron"}, "guard must be"),
        ({"max_lifetime": 60, "commitment": "OneMonth"}, "committed"),
        ({"tags": {"haiku-finetune:client-token": "x"}}, "reserved"),
    ],
)
def test_bad_guard_arguments_buy_nothing(local: LocalBedrock, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ProvisionedDeployment.create("some-model", transport=local.transport(), **kwargs)
    assert _live(local) == set()


def test_extend_without_a_guard_says_how_to_get_one(local: LocalBedrock) -> None:
    with pytest.raises(DeploymentError, match="max_lifetime="):
        ProvisionedDeployment("arn:aws:bedrock:us-west-2:123456789012:provisioned-model/x", transport=None).extend(60)


_OWNER = """
import json, sys, time
import boto3
from haiku_finetune._transport import BedrockTransport
from haiku_finetune.deployment import ProvisionedDeployment
cfg = json.loads(sys.argv[1])
session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-west-2")
t = BedrockTransport(session=session, region="us-west-2", endpoint_urls=cfg["endpoints"])
# No `with`: the emulator's PT stays Creating on its manual clock, and the guard is armed before any wait anyway.
dep = ProvisionedDeployment.create(cfg["model"], max_lifetime=3600, guard="watchdog", transport=t)
print("armed", dep.guard.pid, dep.arn, flush=True)
time.sleep(60)
"""


def test_sigkill_of_an_owner_with_a_watchdog_armed_by_create_deletes_the_pt(
    local: LocalBedrock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = _model(local)
    config = {"model": model, "endpoints": _endpoints(local, None)}
    env = {**os.environ, "HAIKU_FINETUNE_WATCHDOG_DIR": str(tmp_path)}
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, json.dumps(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    watchdog = 0
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line.startswith("armed"), line + owner.communicate(timeout=_REAL_TIMEOUT)[1]
        _, pid, arn = line.split()
        watchdog = int(pid)
        assert arn in _live(local)
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=_REAL_TIMEOUT)
        assert _wait_until(lambda: arn not in _live(local))
        assert _wait_until(lambda: not _alive(watchdog))
    finally:
        if owner.poll() is None:
            owner.kill()
        owner.communicate()
        if watchdog and _alive(watchdog):
            os.kill(watchdog, signal.SIGKILL)
