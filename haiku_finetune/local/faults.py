"""Fault injection for LocalBedrock: throttling, server errors, latency, dropped connections, lost responses,
slow responses.

Each fault is a rate (0 to 1, drawn from a per-operation random stream seeded by the emulator's seed, so a run
is repeatable) or, per operation, a whole number N meaning "the next N calls". Latency is in seconds and is
real: it emulates the network, not the job clock.
"""

from __future__ import annotations

import math
import random
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field

__all__ = ["FaultDecision", "Faults"]

Spec = float | Mapping[str, float]


@dataclass
class FaultDecision:
    """What to do to one request."""

    throttle: bool = False
    server_error: bool = False
    drop: bool = False
    lose_response: bool = False
    delay: float = 0.0


@dataclass
class Faults:
    """Faults to inject into ``bedrock`` and ``bedrock-runtime`` calls.

    Each of ``throttle``, ``server_error``, ``drop``, ``lose_response`` and ``slow`` is a rate for every
    operation, or a mapping from operation name (e.g. ``"InvokeModel"``) to a rate (a float) or to a count of
    the next calls to hit (an int). ``latency`` is seconds added to every response (or per operation); a
    ``slow`` response waits ``slow_seconds`` more. ``seed`` seeds the draws; ``None`` (default) takes the
    emulator's seed.

    ``throttle``, ``server_error`` and ``drop`` refuse the request before it is handled. ``lose_response``
    lets the request be handled (a create creates) and then closes the connection without an answer: the
    client cannot tell whether it worked, which is the case idempotency tokens exist for. It is drawn only for
    calls no other fault refused, so a count means "the next N calls that are handled".
    """

    throttle: Spec = 0.0
    server_error: Spec = 0.0
    drop: Spec = 0.0
    lose_response: Spec = 0.0
    slow: Spec = 0.0
    latency: Spec = 0.0
    slow_seconds: float = 2.0
    seed: int | None = None
    _rngs: dict[str, random.Random] = field(default_factory=dict, init=False, repr=False)
    _counts: dict[tuple[str, str], int] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        # Checked when made, not when the first request draws from it: a bad rate is one clear error at once.
        for kind in ("throttle", "server_error", "drop", "lose_response", "slow"):
            _check(kind, getattr(self, kind), rate=True)
        _check("latency", self.latency, rate=False)
        _check("slow_seconds", self.slow_seconds, rate=False)
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, int)):
            raise TypeError(f"Faults seed must be an int or None, got {type(self.seed).__name__}")

    def decide(self, operation: str) -> FaultDecision:
        """Draw the faults for one call of ``operation`` (thread-safe, deterministic for a seed and order)."""
        with self._lock:
            rng = self._rng(operation)
            decision = FaultDecision(
                throttle=self._hit("throttle", self.throttle, operation, rng),
                server_error=self._hit("server_error", self.server_error, operation, rng),
                drop=self._hit("drop", self.drop, operation, rng),
            )
            delay = _value(self.latency, operation)
            if self._hit("slow", self.slow, operation, rng):
                delay += self.slow_seconds
            decision.delay = delay
            # From a stream of its own, and only for a call that will be handled: adding it leaves every other
            # fault's draws (and so seeded runs written before it existed) as they were.
            refused = decision.throttle or decision.server_error or decision.drop
            if not refused:
                lose_rng = self._rng(f"{operation}/lose_response")
                decision.lose_response = self._hit("lose_response", self.lose_response, operation, lose_rng)
            return decision

    def _rng(self, stream: str) -> random.Random:
        rng = self._rngs.get(stream)
        if rng is None:
            seed = self.seed or 0
            rng = self._rngs[stream] = random.Random(seed * 1_000_003 + zlib.crc32(stream.encode()))
        return rng

    def _hit(self, kind: str, spec: Spec, operation: str, rng: random.Random) -> bool:
        if isinstance(spec, Mapping):
            if operation not in spec:
                return False
            value = spec[operation]
            if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
                used = self._counts.get((kind, operation), 0)
                if used < value:
                    self._counts[(kind, operation)] = used + 1
                    return True
                return False
            return rng.random() < float(value)
        return spec > 0 and rng.random() < spec


def _check(kind: str, spec: object, *, rate: bool) -> None:
    """A rate in [0, 1] (or, per operation, a count >= 1), or seconds >= 0; TypeError/ValueError otherwise."""
    if isinstance(spec, Mapping) and kind != "slow_seconds":
        for operation, value in spec.items():
            if not isinstance(operation, str):
                raise TypeError(f"Faults {kind} keys must be operation names, got {operation!r}")
            counted = rate and isinstance(value, int) and not isinstance(value, bool) and value >= 1
            if not counted:
                _check(f"{kind}[{operation!r}]", value, rate=rate)
        return
    if isinstance(spec, bool) or not isinstance(spec, (int, float)):
        raise TypeError(f"Faults {kind} must be a number or a mapping of operation names, got {type(spec).__name__}")
    if not math.isfinite(spec) or spec < 0 or (rate and spec > 1):
        wanted = "a rate between 0 and 1 (or, per operation, a count of calls)" if rate else "seconds >= 0"
        raise ValueError(f"Faults {kind} must be {wanted}, got {spec!r}")


def _value(spec: Spec, operation: str) -> float:
    if isinstance(spec, Mapping):
        return float(spec.get(operation, 0.0))
    return float(spec)
