"""Guards that outlive their owner: policy documents, the scheduler role, both guards armed, moved, released, and
SIGKILL of a real owner process with each guard armed (LocalBedrock in this process outlives the owner)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from haiku_finetune import guard
from haiku_finetune._transport import BedrockTransport
from haiku_finetune.errors import HaikuFinetuneError
from haiku_finetune.guard import (
    SCHEDULER_TARGET_ARN,
    SchedulerGuard,
    WatchdogGuard,
    ensure_scheduler_role,
    scheduler_delete_policy,
    scheduler_trust_policy,
)
from haiku_finetune.local import LocalBedrock
from haiku_finetune.local.scheduler import Scheduler
from tests.emulator.test_local_scheduler import make_throughput

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX processes and signals")

PT = "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/abc123def456"
_REAL_TIMEOUT = 30.0  # real seconds any process in these tests may take


# -- pure policy documents ----------------------------------------------------------------------------------


def test_trust_policy_admits_only_scheduler_for_this_account() -> None:
    (statement,) = scheduler_trust_policy("123456789012")["Statement"]
    assert statement["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "123456789012"}}
    with pytest.raises(ValueError, match="12-digit"):
        scheduler_trust_policy("12345")


def test_delete_policy_allows_one_action_on_one_pt() -> None:
    (statement,) = scheduler_delete_policy(PT)["Statement"]
    assert statement["Action"] == "bedrock:DeleteProvisionedModelThroughput"
    assert statement["Resource"] == PT
    assert statement["Effect"] == "Allow"
    for bad in ("*", "arn:aws:bedrock:us-west-2:123456789012:provisioned-model/*", "arn:aws:bedrock:us-west-2:1:x"):
        with pytest.raises(ValueError, match="not a provisioned model ARN"):
            scheduler_delete_policy(bad)


def test_at_expression_is_utc_to_the_second() -> None:
    from datetime import datetime, timezone

    when = datetime(2026, 12, 2, 19, 4, 5, 999, tzinfo=timezone(timedelta(hours=2)))
    assert guard.at_expression(when) == "at(2026-12-02T17:04:05)"


@pytest.mark.parametrize("lifetime", [0, -1, timedelta(0)])
def test_a_lifetime_must_be_positive(lifetime: Any, transport: BedrockTransport) -> None:
    with pytest.raises(ValueError, match="lifetime must be > 0"):
        SchedulerGuard(transport=transport).arm(PT, lifetime)


# -- on LocalBedrock (moto IAM, the emulated scheduler) -------------------------------------------------------


@pytest.fixture
def scheduled(local: LocalBedrock) -> tuple[Scheduler, BedrockTransport]:
    """The emulator's scheduler (served on LocalBedrock's own port) and a transport that reaches it."""
    return local.scheduler, _transport(local, local.endpoint_url)


def _endpoints(local: LocalBedrock, scheduler_url: str | None) -> dict[str, str]:
    urls = {"bedrock": local.endpoint_url, "iam": local.s3_endpoint_url, "sts": local.s3_endpoint_url}
    if scheduler_url:
        urls["scheduler"] = scheduler_url
    return urls


def _transport(local: LocalBedrock, scheduler_url: str | None) -> BedrockTransport:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-west-2"
    )
    return BedrockTransport(
        session=session, region="us-west-2", endpoint_urls=_endpoints(local, scheduler_url), clock=local.clock
    )


def _live(local: LocalBedrock) -> set[str]:
    return {d["provisionedModelArn"] for d in local.deployments()}


def test_ensure_scheduler_role_is_least_privilege_and_idempotent(
    local: LocalBedrock, scheduled: tuple[Scheduler, BedrockTransport]
) -> None:
    _, t = scheduled
    arn = ensure_scheduler_role(PT, transport=t)
    assert ensure_scheduler_role(PT, transport=t) == arn
    name = arn.rsplit("/", 1)[-1]
    role = t.call("iam", "GetRole", RoleName=name)["Role"]
    trust = role["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust == scheduler_trust_policy("123456789012")
    policy = t.call("iam", "GetRolePolicy", RoleName=name, PolicyName=guard.SCHEDULER_POLICY_NAME)["PolicyDocument"]
    policy = json.loads(policy) if isinstance(policy, str) else policy
    assert policy == scheduler_delete_policy(PT)
    assert t.call("iam", "ListRolePolicies", RoleName=name)["PolicyNames"] == [guard.SCHEDULER_POLICY_NAME]


def test_ensure_scheduler_role_refuses_a_role_it_did_not_make(scheduled: tuple[Scheduler, BedrockTransport]) -> None:
    _, t = scheduled
    t.call("iam", "CreateRole", RoleName="theirs", AssumeRolePolicyDocument="{}")
    with pytest.raises(HaikuFinetuneError, match="not made by haiku-finetune"):
        ensure_scheduler_role(PT, name="theirs", transport=t)


def test_scheduler_guard_arm_extend_release(local: LocalBedrock, scheduled: tuple[Scheduler, BedrockTransport]) -> None:
    scheduler, t = scheduled
    arn = make_throughput(local)
    handle = SchedulerGuard(transport=t, now=local.clock.now).arm(arn, timedelta(hours=2))
    (schedule,) = scheduler.schedules()
    assert schedule["Target"]["Arn"] == SCHEDULER_TARGET_ARN
    assert json.loads(schedule["Target"]["Input"]) == {"ProvisionedModelId": arn}
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["RoleArn"].endswith(guard.scheduler_role_name(arn))
    assert f"aws scheduler delete-schedule --name {handle.schedule_name}" in handle.describe()
    handle.extend(timedelta(hours=5))
    local.advance(3 * 3600)
    assert scheduler.fire_due() == []  # moved past the first deadline
    handle.release()
    handle.release()  # idempotent
    assert scheduler.schedules() == []
    local.advance(3 * 3600)
    assert scheduler.fire_due() == []
    assert arn in _live(local)
    with pytest.raises(HaikuFinetuneError, match="released"):
        handle.extend(60)
    names = [r["RoleName"] for r in t.call("iam", "ListRoles")["Roles"]]
    assert guard.scheduler_role_name(arn) not in names  # the role made for it went with it


def test_scheduler_guard_fires_when_the_lifetime_ends(
    local: LocalBedrock, scheduled: tuple[Scheduler, BedrockTransport]
) -> None:
    scheduler, t = scheduled
    arn = make_throughput(local)
    SchedulerGuard(transport=t, now=local.clock.now).arm(arn, 1800)
    local.advance(1801)
    assert [f.outcome for f in scheduler.invocations] == ["ok"]  # advance() fired it
    assert arn not in _live(local)


def test_a_refused_schedule_leaves_no_role_behind(
    local: LocalBedrock, scheduled: tuple[Scheduler, BedrockTransport]
) -> None:
    _, t = scheduled
    arn = make_throughput(local)
    sg = SchedulerGuard(transport=t, group="no-such-group")
    with pytest.raises(HaikuFinetuneError):
        sg.arm(arn, 600)
    names = [r["RoleName"] for r in t.call("iam", "ListRoles")["Roles"]]
    assert guard.scheduler_role_name(arn) not in names


# -- the watchdog, in process ---------------------------------------------------------------------------------


def _wait_until(predicate: Any, timeout: float = _REAL_TIMEOUT) -> bool:
    """Poll ``predicate`` in real time: the watchdog is a real process on the real clock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) still answers kill(0); it is done all the same.
    with contextlib.suppress(OSError):
        if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
            return False
    return True


def test_watchdog_released_deletes_nothing_and_exits(local: LocalBedrock, tmp_path: Path) -> None:
    arn = make_throughput(local)
    handle = WatchdogGuard(transport=_transport(local, None), log_dir=tmp_path).arm(arn, 600, name="mine")
    assert handle.log_file == tmp_path / "mine.log"
    assert f"kill {handle.pid}" in handle.describe()
    handle.extend(900)
    handle.release()
    assert not _alive(handle.pid)
    assert arn in _live(local)
    log = handle.log_file.read_text()
    assert "lifetime extended" in log
    assert "released by the owner" in log


def test_watchdog_deletes_when_the_lifetime_ends(local: LocalBedrock, tmp_path: Path) -> None:
    arn = make_throughput(local)
    handle = WatchdogGuard(transport=_transport(local, None), log_dir=tmp_path).arm(arn, 0.5)
    try:
        assert _wait_until(lambda: arn not in _live(local))
        assert _wait_until(lambda: "confirmed" in handle.log_file.read_text())
        assert "lifetime ended" in handle.log_file.read_text()
    finally:
        handle.release()


def test_watchdog_log_dir_is_overridable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HAIKU_FINETUNE_WATCHDOG_DIR", str(tmp_path))
    assert guard.watchdog_log_dir() == tmp_path
    monkeypatch.delenv("HAIKU_FINETUNE_WATCHDOG_DIR")
    assert guard.watchdog_log_dir() == Path.home() / ".cache" / "haiku_finetune" / "watchdog"


# -- SIGKILL of a real owner with each guard armed --------------------------------------------------------------

_OWNER = """
import json, sys, time
from datetime import datetime
from pathlib import Path
import boto3
from haiku_finetune._transport import BedrockTransport
from haiku_finetune.guard import SchedulerGuard, WatchdogGuard
cfg = json.loads(sys.argv[1])
session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-west-2")
t = BedrockTransport(session=session, region="us-west-2", endpoint_urls=cfg["endpoints"])
if cfg["kind"] == "scheduler":
    # The service's clock is the emulator's (its date is set by the suite), not this process's wall clock.
    service_now = datetime.fromisoformat(cfg["now"])
    handle = SchedulerGuard(transport=t, now=lambda: service_now).arm(cfg["arn"], cfg["lifetime"])
    print("armed 0", flush=True)
else:
    handle = WatchdogGuard(transport=t, log_dir=Path(cfg["log_dir"])).arm(cfg["arn"], cfg["lifetime"])
    print("armed", handle.pid, flush=True)
time.sleep(60)
"""


def _kill_owner(config: dict[str, Any]) -> int:
    """Run an owner that arms a guard, SIGKILL it once armed; return the watchdog's pid (0 for none)."""
    owner = subprocess.Popen(
        [sys.executable, "-c", _OWNER, json.dumps(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        line = owner.stdout.readline()
        assert line.startswith("armed"), line + owner.communicate(timeout=_REAL_TIMEOUT)[1]
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=_REAL_TIMEOUT)
        assert owner.returncode == -signal.SIGKILL
        return int(line.split()[1])
    finally:
        if owner.poll() is None:
            owner.kill()
        owner.communicate()


def test_sigkill_of_the_owner_with_a_scheduler_guard_the_pt_is_deleted(
    local: LocalBedrock, scheduled: tuple[Scheduler, BedrockTransport]
) -> None:
    scheduler, t = scheduled
    arn = make_throughput(local)
    url = t.endpoint_urls["scheduler"]
    config = {"kind": "scheduler", "arn": arn, "lifetime": 3600, "endpoints": _endpoints(local, url)}
    _kill_owner({**config, "now": local.clock.now().isoformat()})
    assert arn in _live(local)
    # Past the lifetime the owner armed on the emulator's clock (a little slack for the time it took).
    local.advance(3600 + 120)
    (fired,) = scheduler.invocations  # advance() fired it
    assert (fired.provisioned_arn, fired.outcome) == (arn, "ok")
    assert arn not in _live(local)
    assert local.meter(arn) < 1.05  # billed for the lifetime, not beyond


def test_sigkill_of_the_owner_with_a_watchdog_the_pt_is_deleted(local: LocalBedrock, tmp_path: Path) -> None:
    arn = make_throughput(local)
    config = {"kind": "watchdog", "arn": arn, "lifetime": 3600, "endpoints": _endpoints(local, None)}
    watchdog = _kill_owner({**config, "log_dir": str(tmp_path)})
    try:
        assert _wait_until(lambda: arn not in _live(local)), (tmp_path / f"{arn.rsplit('/', 1)[-1]}.log").read_text()
        assert _wait_until(lambda: not _alive(watchdog))
    finally:
        if _alive(watchdog):
            os.kill(watchdog, signal.SIGKILL)
    log = (tmp_path / f"{arn.rsplit('/', 1)[-1]}.log").read_text()
    assert "owner died without releasing the lease" in log
    assert f"confirmed: {arn} is deleted" in log


def test_the_watchdog_gets_credentials_given_in_code_through_its_environment() -> None:
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="AKIDEXAMPLE", aws_secret_access_key="s3cr3t", region_name="us-west-2"
    )
    env = guard._child_env(BedrockTransport(session=session))
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == ("AKIDEXAMPLE", "s3cr3t")
    assert "AWS_SESSION_TOKEN" not in env


def test_the_watchdog_gets_the_owners_profile(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import boto3

    config = tmp_path / "config"
    config.write_text("[profile ops]\nregion = us-west-2\naws_access_key_id = AKIDOPS\naws_secret_access_key = x\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    env = guard._child_env(BedrockTransport(session=boto3.session.Session(profile_name="ops")))
    assert env["AWS_PROFILE"] == "ops"
    assert env.get("AWS_ACCESS_KEY_ID") != "AKIDOPS"  # the profile, not its keys, crosses the process boundary


def test_arming_a_watchdog_that_cannot_start_says_where_its_log_is(
    local: LocalBedrock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    true = shutil.which("true")
    assert true is not None
    monkeypatch.setattr(guard.sys, "executable", true)  # exits at once without saying "armed"
    with pytest.raises(HaikuFinetuneError, match=r"did not start .* see .*abc123def456\.log"):
        WatchdogGuard(transport=_transport(local, None), log_dir=tmp_path).arm(PT, 60)


def test_a_role_scheduler_cannot_assume_yet_is_waited_for_with_one_token(
    local: LocalBedrock, scheduled: tuple[Scheduler, BedrockTransport], monkeypatch: pytest.MonkeyPatch
) -> None:
    from haiku_finetune.local.wire import ApiError

    scheduler, t = scheduled
    arn = make_throughput(local)
    real = scheduler.op_CreateSchedule
    tokens: list[str] = []

    def not_yet(params: dict[str, Any]) -> dict[str, Any]:
        tokens.append(params["ClientToken"])
        if len(tokens) < 3:
            raise ApiError(
                "ValidationException",
                "The execution role you provide must allow AWS EventBridge Scheduler to assume the role.",
            )
        return real(params)

    monkeypatch.setattr(scheduler, "op_CreateSchedule", not_yet)
    started = local.clock.monotonic()
    SchedulerGuard(transport=t, now=local.clock.now).arm(arn, 600)
    assert len(tokens) == 3 and len(set(tokens)) == 1
    assert local.clock.monotonic() > started  # it backed off on the (emulated) clock
    assert len(scheduler.schedules()) == 1


def test_a_role_refusal_with_a_role_of_yours_is_not_retried(
    local: LocalBedrock, scheduled: tuple[Scheduler, BedrockTransport], monkeypatch: pytest.MonkeyPatch
) -> None:
    from haiku_finetune.local.wire import ApiError

    scheduler, t = scheduled
    calls: list[int] = []

    def refuse(params: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        raise ApiError("ValidationException", "The execution role you provide must allow Scheduler to assume the role.")

    monkeypatch.setattr(scheduler, "op_CreateSchedule", refuse)
    with pytest.raises(HaikuFinetuneError, match="assume the role"):
        SchedulerGuard(transport=t, role_arn="arn:aws:iam::123456789012:role/mine").arm(PT, 600)
    assert calls == [1]


def test_find_guard_schedules_marks_the_stale_ones(
    local: LocalBedrock, scheduled: tuple[Scheduler, BedrockTransport]
) -> None:
    _, t = scheduled
    kept, gone = make_throughput(local, name="kept"), make_throughput(local, name="gone")
    for arn in (kept, gone):
        SchedulerGuard(transport=t, now=local.clock.now).arm(arn, 3600)
    t.call("bedrock", "DeleteProvisionedModelThroughput", provisionedModelId=gone)
    found = {g.provisioned_arn: g for g in guard.find_guard_schedules(transport=t)}
    assert set(found) == {kept, gone}
    assert found[kept].pt_exists and not found[gone].pt_exists
    assert found[kept].name.startswith(guard.GUARD_PREFIX)
    assert found[kept].expression.startswith("at(")
