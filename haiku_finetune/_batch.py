"""Batch invocation: many prompts on a thread pool whose pace adapts to what the deployment serves.

Two limits adapt to throttling. The *window* of calls allowed in flight starts at the requested concurrency,
shrinks to three quarters on a throttled attempt (at most once per window of in-flight calls: calls sent
before a decrease saw the old window) and grows back by one after each run of successes as long as itself.
The *pace* is a token rate (tokens from response usage). When the deployment refuses a large share of the
attempts since the last cut, what it served meanwhile is its capacity: the batch paces at 90 % of that. When
it was sending at the pace and the last second served clearly less, the pace overran capacity: 95 % of what
was served. Otherwise (a few throttles while the window was binding, e.g. random ones) the pace stays. It
creeps up 1.5 % a second while nothing is throttled, so a batch settles just under a Provisioned Throughput's
capacity instead of a saw-tooth. Retried attempts wait for the pace too. Results come back in input order.

This module never retries by itself: every call goes through the transport, whose retry policy is the only
one; the transport tells the batch of each attempt it retries, and a throttled attempt shrinks the limits.
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ._inference import Completion, invoke_encoded
from ._transport import BedrockTransport
from .errors import ThrottlingError

__all__ = ["BatchRun", "BatchStats"]


@dataclass(frozen=True)
class BatchStats:
    """What one [`FineTunedModel.batch`][haiku_finetune.model.FineTunedModel.batch] run did, for tuning and for tests.

    The *window* is the number of calls the batch allows in flight; it starts at the requested concurrency,
    shrinks to three quarters on throttling and grows back by one after each run of successes as long as
    itself. The *pace* is the call rate the batch settled on from the token rate it measured at throttles.

    Attributes:
        items: Prompts in the batch.
        requested_concurrency: The concurrency asked for (the window's ceiling).
        min_concurrency: The smallest window the run backed off to.
        final_concurrency: The window when the run ended (back at the ceiling once it recovered).
        max_in_flight: The most calls actually in flight at once.
        throttled: Throttled attempts seen, those the transport then retried successfully included.
        decreases: Times the window (and pace) were cut.
        increases: Times the window grew by one.
        succeeded: Items that returned a completion.
        failed: Items that ended in an error.
        skipped: Items never sent because the run stopped at a failure (``on_error="raise"``).
        elapsed: Wall-clock seconds the run took.
        pace: Calls per second the batch was pacing itself to when the run ended (``None``: never throttled,
            so never paced).
        tokens_per_second: Tokens (input and output) the successful calls used per second of the run.
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
    pace: float | None = None
    tokens_per_second: float = 0.0


# -- machinery ------------------------------------------------------------------------------------


#: A throttle cuts the window to this share of itself (once per window of in-flight calls).
_DECREASE = 0.75
#: The pace is set to this share of the token rate served since the previous cut.
_PACE_SHARE = 0.95
#: ... and to this share when measured over the short time since the previous cut (a noisier measure).
_STORM_SHARE = 0.9
#: While nothing is throttled the pace grows by this share of itself per second.
_PACE_GROWTH = 0.015
#: A throttle sets the pace when less than this share of the attempts since the previous cut succeeded.
_SERVED_SHARE = 0.7
#: ... or, when the pace was binding, when the last _HORIZON seconds served less than this share of the pace.
_PACE_KEPT = 0.97
_HORIZON = 1.0
#: Fewer attempts than this since the previous cut make too noisy a measure of refusal.
_MIN_SAMPLE = 8


class _Window:
    """The adaptive limits on calls: in flight (window) and per second (pace, from the token rate served)."""

    def __init__(self, ceiling: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._cond = threading.Condition()
        self._stopped = threading.Event()
        self._clock = clock
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
        # Pacing: tokens per second allowed (None until the first throttle), the mean tokens per call, the time
        # the next call may start, and what was served since the last cut.
        self.pace: float | None = None
        self.tokens_per_call = 0.0
        self.tokens = 0
        self._next_start = 0.0
        self._cut_at = self._grown_at = clock()
        self._served_tokens = 0
        self._served_calls = 0
        self._throttled_since_cut = 0
        self._paced_since_cut = False  # some call waited for the pace: the pace, not the window, was binding
        self._recent: deque[tuple[float, int]] = deque()  # (time, tokens) served within the last _HORIZON
        self._began = clock()

    def _pace_from_refusals(self, now: float) -> bool:
        """Set the pace if the deployment refused a large share of the attempts since the last cut."""
        span = now - self._cut_at
        served_calls = self._served_calls
        attempts = served_calls + self._throttled_since_cut
        if attempts >= _MIN_SAMPLE and span > 0 and served_calls < _SERVED_SHARE * attempts:
            # What it served meanwhile is what it can serve.
            self.pace = _STORM_SHARE * self._served_tokens / span
            return True
        return False

    def _served_rate(self, now: float) -> float:
        """Tokens per second served over the last ``_HORIZON`` seconds (or since the run began)."""
        while self._recent and self._recent[0][0] < now - _HORIZON:
            self._recent.popleft()
        span = min(_HORIZON, now - self._began)
        return sum(tokens for _, tokens in self._recent) / span if span > 0 else 0.0

    def acquire(self) -> int | None:
        """Wait for room and for the pace; return the window's epoch, or None when the run was stopped."""
        with self._cond:
            while self.in_flight >= self.limit and not self.closed:
                self._cond.wait()
            if self.closed:
                return None
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            epoch = self.epoch
            delay = self._reserve()
        if delay > 0 and self._stopped.wait(delay):
            self.release(success=False)
            return None
        return epoch

    def _reserve(self) -> float:
        """Take the next start time the pace allows (under the lock); return how long to wait for it."""
        if self.pace is None:
            return 0.0
        now = self._clock()
        start = max(now, self._next_start)
        self._next_start = start + max(1.0, self.tokens_per_call) / self.pace
        delay = start - now
        self._paced_since_cut = self._paced_since_cut or delay > 0
        return delay

    def pace_retry(self) -> None:
        """Hold a call the transport is about to retry until the pace allows another attempt (retries are
        attempts the deployment must serve too; unpaced, they would land together on a deployment in debt)."""
        with self._cond:
            delay = self._reserve()
        if delay > 0:
            self._stopped.wait(delay)

    def throttled(self, epoch: int) -> None:
        with self._cond:
            self.throttles += 1
            self._throttled_since_cut += 1
            now = self._clock()
            self.streak = 0
            # Calls sent before the last cut saw the old, larger limits: one cut per window. Their retries still
            # tell how much the deployment refuses, so an unpaced batch may set its pace from them at once.
            if epoch != self.epoch:
                if self.pace is None:
                    self._pace_from_refusals(now)
                return
            self.limit = max(1, int(self.limit * _DECREASE))
            self.epoch += 1
            self.decreases += 1
            self.min_limit = min(self.min_limit, self.limit)
            if not self._pace_from_refusals(now) and self.pace is not None and self._paced_since_cut:
                # Sending at the pace, and served clearly less over the last second: the pace overran capacity.
                # (A throttle while the window was binding says nothing about the pace.)
                served = self._served_rate(now)
                if served < _PACE_KEPT * self.pace:
                    self.pace = _PACE_SHARE * served
            self._cut_at = now
            self._served_tokens = self._served_calls = self._throttled_since_cut = 0
            self._paced_since_cut = False

    def release(self, *, success: bool, tokens: int = 0) -> None:
        """Free a slot; ``tokens`` the call used (a call that succeeded on a retry was served too)."""
        with self._cond:
            self.in_flight -= 1
            if tokens > 0:
                now = self._clock()
                self._recent.append((now, tokens))
                while self._recent[0][0] < now - _HORIZON:  # keep only the horizon (a long batch stays small)
                    self._recent.popleft()
                self.tokens += tokens
                self._served_tokens += tokens
                self._served_calls += 1
                weight = 0.1 if self.tokens_per_call else 1.0
                self.tokens_per_call += weight * (tokens - self.tokens_per_call)
            if success:
                if self.pace is not None:
                    now = self._clock()
                    self.pace *= 1.0 + _PACE_GROWTH * (now - self._grown_at)
                    self._grown_at = now
                self.streak += 1
                if self.streak >= self.limit and self.limit < self.ceiling:
                    self.limit += 1
                    self.streak = 0
                    self.increases += 1
            self._cond.notify_all()

    def calls_per_second(self) -> float | None:
        """The pace as calls per second (None when not pacing)."""
        with self._cond:
            return None if self.pace is None else self.pace / max(1.0, self.tokens_per_call)

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._stopped.set()
            self._cond.notify_all()


class _Skipped(Exception):
    """An item that was not sent because the run stopped first."""


class BatchRun:
    """One batch: the encoded bodies, the adaptive window, and what happened (see
    [`BatchStats`][haiku_finetune._batch.BatchStats])."""

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
                self.window.pace_retry()

        try:
            completion = invoke_encoded(self.transport, self.model_id, self.bodies[index], on_retry)
        except Exception as error:
            if isinstance(error, ThrottlingError) and not seen_throttle:
                self.window.throttled(epoch)  # throttled on the last (or only) attempt
            self.window.release(success=False)
            raise
        self.window.release(success=not seen_throttle, tokens=completion.usage.total_tokens)
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
            pace=window.calls_per_second(),
            tokens_per_second=window.tokens / (ended - self.began) if ended > self.began else 0.0,
        )


def _put_done(
    finished: queue.SimpleQueue[tuple[int, Future[Completion]]], index: int, future: Future[Completion]
) -> None:
    finished.put((index, future))


def _progress_bar(model_id: str, total: int) -> Any:
    from ._progress import tqdm_class

    short = model_id.rsplit("/", 1)[-1]
    return tqdm_class()(total=total, desc=f"invoking {short}", unit=" calls")
