"""Posting notices to webhooks in the background, so that no notice ever delays the scaler.

Each webhook has its own bounded queue and sender task: a webhook that hangs or fails holds
back only its own notices. :meth:`Delivery.offer` never waits: when a queue is full, its
oldest notice is dropped (logged, counted as ``dropped``). A notice answered with a 2xx is
``delivered``; a 5xx, a 408 or 429, a timeout or a failed connection is retried with
exponential backoff (from :data:`FIRST_RETRY_SECONDS` to :data:`MAX_RETRY_SECONDS` apart) for
up to :data:`GIVE_UP_SECONDS`, then ``failed``; any other answer (a 4xx, a redirect) is
``rejected`` at once. The webhook URLs often carry a token: logs name a webhook by its origin
only (:func:`scaler.redaction.url_origin`), and error texts are cleared of the URL.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from scaler.daemon.notify.notice import Notice
from scaler.metrics import Metrics
from scaler.redaction import redact_secrets, url_origin
from scaler.vocabulary import NotifyResult

log = structlog.get_logger()

#: Notices each webhook's queue holds; one more drops the oldest.
QUEUE_CAPACITY = 1000
#: Seconds a notice is retried for before it is given up: 10 minutes ride out a receiver's restart,
#: and a transition_upcoming notice (sent 15 minutes ahead by default) still comes before its change.
GIVE_UP_SECONDS = 600.0
#: Seconds before the first retry; each next one waits twice as long, up to :data:`MAX_RETRY_SECONDS`.
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 60.0
#: Seconds allowed to connect and, separately, to read the answer of one post.
POST_TIMEOUT_SECONDS = 10.0
#: Answers retried although they are 4xx: the receiver timed out, or asks to slow down.
RETRIED_CLIENT_ERRORS = frozenset({408, 429})

Sleep = Callable[[float], Awaitable[Any]]


class _Transient(Exception):
    """A post worth retrying: a 5xx, a 408 or 429, a timeout, a failed connection."""


class _Refused(Exception):
    """An answer that retrying will not change: a 4xx or a redirect."""


class WebhookSender:
    """One webhook's bounded queue and the task that posts what it holds, oldest first."""

    def __init__(
        self,
        url: str,
        *,
        http: httpx.AsyncClient,
        metrics: Metrics,
        capacity: int = QUEUE_CAPACITY,
        give_up_seconds: float = GIVE_UP_SECONDS,
        first_retry_seconds: float = FIRST_RETRY_SECONDS,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._url = url
        self.origin = url_origin(url)
        self._http = http
        self._metrics = metrics
        self._capacity = capacity
        self._give_up_seconds = give_up_seconds
        self._first_retry_seconds = first_retry_seconds
        self._sleep = sleep
        self._queue: deque[Notice] = deque()
        self._waiting = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None

    def offer(self, notice: Notice) -> None:
        """Queue ``notice``; drop the oldest one when the queue is full. Never waits."""
        if len(self._queue) >= self._capacity:
            dropped = self._queue.popleft()
            self._settle(dropped, "dropped", why=f"the webhook's queue holds {self._capacity} notices already")
        self._queue.append(notice)
        self._idle.clear()
        self._waiting.set()

    def start(self) -> None:
        """Start the sender task (from inside the running loop)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"webhook {self.origin}")

    async def stop(self) -> None:
        """Stop the sender; notices still queued are not sent."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def join(self) -> None:
        """Wait until every queued notice has been delivered, rejected or given up."""
        await self._idle.wait()

    async def _run(self) -> None:
        while True:
            if not self._queue:
                self._idle.set()
                self._waiting.clear()
                await self._waiting.wait()
                continue
            notice = self._queue.popleft()
            try:
                await self._deliver(notice)
            except Exception as error:  # the sender must outlive any one notice (join() waits for it)
                self._count(notice, "failed")
                log.error(
                    "notification_failed", webhook=self.origin, notice=notice.event, error=self._hide(repr(error))
                )

    async def _deliver(self, notice: Notice) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_delay(self._give_up_seconds),
            wait=wait_exponential(multiplier=self._first_retry_seconds, max=MAX_RETRY_SECONDS),
            retry=retry_if_exception_type(_Transient),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await self._post(notice, attempt.retry_state.attempt_number)
        except _Transient as error:
            effect = f"given up after {self._give_up_seconds:g} s of retries"
            self._settle(notice, "failed", error=str(error), effect=effect)
        except _Refused as error:
            effect = "not retried: check the webhook URL and what the receiver expects"
            self._settle(notice, "rejected", error=str(error), effect=effect)
        else:
            self._settle(notice, "delivered", level="info")

    async def _post(self, notice: Notice, attempt: int) -> None:
        try:
            response = await self._http.post(self._url, json=notice.body())
        except httpx.TransportError as error:  # timeouts and failed connections
            failure = self._hide(f"{type(error).__name__}: {error}")
            log.info("notification_retrying", webhook=self.origin, notice=notice.event, attempt=attempt, error=failure)
            raise _Transient(failure) from None
        status = response.status_code
        if 200 <= status < 300:
            return
        answer = f"answered {status} {self._hide(response.text[:200])}".rstrip()
        if status >= 500 or status in RETRIED_CLIENT_ERRORS:
            log.info("notification_retrying", webhook=self.origin, notice=notice.event, attempt=attempt, error=answer)
            raise _Transient(answer)
        raise _Refused(answer)

    def _hide(self, text: str) -> str:
        """``text`` without the webhook's URL, path or query (they may hold its token)."""
        parts = httpx.URL(self._url)
        secrets = [
            self._url,
            parts.raw_path.decode("ascii", "replace"),
            parts.path,
            parts.query.decode("ascii", "replace"),
        ]
        return redact_secrets(text, [secret for secret in secrets if secret.strip("/?")])

    def _count(self, notice: Notice, result: NotifyResult) -> None:
        self._metrics.notifications.labels(event=notice.event, result=result).inc()

    def _settle(self, notice: Notice, result: NotifyResult, *, level: str = "warning", **details: str) -> None:
        """Count ``notice`` as ``result`` and log ``notification_<result>`` with the webhook, the notice,
        its deployment and ``details``."""
        self._count(notice, result)
        getattr(log, level)(
            f"notification_{result}", webhook=self.origin, notice=notice.event, deployment=notice.deployment, **details
        )


class Delivery:
    """Every webhook's sender (see the module); :meth:`offer` hands a notice to each of them."""

    def __init__(
        self,
        urls: Sequence[str],
        *,
        metrics: Metrics,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_seconds: float = POST_TIMEOUT_SECONDS,
        **options: Any,
    ) -> None:
        """``options`` are those of :class:`WebhookSender` (capacity, retry timing, ``sleep``)."""
        self._http = httpx.AsyncClient(
            transport=transport, timeout=httpx.Timeout(timeout_seconds), follow_redirects=False
        )
        self.senders = [WebhookSender(url, http=self._http, metrics=metrics, **options) for url in urls]

    @property
    def enabled(self) -> bool:
        """Whether any webhook is configured."""
        return bool(self.senders)

    def offer(self, notice: Notice) -> None:
        """Queue ``notice`` for every webhook. Never waits."""
        for sender in self.senders:
            sender.offer(notice)

    def start(self) -> None:
        """Start every sender (from inside the running loop)."""
        for sender in self.senders:
            sender.start()

    async def join(self) -> None:
        """Wait until every webhook's queue is empty and nothing is in flight."""
        for sender in self.senders:
            await sender.join()

    async def aclose(self) -> None:
        """Stop the senders (queued notices are not sent) and close the HTTP client."""
        for sender in self.senders:
            await sender.stop()
        await self._http.aclose()
