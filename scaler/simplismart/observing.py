"""What the client's calls leave behind, in logs and metrics; never the token.

Per attempt, one ``api_request`` event (endpoint, method, status, duration, request id,
deployment id) and one sample of ``scaler_api_request_duration_seconds``; per retry, one
``api_retry`` event and ``scaler_api_retries_total``; per failed call, one count of
``scaler_api_request_errors_total`` by reason (a call that sent nothing is not counted),
and a malformed answer is also logged and counted in ``scaler_api_malformed_responses_total``.
The organization-wide gauges ``scaler_api_auth_ok`` and ``scaler_wallet_blocked`` are not
set here: the daemon owns those states (pause, probe, resume) and their gauges.
"""

from __future__ import annotations

from typing import Any

import httpx
import structlog

from scaler.metrics import Metrics
from scaler.simplismart.errors import (
    ClientValidationError,
    ConfigurationError,
    MalformedResponse,
    NotSent,
    SimplismartError,
)
from scaler.simplismart.responses import CallContext, status_label

log = structlog.get_logger()


class CallObserver:
    """Logs and counts the client's attempts, retries and failed calls (on ``metrics`` when given)."""

    def __init__(self, metrics: Metrics | None) -> None:
        self._metrics = metrics

    def attempt(self, sent: CallContext, method: str, outcome: httpx.Response | SimplismartError, duration: float) -> None:
        """Log and observe one attempt: its answer, or the error it ended in."""
        status = status_label(outcome)
        if self._metrics is not None:
            self._metrics.api_request_duration.labels(
                endpoint=sent.endpoint, method=method, status_code=status
            ).observe(duration)
        fields: dict[str, Any] = {
            "endpoint": sent.endpoint,
            "method": method,
            "status": status,
            "duration_seconds": round(duration, 4),
            "request_id": sent.request_id,
            "deployment_id": sent.deployment_id,
        }
        if isinstance(outcome, httpx.Response):
            log.debug("api_request", **fields)
        else:
            log.warning("api_request", **fields, reason=outcome.reason, message=outcome.message)

    def retry(self, context: CallContext, attempt: int, error: SimplismartError, wait: float) -> None:
        """Log and count the retry that follows attempt number ``attempt``, after ``wait`` seconds."""
        log.info(
            "api_retry",
            endpoint=context.endpoint,
            deployment_id=context.deployment_id,
            attempt=attempt,
            wait_seconds=round(wait, 3),
            reason=error.reason,
        )
        if self._metrics is not None:
            self._metrics.api_retries.labels(endpoint=context.endpoint).inc()

    def failed(self, context: CallContext, error: SimplismartError) -> None:
        """Count a call that failed with ``error`` once (unless nothing was sent); log a malformed answer."""
        if isinstance(error, MalformedResponse):
            log.warning(
                "api_malformed_response",
                endpoint=context.endpoint,
                deployment_id=context.deployment_id,
                request_id=error.request_id,
                problem=error.message,
            )
            if self._metrics is not None:
                self._metrics.api_malformed.labels(endpoint=context.endpoint).inc()
        if isinstance(error, (ClientValidationError, ConfigurationError, NotSent)):  # no request was sent
            return
        if self._metrics is not None:
            self._metrics.api_request_errors.labels(endpoint=context.endpoint, reason=error.reason).inc()
