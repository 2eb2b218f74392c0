"""The body of ``POST /api/v1/exceptions``: read (64 KiB at most, JSON only), checked field by field.

``{"kind": "suspend" | "override", "target": {"deployment": "name-or-id"} | {"policy": "name"} |
{"all": true}, "state": "running" | "stopped" | {"min_replicas": N, "max_replicas": M}
(override only), "until": "2026-12-24T18:00:00+01:00" | "for": "2h", "reason": "text"}``.
Unknown fields are refused; every error names its field (:class:`BodyError`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from starlette.requests import Request

from scaler.policy import DesiredState
from scaler.policy.durations import parse_duration
from scaler.store import MAX_EXCEPTION_LENGTH

#: The largest request body read, in bytes.
MAX_BODY_BYTES = 64 * 1024
#: The longest reason, in characters: a sentence or two, not a document.
MAX_REASON = 1000
_FIELDS = {"kind", "target", "state", "until", "for", "reason"}


class BodyError(ValueError):
    """A request body the API refuses: ``status`` (400, 413 or 415) and a message naming the field."""

    def __init__(self, message: str, *, field: str | None = None, status: int = 400) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.status = status


@dataclass(frozen=True)
class ExceptionRequest:
    """A checked request for an exception; ``target_kind`` with ``target`` (``None`` for all)."""

    kind: Literal["suspend", "override"]
    target_kind: Literal["deployment", "policy", "all"]
    target: str | None
    state: DesiredState | None
    until: datetime
    reason: str


async def read_json(request: Request) -> Any:
    """Return the request's JSON document; raise :class:`BodyError` for another media type (415), more
    than :data:`MAX_BODY_BYTES` (413) or text that is not JSON (400)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json":
        raise BodyError("the body must be JSON (Content-Type: application/json)", status=415)
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise BodyError(f"the body is larger than {MAX_BODY_BYTES} bytes", status=413)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BodyError(f"the body is larger than {MAX_BODY_BYTES} bytes", status=413)
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise BodyError(f"the body is not JSON: {error}") from None


def parse_exception_request(document: Any, now: datetime) -> ExceptionRequest:
    """Check a POST body at ``now``; raise :class:`BodyError` naming the first wrong field."""
    if not isinstance(document, dict):
        raise BodyError("the body must be a JSON object")
    unknown = sorted(set(document) - _FIELDS)
    if unknown:
        raise BodyError("unknown field", field=unknown[0])
    kind = document.get("kind")
    if kind not in ("suspend", "override"):
        raise BodyError("must be 'suspend' or 'override'", field="kind")
    target_kind, target = _target(document.get("target"))
    state = _state(document, kind)
    until = _until(document, now)
    reason = document.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise BodyError("required: say why, for the people who will wonder", field="reason")
    if len(reason) > MAX_REASON:
        raise BodyError(f"at most {MAX_REASON} characters", field="reason")
    return ExceptionRequest(kind, target_kind, target, state, until, reason.strip())


def _target(value: Any) -> tuple[Literal["deployment", "policy", "all"], str | None]:
    if not isinstance(value, dict) or len(value) != 1:
        raise BodyError(
            'required: exactly one of {"deployment": "name-or-id"}, {"policy": "name"}, {"all": true}',
            field="target",
        )
    ((key, item),) = value.items()
    if key == "all":
        if item is not True:
            raise BodyError("must be true", field="target.all")
        return "all", None
    if key not in ("deployment", "policy"):
        raise BodyError("unknown field", field=f"target.{key}")
    if not isinstance(item, str) or not item.strip():
        raise BodyError("must be a non-empty string", field=f"target.{key}")
    return ("deployment" if key == "deployment" else "policy"), item.strip()


def _state(document: dict[str, Any], kind: str) -> DesiredState | None:
    if kind == "suspend":
        if "state" in document:
            raise BodyError("only an override has a state", field="state")
        return None
    value = document.get("state")
    if value == "running":
        return DesiredState.running()
    if value == "stopped":
        return DesiredState.stopped()
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"min_replicas", "max_replicas"})
        if unknown:
            raise BodyError("unknown field", field=f"state.{unknown[0]}")
        for name in ("min_replicas", "max_replicas"):
            number = value.get(name)
            if isinstance(number, bool) or not isinstance(number, int):
                raise BodyError("required: a whole number", field=f"state.{name}")
        try:
            return DesiredState.bounds(value["min_replicas"], value["max_replicas"])
        except ValueError as error:
            message = str(error).splitlines()[-1].removeprefix("Value error, ")
            raise BodyError(message, field="state") from None
    raise BodyError('required for an override: "running", "stopped" or {"min_replicas": N, "max_replicas": M}', field="state")


def _until(document: dict[str, Any], now: datetime) -> datetime:
    has_until, has_for = "until" in document, "for" in document
    if has_until == has_for:
        raise BodyError("give exactly one of until or for", field="until")
    if has_for:
        text = document["for"]
        if not isinstance(text, str):
            raise BodyError("must be a duration such as 30m, 2h or 1d12h", field="for")
        try:
            length = parse_duration(text)
        except ValueError as error:
            raise BodyError(str(error), field="for") from None
        if length <= timedelta(0):
            raise BodyError("must be longer than 0s", field="for")
        field, until = "for", now + length
    else:
        text = document["until"]
        try:
            until = datetime.fromisoformat(text) if isinstance(text, str) else None
        except ValueError:
            until = None
        if until is None:
            raise BodyError("must be an ISO 8601 date-time such as 2026-12-24T18:00:00+01:00", field="until")
        if until.tzinfo is None or until.utcoffset() is None:
            raise BodyError("needs an offset (+01:00, Z): the daemon does not guess your time zone", field="until")
        field = "until"
        if until <= now:
            raise BodyError(f"{until.isoformat()} is not in the future", field="until")
    if until - now > MAX_EXCEPTION_LENGTH:
        raise BodyError(
            "an exception lasts at most 30 days; to leave a deployment alone for longer, say so in its policy",
            field=field,
        )
    return until
