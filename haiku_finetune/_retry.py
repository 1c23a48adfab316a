"""The retry policy: what is retryable, and full-jitter exponential backoff bounded by attempts and time.

This is the only module that retries. botocore's own retries are switched off by the transport (one attempt
per botocore call), so the attempts counted here are the attempts made on the wire. Sleeping and the clock
are injectable so that tests never sleep.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception

from .errors import (
    CallFailedError,
    ConnectionFailedError,
    ModelNotReadyError,
    ServiceUnavailableError,
    ThrottlingError,
)

__all__ = ["RetryPolicy", "is_retryable"]

_log = logging.getLogger(__name__)
T = TypeVar("T")


def is_retryable(error: BaseException) -> bool:
    """Return True for errors worth another attempt: throttling, 5xx, model-not-ready and no-answer errors.

    Validation, access, not-found, conflict, quota and model errors are never retried: another attempt
    would get the same answer.
    """
    return isinstance(error, (ThrottlingError, ServiceUnavailableError, ModelNotReadyError, ConnectionFailedError))


@dataclass(frozen=True)
class RetryPolicy:
    """How the transport retries a call.

    Attributes:
        max_attempts: Attempts in all, the first included (1 disables retrying).
        initial_backoff: Scale of the first backoff, in seconds; the n-th wait is uniform in
            ``[0, min(max_backoff, initial_backoff * 2**(n-1))]`` ("full jitter").
        max_backoff: Cap on a single wait, in seconds.
        total_timeout: Budget in seconds for all attempts and waits of one call; no new attempt starts
            after it, and no wait runs past it.
        sleep: The sleep function (inject a no-op in tests).
        clock: A monotonic clock in seconds (inject a fake in tests).
        rng: Source of jitter.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.5
    max_backoff: float = 20.0
    total_timeout: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random, compare=False)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.initial_backoff < 0 or self.max_backoff < 0 or self.total_timeout <= 0:
            raise ValueError("backoffs must be >= 0 and total_timeout > 0")

    def backoff(self, attempt: int) -> float:
        """Return the wait after failed attempt number ``attempt`` (1-based), with full jitter."""
        ceiling = min(self.max_backoff, self.initial_backoff * (2 ** (attempt - 1)))
        return self.rng.uniform(0.0, ceiling)

    def run(
        self,
        operation: str,
        call: Callable[[], T],
        *,
        on_retry: Callable[[BaseException], None] | None = None,
        retry_if: Callable[[BaseException], bool] | None = None,
    ) -> T:
        """Run ``call`` under this policy.

        Args:
            operation: The operation's name, for logs and error messages.
            call: A function that raises already-mapped library errors.
            on_retry: Told of each error that is about to be retried (batch invocation uses it to back off
                its concurrency on throttling).
            retry_if: Decides which errors get another attempt, in place of
                [`is_retryable`][haiku_finetune._retry.is_retryable] (a caller
                that knows an error is transient for its own call, e.g. a conflict while a resource settles,
                passes ``lambda e: is_retryable(e) or ...``). Only library errors are ever retried.

        Returns:
            What ``call`` returned.

        Raises:
            HaikuFinetuneError: The last error, once attempts or time run out, or at once when it is
                not retryable. Its ``attempts`` attribute says how many attempts were made.
        """
        retryable = is_retryable if retry_if is None else retry_if
        started = self.clock()
        # Most calls succeed at once: make that attempt before building tenacity's machinery (about 80 µs).
        try:
            return call()
        except CallFailedError as error:
            if not retryable(error) or self.max_attempts == 1:
                error.attempts = 1
                raise
            pending: list[BaseException] = [error]

        def _attempt() -> T:
            if pending:  # tenacity's first attempt is the one already made
                raise pending.pop()
            return call()

        def _stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            return self.clock() - started >= self.total_timeout

        def _wait(state: RetryCallState) -> float:
            remaining = self.total_timeout - (self.clock() - started)
            return max(0.0, min(self.backoff(state.attempt_number), remaining))

        def _log_retry(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            code = getattr(error, "code", type(error).__name__)
            _log.debug(
                "retrying %s after %s (attempt %d of %d, waiting %.2fs)",
                operation,
                code,
                state.attempt_number,
                self.max_attempts,
                state.upcoming_sleep,
            )
            if on_retry is not None and error is not None:
                on_retry(error)

        retrying = Retrying(
            stop=_stop,
            wait=_wait,
            retry=retry_if_exception(retryable),
            sleep=self.sleep,
            before_sleep=_log_retry,
            reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts += 1
                    result = _attempt()
        except CallFailedError as error:
            error.attempts = attempts
            raise
        return result
