"""Turning the platform's HTTP answers into typed results or typed errors.

Pure functions of an ``httpx.Response`` (or a transport exception) and the call's
context: which error class a status means, the platform's own message, the wait a
``Retry-After`` header asks for, and the tolerant parsing of each endpoint's body.
"""

from __future__ import annotations

import json
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
import structlog
from pydantic import BaseModel, ValidationError

from scaler.metrics import Metrics
from scaler.simplismart.errors import (
    ApiStatusError,
    AuthenticationError,
    ConnectionFailed,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    OrganizationMismatch,
    QuotaExceeded,
    RateLimited,
    RequestTimeout,
    ServerError,
    SimplismartError,
    TransportError,
    UnexpectedStatus,
    WalletBlocked,
    one_line,
)
from scaler.simplismart.models import Deployment

log = structlog.get_logger()

_MESSAGE_FIELDS = ("error", "detail", "message")

ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class CallContext:
    """What an error needs to say where it happened."""

    endpoint: str
    operation: str
    deployment_id: str | None = None
    request_id: str | None = None

    def error_fields(self) -> dict[str, Any]:
        """The keyword arguments every :class:`SimplismartError` takes for its context."""
        return {
            "endpoint": self.endpoint,
            "operation": self.operation,
            "deployment_id": self.deployment_id,
            "request_id": self.request_id,
        }


def _render(value: Any) -> str:
    """Render an error value (a string, a list of them, a DRF-style dict) as one line."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "; ".join(part for part in (_render(item) for item in value) if part)
    if isinstance(value, dict):
        if isinstance(value.get("msg"), str):  # {"loc": [...], "msg": "..."} validation items
            return value["msg"]
        parts = []
        for key, item in value.items():
            text = _render(item)
            if text:
                parts.append(text if key == "non_field_errors" else f"{key}: {text}")
        return "; ".join(parts)
    return "" if value is None else str(value)


def platform_message(response: httpx.Response) -> str:
    """Return the platform's own message in an error answer, or ``""``.

    Looks at the ``error``, ``detail`` and ``message`` fields of a JSON object, then at
    DRF-style field errors (``{"min_replicas": ["..."]}``), then at a plain-text body.
    """
    try:
        body = response.json()
    except (ValueError, RecursionError):  # not JSON or not UTF-8; a number or a nesting too large to read
        content_type = response.headers.get("content-type", "")
        if content_type.startswith("text/plain"):
            return one_line(response.text)
        return ""
    if isinstance(body, dict):
        for field in _MESSAGE_FIELDS:
            text = _render(body.get(field))
            if text:
                return one_line(text)
        return one_line(_render(body))
    return one_line(_render(body))


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Return the seconds a ``Retry-After`` header asks to wait, or ``None`` if absent or unreadable.

    Accepts delta-seconds (``"120"``, also a decimal) and an HTTP date; a date in the
    past, or a negative number, means "now" (0.0).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - now).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN, infinities
        return None
    return max(0.0, seconds)


def refuses_organization(message: str) -> bool:
    """Whether a startstop refusal says the ``org`` sent is not the deployment's organization
    (the platform's words: "org does not match the deployment's organization")."""
    words = message.casefold()
    return "org" in words and "match" in words


def error_for_status(response: httpx.Response, context: CallContext, *, now: datetime) -> ApiStatusError:
    """Return the typed error an error answer means (the caller raises it)."""
    status = response.status_code
    message = platform_message(response)
    fields = {**context.error_fields(), "status_code": status}
    if status in (401, 403):
        return AuthenticationError(message, **fields)
    if status == 402:
        return WalletBlocked(message, **fields)
    if status == 404:
        return NotFound(message, **fields)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=now)
        return RateLimited(message, retry_after=retry_after, **fields)
    if status == 400 and "quota" in message.casefold():
        return QuotaExceeded(message, **fields)
    if status == 400 and context.endpoint == "startstop" and refuses_organization(message):
        return OrganizationMismatch(message, **fields)
    if 400 <= status < 500:
        return InvalidRequest(message, **fields)
    if status >= 500:
        retry_after = parse_retry_after(response.headers.get("retry-after"), now=now)
        return ServerError(message, retry_after=retry_after, **fields)
    return UnexpectedStatus(message or f"unexpected HTTP {status}", **fields)


def _certificate_problem(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in str(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def error_for_transport(exc: httpx.RequestError, context: CallContext, *, timeout_seconds: float) -> SimplismartError:
    """Return the typed error for a request that got no usable answer (the caller raises it)."""
    fields = context.error_fields()
    if isinstance(exc, httpx.TimeoutException):
        kind = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for the answer",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a free connection",
        }.get(type(exc), "waiting")
        return RequestTimeout(f"timed out after {timeout_seconds:g} s {kind}", **fields)
    if isinstance(exc, httpx.DecodingError):
        return MalformedResponse(f"the answer could not be decoded ({one_line(str(exc), limit=120)})", **fields)
    detail = one_line(str(exc), limit=160) or type(exc).__name__
    if _certificate_problem(exc):
        return ConnectionFailed(
            f"TLS certificate not trusted ({detail}); set SCALER_CA_BUNDLE for a private CA",
            transient=False,
            **fields,
        )
    if isinstance(exc, (httpx.NetworkError, httpx.RemoteProtocolError, httpx.ProxyError)):
        return ConnectionFailed(detail, **fields)
    return ConnectionFailed(detail, transient=False, **fields)


def status_label(outcome: httpx.Response | SimplismartError) -> str:
    """The bounded ``status_code`` label of one request: the status, or the kind of failure."""
    if isinstance(outcome, httpx.Response):
        return str(outcome.status_code)
    if isinstance(outcome, ApiStatusError) and outcome.status_code is not None:
        return str(outcome.status_code)
    if isinstance(outcome, TransportError):
        return outcome.reason
    return "error"


def _json_body(response: httpx.Response, context: CallContext, *, empty: Any = None) -> Any:
    if not response.content.strip() and empty is not None:
        return empty
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        if response.content:
            problem = f"expected JSON, got {one_line(response.text, limit=80)!r}"
        else:
            problem = "expected JSON, got an empty body"
        raise MalformedResponse(problem, status_code=response.status_code, **context.error_fields()) from None
    except (ValueError, RecursionError) as exc:  # JSON, but a number of thousands of digits or a nesting too deep
        problem = f"the JSON could not be read ({one_line(str(exc), limit=100)})"
        raise MalformedResponse(problem, status_code=response.status_code, **context.error_fields()) from None


def _describe(error: ValidationError) -> str:
    """Summarise a validation error without the offending values."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


class ListedItems:
    """The deployments of the last list answer with the items they were read from: an item received
    again equal to the one before is not validated again (a list of 1,000 mostly repeats the last)."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: dict[str, tuple[Any, Deployment]] = {}

    def read(self, item: Any, fresh: dict[str, tuple[Any, Deployment]]) -> Deployment:
        """The deployment of ``item``, noted in ``fresh``; raise ``ValidationError`` for a malformed one."""
        key = item.get("deployment_id") if isinstance(item, dict) else None
        if not isinstance(key, str):
            return Deployment.model_validate(item)
        seen = self.items.get(key)
        deployment = seen[1] if seen is not None and seen[0] == item else Deployment.model_validate(item)
        fresh[key] = (item, deployment)
        return deployment


def parse_deployments(
    response: httpx.Response, context: CallContext, *, metrics: Metrics | None, listed: ListedItems | None = None
) -> list[Deployment]:
    """Return the deployments of a list answer, skipping (logging, counting) malformed items; ``listed``
    holds the last answer's, so that unchanged items are not validated again, and then this one's.

    Raises :class:`MalformedResponse` when the body is not JSON or not an array.
    """
    body = _json_body(response, context)
    if not isinstance(body, list):
        raise MalformedResponse(
            f"expected a JSON array of deployments, got {type(body).__name__}",
            status_code=response.status_code,
            **context.error_fields(),
        )
    deployments = []
    known = listed or ListedItems()
    fresh: dict[str, tuple[Any, Deployment]] = {}
    for index, item in enumerate(body):
        try:
            deployments.append(known.read(item, fresh))
        except ValidationError as exc:
            item_id = item.get("deployment_id") if isinstance(item, dict) else None
            log.warning(
                "api_malformed_item",
                endpoint=context.endpoint,
                index=index,
                item_deployment_id=item_id if isinstance(item_id, str) else None,
                problem=_describe(exc),
                request_id=context.request_id,
            )
            if metrics is not None:
                metrics.api_malformed.labels(endpoint=context.endpoint).inc()
    known.items = fresh
    return deployments


def parse_object(
    response: httpx.Response, context: CallContext, model: type[ModelT], *, empty_ok: bool
) -> ModelT:
    """Return the body parsed as ``model`` (extra fields ignored).

    ``empty_ok``: an empty body reads as ``{}`` (mutations answered without a body).
    Raises :class:`MalformedResponse` when the body is not a JSON object of that shape.
    """
    body = _json_body(response, context, empty={} if empty_ok else None)
    if not isinstance(body, dict):
        raise MalformedResponse(
            f"expected a JSON object, got {type(body).__name__}",
            status_code=response.status_code,
            **context.error_fields(),
        )
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise MalformedResponse(
            f"unexpected shape ({_describe(exc)})", status_code=response.status_code, **context.error_fields()
        ) from None
