"""Emulated time for LocalBedrock: a manual clock for tests, or real time sped up by a factor for demos."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

__all__ = ["EmulatedClock"]


class EmulatedClock:
    """The emulator's clock; it implements the library's ``Clock`` protocol.

    Args:
        time_scale: ``None`` for a manual clock (time moves only through :meth:`advance` or :meth:`sleep`,
            which return at once); a number to run ``time_scale`` emulated seconds per real second (``sleep``
            then really sleeps ``seconds / time_scale``).
        real_time: The real monotonic clock a scaled clock follows (tests pass a fake one).
    """

    def __init__(self, time_scale: float | None = None, *, real_time: Callable[[], float] = time.monotonic) -> None:
        if time_scale is not None and time_scale <= 0:
            raise ValueError(f"time_scale must be > 0 or None, got {time_scale}")
        self.time_scale = time_scale
        self._real = real_time
        self._lock = threading.Lock()
        self._offset = 0.0
        self._real_start = real_time()
        self._epoch = datetime.now(timezone.utc).replace(microsecond=0)

    def monotonic(self) -> float:
        """Emulated seconds since the clock started."""
        with self._lock:
            if self.time_scale is None:
                return self._offset
            return (self._real() - self._real_start) * self.time_scale + self._offset

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of emulated time pass (instantly on a manual clock)."""
        if seconds <= 0:
            return
        if self.time_scale is None:
            self.advance(seconds)
        else:
            time.sleep(seconds / self.time_scale)

    def advance(self, seconds: float) -> None:
        """Move emulated time forward by ``seconds`` (on either kind of clock)."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        with self._lock:
            self._offset += seconds

    def now(self) -> datetime:
        """The emulated wall-clock time (UTC)."""
        return self._epoch + timedelta(seconds=self.monotonic())

    def at(self, seconds: float) -> datetime:
        """The emulated wall-clock time of an emulated instant."""
        return self._epoch + timedelta(seconds=seconds)
