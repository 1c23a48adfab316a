"""Emulated time for LocalBedrock: a manual clock for tests, or real time sped up by a factor for demos.

Emulated timestamps (``creationTime``, ``endTime``, ...) are the real UTC time the clock was made, plus the
emulated seconds since, to the millisecond as the service reports them: the time between two of them is the
emulated duration (a job's ``endTime - creationTime`` is its emulated run). Under a time scale they run ahead of
the real clock by ``(time_scale - 1)`` times the real time elapsed. This module must not sleep except in
[`EmulatedClock.sleep`][haiku_finetune.local.clock.EmulatedClock.sleep], and never scales anything but the emulated job
clock.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

__all__ = ["DATE_VARIABLE", "MAX_TIME_SCALE", "EmulatedClock"]

#: The environment variable that sets the emulated start date when none is given (``YYYY-MM-DD``).
DATE_VARIABLE = "LOCAL_BEDROCK_DATE"

#: The fastest clock allowed: an emulated day per real second. Faster would leave the datetime range (year
#: 9999) within days of running, and a two-hour job already takes a tenth of a second at this speed.
MAX_TIME_SCALE = 86_400.0


class EmulatedClock:
    """The emulator's clock; it implements the library's ``Clock`` protocol.

    Args:
        time_scale: ``None`` for a manual clock (time moves only through
            [`advance`][haiku_finetune.local.clock.EmulatedClock.advance] or
            [`sleep`][haiku_finetune.local.clock.EmulatedClock.sleep],
            which return at once); a number to run ``time_scale`` emulated seconds per real second (``sleep``
            then really sleeps ``seconds / time_scale``).
        real_time: The real monotonic clock a scaled clock follows (tests pass a fake one).
        start: The emulated wall-clock time at start; a naive datetime is UTC. Default: the date in
            ``$LOCAL_BEDROCK_DATE`` (``YYYY-MM-DD``, midnight UTC) when set, else the real current time.
    """

    def __init__(
        self,
        time_scale: float | None = None,
        *,
        real_time: Callable[[], float] = time.monotonic,
        start: datetime | None = None,
    ) -> None:
        if time_scale is not None:
            if isinstance(time_scale, bool) or not isinstance(time_scale, (int, float)):
                raise TypeError(f"time_scale must be a number or None, got {type(time_scale).__name__}")
            if not (math.isfinite(time_scale) and 0 < time_scale <= MAX_TIME_SCALE):
                raise ValueError(f"time_scale must be > 0 and <= {MAX_TIME_SCALE:g} (or None), got {time_scale}")
            time_scale = float(time_scale)
        self.time_scale = time_scale
        self._real = real_time
        self._lock = threading.Lock()
        self._offset = 0.0
        self._real_start = real_time()
        if start is None and os.environ.get(DATE_VARIABLE):
            start = _date_from_environment(os.environ[DATE_VARIABLE])
        if start is not None and not isinstance(start, datetime):
            raise TypeError(f"start must be a datetime or None, got {type(start).__name__}")
        if start is not None and start.tzinfo is None:
            start = start.replace(tzinfo=timezone.utc)
        self._epoch = (start or datetime.now(timezone.utc)).astimezone(timezone.utc).replace(microsecond=0)

    def monotonic(self) -> float:
        """Emulated seconds since the clock started."""
        with self._lock:
            if self.time_scale is None:
                return self._offset
            return (self._real() - self._real_start) * self.time_scale + self._offset

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` of emulated time pass (instantly on a manual clock)."""
        if not seconds > 0:  # also NaN
            return
        if self.time_scale is None:
            self.advance(seconds)
        else:
            time.sleep(seconds / self.time_scale)

    def advance(self, seconds: float) -> None:
        """Move emulated time forward by ``seconds`` (on either kind of clock)."""
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"time only moves forward: advance() needs finite seconds >= 0, got {seconds}")
        with self._lock:
            self._offset += seconds

    def now(self) -> datetime:
        """The emulated wall-clock time (UTC)."""
        return self.at(self.monotonic())

    def at(self, seconds: float) -> datetime:
        """The emulated wall-clock time (UTC) of an emulated instant, to the millisecond."""
        return self._epoch + timedelta(milliseconds=round(seconds * 1000))


def _date_from_environment(value: str) -> datetime:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{DATE_VARIABLE} must be a date such as 2026-06-01, got {value!r}") from None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
