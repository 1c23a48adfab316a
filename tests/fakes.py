"""Test doubles shared by the foundation tests: a clock that never sleeps for real."""

from __future__ import annotations


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
