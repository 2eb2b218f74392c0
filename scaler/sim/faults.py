"""Injected faults: latency, error rates, "fail the next N requests", and malformed answers.

The control API installs them (parsing their JSON here, with errors that name the
field); the platform surface asks :class:`Faults` before and after handling each
request. Random choices (jitter, error rate) use the simulator's seeded RNG, so a run
is repeatable.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from scaler.sim.constants import ENDPOINTS

NON_JSON = "non_json"
HTML = "html"
MISSING_FIELDS = "missing_fields"
WRONG_TYPES = "wrong_types"
LARGE = "large"
SLOW_DRIP = "slow_drip"
DROP = "drop"
#: The kinds of malformed answer the simulator can give.
MALFORMED_KINDS = (NON_JSON, HTML, MISSING_FIELDS, WRONG_TYPES, LARGE, SLOW_DRIP, DROP)

#: Size of a ``large`` answer when none is given: 10 MiB.
DEFAULT_LARGE_BYTES = 10 * 1024 * 1024
#: Speed of a ``slow_drip`` answer when none is given, in bytes per second.
DEFAULT_DRIP_BYTES_PER_SECOND = 100.0


class InvalidFault(ValueError):
    """A fault description is malformed; the message names the field."""


@dataclass(frozen=True)
class Latency:
    """Delay every matching request by ``fixed_ms`` plus a uniform draw in [0, ``jitter_ms``]."""

    fixed_ms: float
    jitter_ms: float
    endpoints: frozenset[str] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the fault as the control API shows it."""
        return {"fixed_ms": self.fixed_ms, "jitter_ms": self.jitter_ms, "endpoints": _names(self.endpoints)}


@dataclass(frozen=True)
class FailureAnswer:
    """An answer given instead of handling the request."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ErrorRate:
    """Answer ``status`` instead of handling a matching request, with probability ``rate``."""

    rate: float
    answer: FailureAnswer
    endpoints: frozenset[str] | None = None

    def to_json(self) -> dict[str, Any]:
        """Return the fault as the control API shows it."""
        return {"rate": self.rate, "endpoints": _names(self.endpoints), **_answer_json(self.answer)}


@dataclass
class FailNext:
    """Answer ``status`` instead of handling the next ``remaining`` requests to ``endpoint`` (any when None)."""

    endpoint: str | None
    remaining: int
    answer: FailureAnswer

    def to_json(self) -> dict[str, Any]:
        """Return the fault as the control API shows it."""
        return {"endpoint": self.endpoint, "remaining": self.remaining, **_answer_json(self.answer)}


@dataclass
class Malformed:
    """Damage the answers of the next ``remaining`` requests to ``endpoint`` (any when None)."""

    endpoint: str | None
    remaining: int
    kind: str
    status: int | None = None
    size_bytes: int = DEFAULT_LARGE_BYTES
    bytes_per_second: float = DEFAULT_DRIP_BYTES_PER_SECOND

    def to_json(self) -> dict[str, Any]:
        """Return the fault as the control API shows it."""
        return {
            "endpoint": self.endpoint,
            "remaining": self.remaining,
            "kind": self.kind,
            "status": self.status,
            "size_bytes": self.size_bytes,
            "bytes_per_second": self.bytes_per_second,
        }


class Faults:
    """Every fault currently injected, and the decisions they make for one request."""

    def __init__(self) -> None:
        self.latency: Latency | None = None
        self.error_rate: ErrorRate | None = None
        self.fail_next: list[FailNext] = []
        self.malformed: list[Malformed] = []

    def clear(self) -> None:
        """Remove every fault."""
        self.latency = None
        self.error_rate = None
        self.fail_next.clear()
        self.malformed.clear()

    @property
    def any(self) -> bool:
        """True when at least one fault is installed (the fast path skips them all otherwise)."""
        return bool(self.latency or self.error_rate or self.fail_next or self.malformed)

    def delay_seconds(self, endpoint: str | None, rng: random.Random) -> float:
        """Return how long to hold a request to ``endpoint`` before handling it (0 when no latency applies)."""
        latency = self.latency
        if latency is None or not _applies(latency.endpoints, endpoint):
            return 0.0
        jitter = rng.uniform(0, latency.jitter_ms) if latency.jitter_ms > 0 else 0.0
        return (latency.fixed_ms + jitter) / 1000.0

    def take_failure(self, endpoint: str | None, rng: random.Random) -> tuple[str, FailureAnswer] | None:
        """Return ``(kind, answer)`` when this request must fail instead of being handled, else None.

        A pending "fail next" for the endpoint wins (and is used up); otherwise the error
        rate draws from ``rng``.
        """
        for rule in self.fail_next:
            if rule.endpoint is None or rule.endpoint == endpoint:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.fail_next.remove(rule)
                return "fail_next", rule.answer
        rate = self.error_rate
        if rate is not None and _applies(rate.endpoints, endpoint) and rng.random() < rate.rate:
            return "error_rate", rate.answer
        return None

    def take_malformed(self, endpoint: str | None) -> Malformed | None:
        """Return (and use up one count of) the malformed answer pending for ``endpoint``, if any."""
        for rule in self.malformed:
            if rule.endpoint is None or rule.endpoint == endpoint:
                rule.remaining -= 1
                if rule.remaining <= 0:
                    self.malformed.remove(rule)
                return rule
        return None

    def to_json(self) -> dict[str, Any]:
        """Return every installed fault as the control API shows it."""
        return {
            "latency": self.latency.to_json() if self.latency else None,
            "error_rate": self.error_rate.to_json() if self.error_rate else None,
            "fail_next": [rule.to_json() for rule in self.fail_next],
            "malformed": [rule.to_json() for rule in self.malformed],
        }


# --- Parsing the control API's descriptions ---------------------------------------


def parse_latency(raw: Any) -> Latency | None:
    """Return the :class:`Latency` described by ``{fixed_ms, jitter_ms?, endpoints?}`` (None: no latency)."""
    body = _mapping(raw, ("fixed_ms", "jitter_ms", "endpoints"))
    fixed = _number(body, "fixed_ms", default=0.0)
    jitter = _number(body, "jitter_ms", default=0.0)
    if fixed == 0 and jitter == 0:
        return None
    return Latency(fixed_ms=fixed, jitter_ms=jitter, endpoints=_endpoints(body))


def parse_error_rate(raw: Any) -> ErrorRate | None:
    """Return the :class:`ErrorRate` described by ``{rate, status, endpoints?, body?, headers?}`` (None: rate 0)."""
    body = _mapping(raw, ("rate", "status", "endpoints", "body", "headers"))
    rate = _number(body, "rate", default=None)
    if rate > 1:
        raise InvalidFault("rate: must be between 0 and 1")
    if rate == 0:
        return None
    return ErrorRate(rate=rate, answer=_failure_answer(body), endpoints=_endpoints(body))


def parse_fail_next(raw: Any) -> FailNext:
    """Return the :class:`FailNext` described by ``{endpoint?, count?, status, body?, headers?}``."""
    body = _mapping(raw, ("endpoint", "count", "status", "body", "headers"))
    return FailNext(endpoint=_endpoint(body), remaining=_count(body), answer=_failure_answer(body))


def parse_malformed(raw: Any) -> Malformed:
    """Return the :class:`Malformed` that a control body describes.

    The body is ``{kind, endpoint?, count?, status?, size_bytes?, bytes_per_second?}``.
    Raises :class:`InvalidFault` naming the field.
    """
    body = _mapping(raw, ("kind", "endpoint", "count", "status", "size_bytes", "bytes_per_second"))
    kind = body.get("kind")
    if kind not in MALFORMED_KINDS:
        raise InvalidFault(f"kind: must be one of {', '.join(MALFORMED_KINDS)}, not {kind!r}")
    status = _status(body, minimum=100) if "status" in body else None
    size = body.get("size_bytes", DEFAULT_LARGE_BYTES)
    if not isinstance(size, int) or isinstance(size, bool) or size < 1 or size > 1024**3:
        raise InvalidFault("size_bytes: must be a whole number of bytes between 1 and 1 GiB")
    drip = _number(body, "bytes_per_second", default=DEFAULT_DRIP_BYTES_PER_SECOND)
    if drip <= 0:
        raise InvalidFault("bytes_per_second: must be above 0")
    return Malformed(
        endpoint=_endpoint(body),
        remaining=_count(body),
        kind=kind,
        status=status,
        size_bytes=size,
        bytes_per_second=drip,
    )


def default_error_body(status: int) -> dict[str, str]:
    """Return the body of an injected error when none was given: ``{"error": <reason phrase>}``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return {"error": phrase}


def _applies(endpoints: frozenset[str] | None, endpoint: str | None) -> bool:
    return endpoints is None or endpoint in endpoints


def _names(endpoints: frozenset[str] | None) -> list[str] | None:
    return sorted(endpoints) if endpoints is not None else None


def _answer_json(answer: FailureAnswer) -> dict[str, Any]:
    return {"status": answer.status, "body": answer.body, "headers": answer.headers}


def _mapping(raw: Any, known: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidFault(f"the body must be a JSON object with {', '.join(known)}")
    for key in raw:
        if key not in known:
            raise InvalidFault(f"{key}: unknown field (known fields: {', '.join(known)})")
    return raw


def _number(body: Mapping[str, Any], name: str, *, default: float | None) -> float:
    value = body.get(name, default)
    if value is None:
        raise InvalidFault(f"{name}: is required")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise InvalidFault(f"{name}: must be a number >= 0, not {value!r}")
    return float(value)


def _count(body: Mapping[str, Any]) -> int:
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise InvalidFault(f"count: must be a whole number >= 1, not {count!r}")
    return count


def _status(body: Mapping[str, Any], *, minimum: int = 400) -> int:
    status = body.get("status")
    if not isinstance(status, int) or isinstance(status, bool) or not minimum <= status <= 599:
        raise InvalidFault(f"status: must be an HTTP status code between {minimum} and 599, not {status!r}")
    return status


def _endpoint(body: Mapping[str, Any]) -> str | None:
    endpoint = body.get("endpoint")
    if endpoint is not None and endpoint not in ENDPOINTS:
        raise InvalidFault(f"endpoint: must be one of {', '.join(ENDPOINTS)}, not {endpoint!r}")
    return endpoint


def _endpoints(body: Mapping[str, Any]) -> frozenset[str] | None:
    endpoints = body.get("endpoints")
    if endpoints is None:
        return None
    if not isinstance(endpoints, list) or not endpoints:
        raise InvalidFault("endpoints: must be a non-empty list of endpoint names, or absent for all")
    for name in endpoints:
        if name not in ENDPOINTS:
            raise InvalidFault(f"endpoints: {name!r} is not one of {', '.join(ENDPOINTS)}")
    return frozenset(endpoints)


def _failure_answer(body: Mapping[str, Any]) -> FailureAnswer:
    status = _status(body)
    headers = body.get("headers") or {}
    if not isinstance(headers, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvalidFault("headers: must be an object of header names to string values")
    answer_body = body["body"] if "body" in body else default_error_body(status)
    return FailureAnswer(status=status, body=answer_body, headers=dict(headers))
