"""The asynchronous client of the Deployment Lifecycle API: the only code that speaks HTTP to it.

One :class:`SimplismartClient` owns one ``httpx.AsyncClient``, over the network through
:mod:`.transport` (aiohttp's connection pool; tests pass an httpx transport of their own); its
requests are built and sent by :mod:`.exchange`, which skips the per-request work of
``build_request`` and ``send`` that gives this client nothing. Every call:

- validates its arguments first (:mod:`.arguments`) and raises :class:`ClientValidationError`
  without a request;
- waits for one of ``limits.max_concurrency`` slots (:mod:`.slots`: a call that changes a
  deployment goes before waiting reads, so a stop due at a boundary never queues behind a
  health poll) and for the rate limiter (at most ``limits.max_requests_per_second``), then
  sends the request (:mod:`.endpoints` has its method and path) with a ``User-Agent`` and a
  fresh ``X-Request-Id``. Each attempt of a retried call is a request of its own and
  gets its own id, so the platform's logs and ours match one line to one request;
- for a mutating call (update-replicas, start/stop, delete), asks the ``may_send`` fence
  just before each attempt and raises :class:`NotSent` instead of sending when it says
  no (an instance that lost leadership sends no retry either);
- retries transient failures by its :class:`~.retries.RetryPolicy` (:mod:`.retries`: 5xx,
  429, timeouts and connection errors, bounded in attempts and time, Retry-After honoured;
  never another 4xx). The slot is released while waiting;
- logs and observes each attempt and retry, and counts each failed call once by reason
  (:mod:`.observing`; never the token);
- reads at most ``limits.max_response_bytes`` of an answer (:mod:`.reading`; after decompression; default
  :data:`~.limits.DEFAULT_MAX_RESPONSE_BYTES`): a larger success is a :class:`MalformedResponse`
  and a larger error answer is judged by its status alone, so a runaway or hostile
  answer never fills memory;
- returns the typed model of the answer or raises a typed error (:mod:`.errors`);
  nothing else escapes a call.

The limits (:class:`~.limits.Limits`) and the retry policy are frozen values; ``clock`` and
``sleep`` drive the backoff, the retry budget and the rate limiter, so tests control time
without sleeping.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar
from uuid import UUID, uuid4

import httpx
from pydantic import ValidationError

from scaler import __version__
from scaler.metrics import Metrics
from scaler.settings import Settings
from scaler.simplismart.arguments import describe_invalid, uuid_text
from scaler.simplismart.endpoints import ENDPOINTS
from scaler.simplismart.errors import (
    ClientValidationError,
    ConnectionFailed,
    MalformedResponse,
    NotSent,
    RequestTimeout,
    SimplismartError,
    one_line,
)
from scaler.simplismart.exchange import Exchange
from scaler.simplismart.limits import Limits
from scaler.simplismart.models import (
    DeleteResult,
    Deployment,
    DeploymentHealth,
    StartStopAction,
    StartStopRequest,
    StartStopResult,
    UpdateReplicasRequest,
    UpdateReplicasResult,
)
from scaler.simplismart.observing import CallObserver
from scaler.simplismart.ratelimit import Clock, RequestRateLimiter, Sleep
from scaler.simplismart.reading import read_capped
from scaler.simplismart.responses import (
    CallContext,
    ListedItems,
    error_for_status,
    error_for_transport,
    parse_deployments,
    parse_object,
)
from scaler.simplismart.retries import RetryPolicy, retry_transient
from scaler.simplismart.slots import RequestSlots
from scaler.simplismart.token import TokenSource
from scaler.simplismart.transport import network_transport, ssl_context

USER_AGENT = f"simplismart-scaler/{__version__}"

ResultT = TypeVar("ResultT")


MutationResultT = TypeVar("MutationResultT", UpdateReplicasResult, StartStopResult, DeleteResult)


def _with_request_id(result: MutationResultT, context: CallContext) -> MutationResultT:
    """Return ``result`` carrying the ``X-Request-Id`` of the request that succeeded (for the audit log)."""
    return result.model_copy(update={"request_id": context.request_id})


class SimplismartClient:
    """Client of the Deployment Lifecycle API; use as ``async with`` or call :meth:`aclose`."""

    def __init__(
        self,
        *,
        base_url: str,
        token: TokenSource,
        org_id: UUID | None,
        limits: Limits = Limits(),
        retry: RetryPolicy = RetryPolicy(),
        ca_bundle: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: Metrics | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        """Build the client; no request is sent until a method is called.

        ``limits`` bound each attempt, the requests in flight, the rate and the answers read;
        ``retry`` says how transient failures are retried. ``clock`` (monotonic seconds) and
        ``sleep`` drive backoff, the retry budget and the rate limiter; tests inject them.
        ``may_send`` (the attribute of the same name) is the fence of mutating calls: asked
        immediately before each attempt of ``update_replicas``, ``start``, ``stop`` and
        ``delete``, retries included; when it answers False the call raises :class:`NotSent`
        instead of sending. Raises :class:`ConfigurationError` when ``ca_bundle`` cannot be
        loaded.
        """
        self.base_url = base_url.rstrip("/")
        self.org_id = org_id
        self.limits = limits
        self.retry = retry
        self.may_send = may_send
        self._token = token
        self._metrics = metrics
        self._listed = ListedItems()
        self._observe = CallObserver(metrics)
        if metrics is not None:
            metrics.initialise_endpoints(ENDPOINTS)
        self._clock = clock
        self._sleep = sleep
        self._slots = RequestSlots(limits.max_concurrency)
        self._limiter = RequestRateLimiter(limits.max_requests_per_second, clock=clock, sleep=sleep)
        timeout = limits.timeout_seconds
        if transport is None:
            tls = ssl_context(ca_bundle) if ca_bundle is not None else None
            transport = network_transport(
                base_url=self.base_url, max_connections=limits.max_concurrency, ssl_context=tls
            )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            transport=transport,
            timeout=httpx.Timeout(connect=timeout, read=timeout, write=timeout, pool=timeout),
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )
        self._exchange = Exchange(self._http, transport)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        token: TokenSource | None = None,
        limits: Limits | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: Metrics | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> SimplismartClient:
        """Return a client configured from ``settings``; ``token``, ``limits`` and ``retry``,
        when given, replace what the settings say.

        Raises :class:`ConfigurationError` when there is no usable token or CA bundle.
        """
        return cls(
            base_url=settings.api_url,
            token=token if token is not None else TokenSource.from_settings(settings),
            org_id=settings.org_id,
            limits=limits if limits is not None else Limits.from_settings(settings),
            retry=retry if retry is not None else RetryPolicy.from_settings(settings),
            ca_bundle=settings.ca_bundle,
            transport=transport,
            metrics=metrics,
            clock=clock,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"SimplismartClient(base_url={self.base_url!r}, token={self._token!r}, org_id={self.org_id!s})"

    async def __aenter__(self) -> SimplismartClient:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    # --- The five endpoints ---------------------------------------------------

    async def list_deployments(self, model_repo_id: UUID | str | None = None) -> list[Deployment]:
        """Return the organization's deployments, optionally only those of one model repo.

        Malformed items are skipped (logged, counted in ``scaler_api_malformed_responses_total``).
        Raises :class:`ClientValidationError` for a non-UUID ``model_repo_id``, otherwise
        any :class:`SimplismartError` of the failed call.
        """
        context = CallContext("list_deployments", "list deployments")
        params = None
        if model_repo_id is not None:
            params = {"model_repo_id": uuid_text(model_repo_id, name="model_repo_id", context=context)}
        return await self._call(
            context,
            params=params,
            parse=lambda response, ctx: parse_deployments(response, ctx, metrics=self._metrics, listed=self._listed),
        )

    async def get_health(self, deployment_id: UUID | str) -> DeploymentHealth:
        """Return the deployment's aggregated health, messages and (when given) pod counts.

        Raises :class:`ClientValidationError`, :class:`NotFound` (unknown),
        :class:`InvalidRequest` (deleted) or another :class:`SimplismartError`.
        """
        context = self._context_for("get_health", "fetch health", deployment_id)
        return await self._call(
            context, parse=lambda response, ctx: parse_object(response, ctx, DeploymentHealth, empty_ok=False)
        )

    async def update_replicas(
        self, deployment_id: UUID | str, min_replicas: int, max_replicas: int
    ) -> UpdateReplicasResult:
        """Set the deployment's autoscaling bounds; return the platform's confirmation.

        Raises :class:`ClientValidationError` (without a request) unless
        ``0 <= min_replicas <= max_replicas`` and ``max_replicas >= 1``, all integers;
        :class:`QuotaExceeded`, :class:`NotFound` or another :class:`SimplismartError`.
        """
        context = self._context_for("update_replicas", "update replicas", deployment_id)
        try:
            body = UpdateReplicasRequest(min_replicas=min_replicas, max_replicas=max_replicas)
        except ValidationError as exc:
            raise ClientValidationError(describe_invalid(exc), **context.error_fields()) from None
        return await self._call(
            context,
            json=body.model_dump(mode="json"),
            parse=lambda response, ctx: _with_request_id(parse_object(response, ctx, UpdateReplicasResult, empty_ok=True), ctx),
        )

    async def start(self, deployment_id: UUID | str) -> StartStopResult:
        """Resume a paused deployment. Raises :class:`ClientValidationError` without
        SCALER_ORG_ID, :class:`WalletBlocked` (402) or another :class:`SimplismartError`."""
        return await self._startstop(deployment_id, "start")

    async def stop(self, deployment_id: UUID | str) -> StartStopResult:
        """Pause a deployment. Raises :class:`ClientValidationError` without SCALER_ORG_ID,
        or another :class:`SimplismartError`."""
        return await self._startstop(deployment_id, "stop")

    async def delete(self, deployment_id: UUID | str) -> DeleteResult:
        """Delete a deployment (idempotent: ``already_deleted`` tells a repeat apart).

        Raises :class:`ClientValidationError`, :class:`NotFound`, :class:`InvalidRequest`
        (deletion failed too often) or another :class:`SimplismartError`.
        """
        context = self._context_for("delete", "delete", deployment_id)
        return await self._call(
            context, parse=lambda response, ctx: _with_request_id(parse_object(response, ctx, DeleteResult, empty_ok=True), ctx)
        )

    # --- Machinery ------------------------------------------------------------

    def _context_for(self, endpoint: str, operation: str, deployment_id: Any) -> CallContext:
        context = CallContext(endpoint, operation)
        return CallContext(endpoint, operation, uuid_text(deployment_id, name="deployment id", context=context))

    async def _startstop(self, deployment_id: UUID | str, action: StartStopAction) -> StartStopResult:
        context = self._context_for("startstop", action, deployment_id)
        if self.org_id is None:
            raise ClientValidationError(
                "the organization is unknown: set SCALER_ORG_ID to its UUID", **context.error_fields()
            )
        body = StartStopRequest(action=action, org=self.org_id)
        return await self._call(
            context,
            json=body.model_dump(mode="json"),
            parse=lambda response, ctx: _with_request_id(parse_object(response, ctx, StartStopResult, empty_ok=True), ctx),
        )

    async def _call(
        self,
        context: CallContext,
        *,
        parse: Callable[[httpx.Response, CallContext], ResultT],
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
    ) -> ResultT:
        """Send the request (with retries), parse the answer; count a failed call once."""
        started = self._clock()
        try:
            try:
                response, sent = await self._send_once(context, params, json)
            except SimplismartError as error:
                if not error.transient:
                    error.attempts = 1
                    raise
                response, sent = await self._retry(context, params, json, started, error)
            return parse(response, sent)
        except SimplismartError as error:
            self._observe.failed(context, error)
            raise

    async def _retry(
        self,
        context: CallContext,
        params: dict[str, str] | None,
        json: dict[str, Any] | None,
        started: float,
        first: SimplismartError,
    ) -> tuple[httpx.Response, CallContext]:
        """Retry a call whose first attempt (begun at ``started``) failed with the transient ``first``.

        Most calls succeed at once, so the first attempt is sent without the retry machinery
        (:func:`~.retries.retry_transient`), which takes over from that failure. Raises the last
        attempt's error.
        """
        return await retry_transient(
            lambda: self._send_once(context, params, json),
            first=first,
            started=started,
            policy=self.retry,
            clock=self._clock,
            sleep=self._sleep,
            on_retry=lambda attempt, error, wait: self._observe.retry(context, attempt, error, wait),
        )

    async def _send_once(
        self, context: CallContext, params: dict[str, str] | None, json: dict[str, Any] | None
    ) -> tuple[httpx.Response, CallContext]:
        """Send one attempt; return the 2xx answer with the context naming its request id.

        Raises the typed error of a non-2xx answer or of a failed transport.
        """
        endpoint = ENDPOINTS[context.endpoint]
        method, path = endpoint.method, endpoint.path.format(deployment_id=context.deployment_id)
        request_id = str(uuid4())
        sent = CallContext(context.endpoint, context.operation, context.deployment_id, request_id)
        token = self._token.get()
        headers = {"Authorization": f"Bearer {token}", "X-Request-Id": request_id}
        request = self._exchange.build(method, path, params=params, json=json, headers=headers)
        async with self._slots.hold(urgent=endpoint.mutating):
            await self._limiter.acquire()
            if endpoint.mutating and self.may_send is not None and not self.may_send():
                raise NotSent("this instance may no longer act (it is not the leader)", **sent.error_fields())
            began = self._clock()
            try:
                async with asyncio.timeout(self.limits.attempt_deadline):
                    response, oversized = await self._receive(request)
            except TimeoutError:  # the attempt's deadline (TimeoutError is an OSError: caught first)
                error: SimplismartError = RequestTimeout(
                    f"no complete answer within {self.limits.attempt_deadline:g} s", **sent.error_fields()
                )
                self._observe.attempt(sent, method, error, self._clock() - began)
                raise error from None
            except httpx.RequestError as exc:
                error = error_for_transport(exc, sent, timeout_seconds=self.limits.timeout_seconds)
                self._observe.attempt(sent, method, error, self._clock() - began)
                raise error from None
            except OSError as exc:  # a transport that is not a socket (an app in process) may raise one itself
                error = ConnectionFailed(one_line(str(exc), limit=160) or type(exc).__name__, **sent.error_fields())
                self._observe.attempt(sent, method, error, self._clock() - began)
                raise error from None
        duration = self._clock() - began
        if response.is_success:
            self._observe.attempt(sent, method, response, duration)
            if oversized:
                raise MalformedResponse(
                    f"the answer is larger than {self.limits.max_response_bytes} bytes; it was not read",
                    status_code=response.status_code,
                    **sent.error_fields(),
                )
            return response, sent
        error = error_for_status(response, sent, now=datetime.now(UTC))
        self._observe.attempt(sent, method, error, duration)
        raise error

    async def _receive(self, request: httpx.Request) -> tuple[httpx.Response, bool]:
        """Send ``request``; return its answer read up to the limit and whether it was larger
        (:func:`~.reading.read_capped`). Raises what ``httpx`` raises for a failed transport."""
        return await read_capped(await self._exchange.send(request), self.limits.max_response_bytes)
