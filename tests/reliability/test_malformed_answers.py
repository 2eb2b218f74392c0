"""Scenario 4, malformed platform answers, the client's part: a typed answer or a typed error, in bounded time and memory.

Every malformed answer the simulator can give (non-JSON, HTML error pages, missing and
wrongly typed fields, a 10 MiB body, a slow drip, a dropped connection) on every
endpoint, and answers built to order behind ``httpx.MockTransport`` (bodies far over
the size cap, empty lists, unknown statuses and health values, damaged list items,
JSON Python cannot read, random statuses, headers and bodies): the client either
returns its typed answer (skipping, logging and counting malformed list items) or
raises a :class:`SimplismartError` subclass, logged and counted in
``scaler_api_malformed_responses_total`` / ``scaler_api_request_errors_total``. It never
raises anything else, never runs past its per-attempt deadline and retry budget, and
never holds more of a body than its cap. The daemon's part (the deployment skipped for
the cycle, the others proceeding) comes with the daemon.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
import structlog
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from scaler.metrics import Metrics
from scaler.sim.faults import MALFORMED_KINDS
from scaler.simplismart import errors
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.endpoints import ENDPOINTS
from scaler.simplismart.limits import DEFAULT_MAX_RESPONSE_BYTES
from scaler.simplismart.models import (
    DeleteResult,
    Deployment,
    DeploymentHealth,
    DeploymentStatus,
    HealthStatus,
    StartStopResult,
    UpdateReplicasResult,
)
from tests.client.fakes import DEPLOYMENT_ID, OTHER_DEPLOYMENT_ID, ScriptedPlatform, deployment_json, limits, make_client, retries
from tests.client.serving import LoopbackServer
from tests.reliability.figures import ScenarioFigures, run_seed, scaled
from tests.client.in_process_sim import WHISPER, InProcessSim

pytestmark = pytest.mark.scenario(4)

#: Random answers tried behind MockTransport.
RANDOM_ANSWERS = scaled(fast=150, full=3_000)
#: Per-attempt deadline when an answer drips in: short, so each drip costs little real time.
DRIP_DEADLINE = 0.2
#: Per-attempt deadline otherwise: generous, so that a slow machine never turns a case into a timeout.
DEADLINE = 10.0
#: Real time a call may take beyond its attempts' deadlines before it counts as hung.
HANG_SLACK = 5.0

CALLS: dict[str, Callable[[SimplismartClient], Awaitable[Any]]] = {
    "list_deployments": lambda client: client.list_deployments(),
    "get_health": lambda client: client.get_health(WHISPER),
    "update_replicas": lambda client: client.update_replicas(WHISPER, 1, 2),
    "startstop": lambda client: client.stop(WHISPER),
    "delete": lambda client: client.delete(WHISPER),
}
ANSWER = "a typed answer"
#: Whether a call's result is the typed answer of its endpoint.
ANSWER_TYPES: dict[str, Callable[[Any], bool]] = {
    "list_deployments": lambda result: isinstance(result, list) and all(isinstance(item, Deployment) for item in result),
    "get_health": lambda result: isinstance(result, DeploymentHealth),
    "update_replicas": lambda result: isinstance(result, UpdateReplicasResult),
    "startstop": lambda result: isinstance(result, StartStopResult),
    "delete": lambda result: isinstance(result, DeleteResult),
}
MALFORMED = errors.MalformedResponse
#: What one damaged answer must give, without retries, by kind and endpoint.
EXPECTED: dict[str, dict[str, Any]] = {
    "non_json": dict.fromkeys(CALLS, MALFORMED),
    "html": dict.fromkeys(CALLS, errors.ServerError),
    "missing_fields": {**dict.fromkeys(CALLS, ANSWER), "get_health": MALFORMED},  # list: items skipped
    "wrong_types": {**dict.fromkeys(CALLS, MALFORMED), "list_deployments": ANSWER},  # list: items skipped
    "large": dict.fromkeys(CALLS, MALFORMED),  # 10 MiB against the 8 MiB cap
    "slow_drip": dict.fromkeys(CALLS, errors.RequestTimeout),
    "drop": dict.fromkeys(CALLS, errors.ConnectionFailed),
}
#: The kinds a retry gets past (the damage was to one answer; the next is genuine).
TRANSIENT_KINDS = {"html", "slow_drip", "drop"}


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    """Every level reaches capture_logs, whatever another test configured."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


class Outcome:
    """What one call gave: its result or exception, its real duration, and whether it had to be stopped."""

    def __init__(self, result: Any, seconds: float, hung: bool) -> None:
        self.result = result
        self.seconds = seconds
        self.hung = hung

    @property
    def kind(self) -> Any:
        """``ANSWER`` or the exception's class."""
        return type(self.result) if isinstance(self.result, BaseException) else ANSWER


async def call_within(call: Awaitable[Any], bound: float) -> Outcome:
    """Await ``call``, stopping it after ``bound`` real seconds (a hang); any exception is kept, not raised."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(bound) as limit:
            result = await call
    except TimeoutError as exc:
        if limit.expired():
            return Outcome(exc, time.perf_counter() - started, hung=True)
        result = exc  # a bare TimeoutError out of the client: a crash, judged by record
    except Exception as exc:  # noqa: BLE001 - anything but a SimplismartError is what this scenario looks for
        result = exc
    return Outcome(result, time.perf_counter() - started, hung=False)


def record(figures: ScenarioFigures, outcome: Outcome, what: str, *, faults: int = 1) -> str | None:
    """Count one case and its faults; count and return the crash when ``outcome`` is one.

    A crash is a hang or an exception that is not a SimplismartError.
    """
    figures.add(cases=1, faults=faults, crashes=0)
    crash = None
    if outcome.hung:
        crash = f"{what}: still running after {outcome.seconds:.1f} s"
    elif isinstance(outcome.result, BaseException) and not isinstance(outcome.result, errors.SimplismartError):
        crash = f"{what}: raised {type(outcome.result).__name__}: {str(outcome.result)[:160]}"
    if crash:
        figures.crash(crash)
    return crash


def counted(metrics: Metrics, endpoint: str) -> tuple[float, dict[str, float]]:
    """The malformed answers and the failed calls (by reason) counted so far for ``endpoint``."""
    registry = metrics.registry
    malformed = registry.get_sample_value("scaler_api_malformed_responses_total", {"endpoint": endpoint}) or 0.0
    reasons = {}
    for metric in registry.collect():
        if metric.name == "scaler_api_request_errors":
            for sample in metric.samples:
                if sample.name.endswith("_total") and sample.labels["endpoint"] == endpoint and sample.value:
                    reasons[sample.labels["reason"]] = sample.value
    return malformed, reasons


# --------------------------------------------------------------------------- the simulator's malformed answers


@pytest.fixture
async def sim() -> AsyncIterator[InProcessSim]:
    simulator = InProcessSim(rng_seed=run_seed())
    yield simulator
    await simulator.aclose()


async def run_damaged_call(sim: InProcessSim, kind: str, endpoint: str, *, attempts: int) -> tuple[Outcome, Metrics, list[dict]]:
    """Damage the next answer of ``endpoint`` with ``kind`` and make the call; return what happened."""
    await sim.ctl("POST", "/reset")
    await sim.ctl("POST", "/faults/malformed", {"kind": kind, "endpoint": endpoint})
    metrics = Metrics(CollectorRegistry())
    deadline = DRIP_DEADLINE if kind == "slow_drip" else DEADLINE
    async with sim.client(metrics=metrics, limits=limits(attempt_deadline_seconds=deadline), retry=retries(attempts=attempts)) as client:
        with capture_logs() as logs:
            outcome = await call_within(CALLS[endpoint](client), attempts * deadline + HANG_SLACK)
    return outcome, metrics, logs


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
async def test_every_malformed_answer_of_the_simulator_gives_the_expected_typed_outcome(
    sim: InProcessSim, figures: ScenarioFigures, kind: str
) -> None:
    """One damaged answer on each endpoint, no retry: the outcome of the table, logged and counted, in bounded time."""
    listed = len(await sim.client().list_deployments())
    seen = {}
    for endpoint in CALLS:
        outcome, metrics, logs = await run_damaged_call(sim, kind, endpoint, attempts=1)
        record(figures, outcome, f"{kind} on {endpoint}")
        seen[endpoint] = outcome.kind
        malformed, reasons = counted(metrics, endpoint)
        events = [entry["event"] for entry in logs]
        if outcome.kind is MALFORMED:
            assert (1.0, {"malformed_response": 1.0}) == (malformed, reasons), endpoint
            assert "api_malformed_response" in events
        elif outcome.kind is ANSWER and endpoint == "list_deployments":
            assert ([], float(listed), {}) == (outcome.result, malformed, reasons)  # every item damaged
            assert listed == events.count("api_malformed_item")
        elif outcome.kind is ANSWER:
            assert (0.0, {}) == (malformed, reasons), endpoint
        else:
            assert {outcome.result.reason: 1.0} == reasons, endpoint
            assert any(entry["event"] == "api_request" and entry.get("reason") == outcome.result.reason for entry in logs)
    assert EXPECTED[kind] == seen


@pytest.mark.parametrize("kind", MALFORMED_KINDS)
async def test_a_retry_gets_past_a_transient_damaged_answer(sim: InProcessSim, figures: ScenarioFigures, kind: str) -> None:
    """With retries, a 502 page, a dripping answer or a dropped connection is followed by the genuine answer; the others stay errors."""
    for endpoint in CALLS:
        outcome, _, _ = await run_damaged_call(sim, kind, endpoint, attempts=3)
        record(figures, outcome, f"{kind} on {endpoint}, retried")
        expected = ANSWER if kind in TRANSIENT_KINDS else EXPECTED[kind][endpoint]
        assert (endpoint, expected) == (endpoint, outcome.kind)


@pytest.mark.parametrize(
    ("size", "expected"),
    [(DEFAULT_MAX_RESPONSE_BYTES, ANSWER), (DEFAULT_MAX_RESPONSE_BYTES + 1, MALFORMED)],
    ids=["exactly-the-cap", "one-byte-over"],
)
async def test_a_padded_answer_is_read_up_to_the_cap_and_refused_beyond(
    sim: InProcessSim, figures: ScenarioFigures, size: int, expected: Any
) -> None:
    """The simulator's `large` answer padded to exactly 8 MiB parses; one byte more is a MalformedResponse."""
    await sim.ctl("POST", "/faults/malformed", {"kind": "large", "endpoint": "list_deployments", "size_bytes": size})
    async with sim.client(limits=limits(attempt_deadline_seconds=DEADLINE)) as client:
        outcome = await call_within(client.list_deployments(), DEADLINE + HANG_SLACK)
    record(figures, outcome, f"list padded to {size} bytes")
    assert expected is outcome.kind


# --------------------------------------------------------------------------- over a real socket


@pytest.fixture(scope="module")
def served_sim() -> Iterator[tuple[InProcessSim, str]]:
    """The simulator on a loopback port (a real socket: bodies stream, connections really drop)."""
    simulator = InProcessSim(rng_seed=run_seed())
    with LoopbackServer(simulator.app) as server:
        yield simulator, server.url


async def test_over_a_socket_a_slow_drip_is_cut_by_the_attempt_deadline(
    served_sim: tuple[InProcessSim, str], figures: ScenarioFigures
) -> None:
    """A list dripping at 1 kB/s (4 s for the seed's list, a few bytes every 0.1 s) ends as RequestTimeout after the 0.5 s deadline."""
    simulator, url = served_sim
    await simulator.ctl("POST", "/reset")
    drip = {"kind": "slow_drip", "endpoint": "list_deployments", "bytes_per_second": 1000}
    await simulator.ctl("POST", "/faults/malformed", drip)
    async with simulator.client(base_url=url, transport=None, limits=limits(attempt_deadline_seconds=0.5), retry=retries(attempts=1)) as client:
        outcome = await call_within(client.list_deployments(), 0.5 + HANG_SLACK)
    record(figures, outcome, "slow drip over a socket")
    assert errors.RequestTimeout is outcome.kind
    assert "no complete answer within 0.5 s" in str(outcome.result)
    assert outcome.seconds < 0.5 + 2.0


async def test_over_a_socket_a_dropped_connection_is_a_connection_failure(
    served_sim: tuple[InProcessSim, str], figures: ScenarioFigures
) -> None:
    """Headers and half the body, then the connection closes: ConnectionFailed, transient."""
    simulator, url = served_sim
    await simulator.ctl("POST", "/reset")
    await simulator.ctl("POST", "/faults/malformed", {"kind": "drop", "endpoint": "get_health"})
    async with simulator.client(base_url=url, transport=None, retry=retries(attempts=1)) as client:
        outcome = await call_within(client.get_health(WHISPER), DEADLINE + HANG_SLACK)
    record(figures, outcome, "dropped connection over a socket")
    assert (errors.ConnectionFailed, True) == (outcome.kind, getattr(outcome.result, "transient", None))


# --------------------------------------------------------------------------- answers built to order


async def streamed(total: int, chunk: int = 64 * 1024) -> AsyncIterator[bytes]:
    """A JSON array padded with spaces to ``total`` bytes, produced chunk by chunk (never whole in memory)."""
    yield b"["
    sent = 1
    while sent < total - 1:
        size = min(chunk, total - 1 - sent)
        sent += size
        yield b" " * size
    yield b"]"


async def test_a_10_mb_answer_is_refused_without_ever_being_held_whole(figures: ScenarioFigures) -> None:
    """A 10 MiB list streamed to the client: MalformedResponse, and the call's memory peak stays near the 8 MiB cap."""
    total = 10 * 1024 * 1024
    platform = ScriptedPlatform(lambda request: httpx.Response(200, content=streamed(total)))
    async with make_client(platform) as client:
        tracemalloc.start()
        try:
            outcome = await call_within(client.list_deployments(), DEADLINE)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    record(figures, outcome, "10 MiB stream")
    assert MALFORMED is outcome.kind
    assert peak < DEFAULT_MAX_RESPONSE_BYTES + 1024 * 1024 < total, f"peak {peak / 2**20:.1f} MiB"


def answer(status: int, body: bytes | Any = b"", **headers: str) -> Callable[[httpx.Request], httpx.Response]:
    """A reply for ScriptedPlatform: a fresh response each time, its body streamed as sent (never decoded here).

    ``body`` is bytes as sent, or any other value sent as JSON.
    """
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    fields = {name.replace("_", "-"): value for name, value in headers.items()}

    def reply(request: httpx.Request) -> httpx.Response:
        async def stream() -> AsyncIterator[bytes]:
            yield raw

        return httpx.Response(status, headers=fields, content=stream())

    return reply


CRAFTED = {
    "empty list": (answer(200, []), "list_deployments", []),
    "empty body for a mutation": (answer(200), "update_replicas", ANSWER),
    "empty body for health": (answer(200), "get_health", MALFORMED),
    "a JSON object instead of the list": (answer(200, {"results": []}), "list_deployments", MALFORMED),
    "a list instead of the health object": (answer(200, [{"data": "Healthy"}]), "get_health", MALFORMED),
    "HTML 500 page": (
        answer(500, b"<html><body><h1>500 Internal Server Error</h1></body></html>", Content_Type="text/html"),
        "get_health",
        errors.ServerError,
    ),
    "HTML 503 page from a load balancer": (
        answer(503, b"<!DOCTYPE html><title>Maintenance</title>", Content_Type="text/html", Retry_After="soon"),
        "list_deployments",
        errors.ServerError,
    ),
    "HTML login page with 200": (
        answer(200, b"<html><form action=/login></form></html>", Content_Type="text/html"),
        "list_deployments",
        MALFORMED,
    ),
    "a 3xx redirect to a login page": (answer(302, Location="https://sso.invalid/"), "startstop", errors.UnexpectedStatus),
    "a 418": (answer(418, {"detail": "I'm a teapot"}), "delete", errors.InvalidRequest),
    "a 599": (answer(599), "get_health", errors.ServerError),
    "a number of 5,000 digits": (answer(200, b"[" + b"7" * 5000 + b"]"), "list_deployments", MALFORMED),
    "nesting 100,000 deep": (answer(200, b"[" * 100_000 + b"]" * 100_000), "list_deployments", MALFORMED),
    "NaN and Infinity": (answer(200, b'{"data": NaN, "pods": {"ready": Infinity}}'), "get_health", MALFORMED),
    "gzip header over plain text": (answer(200, b"[]", Content_Encoding="gzip"), "list_deployments", MALFORMED),
    "gzip of a list": (answer(200, gzip.compress(b"[]"), Content_Encoding="gzip"), "list_deployments", []),
    "bytes that are not UTF-8": (answer(200, b'[{"deployment_name": "\xff\xfe"}]'), "list_deployments", MALFORMED),
}


@pytest.mark.parametrize("name", CRAFTED)
async def test_a_crafted_answer_gives_its_typed_outcome(figures: ScenarioFigures, name: str) -> None:
    """Each crafted answer: the expected typed answer or typed error; an error page is never taken for the platform's message."""
    reply, endpoint, expected = CRAFTED[name]
    async with make_client(ScriptedPlatform(reply), retry=retries(attempts=1)) as client:
        outcome = await call_within(CALLS[endpoint](client), DEADLINE)
    record(figures, outcome, name)
    if isinstance(expected, list):
        assert expected == outcome.result
    else:
        assert expected is outcome.kind, outcome.result
    if isinstance(outcome.result, errors.ApiStatusError):  # an error page is not the platform's message
        assert "<html" not in str(outcome.result).lower() and "<!doctype" not in str(outcome.result).lower()
    if isinstance(outcome.result, errors.SimplismartError):  # at most an excerpt of what came back
        assert len(outcome.result.message) <= errors.MAX_MESSAGE_CHARS


async def test_unknown_statuses_and_health_values_are_kept_as_unknown(figures: ScenarioFigures) -> None:
    """HIBERNATING and "Overheating" are answers, not errors: UNKNOWN and UNRECOGNIZED with the raw text."""
    platform = ScriptedPlatform(
        httpx.Response(200, json=[deployment_json(status="HIBERNATING"), deployment_json(deployment_id=OTHER_DEPLOYMENT_ID, status=None)]),
        httpx.Response(200, json={"data": "Overheating", "messages": None, "pods": None}),
    )
    async with make_client(platform) as client:
        first, second = await client.list_deployments()
        health = await client.get_health(DEPLOYMENT_ID)
    figures.add(cases=3, faults=3, crashes=0)
    assert (DeploymentStatus.UNKNOWN, "HIBERNATING", DeploymentStatus.UNKNOWN) == (first.status, first.status_raw, second.status)
    assert (HealthStatus.UNRECOGNIZED, "Overheating") == (health.status, health.status_raw)


#: Damage that makes a list item unusable, each on its own field.
ITEM_DAMAGE = {
    "deployment_id missing": lambda item: item.pop("deployment_id"),
    "deployment_id not a UUID": lambda item: item.update(deployment_id="whisper-v3"),
    "deployment_id a number": lambda item: item.update(deployment_id=12345),
    "deployment_id null": lambda item: item.update(deployment_id=None),
    "deployment_name missing": lambda item: item.pop("deployment_name"),
    "deployment_name a number": lambda item: item.update(deployment_name=7),
    "deployment_name a list": lambda item: item.update(deployment_name=["a"]),
    "accelerator_count text": lambda item: item.update(accelerator_count="three"),
    "accelerator_count negative": lambda item: item.update(accelerator_count=-1),
    "accelerator_count 10^30": lambda item: item.update(accelerator_count=10**30),
    "accelerator_count a fraction": lambda item: item.update(accelerator_count=1.5),
    "accelerator_type a number": lambda item: item.update(accelerator_type=4),
    "model_repo_id not a UUID": lambda item: item.update(model_repo_id="repo"),
    "the item a string": None,
    "the item null": None,
}

_item_ids = st.uuids().map(str)


@st.composite
def damaged_lists(draw: st.DrawFn) -> tuple[list[Any], list[str]]:
    """A list answer mixing good items and items damaged in one field; returns it and the ids that must come back."""
    items: list[Any] = []
    good: list[str] = []
    for _ in range(draw(st.integers(0, 12))):
        item = deployment_json(deployment_id=draw(_item_ids), status=draw(st.sampled_from(["DEPLOYED", "PENDING", "WEIRD", ""])))
        if draw(st.booleans()):
            damage = draw(st.sampled_from(sorted(ITEM_DAMAGE)))
            if damage == "the item a string":
                item = "deployment"
            elif damage == "the item null":
                item = None
            else:
                ITEM_DAMAGE[damage](item)
        else:
            good.append(item["deployment_id"])
        items.append(item)
    return items, good


_json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["Healthy", "Degraded", "DEPLOYED", DEPLOYMENT_ID, "message", "data", "pods"]),
)
_json_values = st.recursive(
    _json_leaves,
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(
        st.sampled_from(["data", "pods", "messages", "message", "ready", "not_ready", "deployment_id", "deployment_name", "status", "x"]),
        children,
        max_size=5,
    ),
    max_leaves=25,
)


@st.composite
def random_answers(draw: st.DrawFn) -> tuple[int, bytes, dict[str, str]]:
    """Any answer: a random status, random headers, a body that is JSON of a random shape, text, HTML, bytes or gzip."""
    status = draw(st.one_of(st.sampled_from([200, 201, 204, 400, 401, 402, 403, 404, 409, 429, 500, 502, 503, 504]), st.integers(100, 599)))
    if status in (101, 204, 304) or status < 200 and draw(st.booleans()):
        status = 200  # statuses whose answers carry no body are kept for other tests
    headers = {}
    if draw(st.booleans()):
        headers["Retry-After"] = draw(st.sampled_from(["0", "1", "-5", "1e400", "nan", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999"]))
    shape = draw(st.sampled_from(["json", "json", "json", "text", "html", "bytes", "gzip", "empty"]))
    if shape == "json":
        body = json.dumps(draw(_json_values)).encode()
        headers["Content-Type"] = "application/json"
    elif shape == "text":
        body = draw(st.text(max_size=200)).encode()
        headers["Content-Type"] = "text/plain"
    elif shape == "html":
        body = b"<html><body>" + draw(st.text(max_size=100)).encode() + b"</body></html>"
        headers["Content-Type"] = "text/html"
    elif shape == "bytes":
        body = draw(st.binary(max_size=200))
    elif shape == "gzip":
        body = gzip.compress(json.dumps(draw(_json_values)).encode()) if draw(st.booleans()) else draw(st.binary(max_size=50))
        headers["Content-Encoding"] = "gzip"
    else:
        body = b""
    return status, body, headers


async def test_lists_with_damaged_items_return_exactly_the_good_ones(figures: ScenarioFigures) -> None:
    """Whatever mix of good and damaged items: the good ones come back in order; each damaged one is logged and counted."""
    cases: list[tuple[list[Any], list[str]]] = []

    @settings(max_examples=scaled(fast=60, full=1_000), database=None, deadline=None, phases=[Phase.generate])
    @given(damaged_lists())
    def collect(case: tuple[list[Any], list[str]]) -> None:
        cases.append(case)

    seed(run_seed())(collect)()
    for items, good in cases:
        metrics = Metrics(CollectorRegistry())
        async with make_client(ScriptedPlatform(httpx.Response(200, json=items)), metrics=metrics) as client:
            with capture_logs() as logs:
                outcome = await call_within(client.list_deployments(), DEADLINE)
        damaged = len(items) - len(good)
        record(figures, outcome, f"list of {len(items)} items", faults=damaged)
        assert good == [str(deployment.deployment_id) for deployment in outcome.result]
        assert all(isinstance(deployment, Deployment) for deployment in outcome.result)
        assert (float(damaged), damaged) == (
            metrics.registry.get_sample_value("scaler_api_malformed_responses_total", {"endpoint": "list_deployments"}),
            [entry["event"] for entry in logs].count("api_malformed_item"),
        )


async def test_any_answer_to_any_endpoint_is_a_typed_answer_or_a_typed_error(figures: ScenarioFigures) -> None:
    """Random statuses, headers and bodies on every endpoint, with retries: never anything but a typed answer or SimplismartError."""
    cases: list[tuple[str, list[tuple[int, bytes, dict[str, str]]]]] = []

    @settings(max_examples=RANDOM_ANSWERS, database=None, deadline=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(sorted(CALLS)), st.lists(random_answers(), min_size=1, max_size=4))
    def collect(endpoint: str, answers: list[tuple[int, bytes, dict[str, str]]]) -> None:
        cases.append((endpoint, answers))

    seed(run_seed())(collect)()
    crashes = []
    for endpoint, answers in cases:
        metrics = Metrics(CollectorRegistry())
        replies = [answer(status, body, **{name.replace("-", "_"): value for name, value in headers.items()}) for status, body, headers in answers]
        async with make_client(ScriptedPlatform(*replies), metrics=metrics, limits=limits(attempt_deadline_seconds=DEADLINE), retry=retries(attempts=4)) as client:
            outcome = await call_within(CALLS[endpoint](client), 4 * DEADLINE + HANG_SLACK)
        crash = record(figures, outcome, f"{endpoint} answered {[status for status, _, _ in answers]}", faults=len(answers))
        if crash:
            crashes.append(crash)
            continue
        _, reasons = counted(metrics, endpoint)
        if isinstance(outcome.result, errors.SimplismartError):
            assert {outcome.result.reason: 1.0} == reasons, (endpoint, outcome.result)  # one failed call, counted once
        else:
            assert ({}, True) == (reasons, ANSWER_TYPES[endpoint](outcome.result)), (endpoint, outcome.result)
    assert [] == crashes
    assert set(ENDPOINTS) == {endpoint for endpoint, _ in cases}
