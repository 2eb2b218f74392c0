"""A plan interrupted between its calls resumes after them; an attempt that may have landed stays uncertain.

The office policy starts llama-3-8b-chat at 08:00 with ``update_replicas 1..3`` then
``start`` (it is stopped overnight): the one plan of two calls the daemon makes.
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import httpx

from tests.daemon import policies
from tests.daemon.harness import LLAMA_8B, MONDAY, Harness, at_utc
from tests.daemon.policies import document

OFFICE = document(policies.OFFICE)


class AfterUpdate(httpx.AsyncBaseTransport):
    """Runs ``then`` once an ``update-replicas`` call has been answered (the platform applied it)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self._inner = inner
        self.then: Callable[[], None] | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if "/update-replicas/" in request.url.path and self.then is not None:
            self.then()
        return response


def interrupting_harness(make_harness: Callable[..., Harness], **options: object) -> tuple[Harness, AfterUpdate]:
    built: list[AfterUpdate] = []

    def network(inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        built.append(AfterUpdate(inner))
        return built[0]

    return make_harness(OFFICE, network=network, **options), built[0]


async def test_a_plan_stopped_by_sigterm_after_its_first_call_sends_only_the_rest_after_a_restart(
    make_harness: Callable[..., Harness],
) -> None:
    """SIGTERM after ``update_replicas`` at 08:00: the restarted daemon sends ``start`` alone."""
    harness, network = interrupting_harness(make_harness, start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    harness.at(at_utc(MONDAY, "08:00"))
    network.then = harness.daemon.request_stop  # what SIGTERM does
    await harness.daemon.wake_up()
    network.then = None
    applied = harness.store.get_applied(UUID(LLAMA_8B))
    assert applied is not None and ("bounds", 1, 3, ("start",)) == (
        applied.kind,
        applied.min_replicas,
        applied.max_replicas,
        applied.remaining,
    )

    harness.restart()
    harness.at(at_utc(MONDAY, "08:00:30"))
    await harness.cycle()
    await harness.cycle()

    assert [
        "Mon 06:00:00 llama-3-8b-chat stop -> 200",
        "Mon 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Mon 08:00:30 llama-3-8b-chat start -> 200",
    ] == [str(call) for call in harness.calls()]
    applied = harness.store.get_applied(UUID(LLAMA_8B))
    assert applied is not None and () == applied.remaining
    started = [record for record in harness.audit() if record.action == "start"]
    assert ["completing an interrupted plan: start still due (window:office)"] == [r.reason for r in started]


async def test_a_start_refused_after_its_update_is_retried_alone(make_harness: Callable[..., Harness]) -> None:
    """The wallet refuses the start of 08:00: once it is unblocked, only the start goes out again."""
    harness, network = interrupting_harness(make_harness, start=at_utc(MONDAY, "06:00"))
    await harness.cycle()
    harness.at(at_utc(MONDAY, "08:00"))
    await harness.control("PUT", "wallet", {"blocked": True})
    await harness.daemon.wake_up()
    await harness.control("PUT", "wallet", {"blocked": False})
    harness.at(at_utc(MONDAY, "08:11"))  # past the wallet probe
    await harness.cycle()

    assert [
        "Mon 06:00:00 llama-3-8b-chat stop -> 200",
        "Mon 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 200",
        "Mon 08:00:00 llama-3-8b-chat start -> 402",
        "Mon 08:11:00 llama-3-8b-chat start -> 200",
    ] == [str(call) for call in harness.calls()]


async def test_a_retry_fenced_after_a_delivered_attempt_is_an_unknown_outcome_never_not_sent(
    make_harness: Callable[..., Harness],
) -> None:
    """The stop's first attempt reaches the platform and its answer is lost (500); leadership is lost before
    the retry: the action is an error whose outcome is unknown, and the applied state is forgotten."""
    harness = make_harness(OFFICE, start=at_utc(MONDAY, "18:00"), api_retry_attempts=3)
    await harness.cycle()
    harness.at(at_utc(MONDAY, "19:00"))
    await harness.control("POST", "faults/fail-next", {"endpoint": "startstop", "status": 500, "count": 1})
    checks = [0]

    def lease_lost_after_the_first_attempt() -> bool:
        checks[0] += 1
        return checks[0] == 1

    harness.daemon.client.may_send = lease_lost_after_the_first_attempt
    await harness.daemon.wake_up()

    assert ["Mon 19:00:00 llama-3-8b-chat stop -> 500"] == [
        str(call) for call in harness.calls() if call.at.hour == 19
    ]
    stops = [record for record in harness.audit() if record.action == "stop"]
    assert 1 == len(stops)
    assert "error" == stops[0].result
    assert "may have been delivered" in (stops[0].platform_message or "")
    assert None is harness.store.get_applied(UUID(LLAMA_8B))
