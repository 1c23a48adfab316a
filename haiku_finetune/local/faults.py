"""Fault injection for LocalBedrock: throttling, server errors, latency, dropped connections, slow responses.

Each fault is a rate (0 to 1, drawn from a per-operation random stream seeded by the emulator's seed, so a run
is repeatable) or, per operation, a whole number N meaning "the next N calls". Latency is in seconds and is
real: it emulates the network, not the job clock.
"""

from __future__ import annotations

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
    delay: float = 0.0


@dataclass
class Faults:
    """Faults to inject into ``bedrock`` and ``bedrock-runtime`` calls.

    Each of ``throttle``, ``server_error``, ``drop`` and ``slow`` is a rate for every operation, or a
    mapping from operation name (e.g. ``"InvokeModel"``) to a rate (a float) or to a count of the next calls
    to hit (an int). ``latency`` is seconds added to every response (or per operation); a ``slow`` response
    waits ``slow_seconds`` more. ``seed`` seeds the draws; ``None`` (default) takes the emulator's seed.
    """

    throttle: Spec = 0.0
    server_error: Spec = 0.0
    drop: Spec = 0.0
    slow: Spec = 0.0
    latency: Spec = 0.0
    slow_seconds: float = 2.0
    seed: int | None = None
    _rngs: dict[str, random.Random] = field(default_factory=dict, init=False, repr=False)
    _counts: dict[tuple[str, str], int] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def decide(self, operation: str) -> FaultDecision:
        """Draw the faults for one call of ``operation`` (thread-safe, deterministic for a seed and order)."""
        with self._lock:
            rng = self._rngs.get(operation)
            if rng is None:
                seed = self.seed or 0
                rng = self._rngs[operation] = random.Random(seed * 1_000_003 + zlib.crc32(operation.encode()))
            decision = FaultDecision(
                throttle=self._hit("throttle", self.throttle, operation, rng),
                server_error=self._hit("server_error", self.server_error, operation, rng),
                drop=self._hit("drop", self.drop, operation, rng),
            )
            delay = _value(self.latency, operation)
            if self._hit("slow", self.slow, operation, rng):
                delay += self.slow_seconds
            decision.delay = delay
            return decision

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


def _value(spec: Spec, operation: str) -> float:
    if isinstance(spec, Mapping):
        return float(spec.get(operation, 0.0))
    return float(spec)
