"""Guards that delete a Provisioned Throughput when its lifetime ends or its owner dies — even by SIGKILL.

Two kinds, one small interface: ``guard.arm(provisioned_arn, lifetime)`` returns a `GuardHandle` with
``extend(lifetime)``, ``release()`` (alias ``disarm()``) and ``describe()``.

- `SchedulerGuard` (server-side): an Amazon EventBridge Scheduler one-time schedule
  (``at(yyyy-mm-ddThh:mm:ss)``, ``ActionAfterCompletion=DELETE``) whose universal target
  ``arn:aws:scheduler:::aws-sdk:bedrock:deleteProvisionedModelThroughput`` deletes the PT, run by a
  least-privilege role (`ensure_scheduler_role`) that may delete only that one PT. It needs nothing of the
  owner's machine: it fires if the machine is gone.
- `WatchdogGuard` (local): a detached ``python -m haiku_finetune._watchdog`` process holding a lease (a
  pipe) from its owner; EOF without a ``release`` line means the owner died, and it deletes the PT. It needs no
  IAM beyond the owner's, but dies with the machine.

**Not confirmed about the real service** (see docs/cost-safety.md): that Scheduler accepts
``bedrock:deleteProvisionedModelThroughput`` as a universal target, and the casing of its ``Input`` keys
(`SCHEDULER_INPUT_KEY`; the Bedrock REST API names the member ``provisionedModelId``). Test a schedule in
your account before relying on it, and keep the watchdog as the fallback.

The IAM policy documents are pure functions here for now; they belong with ``iam.py`` (which may re-export them).
This module must not create or wait for deployments: it only arms, moves and releases guards for them.

Longer than ~600 lines on purpose: both guards share one interface and are read side by side.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import select
import subprocess
import sys
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

from . import iam
from ._tags import LIBRARY_TAG_KEY, LIBRARY_TAG_VALUE
from ._transport import BedrockTransport, resolve_transport
from .errors import HaikuFinetuneError, ResourceNotFoundError

__all__ = [
    "GUARD_PREFIX",
    "SCHEDULER_INPUT_KEY",
    "SCHEDULER_TARGET_ARN",
    "GuardHandle",
    "GuardSchedule",
    "SchedulerGuard",
    "WatchdogGuard",
    "ensure_scheduler_role",
    "find_guard_schedules",
    "scheduler_delete_policy",
    "scheduler_trust_policy",
    "watchdog_log_dir",
]

_log = logging.getLogger(__name__)

#: The universal target that calls Bedrock's DeleteProvisionedModelThroughput (not confirmed, see above).
SCHEDULER_TARGET_ARN = "arn:aws:scheduler:::aws-sdk:bedrock:deleteProvisionedModelThroughput"
#: The ``Input`` key naming the PT. Not confirmed: universal targets take the API's request parameters, and
#: whether Scheduler wants Bedrock's camelCase ``provisionedModelId`` or this PascalCase form is unverified.
SCHEDULER_INPUT_KEY = "ProvisionedModelId"
#: The name prefix of every schedule (and role) the library's guards make.
GUARD_PREFIX = "haiku-finetune-guard-"
#: The inline policy on a scheduler role.
SCHEDULER_POLICY_NAME = "haiku-finetune-delete-one-provisioned-throughput"

# Attempts at CreateSchedule while a new role propagates (about 3 minutes at most, see SchedulerGuard._create).
_PROPAGATION_ATTEMPTS = 8
_NAME_SAFE = re.compile(r"[^0-9A-Za-z_.-]")
_ACCOUNT = re.compile(r"[0-9]{12}")
_PT_ARN = re.compile(r"arn:aws(-[a-z-]+)?:bedrock:[a-z0-9-]+:[0-9]{12}:provisioned-model/[0-9A-Za-z._-]+")


def _seconds(lifetime: float | timedelta) -> float:
    seconds = lifetime.total_seconds() if isinstance(lifetime, timedelta) else float(lifetime)
    if seconds <= 0:
        raise ValueError(f"a guard's lifetime must be > 0 seconds, got {seconds}")
    return seconds


def _check_arn(provisioned_arn: str) -> None:
    if not _PT_ARN.fullmatch(provisioned_arn):
        raise ValueError(f"not a provisioned model ARN: {provisioned_arn!r}")


def _pt_id(provisioned_arn: str) -> str:
    return provisioned_arn.rsplit("/", 1)[-1]


class GuardHandle(ABC):
    """An armed guard for one Provisioned Throughput.

    Attributes:
        provisioned_arn: The PT the guard deletes.
        expires_at: When the guard deletes it unless extended or released (UTC).
    """

    provisioned_arn: str
    expires_at: datetime

    @abstractmethod
    def extend(self, lifetime: float | timedelta) -> None:
        """Move the deadline to ``lifetime`` (seconds or a timedelta) from now."""

    @abstractmethod
    def release(self) -> None:
        """Stand the guard down without deleting the PT (the owner deleted it, or keeps it on purpose). Idempotent."""

    def disarm(self) -> None:
        """Alias of `release`."""
        self.release()

    @abstractmethod
    def describe(self) -> str:
        """One line: what deletes the PT when, and the command that removes the guard itself."""


# -- EventBridge Scheduler ----------------------------------------------------------------------------------


def scheduler_trust_policy(account_id: str) -> dict[str, Any]:
    """The trust policy of a scheduler role: EventBridge Scheduler, acting for this account only.

    Args:
        account_id: The 12-digit account the schedules belong to (``aws:SourceAccount``: the confused-deputy
            guard).
    """
    if not _ACCOUNT.fullmatch(account_id):
        raise ValueError(f"not a 12-digit AWS account id: {account_id!r}")
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "scheduler.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
            }
        ],
    }


def scheduler_delete_policy(provisioned_arn: str) -> dict[str, Any]:
    """The permissions of a scheduler role: delete this one Provisioned Throughput, nothing else.

    A PT ARN holds no ``*`` or ``?`` (IAM has no escape for them outside policy variables), so the ARN is the
    exact resource.
    """
    _check_arn(provisioned_arn)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DeleteOneProvisionedThroughput",
                "Effect": "Allow",
                "Action": "bedrock:DeleteProvisionedModelThroughput",
                "Resource": provisioned_arn,
            }
        ],
    }


def scheduler_role_name(provisioned_arn: str) -> str:
    """The role `SchedulerGuard` makes for one PT (IAM role names: at most 64 characters)."""
    return f"{GUARD_PREFIX}{_NAME_SAFE.sub('-', _pt_id(provisioned_arn))}"[:64]


def ensure_scheduler_role(
    provisioned_arn: str, *, name: str | None = None, transport: BedrockTransport | None = None
) -> str:
    """Create (or bring up to date) the role EventBridge Scheduler uses to delete one PT; return its ARN.

    The role trusts ``scheduler.amazonaws.com`` for this account (`scheduler_trust_policy`) and may call
    only ``bedrock:DeleteProvisionedModelThroughput`` on ``provisioned_arn`` (`scheduler_delete_policy`).
    It is tagged ``created-by=haiku-finetune``. The caller needs ``iam:GetRole``, ``iam:CreateRole``,
    ``iam:TagRole``, ``iam:UpdateAssumeRolePolicy`` and ``iam:PutRolePolicy`` on it, and ``iam:PassRole`` to
    hand it to Scheduler.

    Raises:
        HaikuFinetuneError: A role of that name exists and was not made by the library.
    """
    _check_arn(provisioned_arn)
    t = resolve_transport(transport)
    role_name = name or scheduler_role_name(provisioned_arn)
    trust = json.dumps(scheduler_trust_policy(t.account_id()))
    try:
        role = t.call("iam", "GetRole", RoleName=role_name)["Role"]
    except ResourceNotFoundError:
        role = t.call(
            "iam",
            "CreateRole",
            RoleName=role_name,
            AssumeRolePolicyDocument=trust,
            Description="Lets EventBridge Scheduler delete one Provisioned Throughput (made by haiku-finetune)",
            Tags=[{"Key": LIBRARY_TAG_KEY, "Value": LIBRARY_TAG_VALUE}],
        )["Role"]
        _log.info("created scheduler role %s", role["Arn"])
    else:
        tags = role.get("Tags")
        if tags is None:
            tags = t.call("iam", "ListRoleTags", RoleName=role_name).get("Tags", [])
        if not any(tag.get("Key") == LIBRARY_TAG_KEY and tag.get("Value") == LIBRARY_TAG_VALUE for tag in tags):
            raise HaikuFinetuneError(
                f"IAM role {role_name} exists but was not made by haiku-finetune; pass another name"
            )
        t.call("iam", "UpdateAssumeRolePolicy", RoleName=role_name, PolicyDocument=trust)
    policy = json.dumps(scheduler_delete_policy(provisioned_arn))
    t.call("iam", "PutRolePolicy", RoleName=role_name, PolicyName=SCHEDULER_POLICY_NAME, PolicyDocument=policy)
    return str(role["Arn"])


def _delete_scheduler_role(t: BedrockTransport, role_name: str) -> None:
    """Remove a guard's role (best effort: a role bills nothing, so a failure here is logged, not raised)."""
    try:
        t.call("iam", "DeleteRolePolicy", RoleName=role_name, PolicyName=SCHEDULER_POLICY_NAME)
        t.call("iam", "DeleteRole", RoleName=role_name)
    except ResourceNotFoundError:
        _log.debug("scheduler role %s already gone", role_name)
    except HaikuFinetuneError as error:
        _log.warning("could not delete scheduler role %s (it bills nothing): %s", role_name, error)


def at_expression(when: datetime) -> str:
    """A one-time schedule expression for ``when`` (in UTC, to the second)."""
    return f"at({when.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%S')})"


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class SchedulerGuard:
    """Arms EventBridge Scheduler one-time schedules that delete a PT when its lifetime ends.

    Args:
        transport: The transport for IAM and Scheduler calls (default: the process default, resolved now).
        role_arn: An existing scheduler role to use; default: one least-privilege role per PT
            (`ensure_scheduler_role`), deleted again on release.
        group: The schedule group.
        now: The service's wall clock (UTC); LocalBedrock users pass ``local.clock.now``.
    """

    transport: BedrockTransport | None = None
    role_arn: str | None = None
    group: str = "default"
    now: Callable[[], datetime] = _utcnow

    def __post_init__(self) -> None:
        self.transport = resolve_transport(self.transport)

    def arm(self, provisioned_arn: str, lifetime: float | timedelta) -> SchedulerGuardHandle:
        """Create the schedule (and its role) that deletes ``provisioned_arn`` after ``lifetime``.

        Raises:
            ValueError: Not a PT ARN, or a lifetime <= 0.
            ServiceError: IAM or Scheduler refused (nothing is left armed).
        """
        _check_arn(provisioned_arn)
        seconds = _seconds(lifetime)
        assert self.transport is not None
        t = self.transport
        made_role = self.role_arn is None
        role_arn = self.role_arn or ensure_scheduler_role(provisioned_arn, transport=t)
        name = f"{GUARD_PREFIX}{_NAME_SAFE.sub('-', _pt_id(provisioned_arn))}"[:64]
        expires = self.now() + timedelta(seconds=seconds)
        definition: dict[str, Any] = {
            "Name": name,
            "GroupName": self.group,
            "ScheduleExpression": at_expression(expires),
            "ScheduleExpressionTimezone": "UTC",
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "ActionAfterCompletion": "DELETE",
            "Description": f"haiku-finetune guard: deletes {provisioned_arn}",
            "Target": {
                "Arn": SCHEDULER_TARGET_ARN,
                "RoleArn": role_arn,
                "Input": json.dumps({SCHEDULER_INPUT_KEY: provisioned_arn}),
            },
        }
        try:
            self._create(t, definition, fresh_role=made_role)
        except BaseException:
            if made_role:
                _delete_scheduler_role(t, role_arn.rsplit("/", 1)[-1])
            raise
        _log.info("guard armed: schedule %s deletes %s at %s", name, provisioned_arn, expires.isoformat())
        return SchedulerGuardHandle(
            provisioned_arn=provisioned_arn,
            expires_at=expires,
            _transport=t,
            _definition=definition,
            _role_name=role_arn.rsplit("/", 1)[-1] if made_role else None,
            _now=self.now,
        )

    @staticmethod
    def _create(t: BedrockTransport, definition: dict[str, Any], *, fresh_role: bool) -> None:
        """CreateSchedule; with a role made seconds ago, ride out IAM's propagation delay.

        Scheduler may refuse a role it cannot assume yet ("... must allow AWS EventBridge Scheduler to assume the
        role"): IAM is eventually consistent. One client token for every attempt, so a create that did reach the
        service is not made twice.
        """
        token = uuid.uuid4().hex

        def call() -> None:
            t.call("scheduler", "CreateSchedule", ClientToken=token, **definition)

        if not fresh_role:
            call()
            return
        policy = dataclasses.replace(
            t.retry, max_attempts=_PROPAGATION_ATTEMPTS, initial_backoff=5.0, max_backoff=30.0, total_timeout=180.0
        )
        policy.run("CreateSchedule", call, retry_if=iam.is_role_propagation_refusal)


@dataclass
class SchedulerGuardHandle(GuardHandle):
    """An armed `SchedulerGuard` schedule."""

    provisioned_arn: str
    expires_at: datetime
    _transport: BedrockTransport
    _definition: dict[str, Any]
    _role_name: str | None
    _now: Callable[[], datetime]
    released: bool = field(default=False, init=False)

    @property
    def schedule_name(self) -> str:
        """The schedule's name."""
        return str(self._definition["Name"])

    def extend(self, lifetime: float | timedelta) -> None:
        """Move the schedule to ``lifetime`` from now (UpdateSchedule replaces the whole definition)."""
        if self.released:
            raise HaikuFinetuneError(f"guard for {self.provisioned_arn} was released; arm a new one")
        expires = self._now() + timedelta(seconds=_seconds(lifetime))
        definition = {**self._definition, "ScheduleExpression": at_expression(expires)}
        self._transport.call("scheduler", "UpdateSchedule", **definition)
        self._definition, self.expires_at = definition, expires
        _log.info("guard for %s extended to %s", self.provisioned_arn, expires.isoformat())

    def release(self) -> None:
        """Delete the schedule (and the role made for it). A schedule already gone (fired) is fine."""
        if self.released:
            return
        try:
            self._transport.call(
                "scheduler", "DeleteSchedule", Name=self.schedule_name, GroupName=self._definition["GroupName"]
            )
        except ResourceNotFoundError:
            _log.debug("schedule %s already gone", self.schedule_name)
        if self._role_name is not None:
            _delete_scheduler_role(self._transport, self._role_name)
        self.released = True
        _log.info("guard for %s released", self.provisioned_arn)

    def describe(self) -> str:
        """What deletes the PT when, and the command that removes the schedule."""
        group = self._definition["GroupName"]
        return (
            f"EventBridge Scheduler schedule {self.schedule_name} (group {group}) deletes {self.provisioned_arn} "
            f"at {self.expires_at.strftime('%Y-%m-%dT%H:%M:%SZ')}; to remove it: aws scheduler delete-schedule "
            f"--name {self.schedule_name} --group-name {group} --region {self._transport.region}"
        )


@dataclass(frozen=True)
class GuardSchedule:
    """A guard schedule found in the account.

    Attributes:
        name: The schedule's name.
        group: Its schedule group.
        provisioned_arn: The PT it deletes (``None`` when its Input does not name one).
        expression: Its ``at(...)`` expression (UTC).
        pt_exists: Whether that PT still exists; ``False`` marks a stale guard (nothing left to delete).
        created: When the schedule was created, on the service's clock (``None`` when it did not say).
    """

    name: str
    group: str
    provisioned_arn: str | None
    expression: str
    pt_exists: bool
    created: datetime | None = None


def find_guard_schedules(*, group: str = "default", transport: BedrockTransport | None = None) -> list[GuardSchedule]:
    """List the guard schedules in ``group``, each with whether its PT still exists.

    For orphan scans: a schedule whose PT is gone bills nothing but will fail when it fires; a PT with no
    schedule (and no owner) is what [`find_orphans`][haiku_finetune.deployment.find_orphans] reports.
    """
    t = resolve_transport(transport)
    found = []
    for page in t.paginate("scheduler", "ListSchedules", GroupName=group, NamePrefix=GUARD_PREFIX):
        for summary in page.get("Schedules", []):
            try:
                detail = t.call("scheduler", "GetSchedule", Name=summary["Name"], GroupName=group)
            except ResourceNotFoundError:
                continue  # fired (or released) between the listing and now
            arn = _input_arn(detail.get("Target", {}).get("Input"))
            exists = False
            if arn is not None:
                try:
                    t.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=arn)
                    exists = True
                except ResourceNotFoundError:
                    exists = False
            created = detail.get("CreationDate", summary.get("CreationDate"))
            found.append(
                GuardSchedule(
                    summary["Name"],
                    group,
                    arn,
                    str(detail.get("ScheduleExpression", "")),
                    exists,
                    created if isinstance(created, datetime) else None,
                )
            )
    return found


def _input_arn(raw: str | None) -> str | None:
    try:
        body = json.loads(raw or "")
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    for key in (SCHEDULER_INPUT_KEY, "provisionedModelId"):
        if isinstance(body.get(key), str):
            return str(body[key])
    return None


# -- local watchdog -----------------------------------------------------------------------------------------

#: Seconds the watchdog lives past its lifetime, to delete and confirm the delete, before it gives up.
WATCHDOG_MARGIN = 300.0


def watchdog_log_dir() -> Path:
    """Where watchdogs log: ``$HAIKU_FINETUNE_WATCHDOG_DIR``, else ``~/.cache/haiku_finetune/watchdog``."""
    override = os.environ.get("HAIKU_FINETUNE_WATCHDOG_DIR")
    return Path(override) if override else Path.home() / ".cache" / "haiku_finetune" / "watchdog"


def _child_env(t: BedrockTransport) -> dict[str, str]:
    """The environment that lets the watchdog reach the same account, region and endpoints as its owner."""
    env = dict(os.environ)
    session = t.session
    credentials = session.get_credentials()
    method = getattr(credentials, "method", None) if credentials is not None else None
    if credentials is not None and method == "explicit":
        # Given in code, so nothing in the environment would find them again: hand them over (never logged).
        frozen = credentials.get_frozen_credentials()
        env["AWS_ACCESS_KEY_ID"] = str(frozen.access_key)
        env["AWS_SECRET_ACCESS_KEY"] = str(frozen.secret_key)
        if frozen.token:
            env["AWS_SESSION_TOKEN"] = frozen.token
        else:
            env.pop("AWS_SESSION_TOKEN", None)
    elif session.profile_name and session.profile_name != "default":
        env["AWS_PROFILE"] = session.profile_name
    return env


@dataclass
class WatchdogGuard:
    """Arms a detached watchdog process per PT that deletes it when the owner dies or the lifetime ends.

    Args:
        transport: The transport whose region, endpoints and credentials the watchdog copies (default: the
            process default, resolved now).
        log_dir: Where the watchdog logs (default `watchdog_log_dir`).
        margin: Seconds past the lifetime the watchdog may spend deleting before it exits.
        start_timeout: Real seconds to wait for the watchdog to report it is armed.
    """

    transport: BedrockTransport | None = None
    log_dir: Path | None = None
    margin: float = WATCHDOG_MARGIN
    start_timeout: float = 30.0

    def __post_init__(self) -> None:
        self.transport = resolve_transport(self.transport)

    def arm(self, provisioned_arn: str, lifetime: float | timedelta, *, name: str | None = None) -> WatchdogHandle:
        """Start the watchdog for ``provisioned_arn``; returns once it has said it is armed.

        Keep the handle for as long as the PT should live: dropping it closes the lease, and the watchdog then
        deletes the PT as it would for a dead owner.

        Args:
            provisioned_arn: The PT to delete.
            lifetime: Seconds (or a timedelta) until the watchdog deletes it anyway.
            name: Names the log file (default: the PT's id).

        Raises:
            HaikuFinetuneError: The watchdog did not start.
        """
        _check_arn(provisioned_arn)
        seconds = _seconds(lifetime)
        assert self.transport is not None
        t = self.transport
        log_dir = self.log_dir or watchdog_log_dir()
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = log_dir / f"{_NAME_SAFE.sub('-', name or _pt_id(provisioned_arn))}.log"
        command = [
            sys.executable,
            "-m",
            "haiku_finetune._watchdog",
            "--arn",
            provisioned_arn,
            "--lifetime",
            repr(seconds),
            "--margin",
            repr(self.margin),
            "--region",
            t.region,
            "--log",
            str(log_file),
        ]
        endpoints = t.endpoint_urls
        # The endpoint the owner's bedrock client really uses (a ready-made client may carry one the transport was
        # not told about): the watchdog must delete in the same place, never fall back to another.
        endpoints["bedrock"] = str(t.client("bedrock").meta.endpoint_url)
        for service, url in sorted(endpoints.items()):
            command += ["--endpoint", f"{service}={url}"]
        # The lease is the child's stdin: the owner holds the only write end (Popen's pipes are not inherited by
        # the owner's other children), so EOF means the owner is gone. A new session keeps a terminal's SIGHUP or
        # the owner's process-group SIGINT/SIGTERM from taking the watchdog down with it.
        # Its stderr goes to its log too, so even a crash before logging starts leaves a trace where the docs say.
        with log_file.open("ab") as stderr:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=_child_env(t),
                start_new_session=True,
            )
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], self.start_timeout)
        line = process.stdout.readline().decode(errors="replace").strip() if ready else ""
        process.stdout.close()
        if line != "armed":
            # Kill before closing the lease: a slow watchdog seeing EOF would delete a PT its owner still uses.
            process.kill()
            process.wait(timeout=10)
            assert process.stdin is not None
            process.stdin.close()
            raise HaikuFinetuneError(
                f"the watchdog for {provisioned_arn} did not start (said {line!r}); see {log_file}"
            )
        expires = _utcnow() + timedelta(seconds=seconds)
        _log.info("watchdog %d guards %s until %s (log %s)", process.pid, provisioned_arn, expires, log_file)
        assert process.stdin is not None
        return WatchdogHandle(
            provisioned_arn=provisioned_arn,
            expires_at=expires,
            log_file=log_file,
            _process=process,
            _lease=process.stdin,
        )


@dataclass
class WatchdogHandle(GuardHandle):
    """An armed `WatchdogGuard` process."""

    provisioned_arn: str
    expires_at: datetime
    log_file: Path
    _process: subprocess.Popen[bytes]
    _lease: IO[bytes]
    released: bool = field(default=False, init=False)

    @property
    def pid(self) -> int:
        """The watchdog's process id."""
        return self._process.pid

    def _send(self, line: str) -> None:
        try:
            self._lease.write(line.encode() + b"\n")
            self._lease.flush()
        except BrokenPipeError as error:
            raise HaikuFinetuneError(
                f"the watchdog for {self.provisioned_arn} is gone (see {self.log_file})"
            ) from error

    def extend(self, lifetime: float | timedelta) -> None:
        """Tell the watchdog its new deadline: ``lifetime`` from now."""
        if self.released:
            raise HaikuFinetuneError(f"guard for {self.provisioned_arn} was released; arm a new one")
        seconds = _seconds(lifetime)
        self._send(f"extend {seconds!r}")
        self.expires_at = _utcnow() + timedelta(seconds=seconds)

    def release(self, timeout: float = 10.0) -> None:
        """Tell the watchdog to stand down (it deletes nothing) and reap it."""
        if self.released:
            return
        self.released = True
        try:
            self._send("release")
            self._lease.close()
        except (HaikuFinetuneError, OSError):
            _log.debug("watchdog for %s already gone", self.provisioned_arn)
        try:
            self._process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _log.warning("watchdog %d did not stand down; killing it", self._process.pid)
            self._process.kill()
            self._process.wait(timeout=timeout)

    def describe(self) -> str:
        """What deletes the PT when, and how to stop the watchdog."""
        return (
            f"watchdog process {self.pid} deletes {self.provisioned_arn} if this process dies or at "
            f"{self.expires_at.strftime('%Y-%m-%dT%H:%M:%SZ')}; log {self.log_file}; to stop it: kill {self.pid}"
        )
