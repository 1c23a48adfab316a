"""Where a base model is in its life, in a region, on a date: active, legacy, extended access or end of life.

Pure functions over `haiku_finetune.base_models` profiles and the service's ``modelLifecycle`` structure
(``GetFoundationModel`` / ``ListFoundationModels``). `lifecycle_state` answers from the profile,
`parse_model_lifecycle` reads what the service says, `merge_lifecycle` combines the two (the service
wins where it says more). `is_end_of_life_message` and `end_of_life_error` turn the service's
"reached the end of its life" refusal into [`ModelEndOfLifeError`][haiku_finetune.errors.ModelEndOfLifeError].

This module does no I/O: it never calls AWS and never reads the clock (callers pass the date).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from enum import Enum

from .base_models import BaseModelProfile, RegionLifecycle, find_profile, get_profile
from .errors import ModelEndOfLifeError, ServiceError

__all__ = [
    "LifecycleStage",
    "LifecycleState",
    "LifecycleWarning",
    "end_of_life_error",
    "is_end_of_life_message",
    "lifecycle_state",
    "merge_lifecycle",
    "parse_model_lifecycle",
]

_EOL_MESSAGE = re.compile(r"reached the end of its life", re.IGNORECASE)


class LifecycleWarning(UserWarning):
    """The base model is Legacy in the region: it still works, and its end of life (and higher prices) come."""


class LifecycleStage(str, Enum):
    """A model's stage in a region on a date."""

    ACTIVE = "active"
    LEGACY = "legacy"
    #: Legacy, in the part of the period billed at higher prices.
    EXTENDED_ACCESS = "extended-access"
    END_OF_LIFE = "end-of-life"
    NOT_OFFERED = "not-offered-in-region"


@dataclass(frozen=True)
class LifecycleState:
    """A model's lifecycle in one region on one date, with the dates that decide it.

    Attributes:
        stage: The stage on `on`.
        region: The region.
        on: The date the stage holds for.
        model_id: The base model id, when known.
        launched: Start of life, when known.
        legacy: Start of the Legacy period, when known.
        extended_access: Start of public extended access (higher prices), when known.
        end_of_life: End of life, when known.
        source: ``"profile"``, ``"service"`` or ``"service and profile"``.
    """

    stage: LifecycleStage
    region: str
    on: date
    model_id: str | None = None
    launched: date | None = None
    legacy: date | None = None
    extended_access: date | None = None
    end_of_life: date | None = None
    source: str = "profile"

    @property
    def usable(self) -> bool:
        """Whether the model can still be called (or trained) in the region on that date."""
        return self.stage not in (LifecycleStage.END_OF_LIFE, LifecycleStage.NOT_OFFERED)

    def describe(self) -> str:
        """One line: the stage and the dates that matter, e.g. ``"end of life since 2026-09-10"``."""
        if self.stage is LifecycleStage.NOT_OFFERED:
            return f"not offered in {self.region}"
        if self.stage is LifecycleStage.END_OF_LIFE:
            since = f" since {self.end_of_life}" if self.end_of_life else ""
            return f"end of life{since} in {self.region}"
        if self.stage is LifecycleStage.ACTIVE:
            later = f"; Legacy from {self.legacy}" if self.legacy else ""
            return f"active in {self.region}{later}"
        parts = ["legacy" if self.stage is LifecycleStage.LEGACY else "legacy, in public extended access"]
        if self.stage is LifecycleStage.LEGACY and self.extended_access:
            parts.append(f"extended access (higher prices) from {self.extended_access}")
        parts.append(f"end of life on {self.end_of_life}" if self.end_of_life else "end-of-life date not known")
        return f"{', '.join(parts)} in {self.region}"


def _stage(status: str | None, known: RegionLifecycle | LifecycleState, on: date) -> LifecycleStage:
    """Dates decide where they are known; otherwise the status given stands (the conservative reading)."""
    if known.end_of_life is not None and on >= known.end_of_life:
        return LifecycleStage.END_OF_LIFE
    if known.extended_access is not None and on >= known.extended_access:
        return LifecycleStage.EXTENDED_ACCESS
    if known.legacy is not None and on >= known.legacy:
        return LifecycleStage.LEGACY
    if known.launched is not None and on < known.launched:
        return LifecycleStage.NOT_OFFERED
    if known.legacy is not None or known.end_of_life is not None:
        # A known future Legacy or end-of-life date says the model was still active on this date.
        return LifecycleStage.ACTIVE
    return {"LEGACY": LifecycleStage.LEGACY, "EOL": LifecycleStage.END_OF_LIFE}.get(status or "", LifecycleStage.ACTIVE)


def lifecycle_state(profile: BaseModelProfile | str | None, region: str, on: date) -> LifecycleState:
    """Return the profile's lifecycle in ``region`` on ``on``, from the profile's facts alone.

    Args:
        profile: A profile, its key, a model id or ARN (``None``: the default profile).
        region: The AWS region.
        on: The date (the emulator's or today's; this module never reads the clock).
    """
    resolved = get_profile(profile)
    known = resolved.region_lifecycle(region)
    if known is None:
        return LifecycleState(LifecycleStage.NOT_OFFERED, region, on, model_id=resolved.model_id)
    return LifecycleState(
        _stage(known.status, known, on),
        region,
        on,
        model_id=resolved.model_id,
        launched=known.launched,
        legacy=known.legacy,
        extended_access=known.extended_access,
        end_of_life=known.end_of_life,
    )


def parse_model_lifecycle(
    model_lifecycle: Mapping[str, object] | None, region: str, on: date, *, model_id: str | None = None
) -> LifecycleState | None:
    """Read the service's ``modelLifecycle`` (tolerantly) into a `LifecycleState`.

    ``status`` is ``ACTIVE`` or ``LEGACY``; ``startOfLifeTime``, ``legacyTime``, ``publicExtendedAccessTime`` and
    ``endOfLifeTime`` are read when present (ISO strings, datetimes or epoch seconds), ignored when unreadable.

    Returns:
        The state, or ``None`` when the structure says nothing usable (absent, or no recognised status).
    """
    if not model_lifecycle:
        return None
    raw_status = model_lifecycle.get("status")
    status = raw_status.upper() if isinstance(raw_status, str) else None
    if status in ("END_OF_LIFE", "ENDOFLIFE"):
        status = "EOL"
    dates = {
        name: _date(model_lifecycle.get(key))
        for name, key in (
            ("launched", "startOfLifeTime"),
            ("legacy", "legacyTime"),
            ("extended_access", "publicExtendedAccessTime"),
            ("end_of_life", "endOfLifeTime"),
        )
    }
    if status not in ("ACTIVE", "LEGACY", "EOL") and not any(dates.values()):
        return None
    known = RegionLifecycle("ACTIVE", **dates)
    stage = _stage(status, known, on)
    if status == "LEGACY" and stage is LifecycleStage.ACTIVE:
        stage = LifecycleStage.LEGACY  # the service's word on today beats a Legacy date it has not reached
    return LifecycleState(stage, region, on, model_id=model_id, source="service", **dates)


def merge_lifecycle(service: LifecycleState | None, profile: LifecycleState) -> LifecycleState:
    """Combine what the service says with what the profile knows: the service wins where it says more.

    Each date the service gives replaces the profile's; the stage is the service's unless a date the
    profile adds (and the service left out) puts the model further along.
    """
    if service is None:
        return profile
    merged = replace(
        service,
        model_id=service.model_id or profile.model_id,
        launched=service.launched or profile.launched,
        legacy=service.legacy or profile.legacy,
        extended_access=service.extended_access or profile.extended_access,
        end_of_life=service.end_of_life or profile.end_of_life,
        source="service and profile" if _adds(service, profile) else "service",
    )
    by_dates = _stage(None, merged, merged.on)
    order = list(LifecycleStage)
    stage = service.stage
    if by_dates is not LifecycleStage.NOT_OFFERED and order.index(by_dates) > order.index(stage):
        stage = by_dates
    return replace(merged, stage=stage)


def _adds(service: LifecycleState, profile: LifecycleState) -> bool:
    names = ("launched", "legacy", "extended_access", "end_of_life")
    return any(getattr(service, n) is None and getattr(profile, n) is not None for n in names)


def is_end_of_life_message(text: str | None) -> bool:
    """Return whether a service message says the model reached its end of life.

    The service answers ``ResourceNotFoundException: This model version has reached the end of its life.``
    """
    return bool(text) and _EOL_MESSAGE.search(text or "") is not None


def end_of_life_error(error: ServiceError, *, model_id: str | None, region: str) -> ModelEndOfLifeError:
    """Return a [`ModelEndOfLifeError`][haiku_finetune.lifecycle.ModelEndOfLifeError] for a service error whose message
    says the model reached end of life.

    The profile matching ``model_id`` (a base or runtime id or an ARN) supplies the end-of-life date in
    ``region`` and the successor; an unknown model gives neither. Raise the result ``from error``.
    """
    profile = find_profile(model_id) if model_id else None
    end_of_life = None
    successor = None
    if profile is not None:
        known = profile.region_lifecycle(region)
        end_of_life = known.end_of_life if known else None
        successor = profile.successor
    return ModelEndOfLifeError(
        error.message,
        **error.call_context,
        model_id=model_id,
        region=region,
        end_of_life=end_of_life,
        successor=successor,
    )


def _date(value: object) -> date | None:
    if isinstance(value, datetime):
        return (value.astimezone(timezone.utc) if value.tzinfo else value).date()
    if isinstance(value, date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc).date()
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).date()
        except ValueError:
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                return None
    return None
