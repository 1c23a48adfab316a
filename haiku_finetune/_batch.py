"""Batch invocation: many prompts on a thread pool whose width adapts to throttling.

The window of calls allowed in flight starts at the requested concurrency, halves on throttling (additive
increase, multiplicative decrease) and grows back by one after each run of successes as long as itself.
Results come back one per prompt, in input order.

This module never retries by itself: every call goes through the transport, whose retry policy is the only
one; the transport tells the batch of each attempt it retries, and a throttled attempt shrinks the window.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ._inference import Completion, invoke_encoded
from ._transport import BedrockTransport
from .errors import ThrottlingError

__all__ = ["BatchRun", "BatchStats"]


@dataclass(frozen=True)
class BatchStats:
    """What one :meth:`FineTunedModel.batch` run did, for tuning and for tests.

    The *window* is the number of calls the batch allows in flight; it starts at the requested concurrency,
    halves on throttling and grows back by one after each run of successes as long as itself.

    Attributes:
        items: Prompts in the batch.
        requested_concurrency: The concurrency asked for (the window's ceiling).
        min_concurrency: The smallest window the run backed off to.
        final_concurrency: The window when the run ended (back at the ceiling once it recovered).
        max_in_flight: The most calls actually in flight at once.
        throttled: Throttled attempts seen, those the transport then retried successfully included.
        decreases: Times the window was halved.
        increases: Times the window grew by one.
        succeeded: Items that returned a completion.
        failed: Items that ended in an error.
        skipped: Items never sent because the run stopped at a failure (``on_error="raise"``).
        elapsed: Wall-clock seconds the run took.
    """

    items: int
    requested_concurrency: int
    min_concurrency: int
    final_concurrency: int
    max_in_flight: int
    throttled: int
    decreases: int
    increases: int
    succeeded: int
    failed: int
    skipped: int
    elapsed: float


# -- machinery ------------------------------------------------------------------------------------


class _Window:
    """The adaptive limit on calls in flight: halve on throttling (once per window), +1 after a full run."""

    def __init__(self, ceiling: int) -> None:
        self._cond = threading.Condition()
        self.ceiling = ceiling
        self.limit = ceiling
        self.in_flight = 0
        self.epoch = 0
        self.streak = 0
        self.closed = False
        self.min_limit = ceiling
        self.max_in_flight = 0
        self.throttles = 0
        self.decreases = 0
        self.increases = 0

    def acquire(self) -> int | None:
        """Wait for room; return the window's epoch, or None when the run was stopped."""
        with self._cond:
            while self.in_flight >= self.limit and not self.closed:
                self._cond.wait()
            if self.closed:
                return None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            return self.epoch

    def throttled(self, epoch: int) -> None:
        with self._cond:
            self.throttles += 1
            self.streak = 0
            # Calls sent before the last decrease saw the old, larger window: one halving per window.
            if epoch == self.epoch:
                self.limit = max(1, self.limit // 2)
                self.epoch += 1
                self.decreases += 1
                self.min_limit = min(self.min_limit, self.limit)

    def release(self, *, success: bool) -> None:
        with self._cond:
            self.in_flight -= 1
            if success:
                self.streak += 1
                if self.streak >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self.streak = 0
                    self.increases += 1
            self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()


class _Skipped(Exception):
    """An item that was not sent because the run stopped first."""


class BatchRun:
    """One batch: the encoded bodies, the adaptive window, and what happened (see :class:`BatchStats`)."""

    def __init__(self, transport: BedrockTransport, model_id: str, bodies: Sequence[bytes], concurrency: int) -> None:
        self.transport = transport
        self.model_id = model_id
        self.bodies = bodies
        self.concurrency = concurrency
        self.window = _Window(concurrency)
        self.first_error: BaseException | None = None
        self.failures = 0
        self.succeeded = 0
        self.began = time.perf_counter()
        self.ended: float | None = None

    def _one(self, index: int) -> Completion:
        epoch = self.window.acquire()
        if epoch is None:
            raise _Skipped(index)
        seen_throttle = False

        def on_retry(error: BaseException) -> None:
            # The transport tells us of every attempt it is about to retry: a throttled attempt is the
            # service's signal to slow down even when the retry then succeeds.
            nonlocal seen_throttle
            if isinstance(error, ThrottlingError):
                seen_throttle = True
                self.window.throttled(epoch)

        try:
            completion = invoke_encoded(self.transport, self.model_id, self.bodies[index], on_retry)
        except Exception as error:
            if isinstance(error, ThrottlingError) and not seen_throttle:
                self.window.throttled(epoch)  # throttled on the last (or only) attempt
            self.window.release(success=False)
            raise
        self.window.release(success=not seen_throttle)
        return completion

    def run(self, *, progress: bool, stop_on_error: bool) -> list[Completion | BaseException]:
        count = len(self.bodies)
        results: list[Completion | BaseException | None] = [None] * count
        if count == 0:
            self.ended = time.perf_counter()
            return []
        bar = _progress_bar(self.model_id, count) if progress else None
        finished: queue.SimpleQueue[tuple[int, Future[Completion]]] = queue.SimpleQueue()
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, count), thread_name_prefix="haiku-batch")
        futures: list[Future[Completion]] = []
        clean = False
        try:
            for index in range(count):
                future = pool.submit(self._one, index)
                future.add_done_callback(functools.partial(_put_done, finished, index))
                futures.append(future)
            for _ in range(count):
                index, future = finished.get()
                if future.cancelled():
                    continue
                error = future.exception()
                if error is None:
                    results[index] = future.result()
                    self.succeeded += 1
                elif isinstance(error, _Skipped):
                    continue
                else:
                    self.failures += 1
                    results[index] = error
                    if self.first_error is None:
                        self.first_error = error
                    if stop_on_error:
                        self.window.close()
                        for other in futures:
                            other.cancel()
                if bar is not None:
                    bar.update(1)
            clean = True
        finally:
            self.window.close()
            # On Ctrl-C do not wait for calls in flight; otherwise let them finish so no thread outlives us.
            pool.shutdown(wait=clean, cancel_futures=True)
            if bar is not None:
                bar.close()
            self.ended = time.perf_counter()
        if stop_on_error and self.first_error is not None:
            return []
        missing = [i for i, r in enumerate(results) if r is None]
        if missing:  # cannot happen: every index is submitted once and its result stored once
            raise RuntimeError(f"batch lost results for prompts {missing[:10]}")
        return [r for r in results if r is not None]

    def stats(self) -> BatchStats:
        window = self.window
        ended = self.ended if self.ended is not None else time.perf_counter()
        return BatchStats(
            items=len(self.bodies),
            requested_concurrency=self.concurrency,
            min_concurrency=window.min_limit,
            final_concurrency=window.limit,
            max_in_flight=window.max_in_flight,
            throttled=window.throttles,
            decreases=window.decreases,
            increases=window.increases,
            succeeded=self.succeeded,
            failed=self.failures,
            skipped=len(self.bodies) - self.succeeded - self.failures,
            elapsed=ended - self.began,
        )


def _put_done(
    finished: queue.SimpleQueue[tuple[int, Future[Completion]]], index: int, future: Future[Completion]
) -> None:
    finished.put((index, future))


def _progress_bar(model_id: str, total: int) -> Any:
    from ._progress import tqdm_class

    short = model_id.rsplit("/", 1)[-1]
    return tqdm_class()(total=total, desc=f"invoking {short}", unit=" calls")
