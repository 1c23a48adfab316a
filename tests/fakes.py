"""Test doubles shared across the suite: a clock that never sleeps for real, and a recorder of S3 calls."""

from __future__ import annotations

from typing import Any


class FakeClock:
    """A manual clock: ``sleep`` advances time instantly and records each pause."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def s3_calls(transport: Any) -> list[dict[str, Any]]:
    """Record the operation and parameters (less the body) of every S3 call ``transport``'s client makes from now."""
    seen: list[dict[str, Any]] = []

    def grab(params: dict[str, Any], model: Any, **_: Any) -> None:
        seen.append({"op": model.name, **{k: v for k, v in params.items() if k != "Body"}})

    transport.client("s3").meta.events.register("provide-client-params.s3.*", grab)
    return seen
