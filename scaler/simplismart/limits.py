"""How much the client asks of the platform and of itself: one frozen :class:`Limits` value.

The timeouts of one attempt, the requests in flight, the request rate and the largest
answer read. The retry policy, the other half of the client's configuration, is
:class:`~scaler.simplismart.retries.RetryPolicy`.
"""

from __future__ import annotations

from dataclasses import dataclass

from scaler.settings import Settings

#: Largest answer read, in bytes (8 MiB). The list of 10,000 deployments is about 2.8 MB,
#: so this leaves room for organizations three times that size, while a runaway or
#: hostile answer (a proxy streaming a file, a padded body) is cut off early.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Limits:
    """The client's limits; every field positive (``ValueError`` naming the field otherwise).

    httpx's timeouts bound each phase of an attempt (connecting, each read, each write)
    by ``timeout_seconds``; a response trickling in a few bytes at a time never trips
    them, so each attempt as a whole is also bounded by ``attempt_deadline_seconds``
    (``None``: twice ``timeout_seconds``, one connect plus one read); reading the
    answer counts toward it. ``max_requests_per_second`` may be ``math.inf`` (no limit).
    """

    timeout_seconds: float = 10.0
    attempt_deadline_seconds: float | None = None
    max_concurrency: int = 10
    max_requests_per_second: float = 20.0
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def __post_init__(self) -> None:
        for name in ("timeout_seconds", "max_concurrency", "max_requests_per_second", "max_response_bytes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if self.attempt_deadline_seconds is not None and not self.attempt_deadline_seconds > 0:
            raise ValueError(f"attempt_deadline_seconds must be positive, got {self.attempt_deadline_seconds!r}")

    @property
    def attempt_deadline(self) -> float:
        """Seconds one attempt may take in all, the answer read included."""
        return self.attempt_deadline_seconds or 2 * self.timeout_seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """The limits of ``settings`` (SCALER_HTTP_TIMEOUT_SECONDS, SCALER_MAX_CONCURRENCY,
        SCALER_MAX_REQUESTS_PER_SECOND); the rest at their defaults."""
        return cls(
            timeout_seconds=settings.http_timeout_seconds,
            max_concurrency=settings.max_concurrency,
            max_requests_per_second=settings.max_requests_per_second,
        )
