"""Time as the library sees it: a monotonic clock and a sleep, injectable together.

Everything that waits (polling a job, a deployment, retry backoff) asks a `Clock`, so tests and the
offline emulator can run a two-hour job in no real time. The real clock is `SystemClock`.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "SystemClock"]


@runtime_checkable
class Clock(Protocol):
    """A monotonic time source with a matching sleep."""

    def monotonic(self) -> float:
        """Return seconds on a monotonic scale."""
        ...

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on this clock."""
        ...


class SystemClock:
    """The real clock: `time.monotonic` and `time.sleep`."""

    def monotonic(self) -> float:
        """Return `time.monotonic`."""
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        """Sleep for real."""
        time.sleep(seconds)
