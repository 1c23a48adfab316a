"""SIGTERM and SIGHUP take the same clean path as Ctrl-C while something billed by the hour is open.

`terminate_as_interrupt` turns those signals into `TerminationSignal` (a ``KeyboardInterrupt``), so
the ``finally``/``__exit__`` code that already deletes a deployment on Ctrl-C runs for ``docker stop``, a
Kubernetes eviction, a CI cancel or a closed terminal too. When the block is over, the signal is handed on as
the previous handler would have taken it: a Python handler is called, the default action really happens (the
process dies of the signal, so its parent sees -15 / 128+15 as it would have), an ignored signal stays ignored.

Python can install signal handlers only in the main thread. Entered from any other thread the context manager
installs nothing (and says so at DEBUG): a block there gets the process's existing disposition — with the
defaults, SIGTERM and SIGHUP kill the process without clean-up; only a guard that outlives the process
(``guard.py``) protects such a block.

This module must not delete or print anything itself: what to do on a second signal is the caller's
``on_second_signal`` hook (it knows what may still bill and how to delete it).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["HANDLED_SIGNALS", "TerminationSignal", "terminate_as_interrupt"]

_log = logging.getLogger(__name__)

#: The signals that mean "please stop" and whose default action kills the process without clean-up.
HANDLED_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGHUP)

_Handler = Callable[[int, FrameType | None], Any] | int | None


class TerminationSignal(KeyboardInterrupt):
    """Raised in the main thread when SIGTERM or SIGHUP arrives inside `terminate_as_interrupt`.

    A ``KeyboardInterrupt`` subclass, so every Ctrl-C clean-up path runs for it unchanged.

    Attributes:
        signum: The signal that arrived.
    """

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(f"received {signal.Signals(signum).name}")


@contextlib.contextmanager
def terminate_as_interrupt(
    on_second_signal: Callable[[int], None] | None = None,
) -> Iterator[None]:
    """Raise `TerminationSignal` on SIGTERM/SIGHUP inside the block; afterwards honour the old handlers.

    The first signal raises `TerminationSignal` where the main thread is. Any further signal (typically
    while the block's clean-up runs) does not raise again — that would abort the clean-up half-way — but calls
    ``on_second_signal(signum)``, which should say what may still bill and the exact command that deletes it.

    On exit the previous handlers are restored and the first signal that arrived is handed on: a callable
    previous handler is called with it; ``SIG_DFL`` makes the process die of the signal (exit status
    ``-signum`` to ``subprocess``, ``128 + signum`` to a shell); ``SIG_IGN`` does nothing. A
    ``TerminationSignal`` escaping the block is swallowed when the signal is re-delivered that way, so the
    process ends (or continues) exactly as it would have without this context manager. Nested use works: the
    inner block hands the signal to the outer one's handler.

    Args:
        on_second_signal: Called (in the main thread, from the signal handler) with each signal after the first.
    """
    if threading.current_thread() is not threading.main_thread():
        _log.debug(
            "terminate_as_interrupt entered outside the main thread: no signal handlers installed "
            "(SIGTERM/SIGHUP keep the process's existing disposition)"
        )
        yield
        return
    received: list[int] = []

    def _handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        if len(received) == 1:
            raise TerminationSignal(signum)
        _log.warning("%s received again during clean-up; clean-up continues", signal.Signals(signum).name)
        if on_second_signal is not None:
            on_second_signal(signum)

    previous: dict[signal.Signals, _Handler] = {}
    try:
        for signum in HANDLED_SIGNALS:
            previous[signum] = signal.signal(signum, _handler)
        yield
    except TerminationSignal as error:
        if not received or error.signum != received[0]:
            raise  # not the one our handler raised: not ours to hand on
        # Ours: swallowed here, and handed on below as the previous handler would have taken it.
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        # Also when the clean-up turned our TerminationSignal into another error: the process must still end
        # (or carry on) as the signal would have made it.
        if received:
            _redeliver(received[0], previous.get(signal.Signals(received[0])))


def _redeliver(signum: int, handler: _Handler) -> None:
    """Hand ``signum`` on as ``handler`` (the one that was installed before) would have taken it."""
    name = signal.Signals(signum).name
    if handler is signal.SIG_IGN:
        _log.debug("%s was ignored before; continuing", name)
        return
    if callable(handler):
        _log.debug("handing %s to the previous handler", name)
        handler(signum, None)
        return
    # SIG_DFL, or None (a handler not installed from Python): the default action, for real.
    _log.debug("%s: dying of it, as the default action would have", name)
    # What the clean-up printed (what was deleted, what may still bill) must not die in a pipe's buffer.
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            if stream is not None:
                stream.flush()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
    # Delivery is asynchronous on some platforms: wait for it rather than return into code that thinks it was
    # never signalled.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signum])
    while True:  # pragma: no cover - the process is gone before this loops
        signal.pause()
