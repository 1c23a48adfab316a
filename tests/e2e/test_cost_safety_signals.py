"""Acceptance: SIGINT, SIGTERM and SIGHUP at random points during the create and inside the ``with`` block leave
no Provisioned Throughput billing.

Real owner processes, real signals, and one LocalBedrock server process that outlives them all (started once for
every trial; loopback only). The create is slowed by an injected latency so that a share of the signals lands
while ``CreateProvisionedModelThroughput`` is in flight, and the block's body sleeps so that another share lands
inside it. Every process is bounded by real timeouts.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.serve_process import Served, serve

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes and signals")

TRIALS = int(os.environ.get("HAIKU_FINETUNE_SIGNAL_TRIALS", "20"))  # per signal
_CREATE_LATENCY = 0.25  # real seconds the create takes: a window for signals during it
_BODY_SECONDS = 0.4  # real seconds the block's body sleeps
_TIMEOUT = 60.0  # real seconds any one owner may take

# The server: LocalBedrock with PTs in service at once, a slow create, and a trained custom model; prints the
# environment that points boto3 at it, then the model's ARN.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_SERVER = f"""
import sys, threading
sys.path.insert(0, {_ROOT!r})
from haiku_finetune.local import Faults, LocalBedrock
from tests.emulator.test_local_scheduler import make_throughput
_latency = {{"CreateProvisionedModelThroughput": {_CREATE_LATENCY}}}
local = LocalBedrock(pt_ready_seconds=0, faults=Faults(latency=_latency))
local.start()
try:
    t = local.transport()
    pt = make_throughput(local, "seed")
    model = t.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=pt)["modelArn"]
    t.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=pt)
    for key, value in sorted(local.session_env().items()):
        print(f"export {{key}}={{value}}")
    print(f"# model {{model}}")
    print("# Serving until Ctrl-C", flush=True)
    threading.Event().wait()
except KeyboardInterrupt:
    pass
finally:
    local.stop()
"""

# One owner: announce, then buy a PT in a `with` block whose body sleeps.
_OWNER = f"""
import sys, time
import haiku_finetune as hf
from haiku_finetune.deployment import ProvisionedDeployment
transport = hf.BedrockTransport(region="us-west-2")
print("go", flush=True)
with ProvisionedDeployment.create(sys.argv[1], transport=transport) as dep:
    print("in", dep.arn, flush=True)
    time.sleep({_BODY_SECONDS})
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Served, str]]:
    with serve(["-c", _SERVER], ready="# Serving until Ctrl-C") as server:
        model = next(line.split()[-1] for line in server.lines if line.startswith("# model "))
        yield server, model


def _live(server: Served) -> list[dict[str, Any]]:
    summaries: list[dict[str, Any]] = server.bedrock().list_provisioned_model_throughputs()["provisionedModelSummaries"]
    return summaries


def _owner(server: Served, script: str, model: str, ready: str, signum: int, delay: float) -> tuple[int, str, str]:
    """Run an owner ``script``; once it prints ``ready``, wait ``delay`` and send ``signum``. Returns its exit
    status, all it printed (``ready`` included) and its stderr; it is killed if it outlives the timeout."""
    owner = subprocess.Popen(
        [sys.executable, "-c", script, model],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **server.env},
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line.strip() == ready, line + owner.communicate(timeout=_TIMEOUT)[1]
        time.sleep(delay)
        owner.send_signal(signum)
        out, err = owner.communicate(timeout=_TIMEOUT)
        return owner.returncode, line + out, err
    finally:
        if owner.poll() is None:
            owner.kill()
            owner.communicate()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_at_a_random_point_leaves_no_pt_billing(served: tuple[Served, str], signum: signal.Signals) -> None:
    server, model = served
    rng = random.Random(int(signum))
    # From just after "go" (the create is in flight for _CREATE_LATENCY) to past the body's end.
    delays = [rng.uniform(0.0, _CREATE_LATENCY + _BODY_SECONDS + 0.1) for _ in range(TRIALS)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda d: _owner(server, _OWNER, model, "go", signum, d), delays))
    elapsed = time.monotonic() - started
    where = {"create": 0, "block": 0, "after": 0}
    for returncode, out, err in results:
        if "done" in out:
            where["after"] += 1
            # The block ended cleanly; a signal landing while the interpreter exits may still kill it.
            assert returncode in (0, -signum), err
            continue
        where["block" if "\nin " in out else "create"] += 1
        # The process ends as the signal would have made it end: killed by it (SIGINT: KeyboardInterrupt's exit).
        assert returncode == -signum, (returncode, out, err)
    live = _live(server)
    left = [pt["provisionedModelName"] for pt in live]
    for name in left:  # so that the next signal's test counts only its own
        server.bedrock().delete_provisioned_model_throughput(provisionedModelId=name)
    marks = [pt["provisionedModelName"] for pt in live] + [pt["provisionedModelArn"] for pt in live]
    told = [(code, out, err) for code, out, err in results if any(mark in out + err for mark in marks)]
    assert left == [], f"PTs left billing: {left}; their owners' exit status, output and errors: {told}"
    print(f"{signal.Signals(signum).name}: {TRIALS} trials in {elapsed:.1f}s; signal landed: {where}")
    assert where["create"] + where["block"] >= TRIALS // 2  # most signals hit the create or the block


# One owner whose `with` block is entered late: __enter__ waits, so a signal lands after create() has bought the PT
# and returned, but before the block has begun (the step no handle covered).
_LATE_OWNER = """
import sys, time
import haiku_finetune as hf
from haiku_finetune.deployment import ProvisionedDeployment
real_enter = ProvisionedDeployment.__enter__
def late_enter(self):
    print("bought", flush=True)
    time.sleep(30)  # where the signal lands (the test sends it at once; the owner is bounded by _TIMEOUT)
    return real_enter(self)
ProvisionedDeployment.__enter__ = late_enter
with ProvisionedDeployment.create(sys.argv[1], transport=hf.BedrockTransport(region="us-west-2")) as dep:
    print("in", dep.arn, flush=True)
print("done", flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_a_signal_after_the_purchase_and_before_the_block_leaves_no_pt_billing(
    served: tuple[Served, str], signum: signal.Signals
) -> None:
    server, model = served
    returncode, out, err = _owner(server, _LATE_OWNER, model, "bought", signum, 0.0)
    assert returncode == -signum, (returncode, out, err)
    assert "interrupted as the block began" in err, err
    assert _live(server) == [], err


def test_an_ignored_sighup_after_the_purchase_and_before_the_block_lets_the_program_carry_on(
    served: tuple[Served, str],
) -> None:
    server, model = served
    # As under nohup: SIGHUP ignored. It must stay ignored between create() and __enter__, and the block run on.
    script = "import signal\nsignal.signal(signal.SIGHUP, signal.SIG_IGN)\n" + _LATE_OWNER.replace(
        "sleep(30)", "sleep(1)"
    )
    returncode, out, err = _owner(server, script, model, "bought", signal.SIGHUP, 0.0)
    assert returncode == 0, (returncode, out, err)
    assert "\nin " in out and "done" in out, (out, err)
    assert _live(server) == [], err
