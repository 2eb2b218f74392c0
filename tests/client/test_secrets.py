"""The API token never appears in a log event, an exception's text or repr, the client's repr or a metric."""

from __future__ import annotations

import httpx
import pytest
import structlog
from prometheus_client import generate_latest
from structlog.testing import capture_logs

from scaler.logs import configure_logging
from scaler.metrics import Metrics
from scaler.simplismart import errors
from scaler.simplismart.token import TokenSource
from tests.client.fakes import DEPLOYMENT_ID, TOKEN, FakeTime, ScriptedPlatform, make_client, retries

FAILURES = {
    "401": httpx.Response(401, json={"detail": "Invalid token."}),
    "401-echoing-the-token": httpx.Response(401, json={"detail": f"Invalid token {TOKEN}."}),
    "403": httpx.Response(403, json={"detail": "Forbidden"}),
    "400-quota": httpx.Response(400, json={"error": "Insufficient GPU quota for requested replicas"}),
    "400": httpx.Response(400, json={"error": "Invalid action"}),
    "402": httpx.Response(402, json={"error": "Wallet is blocked"}),
    "404": httpx.Response(404, json={"error": "Deployment not found"}),
    "429": httpx.Response(429, headers={"Retry-After": "1"}, json={"detail": "throttled"}),
    "500-echoing-headers": httpx.Response(500, text=f"Authorization: Bearer {TOKEN}", headers={"content-type": "text/plain"}),
    "302": httpx.Response(302, headers={"location": "https://login.invalid/"}),
    "malformed": httpx.Response(200, text=f"<html>{TOKEN}</html>"),
    "timeout": httpx.ReadTimeout("read timed out"),
    "connection": httpx.ConnectError("connection refused"),
    "tls": httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]"),
}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
async def test_no_error_path_reveals_the_token(failure: object, fake_time: FakeTime, metrics: Metrics) -> None:
    """Logs, str/repr of the error and the metrics exposition are free of the token."""
    platform = ScriptedPlatform(failure)
    async with make_client(platform, time=fake_time, metrics=metrics, retry=retries(attempts=2)) as client:
        with capture_logs() as logs:
            with pytest.raises(errors.SimplismartError) as caught:
                await client.update_replicas(DEPLOYMENT_ID, 1, 2)
        shown = [repr(logs), str(caught.value), repr(caught.value), caught.value.message, repr(client)]
    shown.append(generate_latest(metrics.registry).decode())
    assert f"Bearer {TOKEN}" == platform.requests[0].headers["authorization"]  # it was really sent
    assert [] == [text for text in shown if TOKEN in text]
    assert any(entry["event"] == "api_request" for entry in logs)


async def test_validation_and_configuration_errors_do_not_reveal_the_token(tmp_path) -> None:
    """Errors raised before sending (bad input, no org, unreadable token file) are free of it too."""
    texts = []
    async with make_client(ScriptedPlatform(httpx.Response(200)), org_id=None) as client:
        for call in (client.update_replicas(DEPLOYMENT_ID, 3, 1), client.stop(DEPLOYMENT_ID), client.delete(TOKEN)):
            with pytest.raises(errors.ClientValidationError) as caught:
                await call
            texts += [str(caught.value), repr(caught.value)]
    missing = tmp_path / TOKEN  # even a path made of the token is scrubbed from the error
    with pytest.raises(errors.ConfigurationError) as caught_config:
        TokenSource.from_file(missing)
    texts += [str(caught_config.value), repr(caught_config.value)]
    assert [] == [text for text in texts if TOKEN in text]


async def test_a_logged_exception_with_traceback_is_scrubbed(
    capsys: pytest.CaptureFixture[str], restore_logging: None, fake_time: FakeTime
) -> None:
    """Even a traceback rendered to JSON (frame locals hold the request headers) shows no token."""
    configure_logging(log_format="json", log_level="debug")
    log = structlog.get_logger()
    async with make_client(ScriptedPlatform(httpx.ConnectError("refused")), time=fake_time, retry=retries(attempts=1)) as client:
        try:
            await client.list_deployments()
        except errors.ConnectionFailed:
            log.exception("call_failed")
    output = capsys.readouterr().err
    assert "call_failed" in output
    assert TOKEN not in output
