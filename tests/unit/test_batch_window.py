"""The batch's adaptive limits (`_Window`) on an injected clock and waiter: no threads, no sleeps.

A small discrete-event simulation plays a batch against a deployment: calls take a fixed latency, a refused
attempt is retried after the transport's full-jitter backoff (five attempts in all), and the deployment either
throttles at random or has a Provisioned Throughput's token bucket (a rate and a burst, as LocalBedrock's
`UnitCapacity`). The window's pace waits go to the injected waiter, which hands the delay to the simulation.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass, field

from haiku_finetune._batch import _Window

TOKENS = 20  # tokens per call


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class _Bucket:
    """A deployment's token capacity: ``rate`` tokens per second, ``burst`` seconds of it banked at the start."""

    rate: float
    burst: float
    tokens: float = field(init=False)
    at: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.rate * self.burst

    def admit(self, now: float) -> bool:
        self.tokens = min(self.rate * self.burst, self.tokens + self.rate * (now - self.at))
        self.at = now
        if self.tokens <= 0:
            return False
        self.tokens -= TOKENS
        return True


@dataclass
class _Run:
    window: _Window
    elapsed: float
    served: int
    failed: int
    attempts: int


def _simulate(
    calls: int,
    concurrency: int,
    latency: float,
    *,
    throttle: float = 0.0,
    bucket: _Bucket | None = None,
    seed: int = 0,
) -> _Run:
    clock, rng = _Clock(), random.Random(seed)
    delays: list[float] = []

    def wait(seconds: float) -> bool:
        delays.append(seconds)  # the simulation starts the call that much later; nobody sleeps
        return False

    window = _Window(concurrency, clock, wait)
    events: list[tuple[float, int, str, int, int]] = []  # (time, order, kind, epoch, attempt)
    order = started = served = failed = attempts = 0
    starts: dict[int, float] = {}
    while served + failed < calls:
        while started < calls and window.in_flight < window.limit:
            epoch = window.acquire()
            assert epoch is not None
            delay = delays.pop() if delays else 0.0
            order += 1
            starts[order] = clock.now + delay
            heapq.heappush(events, (clock.now + delay, order, "send", epoch, 1))
            started += 1
        at, call, kind, epoch, attempt = heapq.heappop(events)
        clock.now = at
        if kind == "send":
            attempts += 1
            refused = rng.random() < throttle or (bucket is not None and not bucket.admit(at))
            heapq.heappush(events, (at + latency, call, "refused" if refused else "done", epoch, attempt))
        elif kind == "refused":
            if attempt == 5:
                window.throttled(epoch)
                window.release(success=False)
                failed += 1
            else:
                window.throttled(epoch)
                backoff = rng.uniform(0.0, 0.5 * 2 ** (attempt - 1))
                heapq.heappush(events, (at + backoff, call, "send", epoch, attempt + 1))
        else:
            window.release(success=attempt == 1, tokens=TOKENS, started=starts[call] if attempt == 1 else None)
            served += 1
    return _Run(window, clock.now, served, failed, attempts)


def test_random_ten_percent_throttling_keeps_the_window_and_the_rate() -> None:
    for seed in range(5):
        run = _simulate(2000, 16, 0.1, throttle=0.10, seed=seed)
        window = run.window
        assert window.throttles > 150
        # the old controller cut to three quarters (before that: halved) on every window with a throttle in it
        assert (window.decreases, window.min_limit, window.pace) == (0, 16, None), seed
        assert run.served == 2000
        # a window of 16 kept whole: 16 / 0.1 s, less the retries' backoffs holding slots (about 107 calls/s)
        assert run.served / run.elapsed > 100


def test_a_provisioned_throughputs_capacity_is_used_with_few_throttles() -> None:
    capacity = 150.0  # calls per second; concurrency 32 at 50 ms could send 640
    for seed in range(5):
        run = _simulate(2000, 32, 0.05, bucket=_Bucket(rate=capacity * TOKENS, burst=1.0), seed=seed)
        used = run.served / (capacity * (run.elapsed + 1.0))  # the burst: one second more of capacity
        throttled = run.window.throttles / run.attempts
        assert (run.served, run.failed) == (2000, 0)
        assert used >= 0.9, (seed, used)
        assert throttled <= 0.03, (seed, throttled)
        assert run.window.pace is not None


def test_a_run_of_throttles_in_one_window_cuts_once_then_the_window_recovers() -> None:
    clock = _Clock()
    window = _Window(16, clock, lambda seconds: False)
    epochs = [window.acquire() for _ in range(16)]  # sixteen calls in flight, all sent before any cut
    for epoch in epochs:
        assert epoch is not None
        clock.now += 0.001
        window.throttled(epoch)
    for _ in range(16):
        window.release(success=False)
    assert (window.decreases, window.limit) == (1, 12)  # 16 * 0.75, once, not once per throttle
    for _ in range(400):
        epoch = window.acquire()
        clock.now += 0.01
        window.release(success=True, tokens=TOKENS)
    assert window.limit == 16


def test_sustained_refusal_keeps_cutting_window_after_window() -> None:
    run = _simulate(200, 16, 0.05, throttle=1.0)
    assert run.failed == 200
    assert run.window.min_limit == 1
    assert run.window.decreases >= 8  # 16 -> 12 -> 9 -> 6 -> 4 -> 3 -> 2 -> 1, one cut per window


def test_pace_waits_go_to_the_injected_waiter_and_a_stop_frees_the_slot() -> None:
    clock = _Clock()
    waited: list[float] = []
    stop = {"now": False}

    def wait(seconds: float) -> bool:
        waited.append(seconds)
        return stop["now"]

    window = _Window(4, clock, wait)
    window.pace = 100.0  # tokens per second: five calls of 20 tokens a second
    window.tokens_per_call = float(TOKENS)
    assert window.acquire() == 0  # the first call starts at once
    assert window.acquire() == 0
    assert waited == [0.2]  # the second waits one slot, without sleeping
    stop["now"] = True
    assert window.acquire() is None
    assert window.in_flight == 2
