"""Error answers and transport failures become typed errors carrying what a person needs."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from scaler.metrics import ERROR_REASONS, Metrics
from scaler.simplismart import errors
from scaler.simplismart.responses import parse_retry_after
from tests.client.fakes import DEPLOYMENT_ID, ScriptedPlatform, limits, make_client, retries

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "body", "error_class", "reason", "message"),
    [
        (401, {"detail": "Invalid token."}, errors.AuthenticationError, "auth", "Invalid token."),
        (403, {"detail": "You do not have permission."}, errors.AuthenticationError, "auth", "You do not have permission."),
        (400, {"error": "Insufficient GPU quota for requested replicas"}, errors.QuotaExceeded, "quota",
         "Insufficient GPU quota for requested replicas"),
        (400, {"error": "min_replicas must be <= max_replicas"}, errors.InvalidRequest, "invalid_request",
         "min_replicas must be <= max_replicas"),
        (400, {"error": "Deletion failed multiple times already. Please contact support."}, errors.InvalidRequest,
         "invalid_request", "Deletion failed multiple times already. Please contact support."),
        (402, {"error": "Wallet is blocked"}, errors.WalletBlocked, "wallet_blocked", "Wallet is blocked"),
        (404, {"error": "No active deployment found"}, errors.NotFound, "not_found", "No active deployment found"),
        (404, {"error": "Deployment not found"}, errors.NotFound, "not_found", "Deployment not found"),
        (409, {"message": "Conflict with a running operation"}, errors.InvalidRequest, "invalid_request",
         "Conflict with a running operation"),
        (429, {"detail": "Request was throttled."}, errors.RateLimited, "rate_limited", "Request was throttled."),
        (500, {"error": "Failed to start deployment"}, errors.ServerError, "server_error", "Failed to start deployment"),
        (503, {"message": "Service unavailable"}, errors.ServerError, "server_error", "Service unavailable"),
        (302, {}, errors.UnexpectedStatus, "other", "unexpected HTTP 302"),
    ],
)
async def test_status_maps_to_its_error_with_the_platform_message(
    status: int, body: dict[str, str], error_class: type[errors.SimplismartError], reason: str, message: str
) -> None:
    """Each documented status (and a few others) raises its class with the platform's own words."""
    platform = ScriptedPlatform(httpx.Response(status, json=body))
    async with make_client(platform, retry=retries(attempts=1)) as client:
        with pytest.raises(errors.SimplismartError) as caught:
            await client.update_replicas(DEPLOYMENT_ID, 1, 2)
    error = caught.value
    assert error_class is type(error)
    assert (reason, message, status) == (error.reason, error.message, error.status_code)
    assert reason in ERROR_REASONS


async def test_error_carries_request_id_deployment_and_endpoint() -> None:
    """The error names the request id that was sent, the deployment and the endpoint."""
    platform = ScriptedPlatform(httpx.Response(404, json={"error": "Deployment not found"}))
    async with make_client(platform) as client:
        with pytest.raises(errors.NotFound) as caught:
            await client.delete(DEPLOYMENT_ID)
    sent_id = platform.requests[0].headers["x-request-id"]
    assert (sent_id, DEPLOYMENT_ID, "delete") == (
        caught.value.request_id,
        caught.value.deployment_id,
        caught.value.endpoint,
    )


async def test_str_is_one_actionable_line() -> None:
    """str(error) says what failed, on which deployment, the platform's message, status and request id."""
    platform = ScriptedPlatform(httpx.Response(402, json={"error": "Wallet is blocked"}))
    async with make_client(platform) as client:
        with pytest.raises(errors.WalletBlocked) as caught:
            await client.start(DEPLOYMENT_ID)
    request_id = platform.requests[0].headers["x-request-id"]
    expected = (
        f"start of deployment {DEPLOYMENT_ID} failed: Wallet is blocked "
        f"(resolve billing on the Simplismart platform) [HTTP 402, request id {request_id}]"
    )
    assert expected == str(caught.value)


async def test_auth_error_names_the_token_variables() -> None:
    """A 401 tells the person which settings hold the token."""
    platform = ScriptedPlatform(httpx.Response(401, json={"detail": "Invalid token."}))
    async with make_client(platform) as client:
        with pytest.raises(errors.AuthenticationError) as caught:
            await client.list_deployments()
    assert str(caught.value).startswith(
        "list deployments failed: Invalid token. (check SCALER_API_TOKEN or SCALER_API_TOKEN_FILE) [HTTP 401"
    )


async def test_a_startstop_refused_for_its_org_names_the_org_setting() -> None:
    """A startstop refused because ``org`` is not the deployment's organization is an OrganizationMismatch
    telling the person to check SCALER_ORG_ID; the same words on another endpoint are a plain refusal."""
    refusal = {"error": "org does not match the deployment's organization"}
    platform = ScriptedPlatform(httpx.Response(400, json=refusal), httpx.Response(400, json=refusal))
    async with make_client(platform, retry=retries(attempts=1)) as client:
        with pytest.raises(errors.SimplismartError) as on_stop:
            await client.stop(DEPLOYMENT_ID)
        with pytest.raises(errors.SimplismartError) as on_update:
            await client.update_replicas(DEPLOYMENT_ID, 1, 2)
    assert (errors.OrganizationMismatch, "invalid_request", errors.InvalidRequest) == (
        type(on_stop.value), on_stop.value.reason, type(on_update.value)
    )
    assert "(check SCALER_ORG_ID; a changed SCALER_ORG_ID takes effect at a restart)" in str(on_stop.value)


async def test_multiline_platform_messages_are_flattened() -> None:
    """A message with newlines still gives one line."""
    platform = ScriptedPlatform(httpx.Response(400, json={"error": "bad\nrequest\n\n  body"}))
    async with make_client(platform) as client:
        with pytest.raises(errors.InvalidRequest) as caught:
            await client.delete(DEPLOYMENT_ID)
    assert "bad request body" == caught.value.message
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (httpx.Response(400, json={"min_replicas": ["Ensure this value is greater than or equal to 0."]}),
         "min_replicas: Ensure this value is greater than or equal to 0."),
        (httpx.Response(400, json={"non_field_errors": ["Invalid action."]}), "Invalid action."),
        (httpx.Response(400, json={"detail": [{"loc": ["body", "org"], "msg": "field required"}]}), "field required"),
        (httpx.Response(400, text="plain words", headers={"content-type": "text/plain"}), "plain words"),
        (httpx.Response(502, text="<html><body>Bad gateway</body></html>", headers={"content-type": "text/html"}), ""),
        (httpx.Response(400, json={"error": "", "detail": "second field"}), "second field"),
    ],
    ids=["drf-field", "drf-non-field", "validation-list", "plain-text", "html-page", "first-non-empty"],
)
async def test_the_platform_message_is_found_in_other_shapes(response: httpx.Response, message: str) -> None:
    """Field errors, lists of errors and plain text are read; an HTML page is not a message."""
    async with make_client(ScriptedPlatform(response), retry=retries(attempts=1)) as client:
        with pytest.raises(errors.ApiStatusError) as caught:
            await client.delete(DEPLOYMENT_ID)
    assert message == caught.value.message


async def test_an_error_without_a_message_says_so() -> None:
    """No message at all: the line says the status came without one."""
    platform = ScriptedPlatform(httpx.Response(404))
    async with make_client(platform) as client:
        with pytest.raises(errors.NotFound) as caught:
            await client.get_health(DEPLOYMENT_ID)
    assert "failed: the platform answered HTTP 404 without a message [HTTP 404" in str(caught.value)


@pytest.mark.parametrize(
    ("failure", "error_class", "reason"),
    [
        (httpx.ConnectTimeout("connect timed out"), errors.RequestTimeout, "timeout"),
        (httpx.ReadTimeout("read timed out"), errors.RequestTimeout, "timeout"),
        (httpx.WriteTimeout("write timed out"), errors.RequestTimeout, "timeout"),
        (httpx.PoolTimeout("pool timed out"), errors.RequestTimeout, "timeout"),
        (httpx.ConnectError("[Errno 111] Connection refused"), errors.ConnectionFailed, "connection"),
        (httpx.ReadError("connection reset by peer"), errors.ConnectionFailed, "connection"),
        (httpx.RemoteProtocolError("server disconnected"), errors.ConnectionFailed, "connection"),
    ],
)
async def test_transport_failures_map_to_transient_errors(
    failure: Exception, error_class: type[errors.SimplismartError], reason: str
) -> None:
    """Timeouts and connection failures raise their class, marked transient, without a status."""
    async with make_client(ScriptedPlatform(failure), retry=retries(attempts=1)) as client:
        with pytest.raises(errors.TransportError) as caught:
            await client.list_deployments()
    assert (error_class, reason, True, None) == (
        type(caught.value),
        caught.value.reason,
        caught.value.transient,
        caught.value.status_code,
    )
    assert caught.value.request_id is not None


async def test_a_timeout_says_how_long_was_waited() -> None:
    """The timeout line names the limit and the setting that changes it."""
    async with make_client(ScriptedPlatform(httpx.ReadTimeout("")), limits=limits(timeout_seconds=7), retry=retries(attempts=1)) as client:
        with pytest.raises(errors.RequestTimeout) as caught:
            await client.list_deployments()
    assert "timed out after 7 s waiting for the answer" in str(caught.value)
    assert "SCALER_HTTP_TIMEOUT_SECONDS" in str(caught.value)


async def test_an_untrusted_certificate_is_not_transient_and_points_at_the_ca_bundle() -> None:
    """A TLS verification failure will not heal by retrying: one attempt, SCALER_CA_BUNDLE named."""
    failure = httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed")
    platform = ScriptedPlatform(failure)
    async with make_client(platform) as client:
        with pytest.raises(errors.ConnectionFailed) as caught:
            await client.list_deployments()
    assert (False, 1) == (caught.value.transient, len(platform.requests))
    assert "SCALER_CA_BUNDLE" in str(caught.value)


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (httpx.Response(401, json={"detail": "Invalid token."}), "auth"),
        (httpx.Response(400, json={"error": "Insufficient GPU quota for requested replicas"}), "quota"),
        (httpx.Response(402, json={"error": "Wallet is blocked"}), "wallet_blocked"),
        (httpx.ConnectError("refused"), "connection"),
    ],
)
async def test_a_failed_call_is_counted_once_by_reason(failure: object, reason: str, metrics: Metrics) -> None:
    """scaler_api_request_errors_total grows by one per failed call, with the error's reason."""
    async with make_client(ScriptedPlatform(failure), metrics=metrics, retry=retries(attempts=3)) as client:
        with pytest.raises(errors.SimplismartError):
            await client.start(DEPLOYMENT_ID)
    assert 1.0 == metrics.registry.get_sample_value(
        "scaler_api_request_errors_total", {"endpoint": "startstop", "reason": reason}
    )


async def test_the_client_leaves_the_organization_gauges_to_the_daemon(metrics: Metrics) -> None:
    """401 and 402 answers do not move scaler_api_auth_ok or scaler_wallet_blocked: the daemon owns both."""
    platform = ScriptedPlatform(
        httpx.Response(401, json={"detail": "Invalid token."}),
        httpx.Response(402, json={"error": "Wallet is blocked"}),
    )
    registry = metrics.registry
    async with make_client(platform, metrics=metrics) as client:
        with pytest.raises(errors.AuthenticationError):
            await client.list_deployments()
        with pytest.raises(errors.WalletBlocked):
            await client.start(DEPLOYMENT_ID)
    assert (0.0, 0.0) == (registry.get_sample_value("scaler_api_auth_ok"), registry.get_sample_value("scaler_wallet_blocked"))


async def test_a_mutation_result_names_the_request_that_succeeded() -> None:
    """start, stop, update-replicas and delete results carry the X-Request-Id of their successful request."""
    platform = ScriptedPlatform(
        httpx.Response(503, json={"message": "Service unavailable"}),
        httpx.Response(200, json={"message": "Deployment started successfully", "update_result": "started"}),
    )
    async with make_client(platform) as client:
        result = await client.start(DEPLOYMENT_ID)
    assert platform.requests[-1].headers["x-request-id"] == result.request_id
    assert "request_id" not in result.model_dump()


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("1.5", 1.5),
        (" 7 ", 7.0),
        ("-3", 0.0),
        ("Sun, 01 Mar 2026 12:00:30 GMT", 30.0),
        ("Sun, 01 Mar 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, seconds: float | None) -> None:
    """Delta-seconds and HTTP dates both give seconds to wait; past and negative mean now; junk means none."""
    assert seconds == parse_retry_after(header, now=NOW)


def test_every_error_reason_is_a_bounded_metric_label() -> None:
    """Each error class's reason is one of scaler.metrics.ERROR_REASONS."""
    classes = [errors.SimplismartError, *_subclasses(errors.SimplismartError)]
    assert set() == {cls.reason for cls in classes} - set(ERROR_REASONS)


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found.extend([sub, *_subclasses(sub)])
    return found


async def test_an_error_answer_with_unreadable_json_is_judged_by_its_status() -> None:
    """A 503 whose JSON json.loads refuses (nesting 100,000 deep) is a ServerError, its message left out."""
    platform = ScriptedPlatform(httpx.Response(503, content=b"[" * 100_000 + b"]" * 100_000))
    async with make_client(platform, retry=retries(attempts=1)) as client:
        with pytest.raises(errors.ServerError) as caught:
            await client.get_health(DEPLOYMENT_ID)
    assert ("", 503) == (caught.value.message, caught.value.status_code)


async def test_an_os_error_from_the_transport_is_a_connection_failure(metrics: Metrics) -> None:
    """A transport raising OSError itself (an app served in process drops the connection) gives ConnectionFailed."""
    platform = ScriptedPlatform(ConnectionResetError("connection dropped by an injected fault"))
    async with make_client(platform, metrics=metrics, retry=retries(attempts=2)) as client:
        with pytest.raises(errors.ConnectionFailed) as caught:
            await client.list_deployments()
    assert ("connection dropped by an injected fault", 2, True) == (
        caught.value.message,
        caught.value.attempts,
        caught.value.transient,
    )
    assert 1.0 == metrics.registry.get_sample_value(
        "scaler_api_request_errors_total", {"endpoint": "list_deployments", "reason": "connection"}
    )
