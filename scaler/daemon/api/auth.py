"""Who may do what: the Bearer key of a request checked against the keys file, by role.

Without a keys file every read is open (as ``/status`` always was) and every write answers
403 ``no API keys configured``. With one, reads need a ``viewer`` key and writes an
``operator`` key: a missing or wrong key answers 401 with ``WWW-Authenticate: Bearer``, a
key of too small a role 403, and an address that sent ten wrong keys within a minute 429
for the rest of that minute. Keys are never logged: a failure logs the address and why.
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse

from scaler.daemon.api.keys import ROLE_RANK, Caller, KeyRing, Role
from scaler.daemon.api.throttle import FailureThrottle

log = structlog.get_logger()

#: The caller of every request when no keys file is configured (reads only).
ANONYMOUS = Caller("anonymous", "viewer")


def error(status: int, message: str, **headers: str) -> JSONResponse:
    """The API's error answer: ``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status, headers=headers or None)


class Guard:
    """Checks each request's key and role (see the module's docstring)."""

    def __init__(self, keys: KeyRing, throttle: FailureThrottle | None = None) -> None:
        self.keys = keys
        self.throttle = throttle or FailureThrottle()

    def check(self, request: Request, need: Role) -> Caller | JSONResponse:
        """Return the caller of ``request`` when it may do what needs role ``need``, else the error answer."""
        if not self.keys.configured:
            if need == "viewer":
                return ANONYMOUS
            return error(403, "no API keys configured")
        address = request.client.host if request.client is not None else "unknown"
        wait = self.throttle.retry_after(address)
        if wait is not None:
            return error(429, "too many failed attempts: try again later", **{"Retry-After": str(wait)})
        header = request.headers.get("authorization", "")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return error(401, "a key is required: Authorization: Bearer <key>", **{"WWW-Authenticate": "Bearer"})
        caller = self.keys.identify(key.strip())
        if caller is None:
            self.throttle.failed(address)
            log.warning("api_key_refused", address=address, path=request.url.path)
            return error(401, "the key is not valid", **{"WWW-Authenticate": "Bearer"})
        if ROLE_RANK[caller.role] < ROLE_RANK[need]:
            return error(403, f"the key {caller.name!r} has the role {caller.role}; this needs {need}")
        return caller
