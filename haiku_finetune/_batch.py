"""Batch invocation: many prompts on a thread pool whose pace adapts to what the deployment serves.

Two limits adapt to throttling, and only to *congestion*: throttles that are a large share of the latest
attempts (30 % of the last 48), as a deployment's capacity refuses what exceeds it. Sparse throttles, such as
random ones, are left to the transport's retries and change nothing: cutting for them only lost throughput.
The *window* of calls allowed in flight starts at the requested concurrency, shrinks to three quarters on
congestion (at most once per window of in-flight calls: calls sent before a cut saw the old window) and grows
back by one after each run of successes as long as itself. The *pace* is a token rate of new calls (tokens
from response usage). Congestion sets it to 90 % of what the deployment served while refusing (its capacity),
and it then grows 5 % a second until it overruns: while it binds, the last second served less than 99 % of it.
An overrun sets it to 95 % of what was served, and from then on it creeps up 0.5 % a second, so a batch
settles just under a Provisioned Throughput's capacity instead of a saw-tooth. Retries do not take the pace's
slots (the transport spaces them): random refusals then only delay calls, and only capacity leaves the served
rate below the pace. Results come back in input order.

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
    shrinks to three quarters on congestion (throttles that are a large share of the latest attempts; sparse
    ones, e.g. random, change nothing) and grows back by one after each run of successes as long as itself.
    The *pace* is the call rate the batch settled on from the token rate the deployment served.

    Attributes:
        items: Prompts in the batch.
        requested_concurrency: The concurrency asked for (the window's ceiling).
        min_concurrency: The smallest window the run backed off to.
        final_concurrency: The window when the run ended (back at the ceiling once it recovered).
        max_in_flight: The most calls actually in flight at once.
        throttled: Throttled attempts seen, those the transport then retried successfully included.
        decreases: Times the window (and pace) were cut for congestion or an overrun pace.
        increases: Times the window grew by one.
        succeeded: Items that returned a completion.
        failed: Items that ended in an error.
        skipped: Items never sent because the run stopped at a failure (``on_error="raise"``).
        elapsed: Wall-clock seconds the run took.
        pace: Calls per second the batch was pacing itself to when the run ended (``None``: never congested,
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


#: A congested throttle cuts the window to this share of itself (once per window of in-flight calls).
_DECREASE = 0.75
#: Throttles are *congestion* when at least this share of the last _SAMPLE attempts were refused (capacity
#: refuses most of what exceeds it; random throttling is a steady small share, 10 % in the bench) ...
_CONGESTED_SHARE = 0.3
#: ... and at least this many (8 of 8 is congestion; at 10 % random throttling, 8 of fewer than 27 is rare).
_CONGESTED_MIN = 8
#: Few enough that a burst served before the refusals does not hide them (it spans 75 ms at 640 calls/s);
#: enough that random throttles seldom reach the share by chance (15 of 48 at 10 %: about 2 % of 2,000-call
#: batches, and then the window is cut once and the pace is set near what was served, so little is lost).
_SAMPLE = 48
#: The served rate that sets the pace at congestion needs at least this many seconds (and one call's latency).
_MIN_STORM = 0.1
#: Congestion sets the pace to this share of the token rate the latest attempts were served at.
_STORM_SHARE = 0.9
#: When the pace overran capacity it is set to this share of the token rate the last _HORIZON served.
_PACE_SHARE = 0.95
#: The pace overran capacity when, while it was binding, the last _HORIZON served less than this share of it.
_PACE_KEPT = 0.99
_HORIZON = 1.0
#: ... judged only once this many seconds have passed since the last cut (a shorter span is too noisy).
_MIN_SPAN = 0.25
#: While nothing is throttled the pace grows by this share of itself per second ...
_PACE_GROWTH = 0.005
#: ... and by this share until it first overruns after congestion set it (that estimate is taken over a short
#: time, so it may be well below capacity).
_PACE_PROBE = 0.05


class _Window:
    """The adaptive limits on calls: in flight (window) and new calls per second (pace, a served token rate).

    ``clock`` and ``wait`` are injectable so tests never sleep: ``wait(seconds)`` waits for the pace and
    returns True when the run was stopped meanwhile (by default it waits on the run's stop event).
    """

    def __init__(
        self,
        ceiling: int,
        clock: Callable[[], float] = time.monotonic,
        wait: Callable[[float], bool] | None = None,
    ) -> None:
        self._cond = threading.Condition()
        self._stopped = threading.Event()
        self._clock = clock
        self._wait = wait if wait is not None else self._stopped.wait
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
        # Pacing: tokens per second of new calls allowed (None until congestion), the mean tokens per call, the
        # time the next call may start.
        self.pace: float | None = None
        self.tokens_per_call = 0.0
        self.latency = 0.0  # seconds a call that succeeds at once takes (a moving average)
        self.tokens = 0
        self._next_start = 0.0
        self._grown_at = self._since = clock()  # _since: the outcomes' start (the run's, or the last cut)
        self._probing = False  # the pace was set at congestion and has not overrun since
        self._paced_since_cut = False  # some call waited for the pace: the pace, not the window, was binding
        # (time, tokens) of each attempt's outcome, 0 tokens for a throttled one: the last _HORIZON, and at
        # least the last _SAMPLE.
        self._outcomes: deque[tuple[float, int]] = deque()

    def _record(self, now: float, tokens: int) -> None:
        """Note one attempt's outcome; drop what is older than both the horizon and the sample."""
        self._outcomes.append((now, tokens))
        while len(self._outcomes) > _SAMPLE and self._outcomes[0][0] < now - _HORIZON:
            self._outcomes.popleft()

    def _congestion(self, now: float) -> tuple[bool, float]:
        """Whether the latest attempts were refused as capacity refuses (a large share of them), not now and then
        as random throttling does; and, when they were, the token rate served while it refused (its capacity).

        That rate counts what finished from one call's latency after the first of those refusals (calls that
        finished earlier were admitted before it, perhaps from a burst); when that is too short a time yet, what
        finished since the refusal (a little high: the pace's own check brings it down)."""
        refused = attempts = 0
        first_refusal = now
        for at, used in reversed(self._outcomes):
            if attempts >= _SAMPLE:
                break
            attempts += 1
            if used == 0:
                refused += 1
                first_refusal = at
        if refused < _CONGESTED_MIN or refused < _CONGESTED_SHARE * attempts:
            return False, 0.0
        since = first_refusal + self.latency
        if now - since < max(self.latency, _MIN_STORM):
            since = first_refusal
        if now <= since:
            return True, 0.0
        return True, sum(used for at, used in self._outcomes if at > since) / (now - since)

    def _served_rate(self, now: float) -> float:
        """Tokens per second served over the last ``_HORIZON`` seconds, or since the last cut if that is later."""
        start = max(now - _HORIZON, self._since)
        served = sum(tokens for at, tokens in self._outcomes if at >= start)
        span = now - start
        return served / span if span > 0 else 0.0

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
        if delay > 0 and self._wait(delay):
            self.release(success=False)
            return None
        return epoch

    def _reserve(self) -> float:
        """Take the next start time the pace allows (under the lock); return how long to wait for it.

        Only new calls take the pace's slots; the transport spaces retries with its backoff. So in steady state
        what is served equals the pace unless the deployment cannot keep up: random refusals only delay a call,
        refusals for capacity leave calls unserved, and only the latter shows as served < pace."""
        if self.pace is None:
            return 0.0
        now = self._clock()
        start = max(now, self._next_start)
        self._next_start = start + max(1.0, self.tokens_per_call) / self.pace
        delay = start - now
        self._paced_since_cut = self._paced_since_cut or delay > 0
        return delay

    def throttled(self, epoch: int) -> None:
        """Count a throttled attempt of a call acquired at ``epoch``; cut the limits if it shows congestion."""
        with self._cond:
            self.throttles += 1
            self.streak = 0
            now = self._clock()
            self._record(now, 0)
            congested, storm_rate = self._congestion(now)
            served = self._served_rate(now)
            # Sending at the pace, and the last horizon served clearly less: the deployment did not keep up.
            # (While the window was binding, served < pace says nothing about capacity.)
            overran = (
                self.pace is not None
                and self._paced_since_cut
                and now - self._since >= _MIN_SPAN
                and served < _PACE_KEPT * self.pace
            )
            if not (congested or overran):
                # A sparse throttle (e.g. random ones): the transport retries it; cutting for it would only lose
                # throughput, since more calls in flight still serve more.
                return
            if congested and (self.pace is None or epoch == self.epoch):
                # What the deployment served while refusing this much is what it can serve. An unpaced batch
                # takes this from calls sent before the last cut too: their refusals are as telling.
                if storm_rate:
                    self.pace = _STORM_SHARE * storm_rate
                    self._grown_at = now
                    self._probing = True
            elif overran and epoch == self.epoch and self.pace is not None:
                self.pace = _PACE_SHARE * served
                self._grown_at = now
                self._probing = False
            # Calls sent before the last cut saw the old, larger limits: one cut per window.
            if epoch != self.epoch:
                return
            self.limit = max(1, int(self.limit * _DECREASE))
            self.epoch += 1
            self.decreases += 1
            self.min_limit = min(self.min_limit, self.limit)
            self._paced_since_cut = False
            # What was served before the cut (a burst, a storm) says nothing of whether the new pace overruns.
            self._since = now

    def now(self) -> float:
        """The window's clock (a call's start time, for ``release``)."""
        return self._clock()

    def release(self, *, success: bool, tokens: int = 0, started: float | None = None) -> None:
        """Free a slot; ``tokens`` the call used (a call that succeeded on a retry was served too); ``started``
        when a call that succeeded at once was sent (its latency)."""
        with self._cond:
            self.in_flight -= 1
            if success and started is not None:
                latency = self._clock() - started
                self.latency = latency if self.latency == 0 else self.latency + 0.1 * (latency - self.latency)
            if tokens > 0:
                now = self._clock()
                self._record(now, tokens)
                self.tokens += tokens
                weight = 0.1 if self.tokens_per_call else 1.0
                self.tokens_per_call += weight * (tokens - self.tokens_per_call)
            if success:
                if self.pace is not None:
                    now = self._clock()
                    growth = _PACE_PROBE if self._probing else _PACE_GROWTH
                    self.pace *= 1.0 + growth * (now - self._grown_at)
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
        started = self.window.now()
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
        self.window.release(success=not seen_throttle, tokens=completion.usage.total_tokens, started=started)
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
