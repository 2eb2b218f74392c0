"""The checks of a call's arguments made before any request: a bad argument never reaches the platform."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from pydantic import ValidationError

from scaler.simplismart.errors import ClientValidationError, one_line
from scaler.simplismart.responses import CallContext


def uuid_text(value: Any, *, name: str, context: CallContext) -> str:
    """Return ``value`` as a canonical UUID string or raise :class:`ClientValidationError`."""
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, str):
        try:
            return str(UUID(value.strip()))
        except ValueError:
            pass
    shown = one_line(repr(value), limit=60)
    raise ClientValidationError(f"{name} must be a UUID, got {shown}", **context.error_fields())


def describe_invalid(error: ValidationError) -> str:
    """Render a request-body validation error as ``field: problem (got value)`` parts."""
    parts = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        if item["loc"]:
            field = ".".join(str(part) for part in item["loc"])
            parts.append(f"{field}: {message} (got {item['input']!r})")
        else:
            parts.append(message)
    return "; ".join(parts)
