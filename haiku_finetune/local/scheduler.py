"""Emulated Amazon EventBridge Scheduler, just enough for the library's guard: one-time schedules that delete a PT.

`Scheduler` answers CreateSchedule, GetSchedule, ListSchedules, UpdateSchedule and DeleteSchedule for
one-time ``at(yyyy-mm-ddThh:mm:ss)`` schedules (UTC) in the ``default`` group whose target is the universal
target ``arn:aws:scheduler:::aws-sdk:bedrock:deleteProvisionedModelThroughput``; anything else is refused with
a ValidationException naming what is not emulated. `Scheduler.fire_due` fires what is due on the
emulator's clock by really calling the emulated ``DeleteProvisionedModelThroughput``, and records each
invocation; a fired schedule with ``ActionAfterCompletion=DELETE`` disappears, as on AWS.

`Scheduler.answer` serves its REST-JSON routes (from botocore's ``scheduler`` model, through ``wire.py``) on
LocalBedrock's own server, which every LocalBedrock carries (``local.scheduler``; the transports and
``session_env()`` it hands out point ``scheduler`` at it).

Not emulated: the execution role is not assumed or checked (the real service would fail the invocation if the
role may not delete the PT), retries and dead-letter queues, rate/cron expressions, other groups, tags. The
``Input`` key is accepted in both casings (``ProvisionedModelId`` and ``provisionedModelId``) because which
one AWS wants is not confirmed. This module must not touch Provisioned Throughput state except through the
``delete`` callable it is given.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cache
from typing import Any

import botocore.session
import orjson

from ._common import ACCOUNT, REGION
from .clock import EmulatedClock
from .wire import ApiError, Route, conflict, not_found, parse_request, serialize_output, validation

__all__ = ["DELETE_PT_TARGET", "Invocation", "Scheduler"]

_log = logging.getLogger(__name__)

#: The one universal target emulated.
DELETE_PT_TARGET = "arn:aws:scheduler:::aws-sdk:bedrock:deleteProvisionedModelThroughput"
_AT = re.compile(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)")
_INPUT_KEYS = ("ProvisionedModelId", "provisionedModelId")


@dataclass
class _Schedule:
    definition: dict[str, Any]
    at: datetime
    created: datetime
    modified: datetime


@dataclass(frozen=True)
class Invocation:
    """One firing of a schedule: when, what it deleted, and how that went (``"ok"`` or the error)."""

    schedule: str
    at: datetime
    provisioned_arn: str
    outcome: str


@dataclass
class Scheduler:
    """The emulated scheduler.

    Args:
        clock: The emulator's clock; schedules fire when its ``now()`` reaches their ``at(...)`` time.
        delete: Deletes a PT by ARN the way DeleteProvisionedModelThroughput does (raises ``ApiError``).
    """

    clock: EmulatedClock
    delete: Callable[[str], None]
    account: str = ACCOUNT
    region: str = REGION
    invocations: list[Invocation] = field(default_factory=list)
    _schedules: dict[str, _Schedule] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def for_emulator(cls, local: Any) -> Scheduler:
        """A scheduler over a running [`LocalBedrock`][haiku_finetune.local.LocalBedrock]: fires on its clock, deletes
        through its provisioned-throughput code."""
        service = local._running_service()

        def _delete(arn: str) -> None:
            service.handle("DeleteProvisionedModelThroughput", {"provisionedModelId": arn})

        return cls(clock=local.clock, delete=_delete)

    # -- API ----------------------------------------------------------------------------------------------

    def handle(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """Run one Scheduler operation; returns its output dict."""
        handler = getattr(self, f"op_{operation}", None)
        if handler is None:
            raise ApiError("ValidationException", f"LocalBedrock's scheduler does not emulate {operation}", 400)
        with self._lock:
            result: dict[str, Any] = handler(params)
            return result

    def _arn(self, group: str, name: str) -> str:
        return f"arn:aws:scheduler:{self.region}:{self.account}:schedule/{group}/{name}"

    def _checked(self, params: dict[str, Any]) -> tuple[dict[str, Any], datetime]:
        group = params.get("GroupName") or "default"
        if group != "default":
            raise not_found(f"Schedule group {group} does not exist (LocalBedrock emulates only 'default').")
        found = _AT.fullmatch(str(params["ScheduleExpression"]))
        if found is None:
            raise validation(
                f"Invalid Schedule Expression {params['ScheduleExpression']}: LocalBedrock emulates only "
                "one-time at(yyyy-mm-ddThh:mm:ss) schedules"
            )
        zone = params.get("ScheduleExpressionTimezone") or "UTC"
        if zone != "UTC":
            raise validation(f"LocalBedrock emulates only ScheduleExpressionTimezone UTC, not {zone}")
        when = datetime.strptime(found.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        target = params["Target"]
        if target["Arn"] != DELETE_PT_TARGET:
            raise validation(f"LocalBedrock emulates only the target {DELETE_PT_TARGET}, not {target['Arn']}")
        _provisioned_arn(target)
        definition = {k: v for k, v in params.items() if k != "ClientToken"}
        definition["GroupName"] = group
        definition.setdefault("State", "ENABLED")
        definition.setdefault("ActionAfterCompletion", "NONE")
        definition.setdefault("ScheduleExpressionTimezone", "UTC")
        return definition, when

    def op_CreateSchedule(self, params: dict[str, Any]) -> dict[str, Any]:
        definition, when = self._checked(params)
        name = definition["Name"]
        if name in self._schedules:
            raise conflict(f"Schedule {name} already exists.")
        now = self.clock.now()
        self._schedules[name] = _Schedule(definition, when, now, now)
        return {"ScheduleArn": self._arn(definition["GroupName"], name)}

    def _schedule(self, params: dict[str, Any]) -> _Schedule:
        group = params.get("GroupName") or "default"
        found = self._schedules.get(params["Name"])
        if found is None or found.definition["GroupName"] != group:
            raise not_found(f"Schedule {params['Name']} does not exist.")
        return found

    def op_UpdateSchedule(self, params: dict[str, Any]) -> dict[str, Any]:
        existing = self._schedule(params)
        definition, when = self._checked(params)  # a full replacement, as on AWS: omitted members reset
        existing.definition, existing.at, existing.modified = definition, when, self.clock.now()
        return {"ScheduleArn": self._arn(definition["GroupName"], definition["Name"])}

    def op_DeleteSchedule(self, params: dict[str, Any]) -> dict[str, Any]:
        schedule = self._schedule(params)
        del self._schedules[schedule.definition["Name"]]
        return {}

    def op_GetSchedule(self, params: dict[str, Any]) -> dict[str, Any]:
        schedule = self._schedule(params)
        d = schedule.definition
        return {
            **d,
            "Arn": self._arn(d["GroupName"], d["Name"]),
            "CreationDate": schedule.created,
            "LastModificationDate": schedule.modified,
        }

    def op_ListSchedules(self, params: dict[str, Any]) -> dict[str, Any]:
        prefix = params.get("NamePrefix") or ""
        group = params.get("GroupName")
        state = params.get("State")
        summaries = []
        for name in sorted(self._schedules):
            s = self._schedules[name]
            d = s.definition
            if not name.startswith(prefix) or (group and d["GroupName"] != group) or (state and d["State"] != state):
                continue
            summaries.append(
                {
                    "Arn": self._arn(d["GroupName"], name),
                    "Name": name,
                    "GroupName": d["GroupName"],
                    "State": d["State"],
                    "CreationDate": s.created,
                    "LastModificationDate": s.modified,
                    "Target": {"Arn": d["Target"]["Arn"]},
                }
            )
        return {"Schedules": summaries}

    def answer(
        self, method: str, path: str, query: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes, dict[str, str]] | None:
        """Answer one HTTP request if it is a schedule request: (status, JSON body, extra headers); else ``None``.

        Due schedules fire first, whatever the request: with a manual clock, the first request after
        ``advance()`` sees their effect (LocalBedrock's own ``advance()`` fires them too).
        """
        self.fire_due()
        if not path.startswith("/schedules"):
            return None
        found = match(method, path)
        if found is None:
            return None
        route, path_params = found
        try:
            params = parse_request(route, path_params, query, headers, body)
            output = self.handle(route.name, params)
        except ApiError as error:
            return error.status, orjson.dumps({"Message": error.message}), {"x-amzn-ErrorType": error.code}
        _, payload = serialize_output(route, output)
        return route.status, payload, {}

    # -- firing -------------------------------------------------------------------------------------------

    def fire_due(self, now: datetime | None = None) -> list[Invocation]:
        """Fire every enabled schedule whose time has come (default: the emulator's ``now()``).

        Returns:
            The invocations made by this call (also appended to `invocations`).
        """
        with self._lock:
            moment = now or self.clock.now()
            fired = []
            for name in sorted(self._schedules):
                schedule = self._schedules[name]
                d = schedule.definition
                if d["State"] != "ENABLED" or schedule.at > moment:
                    continue
                arn = _provisioned_arn(d["Target"])
                try:
                    self.delete(arn)
                except ApiError as error:
                    outcome = f"{error.code}: {error.message}"
                else:
                    outcome = "ok"
                _log.info("schedule %s fired at %s: delete %s -> %s", name, moment, arn, outcome)
                fired.append(Invocation(name, moment, arn, outcome))
                if d["ActionAfterCompletion"] == "DELETE":
                    del self._schedules[name]
                else:
                    d["State"] = "DISABLED"  # a one-time schedule never fires twice
            self.invocations.extend(fired)
            return fired

    def schedules(self) -> list[dict[str, Any]]:
        """Every schedule, as GetSchedule shows it (for tests)."""
        with self._lock:
            return [self.op_GetSchedule({"Name": n}) for n in sorted(self._schedules)]


def _provisioned_arn(target: dict[str, Any]) -> str:
    try:
        body = json.loads(target.get("Input") or "")
    except ValueError:
        raise validation("Target Input must be a JSON object naming the provisioned model") from None
    for key in _INPUT_KEYS:
        if isinstance(body, dict) and isinstance(body.get(key), str):
            return str(body[key])
    raise validation(f"Target Input must set {_INPUT_KEYS[0]} (or {_INPUT_KEYS[1]})")


# -- HTTP ---------------------------------------------------------------------------------------------------


@cache
def _routes() -> tuple[Route, ...]:
    model = botocore.session.get_session().get_service_model("scheduler")
    found = []
    for name in model.operation_names:
        op = model.operation_model(name)
        uri = op.http["requestUri"].split("?", 1)[0]
        regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", uri)
        found.append(
            Route("scheduler", op, op.http["method"], re.compile(f"^{regex}$"), op.http.get("responseCode", 200))
        )
    return tuple(found)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The scheduler route for a request, with its path parameters."""
    for route in _routes():
        found = route.pattern.match(path) if route.method == method else None
        if found:
            return route, {k: urllib.parse.unquote(v) for k, v in found.groupdict().items()}
    return None
