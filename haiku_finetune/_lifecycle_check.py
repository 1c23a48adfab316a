"""The base model's lifecycle as the service tells it today: the check before anything that costs money.

`read_lifecycle` asks ``GetFoundationModel`` for the model's ``modelLifecycle`` in the transport's region,
at the service's date (the response's ``Date`` header, else the transport's clock), and merges it with the
profile (`haiku_finetune.lifecycle.merge_lifecycle`). `lifecycle_verdict` turns the state into a plan
check (pass / warn / fail) whose text names the dates, the regions where the model remains and the successor.
`warn_lifecycle` issues the `LifecycleWarning` for a Legacy model.

Plans and Provisioned Throughput purchases use this; it makes one read-only call and never retries or waits itself.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from datetime import date, datetime, timezone
from typing import Any, Literal

from .base_models import BaseModelProfile, find_profile
from .errors import CallFailedError, ModelEndOfLifeError
from .lifecycle import (
    LifecycleStage,
    LifecycleState,
    LifecycleWarning,
    lifecycle_state,
    merge_lifecycle,
    parse_model_lifecycle,
)

__all__ = ["lifecycle_verdict", "profile_lifecycle_now", "read_lifecycle", "remaining", "warn_lifecycle"]

Verdict = Literal["pass", "warn", "fail"]


def _now(transport: Any, response: Any = None) -> datetime:
    """The service's time: the response's Date header when the transport can read it, else its clock."""
    if response is not None and callable(getattr(transport, "response_time", None)):
        value = transport.response_time(response)
        if isinstance(value, datetime):
            return value
    if callable(getattr(transport, "now", None)):
        value = transport.now()
        if isinstance(value, datetime):
            return value
    return datetime.now(timezone.utc)


def read_lifecycle(profile: BaseModelProfile, transport: Any) -> tuple[LifecycleState, str | None]:
    """Return the model's lifecycle in the transport's region today, and why the service's word is missing.

    Returns:
        The merged state, and ``None`` when the service answered; otherwise one line saying why only the
        profile decided (the call was refused or not implemented). A ``ModelEndOfLifeError`` answer is the
        service's word: end of life.
    """
    region = str(transport.region)
    try:
        response = transport.call("bedrock", "GetFoundationModel", modelIdentifier=profile.model_id)
    except ModelEndOfLifeError:
        today = _now(transport).date()
        known = lifecycle_state(profile, region, today)
        return replace(known, stage=LifecycleStage.END_OF_LIFE, source="service and profile"), None
    except CallFailedError as error:
        today = _now(transport).date()
        return lifecycle_state(profile, region, today), f"the service's lifecycle could not be read ({error})"
    today = _now(transport, response).date()
    details = response.get("modelDetails") or {}
    service = parse_model_lifecycle(details.get("modelLifecycle"), region, today, model_id=profile.model_id)
    return merge_lifecycle(service, lifecycle_state(profile, region, today)), None


def profile_lifecycle_now(profile: BaseModelProfile, transport: Any) -> LifecycleState:
    """The profile's lifecycle in the transport's region on the transport's date (no AWS call)."""
    return lifecycle_state(profile, str(transport.region), _now(transport).date())


def remaining(profile: BaseModelProfile, on: date) -> str:
    """Where the model still runs and what to move to, as one clause for an end-of-life message."""
    regions = [r for r in profile.lifecycle if lifecycle_state(profile, r, on).usable]
    parts = []
    if regions:
        parts.append(f"{profile.display_name} remains available in {', '.join(regions)}")
    successor = find_profile(profile.successor) if profile.successor else None
    if successor is not None:
        parts.append(
            f"fine-tune the successor {successor.display_name} (base_model={successor.key!r}) in "
            f"{', '.join(successor.fine_tuning_regions)}"
        )
    return "; ".join(parts) or "no successor is known"


def lifecycle_verdict(profile: BaseModelProfile, state: LifecycleState, note: str | None) -> tuple[Verdict, str]:
    """The plan check for ``state``: pass (active), warn (legacy, extended access) or fail (end of life)."""
    where = f" (profile only: {note})" if note else ""
    rest = remaining(profile, state.on)
    if state.stage in (LifecycleStage.END_OF_LIFE, LifecycleStage.NOT_OFFERED):
        return "fail", f"{profile.display_name}: {state.describe()} on {state.on}{where}; {rest}"
    if state.stage in (LifecycleStage.LEGACY, LifecycleStage.EXTENDED_ACCESS):
        return "warn", f"{profile.display_name}: {state.describe()}{where}; plan the move: {rest}"
    return "pass", f"{profile.display_name}: {state.describe()} on {state.on}{where}"


def warn_lifecycle(profile: BaseModelProfile, state: LifecycleState, *, stacklevel: int = 2) -> None:
    """Warn (`LifecycleWarning`) when the model is Legacy: the end-of-life and extended-access dates."""
    if state.stage not in (LifecycleStage.LEGACY, LifecycleStage.EXTENDED_ACCESS):
        return
    warnings.warn(
        f"{profile.display_name} is {state.describe()}: {remaining(profile, state.on)} (see docs/migration.md)",
        LifecycleWarning,
        stacklevel=stacklevel + 1,
    )
