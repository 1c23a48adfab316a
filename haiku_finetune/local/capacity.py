"""Provisioned Throughput capacity in the emulator: each model unit serves a token rate, and throttles beyond it.

`UnitCapacity` is the configured rate per model unit (input and output tokens per minute, and how many
seconds of it a deployment may bank as burst); `CapacityMeter` keeps one pair of token buckets per
Provisioned Throughput on the real clock the caller passes (capacity is the service's, not the job clock's).
A call is admitted while both buckets hold tokens, and charged the tokens it really used once answered, so a
bucket may go into debt by one call's worth; while in debt the deployment answers ThrottlingException (429),
as Bedrock does when a deployment's capacity is used up. This module decides admission only: it never
answers, parses or sleeps, and takes no lock of its own (the service runs every operation under its lock).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .wire import ApiError

__all__ = ["DEFAULT_UNIT_CAPACITY", "CapacityMeter", "UnitCapacity"]


@dataclass(frozen=True)
class UnitCapacity:
    """What one model unit of a Provisioned Throughput serves (AWS does not publish Haiku's figures: a guess).

    Args:
        input_tokens_per_minute: Prompt tokens per minute per unit (> 0).
        output_tokens_per_minute: Generated tokens per minute per unit (> 0).
        burst_seconds: Seconds of that rate an idle deployment banks and may spend at once (> 0; 60: a
            unit's whole minute).

    Raises:
        ValueError: A figure that is not a positive finite number.
    """

    input_tokens_per_minute: float = 600_000.0
    output_tokens_per_minute: float = 60_000.0
    burst_seconds: float = 60.0

    def __post_init__(self) -> None:
        for name in ("input_tokens_per_minute", "output_tokens_per_minute", "burst_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"UnitCapacity.{name} must be a positive number, got {value!r}")


#: The emulator's default per-unit capacity (documented in docs/local-runtime.md).
DEFAULT_UNIT_CAPACITY = UnitCapacity()


@dataclass
class _Buckets:
    input: float
    output: float
    at: float


@dataclass
class CapacityMeter:
    """Token buckets per deployment ARN for one emulator; ``capacity=None`` admits everything.

    Attributes:
        capacity: The per-unit rate (``None``: no token cap).
        throttled: Calls refused for capacity so far.
    """

    capacity: UnitCapacity | None = DEFAULT_UNIT_CAPACITY
    throttled: int = 0
    _buckets: dict[str, _Buckets] = field(default_factory=dict)

    def _refilled(self, arn: str, units: int, capacity: UnitCapacity, now: float) -> _Buckets:
        in_rate = capacity.input_tokens_per_minute / 60.0 * units
        out_rate = capacity.output_tokens_per_minute / 60.0 * units
        buckets = self._buckets.get(arn)
        if buckets is None:
            buckets = self._buckets[arn] = _Buckets(
                in_rate * capacity.burst_seconds, out_rate * capacity.burst_seconds, now
            )
        elapsed = max(0.0, now - buckets.at)
        buckets.input = min(in_rate * capacity.burst_seconds, buckets.input + in_rate * elapsed)
        buckets.output = min(out_rate * capacity.burst_seconds, buckets.output + out_rate * elapsed)
        buckets.at = now
        return buckets

    def admit(self, arn: str, units: int, now: float) -> None:
        """Let one call to deployment ``arn`` (``units`` model units) through at real time ``now``, or raise
        ThrottlingException (429) while either bucket is empty."""
        capacity = self.capacity
        if capacity is None:
            return
        buckets = self._refilled(arn, units, capacity, now)
        if buckets.input <= 0 or buckets.output <= 0:
            self.throttled += 1
            raise ApiError("ThrottlingException", "Too many tokens, please wait before trying again.", 429)

    def charge(self, arn: str, units: int, input_tokens: int, output_tokens: int, now: float) -> None:
        """Take the tokens an admitted call used from the deployment's buckets."""
        capacity = self.capacity
        if capacity is None:
            return
        buckets = self._refilled(arn, units, capacity, now)
        buckets.input -= input_tokens
        buckets.output -= output_tokens
