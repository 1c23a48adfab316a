"""Orphan scan: find what this library created that is still billed (or may be), on the service's clock.

[`find_orphans`][haiku_finetune.deployment.find_orphans] lists the provisioned throughputs carrying the library's tag;
`find_billed` lists those, the tagged custom models no provisioned throughput uses (each has a monthly storage
charge), the tagged customization and batch-inference jobs still to run or running (billed per token) and the guard
schedules whose provisioned throughput is gone (stale: they bill nothing but fail when they fire), each as an
`Orphan` with its age; `service_now` is the "now" ages are measured against. The scans delete nothing;
`stop_billing` deletes or stops one `Orphan` when a caller (the CLI after its question, a user) decides to.
``deployment`` re-exports ``find_orphans`` (the package face and the API page import it from there).
Must not import ``deployment`` at import time (``deployment`` imports this module), only inside the scan.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal

from ._tags import has_library_tag
from ._transport import BedrockTransport, resolve_transport
from .errors import AccessDeniedError, ResourceNotFoundError
from .guard import GuardSchedule, find_guard_schedules

if TYPE_CHECKING:
    from .deployment import ProvisionedDeployment
    from .pricing import Pricing

__all__ = ["Orphan", "find_billed", "find_orphans", "service_now", "stop_billing"]

_log = logging.getLogger(__name__)
_SECONDS_PER_MONTH = 30 * 24 * 3600.0  # storage is priced per month; a month here is 30 days

OrphanKind = Literal[
    "provisioned-throughput", "custom-model", "customization-job", "batch-inference-job", "guard-schedule"
]
#: Batch-inference job statuses in which the job is still to run or running (so may still bill). ``Stopping``
#: is left out, as it is for customization jobs: the job is already on its way out.
_BATCH_RUNNING = ("Submitted", "Validating", "Scheduled", "InProgress")


@dataclass(frozen=True)
class Orphan:
    """One billed resource the library created, as `find_billed` found it.

    Attributes:
        kind: ``"provisioned-throughput"`` (billed hourly), ``"custom-model"`` (monthly storage; listed only
            when no provisioned throughput uses it), ``"customization-job"`` (a tagged job still ``InProgress``;
            billed per token trained), ``"batch-inference-job"`` (a tagged job ``Submitted``, ``Validating``,
            ``Scheduled`` or ``InProgress``; billed per token processed) or ``"guard-schedule"`` (a stale guard
            schedule: its provisioned throughput is gone; ``arn`` is the PT it names, ``status`` is ``"stale"``).
        name: Its name.
        arn: Its ARN.
        status: The status the service reported.
        created: Its creation time (a batch job's submit time) on the service's clock (``None`` when the service
            did not say).
        age: How long ago that was, measured on the service's clock (``None`` with ``created``).
        model_units: A provisioned throughput's model units (``None`` for the other kinds).
        group: A guard schedule's schedule group (``None`` for the other kinds).
    """

    kind: OrphanKind
    name: str
    arn: str
    status: str
    created: datetime | None
    age: timedelta | None
    model_units: int | None = None
    group: str | None = None

    def cost_so_far(self, pricing: Pricing) -> float | None:
        """What it has cost since it was created, at ``pricing``; ``None`` without the price or the age.

        A provisioned throughput: model units × hours (started hours, as billed). A custom model: its storage
        for the months (of 30 days) it has existed. A stale guard schedule: 0.0 (it bills nothing). A
        customization or batch-inference job: ``None`` (billed per token, which the listing does not say).
        """
        if self.kind == "guard-schedule":
            return 0.0
        if self.age is None or self.kind in ("customization-job", "batch-inference-job"):
            return None
        seconds = max(self.age.total_seconds(), 0.0)
        if self.kind == "provisioned-throughput":
            hours = float(-(-seconds // 3600)) or 1.0  # billed per started hour, at least one
            return pricing.provisioned_cost(model_units=self.model_units or 1, hours=hours)
        return pricing.storage_cost(months=seconds / _SECONDS_PER_MONTH)


def find_orphans(
    *,
    older_than: timedelta = timedelta(0),
    now: datetime | None = None,
    transport: BedrockTransport | None = None,
) -> list[ProvisionedDeployment]:
    """List deployments this library created (they carry its tag) that are older than ``older_than``.

    Args:
        older_than: Only deployments created at least this long ago.
        now: The current time (default: the service's clock, see `service_now`).
        transport: The transport.

    Returns:
        The tagged deployments, oldest first. Nothing is deleted. `find_billed` also lists custom models.
    """
    from .deployment import ProvisionedDeployment  # deployment imports this module at its top

    resolved = resolve_transport(transport)
    pages = list(resolved.paginate("bedrock", "ListProvisionedModelThroughputs"))
    summaries = _items(pages, "provisionedModelSummaries")
    if now is None:
        now = service_now(pages, _timestamps(summaries))
    found = []
    for summary in _tagged(resolved, summaries, "provisionedModelArn", now - older_than):
        deployment = ProvisionedDeployment(summary["provisionedModelArn"], transport=resolved)
        deployment._details = dict(summary)
        found.append(deployment)
    return found


def find_billed(
    *,
    older_than: timedelta = timedelta(0),
    now: datetime | None = None,
    transport: BedrockTransport | None = None,
    group: str = "default",
) -> list[Orphan]:
    """List what this library created that is still billed (or may be).

    That is: tagged provisioned throughputs; tagged custom models no provisioned throughput (tagged or not)
    serves (billed for storage every month until deleted); tagged customization jobs still ``InProgress`` (the
    library tags its jobs with ``jobTags``, so untagged jobs are someone else's); tagged batch-inference jobs
    still to run or running (``Submitted``, ``Validating``, ``Scheduled``, ``InProgress``); and guard schedules (in
    ``group``, see ``haiku_finetune.guard.find_guard_schedules``) whose provisioned
    throughput no longer exists.

    Args:
        older_than: Only resources created at least this long ago.
        now: The current time (default: the service's clock, see `service_now`).
        transport: The transport.
        group: The schedule group guard schedules are looked for in.

    Returns:
        Provisioned throughputs, then custom models, then customization jobs, then batch-inference jobs, then
        stale guard schedules, each oldest first. Nothing is deleted (see `stop_billing`).
    """

    resolved = resolve_transport(transport)
    pt_pages = list(resolved.paginate("bedrock", "ListProvisionedModelThroughputs"))
    model_pages = list(resolved.paginate("bedrock", "ListCustomModels"))
    throughputs = _items(pt_pages, "provisionedModelSummaries")
    models = _items(model_pages, "modelSummaries")
    job_pages = list(resolved.paginate("bedrock", "ListModelCustomizationJobs", statusEquals="InProgress"))
    jobs = _items(job_pages, "modelCustomizationJobSummaries")
    batch_pages = [
        page
        for status in _BATCH_RUNNING
        for page in resolved.paginate("bedrock", "ListModelInvocationJobs", statusEquals=status)
    ]
    # A batch job says when it was submitted, not created; the scan's age and cutoff read creationTime. A job
    # that moved on between two listings (Submitted, then InProgress) is in both: keep its latest summary.
    latest = {j["jobArn"]: j for j in _items(batch_pages, "invocationJobSummaries")}
    batches = [{**j, "creationTime": j.get("submitTime")} for j in latest.values()]
    # A schedule whose target names no PT is not known to be a stale guard: left alone, never offered for deletion.
    stale = [g for g in _guard_schedules(resolved, group) if not g.pt_exists and g.provisioned_arn is not None]
    if now is None:
        stamps = [*_timestamps([*throughputs, *models, *jobs, *batches]), *(g.created for g in stale)]
        now = service_now([*pt_pages, *model_pages, *job_pages, *batch_pages], stamps)
    cutoff = now - older_than
    found = [
        _orphan("provisioned-throughput", s, "provisionedModelName", "provisionedModelArn", s.get("status"), now)
        for s in _tagged(resolved, throughputs, "provisionedModelArn", cutoff)
    ]
    served = {s.get("modelArn") for s in throughputs} | {s.get("desiredModelArn") for s in throughputs}
    served |= _deployed_models(resolved)
    unused = [m for m in models if m.get("modelArn") not in served]
    found += [
        _orphan("custom-model", m, "modelName", "modelArn", m.get("modelStatus", "Active"), now)
        for m in _tagged(resolved, unused, "modelArn", cutoff)
    ]
    found += [
        _orphan("customization-job", j, "jobName", "jobArn", j.get("status"), now)
        for j in _tagged(resolved, jobs, "jobArn", cutoff)
    ]
    found += [
        _orphan("batch-inference-job", j, "jobName", "jobArn", j.get("status"), now)
        for j in _tagged(resolved, batches, "jobArn", cutoff)
    ]
    for g in sorted(stale, key=lambda g: _utc(g.created) or datetime.min.replace(tzinfo=timezone.utc)):
        created = _utc(g.created)
        if created is not None and created > cutoff:
            continue
        age = now - created if created is not None else None
        found.append(Orphan("guard-schedule", g.name, g.provisioned_arn or "?", "stale", created, age, group=g.group))
    return found


def stop_billing(orphan: Orphan, *, transport: BedrockTransport | None = None, group: str = "default") -> str:
    """Delete or stop what ``orphan`` names, so that it bills no more; return what was done.

    A provisioned throughput is deleted and its deletion confirmed (`ProvisionedDeployment.delete`), and the
    guard schedules (in ``group``) armed for it are deleted too (else they would be stale the moment it goes);
    a custom model is deleted, for good (its trained weights go with it); a customization or batch-inference
    job is stopped (what it has processed so far stays billed); a stale guard schedule is deleted. Scheduler
    roles, which bill nothing, are left.

    Args:
        orphan: What `find_billed` found.
        transport: The transport.
        group: The schedule group a provisioned throughput's guard schedules are looked for in.

    Returns:
        ``"deleted"``, ``"stopped"``, or ``"already gone"`` when the service no longer knows it.

    Raises:
        HaikuFinetuneError: The service refused: a job that finished meanwhile, or (on LocalBedrock, and
            presumably on the service, which is not confirmed) ``ConflictError`` for a custom model a
            provisioned throughput began to use since the scan.
        ValueError: ``orphan.kind`` is not one `find_billed` reports.
    """
    t = resolve_transport(transport)
    try:
        if orphan.kind == "provisioned-throughput":
            _delete_throughput(t, orphan.arn, group)
        elif orphan.kind == "custom-model":
            t.call("bedrock", "DeleteCustomModel", modelIdentifier=orphan.arn)
        elif orphan.kind == "customization-job":
            t.call("bedrock", "StopModelCustomizationJob", jobIdentifier=orphan.arn)
        elif orphan.kind == "batch-inference-job":
            t.call("bedrock", "StopModelInvocationJob", jobIdentifier=orphan.arn)
        elif orphan.kind == "guard-schedule":
            t.call("scheduler", "DeleteSchedule", Name=orphan.name, GroupName=orphan.group or group)
        else:
            raise ValueError(f"unknown orphan kind {orphan.kind!r}")
    except ResourceNotFoundError:
        return "already gone"
    return "stopped" if orphan.kind.endswith("-job") else "deleted"


def _delete_throughput(t: BedrockTransport, arn: str, group: str) -> None:
    """Delete a PT (raising ResourceNotFoundError when it is gone already) and then its guard schedules."""
    from .deployment import ProvisionedDeployment  # deployment imports this module at its top

    # ProvisionedDeployment.delete treats "already gone" as done; asking first lets the caller say which it was.
    t.call("bedrock", "GetProvisionedModelThroughput", provisionedModelId=arn)
    ProvisionedDeployment(arn, transport=t).delete()
    for schedule in _guard_schedules(t, group):
        if schedule.provisioned_arn == arn:
            try:
                t.call("scheduler", "DeleteSchedule", Name=schedule.name, GroupName=schedule.group)
            except ResourceNotFoundError:
                _log.debug("guard schedule %s already gone", schedule.name)


def _deployed_models(t: BedrockTransport) -> set[Any]:
    """The custom models an on-demand custom model deployment serves: in use, so not "unused" (and never offered
    for deletion). An account that refuses the listing gets a warning: the models are still listed (they bill),
    and whether one is in use must then be checked by hand."""
    try:
        pages = list(t.paginate("bedrock", "ListCustomModelDeployments"))
    except AccessDeniedError as error:
        _log.warning(
            "custom model deployments not listed (access denied), so a custom model listed as unused may serve "
            "an on-demand deployment; check before deleting it: %s",
            error,
        )
        return set()
    return {d.get("modelArn") for d in _items(pages, "modelDeploymentSummaries")}


def _guard_schedules(t: BedrockTransport, group: str) -> list[GuardSchedule]:
    try:
        return find_guard_schedules(group=group, transport=t)
    except AccessDeniedError as error:
        # An account that never armed a SchedulerGuard may not grant scheduler:ListSchedules; the scan of what
        # bills (the PTs, models and jobs) must not fail for that. Stale schedules bill nothing.
        _log.warning("guard schedules not listed (access denied): %s", error)
        return []


def _items(pages: Iterable[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    return [item for page in pages for item in page.get(key, [])]


def _timestamps(summaries: Iterable[Mapping[str, Any]]) -> list[Any]:
    return [s.get(k) for s in summaries for k in ("creationTime", "lastModifiedTime")]


def _tagged(
    t: BedrockTransport, summaries: Sequence[Mapping[str, Any]], arn_key: str, cutoff: datetime
) -> list[Mapping[str, Any]]:
    """The summaries created at or before ``cutoff`` whose resource carries the library's tag, oldest first."""
    found = []
    for summary in summaries:
        created = _utc(summary.get("creationTime"))
        if created is not None and created > cutoff:
            continue
        try:
            tags = t.call("bedrock", "ListTagsForResource", resourceARN=summary[arn_key]).get("tags", [])
        except ResourceNotFoundError:
            continue  # deleted between the listing and now
        if has_library_tag(tags):
            found.append(summary)
    found.sort(key=lambda s: _utc(s.get("creationTime")) or datetime.min.replace(tzinfo=timezone.utc))
    return found


def _orphan(
    kind: OrphanKind, summary: Mapping[str, Any], name_key: str, arn_key: str, status: Any, now: datetime
) -> Orphan:
    created = _utc(summary.get("creationTime"))
    units = summary.get("modelUnits")
    return Orphan(
        kind=kind,
        name=str(summary.get(name_key) or summary[arn_key]),
        arn=str(summary[arn_key]),
        status=str(status or "?"),
        created=created,
        age=now - created if created is not None else None,
        model_units=units if isinstance(units, int) else None,
    )


def service_now(responses: Iterable[Mapping[str, Any]], timestamps: Iterable[Any] = ()) -> datetime:
    """The service's "now": its responses' HTTP ``Date`` (else the local clock), or the newest timestamp it reported.

    Ages must be measured on the clock that stamped ``creationTime``. The ``Date`` header is the service's own
    clock, truncated to the second (so one second is added); the local clock stands in only when no response
    carried one (a stub), since a local clock ahead of the service's would make every age too large
    (on LocalBedrock, emulated dates are often months behind). The newest timestamp seen is a floor: a
    clock behind it would hide what was made a moment ago, and an orphan scan must never miss that.
    """
    dates: list[datetime] = []
    for response in responses:
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        raw = headers.get("date") if isinstance(headers, Mapping) else None
        if isinstance(raw, str):
            with contextlib.suppress(TypeError, ValueError):
                parsed = _utc(parsedate_to_datetime(raw))
                if parsed is not None:
                    dates.append(parsed)
    clock = max(dates) + timedelta(seconds=1) if dates else datetime.now(timezone.utc)
    return max([clock, *(t for t in (_utc(raw) for raw in timestamps) if t is not None)])


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value
