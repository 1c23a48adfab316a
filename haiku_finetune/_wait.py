"""One polling loop for everything that waits on a remote resource: jobs, deployments, batch jobs.

It polls gently (the interval grows from ``initial`` to ``maximum``), honours a timeout without touching the
resource, shows a tqdm.auto progress bar unless told not to, and on Ctrl-C leaves the resource as it is and
says how to re-attach. Time comes from an injected `Clock`, so tests never sleep.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._clock import Clock
from .errors import WaitTimeoutError

__all__ = ["PollInterval", "PollState", "wait_for"]

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PollState:
    """One observation of a remote resource.

    Attributes:
        status: The resource's status, e.g. ``"InProgress"``.
        detail: Extra text for the progress bar, e.g. the current stage.
        finished: True when waiting should stop (success or terminal failure alike).
        value: Whatever the caller wants back (e.g. the raw response).
    """

    status: str
    detail: str = ""
    finished: bool = False
    value: Any = None


@dataclass(frozen=True)
class PollInterval:
    """How often to poll: start at ``initial`` seconds, multiply by ``growth`` each time, up to ``maximum``."""

    initial: float = 30.0
    maximum: float = 120.0
    growth: float = 1.25

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.maximum < self.initial or self.growth < 1:
            raise ValueError("poll interval needs 0 < initial <= maximum and growth >= 1")


def wait_for(
    fetch: Callable[[], PollState],
    *,
    what: str,
    clock: Clock,
    timeout: float | None,
    interval: PollInterval | None = None,
    progress: bool = True,
    reattach_hint: str = "",
    interrupt_message: bool = True,
) -> PollState:
    """Poll ``fetch`` until it reports ``finished``; return that state.

    Args:
        fetch: Observes the resource once (it may raise; errors propagate).
        what: The resource's name for messages, e.g. ``"customization job my-job"``.
        clock: Time source and sleep.
        timeout: Seconds to wait at most (``None`` waits without limit).
        interval: The polling schedule (default: 30 s growing to 2 min).
        progress: Show a tqdm.auto bar with the status and elapsed time.
        reattach_hint: Told to the user on Ctrl-C, e.g. ``"CustomizationJob.attach('my-job').wait()"``.
        interrupt_message: Say on Ctrl-C that the resource was left running. ``False`` for a caller that does
            something else with it (a ``with`` block deletes its deployment) and says so itself.

    Returns:
        The finished state.

    Raises:
        WaitTimeoutError: ``timeout`` passed; the resource keeps going.
        KeyboardInterrupt: Re-raised after saying how to re-attach; the resource is left as it is.
    """
    if timeout is not None and timeout < 0:
        raise ValueError(f"timeout must be >= 0 seconds or None, got {timeout}")
    schedule = interval or PollInterval()
    started = clock.monotonic()
    bar = _progress_bar(what) if progress else None
    state: PollState | None = None
    delay = schedule.initial
    try:
        while True:
            state = fetch()
            elapsed = clock.monotonic() - started
            if bar is not None:
                bar.set_postfix_str(_describe(state, elapsed), refresh=False)
                bar.update(1)
            if state.finished:
                return state
            if timeout is not None and elapsed >= timeout:
                raise WaitTimeoutError(
                    f"gave up waiting for {what} after {elapsed:.0f}s (status {state.status}); it keeps "
                    f"running. {reattach_hint}".rstrip(),
                    resource=what,
                    last_status=state.status,
                    waited=elapsed,
                )
            pause = delay if timeout is None else max(0.0, min(delay, timeout - elapsed))
            clock.sleep(pause)
            delay = min(delay * schedule.growth, schedule.maximum)
    except KeyboardInterrupt:
        if not interrupt_message:
            raise
        status = state.status if state else "unknown"
        message = f"Stopped waiting for {what} (last status {status}); it was left running."
        if reattach_hint:
            message += f" To re-attach: {reattach_hint}"
        _log.warning("%s", message)
        print(message, file=sys.stderr)
        raise
    finally:
        if bar is not None:
            bar.close()


def _describe(state: PollState, elapsed: float) -> str:
    minutes, seconds = divmod(int(elapsed), 60)
    hours, minutes = divmod(minutes, 60)
    stage = f" · {state.detail}" if state.detail else ""
    return f"{state.status}{stage} · {hours:d}:{minutes:02d}:{seconds:02d} elapsed"


def _progress_bar(what: str) -> Any:
    from ._progress import tqdm_class

    return tqdm_class()(desc=what, total=None, unit=" polls", leave=True, bar_format="{desc}{postfix}")
