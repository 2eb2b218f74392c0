"""The client's retry policy and the machinery that applies it to one call.

A call is retried on transient failures only (5xx, 429, timeouts, connection errors; never
another 4xx, never a call the fence held back), with exponential backoff and jitter, at most
``attempts`` attempts and ``timeout_seconds`` in all, waiting what a ``Retry-After`` header
asks (capped by the time left).

The machinery is tenacity's ``AsyncRetrying``: its ``sleep`` is injectable, and its ``wait``
sees the failed attempt, so a Retry-After wait can be capped by the remaining budget on an
injectable clock; tests control time without sleeping. It is set up only when a first attempt
fails transiently (most calls succeed at once), and then replays that failure as its own first
attempt.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar, cast

import tenacity

from scaler.settings import Settings
from scaler.simplismart.errors import SimplismartError
from scaler.simplismart.ratelimit import Clock, Sleep

ResultT = TypeVar("ResultT")

#: Called before each wait with the attempt number that failed, its error and the seconds to wait.
OnRetry = Callable[[int, SimplismartError, float], None]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How a call is retried; ``ValueError`` naming the field for a non-positive count or budget.

    ``attempts`` counts the first one. The backoff before retry *n* is ``wait_initial_seconds``
    doubled *n - 1* times, plus up to ``wait_jitter_seconds`` of random jitter (so that
    clients do not retry in step), at most ``wait_max_seconds`` (a Retry-After may ask for
    more); never beyond the time left of ``timeout_seconds``.
    """

    attempts: int = 4
    timeout_seconds: float = 30.0
    wait_initial_seconds: float = 0.5
    wait_max_seconds: float = 8.0
    wait_jitter_seconds: float = 0.5

    def __post_init__(self) -> None:
        for name in ("attempts", "timeout_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        for name in ("wait_initial_seconds", "wait_max_seconds", "wait_jitter_seconds"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must not be negative, got {getattr(self, name)!r}")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy of ``settings`` (SCALER_API_RETRY_ATTEMPTS, SCALER_API_RETRY_TIMEOUT_SECONDS);
        the waits at their defaults."""
        return cls(attempts=settings.api_retry_attempts, timeout_seconds=settings.api_retry_timeout_seconds)

    def backoff(self, failed_attempt: int, retry_after: float | None, remaining: float) -> float:
        """Seconds to wait after attempt number ``failed_attempt`` failed: ``retry_after`` if the
        platform gave one, else jittered exponential backoff; never beyond ``remaining``."""
        if retry_after is not None:
            return min(float(retry_after), remaining)
        backoff = self.wait_initial_seconds * 2 ** (failed_attempt - 1)
        if self.wait_jitter_seconds:
            backoff += random.uniform(0, self.wait_jitter_seconds)  # noqa: S311 - jitter, not security
        return min(backoff, self.wait_max_seconds, remaining)


async def retry_transient(
    attempt: Callable[[], Awaitable[ResultT]],
    *,
    first: SimplismartError,
    started: float,
    policy: RetryPolicy,
    clock: Clock,
    sleep: Sleep,
    on_retry: OnRetry,
) -> ResultT:
    """Retry a call whose first attempt (begun at ``started`` on ``clock``) failed with the transient ``first``.

    Returns what a later ``attempt`` returns. The budget, the waits, ``on_retry`` and the
    attempt count are those of a call retried from the start: ``first`` is replayed as the
    first attempt. Raises the last attempt's error, its ``attempts`` set to the attempts made.
    """
    replayed = [first]

    async def replay_then_attempt() -> ResultT:
        if replayed:
            raise replayed.pop()
        return await attempt()

    def out_of_budget(state: tenacity.RetryCallState) -> bool:
        return state.attempt_number >= policy.attempts or clock() - started >= policy.timeout_seconds

    def next_wait(state: tenacity.RetryCallState) -> float:
        remaining = max(0.0, policy.timeout_seconds - (clock() - started))
        return policy.backoff(state.attempt_number, getattr(_failure(state), "retry_after", None), remaining)

    def before_sleep(state: tenacity.RetryCallState) -> None:
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        on_retry(state.attempt_number, cast(SimplismartError, _failure(state)), wait)  # only these are retried

    retrying = tenacity.AsyncRetrying(
        sleep=sleep,
        stop=out_of_budget,
        wait=next_wait,
        retry=tenacity.retry_if_exception(lambda exc: isinstance(exc, SimplismartError) and exc.transient),
        before_sleep=before_sleep,
        reraise=True,
    )
    try:
        return await retrying(replay_then_attempt)
    except SimplismartError as error:
        error.attempts = retrying.statistics.get("attempt_number", 1)
        raise


def _failure(state: tenacity.RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None else None
