"""Every error the Simplismart client raises, one class per thing a caller can act on.

The tree::

    SimplismartError                  base; message, status_code, request_id, deployment_id,
    │                                 endpoint, reason (one of scaler.metrics.ERROR_REASONS),
    │                                 transient (True: worth retrying later)
    ├── ClientValidationError         bad input caught before any request was sent
    ├── ConfigurationError            the client cannot work: no token, unreadable token file,
    │                                 unusable CA bundle; names the SCALER_* variable
    ├── NotSent                       a mutating attempt held back because this instance may no
    │                                 longer act (it lost leadership); nothing was sent then
    ├── TransportError                no HTTP response at all                  (transient)
    │   ├── RequestTimeout            connect/read/write/pool timeout          reason timeout
    │   └── ConnectionFailed          refused, reset, DNS, TLS                 reason connection
    ├── ApiStatusError                the platform answered with an error status
    │   ├── AuthenticationError       401/403 ("Invalid token.")               reason auth
    │   ├── InvalidRequest            400 (and other 4xx) refused as invalid   reason invalid_request
    │   │   └── OrganizationMismatch  400 on startstop: `org` is not the deployment's organization
    │   ├── QuotaExceeded             400 "Insufficient GPU quota..."          reason quota
    │   ├── WalletBlocked             402                                      reason wallet_blocked
    │   ├── NotFound                  404                                      reason not_found
    │   ├── RateLimited               429, with retry_after seconds            reason rate_limited (transient)
    │   ├── ServerError               5xx                                      reason server_error (transient)
    │   └── UnexpectedStatus          any other non-2xx status (1xx, 3xx)      reason other
    └── MalformedResponse             a 2xx body that is not JSON or not the documented shape

``QuotaExceeded`` is a sibling of ``InvalidRequest``, not a child: the request was
well-formed and may succeed once capacity frees up, so callers handle it differently.

``str(error)`` is one line a person can act on: what failed, on which deployment, the
platform's own message, a hint where one helps, the HTTP status and the request id.
It never contains the API token: messages pass :func:`scaler.logs.redact`.
"""

from __future__ import annotations

from typing import Any

from scaler.logs import redact

#: Longest platform message kept in an error (a proxy's HTML page is not a message).
MAX_MESSAGE_CHARS = 300

#: What each endpoint does, in words, for error lines.
OPERATION_NAMES = {
    "list_deployments": "list deployments",
    "get_health": "fetch health",
    "update_replicas": "update replicas",
    "startstop": "start/stop",
    "start": "start",
    "stop": "stop",
    "delete": "delete",
}


def one_line(text: str, *, limit: int = MAX_MESSAGE_CHARS) -> str:
    """Return ``text`` on one line (whitespace runs collapsed), cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class SimplismartError(Exception):
    """Base of every client error; carries what a person needs to act on it."""

    reason: str = "other"
    transient: bool = False
    hint: str = ""

    def __init__(
        self,
        message: str = "",
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        deployment_id: str | None = None,
        endpoint: str | None = None,
        operation: str | None = None,
        reason: str | None = None,
        transient: bool | None = None,
    ) -> None:
        self.message = one_line(redact(message))
        self.status_code = status_code
        self.request_id = request_id
        self.deployment_id = deployment_id
        self.endpoint = endpoint
        self.operation = operation or OPERATION_NAMES.get(endpoint or "", endpoint or "")
        if reason is not None:
            self.reason = reason
        if transient is not None:
            self.transient = transient
        self.attempts = 1
        """Requests sent for the call; more than one when transient failures were retried."""
        super().__init__(self.message)

    def __str__(self) -> str:
        what = self.operation or "request"
        if self.deployment_id:
            what = f"{what} of deployment {self.deployment_id}"
        text = f"{what} failed: {self.message or self.default_message()}"
        if self.hint:
            text = f"{text} ({self.hint})"
        context = []
        if self.attempts > 1:
            context.append(f"after {self.attempts} attempts")
        if self.status_code is not None:
            context.append(f"HTTP {self.status_code}")
        if self.request_id:
            context.append(f"request id {self.request_id}")
        if context:
            text = f"{text} [{', '.join(context)}]"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(message={self.message!r}, status_code={self.status_code!r}, "
            f"reason={self.reason!r}, endpoint={self.endpoint!r}, "
            f"deployment_id={self.deployment_id!r}, request_id={self.request_id!r})"
        )

    def default_message(self) -> str:
        """The text used when the platform gave no message of its own."""
        return "the platform gave no message"


class ClientValidationError(SimplismartError):
    """An argument is invalid; raised before any request is sent."""

    reason = "invalid_request"

    def __str__(self) -> str:
        what = self.operation or "request"
        if self.deployment_id:
            what = f"{what} of deployment {self.deployment_id}"
        return f"{what} not sent: {self.message}"


class ConfigurationError(SimplismartError):
    """The client cannot work as configured; the message names the SCALER_* variable."""

    reason = "other"

    def __str__(self) -> str:
        return self.message


class NotSent(SimplismartError):
    """A mutating call (or its retry) was held back: this instance may not act now.

    Raised instead of sending when the client's ``may_send`` fence says no, typically
    because leadership was lost. Earlier attempts of the same call may have been sent.
    """

    reason = "other"

    def __str__(self) -> str:
        what = self.operation or "request"
        if self.deployment_id:
            what = f"{what} of deployment {self.deployment_id}"
        return f"{what} not sent: {self.message}"


class TransportError(SimplismartError):
    """No HTTP response was received."""

    transient = True


class RequestTimeout(TransportError):
    """The platform did not answer in time (connect, read, write or connection-pool wait)."""

    reason = "timeout"
    hint = "no answer in time; SCALER_HTTP_TIMEOUT_SECONDS sets the limit"


class ConnectionFailed(TransportError):
    """The connection could not be made or broke (refused, reset, DNS, TLS)."""

    reason = "connection"
    hint = "check SCALER_API_URL and the network"


class ApiStatusError(SimplismartError):
    """The platform answered with an error status; ``message`` is its own words.

    ``retry_after`` is the wait, in seconds, a ``Retry-After`` header asked for (429, 503), or None.
    """

    def __init__(self, message: str = "", *, retry_after: float | None = None, **context: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **context)

    def default_message(self) -> str:
        return f"the platform answered HTTP {self.status_code} without a message"


class AuthenticationError(ApiStatusError):
    """401/403: the token is missing, invalid, expired or lacks the permission."""

    reason = "auth"
    hint = "check SCALER_API_TOKEN or SCALER_API_TOKEN_FILE"


class InvalidRequest(ApiStatusError):
    """400 (or another 4xx): the platform refused the request as it stands."""

    reason = "invalid_request"


class OrganizationMismatch(InvalidRequest):
    """400 on startstop: the ``org`` sent (SCALER_ORG_ID) is not the deployment's organization.

    A configuration error, not the deployment's: every start and stop would be refused alike.
    """

    hint = "check SCALER_ORG_ID; a changed SCALER_ORG_ID takes effect at a restart"


class QuotaExceeded(ApiStatusError):
    """400 "Insufficient GPU quota...": not enough GPU quota for the requested replicas."""

    reason = "quota"
    hint = "quotas are on the Simplismart settings page"


class WalletBlocked(ApiStatusError):
    """402: the organization's wallet is blocked; starts are refused until billing is resolved."""

    reason = "wallet_blocked"
    hint = "resolve billing on the Simplismart platform"


class NotFound(ApiStatusError):
    """404: the deployment does not exist (or is no longer active)."""

    reason = "not_found"


class RateLimited(ApiStatusError):
    """429: too many requests; ``retry_after`` is the wait the platform asked for, in seconds."""

    reason = "rate_limited"
    transient = True

    @property
    def hint(self) -> str:  # type: ignore[override]
        if self.retry_after is None:
            return "lower SCALER_MAX_REQUESTS_PER_SECOND"
        return f"retry after {self.retry_after:g} s; lower SCALER_MAX_REQUESTS_PER_SECOND"


class ServerError(ApiStatusError):
    """5xx: the platform failed; worth retrying later."""

    reason = "server_error"
    transient = True


class UnexpectedStatus(ApiStatusError):
    """A status the contract does not use (1xx, 3xx): the URL is probably wrong."""

    reason = "other"
    hint = "check SCALER_API_URL"


class MalformedResponse(SimplismartError):
    """A successful answer whose body is not JSON or not the documented shape."""

    reason = "malformed_response"

    def default_message(self) -> str:
        return "the platform's answer could not be understood"
