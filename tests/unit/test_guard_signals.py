"""The building blocks composed by hand, ahead of their wiring into ProvisionedDeployment: a real owner process whose
``with`` block sits inside ``terminate_as_interrupt()`` is stopped by a real SIGTERM, SIGHUP or SIGINT at a random
point inside the block; the PT is deleted and the process ends as the signal would have ended it. LocalBedrock runs
in this process and outlives the owner."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from haiku_finetune.local import LocalBedrock
from tests.emulator.test_local_scheduler import make_throughput

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

_TRIALS = 4  # per signal; bounded so the file stays a few seconds on a shared 2-core machine

_OWNER = """
import json, sys, time, warnings
from pathlib import Path
import boto3
from haiku_finetune._signals import terminate_as_interrupt
from haiku_finetune._transport import BedrockTransport
from haiku_finetune.deployment import BillingWarning, ProvisionedDeployment
from haiku_finetune.guard import WatchdogGuard
warnings.simplefilter("ignore", BillingWarning)
cfg = json.loads(sys.argv[1])
session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-west-2")
t = BedrockTransport(session=session, region="us-west-2", endpoint_urls=cfg["endpoints"])
def second(signum):
    print("second signal", signum, flush=True)
with terminate_as_interrupt(on_second_signal=second):
    with ProvisionedDeployment.create(cfg["model"], name=cfg["name"], transport=t) as dep:
        guard = WatchdogGuard(transport=t, log_dir=Path(cfg["log_dir"])).arm(dep.arn, 3600)
        try:
            print("ready", dep.arn, flush=True)
            time.sleep(30)
        finally:
            guard.release()
"""


@pytest.fixture(scope="module")
def emulator() -> Iterator[tuple[LocalBedrock, str]]:
    with LocalBedrock(pt_ready_seconds=0) as local:
        # make_throughput trains the model; its own PT is deleted so only the owners' PTs are counted.
        arn = make_throughput(local, name="signals")
        model = next(d["modelArn"] for d in local.deployments() if d["provisionedModelArn"] == arn)
        local.transport().call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=arn)
        yield local, model


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_inside_the_block_deletes_the_pt_and_ends_as_the_signal(
    emulator: tuple[LocalBedrock, str], signum: int, tmp_path: Path
) -> None:
    local, model = emulator
    rng = random.Random(signum)
    endpoints = {"bedrock": local.endpoint_url, "iam": local.s3_endpoint_url, "sts": local.s3_endpoint_url}
    for trial in range(_TRIALS):
        config = {
            "endpoints": endpoints,
            "model": model,
            "name": f"sig{int(signum)}-{trial}",
            "log_dir": str(tmp_path),
        }
        owner = subprocess.Popen(
            [sys.executable, "-c", _OWNER, json.dumps(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert owner.stdout is not None
            line = owner.stdout.readline()
            assert line.startswith("ready"), line + owner.communicate(timeout=30)[1]
            arn = line.split()[1]
            time.sleep(rng.uniform(0, 0.05))  # a random point inside the block
            owner.send_signal(signum)
            _, err = owner.communicate(timeout=60)
        finally:
            if owner.poll() is None:
                owner.kill()
                owner.communicate()
        live = {d["provisionedModelArn"] for d in local.deployments()}
        assert arn not in live, err
        assert owner.returncode == -signum, err
        log = (tmp_path / f"{arn.rsplit('/', 1)[-1]}.log").read_text()
        assert "released by the owner" in log  # the guard stood down: the owner deleted it itself
    assert local.deployments() == []
