"""The control API under /api/v1/: keys and roles on every endpoint, bodies, errors, the 429, secrecy,
and exceptions acting at once (virtual time: the daemon's jobs are run by the test)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import structlog
from prometheus_client import generate_latest

from scaler.daemon.api.auth import Guard
from scaler.daemon.api.keys import hash_key
from scaler.daemon.api.throttle import FailureThrottle
from scaler.daemon.http import create_http_app
from scaler.store import ExceptionRecord
from tests.daemon import policies
from tests.daemon.harness import LLAMA_8B, MONDAY, WHISPER, Harness, at_utc
from tests.daemon.policies import document
from tests.daemon.stalls import Stalls

OFFICE = document(policies.OFFICE)
VIEWER_KEY = "viewer-key-0123456789abcdef"
OPERATOR_KEY = "operator-key-0123456789abcdef"
WRONG_KEY = "not-a-key-of-the-file"
VIEWER = {"Authorization": f"Bearer {VIEWER_KEY}"}
OPERATOR = {"Authorization": f"Bearer {OPERATOR_KEY}"}
WRONG = {"Authorization": f"Bearer {WRONG_KEY}"}


def keys_file(path: Path) -> Path:
    """A keys file with a viewer (grafana) and an operator (alice)."""
    path.write_text(
        json.dumps(
            [
                {"name": "grafana", "role": "viewer", "sha256": hash_key(VIEWER_KEY)},
                {"name": "alice", "role": "operator", "sha256": hash_key(OPERATOR_KEY)},
            ]
        )
    )
    return path


@pytest.fixture
def harness(make_harness: Callable[..., Harness], tmp_path: Path) -> Harness:
    return make_harness(OFFICE, start=at_utc(MONDAY, "06:00"), api_keys_file=keys_file(tmp_path / "keys.json"))


@pytest.fixture
def open_harness(make_harness: Callable[..., Harness]) -> Harness:
    return make_harness(OFFICE, start=at_utc(MONDAY, "06:00"))


def client_of(harness: Harness) -> httpx.AsyncClient:
    app = create_http_app(harness.daemon, harness.metrics)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://daemon")


@pytest.fixture
async def http(harness: Harness) -> AsyncIterator[httpx.AsyncClient]:
    await harness.cycle()
    async with client_of(harness) as client:
        yield client


def body(**fields: Any) -> dict[str, Any]:
    """A valid override of llama-3-8b-chat to running for 3 hours, with ``fields`` changed (None drops one)."""
    values: dict[str, Any] = {
        "kind": "override",
        "target": {"deployment": "llama-3-8b-chat"},
        "state": "running",
        "for": "3h",
        "reason": "eval tonight",
    }
    values.update(fields)
    return {key: value for key, value in values.items() if value is not None}


READS = [("GET", "/status"), ("GET", "/api/v1/deployments"), ("GET", f"/api/v1/deployments/{LLAMA_8B}"),
         ("GET", "/api/v1/exceptions"), ("GET", "/api/v1/exceptions/KNOWN")]  # fmt: skip
WRITES = [("POST", "/api/v1/exceptions"), ("DELETE", "/api/v1/exceptions/KNOWN")]


async def _send(http: httpx.AsyncClient, method: str, path: str, known: str, headers: dict[str, str]) -> httpx.Response:
    return await http.request(
        method, path.replace("KNOWN", known), headers=headers, json=body() if method == "POST" else None
    )


async def _known(http: httpx.AsyncClient) -> str:
    created = await http.post("/api/v1/exceptions", json=body(kind="suspend", state=None), headers=OPERATOR)
    assert 201 == created.status_code, created.text
    return str(created.json()["id"])


@pytest.mark.parametrize(("method", "path"), READS + WRITES)
@pytest.mark.parametrize(
    ("who", "headers"), [("none", {}), ("wrong", WRONG), ("viewer", VIEWER), ("operator", OPERATOR)]
)
async def test_role_matrix_on_every_endpoint(
    http: httpx.AsyncClient, method: str, path: str, who: str, headers: dict[str, str]
) -> None:
    """No key or a wrong key: 401 with WWW-Authenticate: Bearer; a viewer reads and may not write (403);
    an operator reads and writes."""
    known = await _known(http)
    response = await _send(http, method, path, known, headers)
    write = method != "GET"
    expected = {"none": 401, "wrong": 401, "viewer": 403 if write else 200}.get(who, 201 if method == "POST" else 200)
    assert expected == response.status_code, response.text
    if expected == 401:
        assert "Bearer" == response.headers["WWW-Authenticate"]
    assert "error" in response.json() if expected >= 400 else True


@pytest.mark.parametrize(("method", "path"), READS + WRITES)
async def test_without_a_keys_file_reads_are_open_and_writes_refused(
    open_harness: Harness, method: str, path: str
) -> None:
    """No SCALER_API_KEYS_FILE: every read answers as before, every write 403 'no API keys configured'."""
    await open_harness.cycle()
    known = open_harness.store.suspend(UUID(WHISPER), "whisper", at_utc(MONDAY, "09:00"), "x", open_harness.now(), "t")
    (exception,) = open_harness.store.active_exceptions(open_harness.now())
    assert known.deployment_id == UUID(WHISPER)
    async with client_of(open_harness) as http:
        response = await _send(http, method, path, exception.id, {})
    if method == "GET":
        assert 200 == response.status_code, response.text
    else:
        assert (403, {"error": "no API keys configured"}) == (response.status_code, response.json())


async def test_metrics_healthz_and_readyz_stay_open_with_keys(http: httpx.AsyncClient) -> None:
    """A scraper and the probes need no key."""
    assert [200, 200, 200] == [(await http.get(path)).status_code for path in ("/metrics", "/healthz", "/readyz")]


async def test_a_created_exception_is_answered_with_what_was_stored(http: httpx.AsyncClient, harness: Harness) -> None:
    """201 with id, kind, target, resolved deployments, state, until, reason and the key's name as author."""
    response = await http.post("/api/v1/exceptions", json=body(), headers=OPERATOR)
    assert 201 == response.status_code, response.text
    answer = response.json()
    assert {
        "kind": "override",
        "target": {"deployment": LLAMA_8B, "name": "llama-3-8b-chat"},
        "deployments": [{"id": LLAMA_8B, "name": "llama-3-8b-chat"}],
        "state": "running",
        "until": "2026-03-02T09:00:00Z",
        "by": "alice",
        "reason": "eval tonight",
        "created_at": "2026-03-02T06:00:00Z",
        "ended_at": None,
        "ended_by": None,
        "active": True,
    } == {key: value for key, value in answer.items() if key != "id"}
    assert [answer["id"]] == [e.id for e in harness.store.active_exceptions(harness.now())]


@pytest.mark.parametrize(
    ("document", "status", "field"),
    [
        (body(kind="pause"), 400, "kind"),
        (body(target=None), 400, "target"),
        (body(target={"deployment": "a", "policy": "b"}), 400, "target"),
        (body(target={"all": False}), 400, "target.all"),
        (body(target={"cluster": "x"}), 400, "target.cluster"),
        (body(target={"deployment": ""}), 400, "target.deployment"),
        (body(state=None), 400, "state"),
        (body(state="up"), 400, "state"),
        (body(state={"min_replicas": 3, "max_replicas": 2}), 400, "state"),
        (body(state={"min_replicas": -1, "max_replicas": 2}), 400, "state"),
        (body(state={"min_replicas": 0, "max_replicas": 0}), 400, "state"),
        (body(state={"min_replicas": "1", "max_replicas": 2}), 400, "state.min_replicas"),
        (body(state={"min_replicas": 1, "max_replicas": 2, "extra": 1}), 400, "state.extra"),
        (body(kind="suspend"), 400, "state"),
        (body(**{"for": None}), 400, "until"),
        (body(until="2026-03-02T10:00:00+00:00"), 400, "until"),
        (body(**{"for": None}, until="2026-03-02T10:00:00"), 400, "until"),
        (body(**{"for": None}, until="2026-03-02T05:00:00Z"), 400, "until"),
        (body(**{"for": None}, until="tomorrow"), 400, "until"),
        (body(**{"for": "2 hours"}), 400, "for"),
        (body(**{"for": "31d"}), 400, "for"),
        (body(**{"for": None}, until="2026-04-02T06:00:01Z"), 400, "until"),
        (body(reason=None), 400, "reason"),
        (body(reason="   "), 400, "reason"),
        (body(reason="x" * 1001), 400, "reason"),
        (body(colour="blue"), 400, "colour"),
        ([1, 2], 400, None),
    ],
)
async def test_every_bad_body_is_refused_naming_its_field(
    http: httpx.AsyncClient, harness: Harness, document: Any, status: int, field: str | None
) -> None:
    """400 with the field named in the error (and as `field`); nothing is stored."""
    response = await http.post("/api/v1/exceptions", json=document, headers=OPERATOR)
    assert status == response.status_code, response.text
    answer = response.json()
    assert field == answer.get("field")
    if field is not None:
        assert answer["error"].startswith(f"{field}: ")
    assert [] == harness.store.all_exceptions()


async def test_a_body_that_is_not_json_or_too_large_is_refused(http: httpx.AsyncClient) -> None:
    """415 for another media type, 400 for text that is not JSON, 413 beyond 64 KiB."""
    answers = [
        await http.post("/api/v1/exceptions", content=b"kind=override", headers={**OPERATOR, "Content-Type": "text/plain"}),
        await http.post("/api/v1/exceptions", content=b"{not json", headers={**OPERATOR, "Content-Type": "application/json"}),
        await http.post(
            "/api/v1/exceptions",
            content=json.dumps(body(reason="x" * (65 * 1024))).encode(),
            headers={**OPERATOR, "Content-Type": "application/json"},
        ),
    ]
    assert [415, 400, 413] == [answer.status_code for answer in answers]


async def test_unknown_targets_and_exceptions_are_404(http: httpx.AsyncClient) -> None:
    """An unknown deployment, policy or exception id: 404 with an error naming it."""
    answers = [
        await http.post("/api/v1/exceptions", json=body(target={"deployment": "nope"}), headers=OPERATOR),
        await http.post("/api/v1/exceptions", json=body(target={"policy": "nope"}), headers=OPERATOR),
        await http.get("/api/v1/exceptions/nope", headers=VIEWER),
        await http.delete("/api/v1/exceptions/nope", headers=OPERATOR),
        await http.get("/api/v1/deployments/nope", headers=VIEWER),
    ]
    assert [404] * 5 == [answer.status_code for answer in answers]
    assert all("nope" in answer.json()["error"] for answer in answers)


async def test_an_ambiguous_name_is_409_with_the_candidate_ids(http: httpx.AsyncClient, harness: Harness) -> None:
    """Two deployments share a name: 409 listing both ids; nothing stored."""
    harness.daemon.inventory.deployments[UUID(WHISPER)] = harness.daemon.inventory.deployments[
        UUID(WHISPER)
    ].model_copy(update={"deployment_name": "llama-3-8b-chat"})
    response = await http.post("/api/v1/exceptions", json=body(), headers=OPERATOR)
    assert 409 == response.status_code
    assert sorted([LLAMA_8B, WHISPER]) == sorted(c["id"] for c in response.json()["candidates"])
    assert [] == harness.store.all_exceptions()


async def test_ten_wrong_keys_within_a_minute_answer_429_for_the_rest_of_it(harness: Harness) -> None:
    """The eleventh attempt from that address is 429, even with a right key, until a minute after the
    first failure; another address is not affected."""
    now = [1000.0]
    throttle = FailureThrottle(monotonic=lambda: now[0])
    await harness.cycle()
    app = create_http_app(harness.daemon, harness.metrics, guard=Guard(harness.daemon.keys, throttle))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.9", 1)), base_url="http://d") as http:
        statuses = []
        for _ in range(10):
            statuses.append((await http.get("/status", headers=WRONG)).status_code)
            now[0] += 1
        refused = await http.get("/status", headers=VIEWER)
        now[0] = 1000.0 + 60
        again = await http.get("/status", headers=VIEWER)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=("10.0.0.8", 1)), base_url="http://d") as other:
        elsewhere = await other.get("/status", headers=VIEWER)
    assert [401] * 10 == statuses
    assert (429, "50") == (refused.status_code, refused.headers["Retry-After"])
    assert (200, 200) == (again.status_code, elsewhere.status_code)


async def test_keys_appear_in_no_log_answer_status_or_metric(http: httpx.AsyncClient, harness: Harness) -> None:
    """Neither a right nor a wrong key is logged, answered, shown in /status or exported."""
    with structlog.testing.capture_logs() as logs:
        await http.get("/status", headers=WRONG)
        created = await http.post("/api/v1/exceptions", json=body(), headers=OPERATOR)
        status = await http.get("/status", headers=VIEWER)
        listed = await http.get("/api/v1/exceptions", headers=VIEWER)
    seen = json.dumps(logs) + created.text + status.text + listed.text + generate_latest(harness.registry).decode()
    for secret in (VIEWER_KEY, OPERATOR_KEY, WRONG_KEY, hash_key(OPERATOR_KEY)):
        assert secret not in seen
    assert any(line["event"] == "api_key_refused" for line in logs)


async def test_the_keys_file_is_re_read_when_it_changes(http: httpx.AsyncClient, harness: Harness) -> None:
    """A key removed from the file stops working without a restart; a new one starts working."""
    path = harness.settings.api_keys_file
    assert path is not None
    path.write_text(json.dumps([{"name": "bob", "role": "viewer", "sha256": hash_key("bobs-new-key-123456")}]))
    before = (await http.get("/status", headers={"Authorization": "Bearer bobs-new-key-123456"})).status_code
    old = (await http.get("/status", headers=VIEWER)).status_code
    assert (200, 401) == (before, old)


async def test_an_override_starts_a_stopped_deployment_at_once(http: httpx.AsyncClient, harness: Harness) -> None:
    """At 06:00 llama is stopped by its schedule; an override to running sends the start when the
    daemon checks the exceptions (every second), not at the next cycle, with the exception's id, its
    author and its reason in the action's reason; at its end (08:00, as the office window opens) the schedule's state is
    applied at that instant."""
    harness.calls(clear=True)
    created = (await http.post("/api/v1/exceptions", json=body(**{"for": "2h"}), headers=OPERATOR)).json()
    await harness.daemon.check_exceptions()  # the first check notes the revision
    assert [] == [str(call) for call in harness.calls()]
    await http.post("/api/v1/exceptions", json=body(kind="suspend", state=None, target={"deployment": WHISPER}),
                    headers=OPERATOR)  # fmt: skip
    harness.advance(seconds=1)
    assert await harness.daemon.check_exceptions()
    assert ["Mon 06:00:01 llama-3-8b-chat start -> 200"] == [str(call) for call in harness.calls()]
    started = harness.audit(results=["success"])[-1]
    assert started.reason.endswith(f"(override:{created['id']} by alice: eval tonight)"), started.reason
    assert 1.0 == harness.sample("scaler_deployment_override", deployment="llama-3-8b-chat", deployment_id=LLAMA_8B)
    assert (1.0, 1.0) == (
        harness.sample("scaler_exceptions_active", kind="override"),
        harness.sample("scaler_exceptions_active", kind="suspend"),
    )
    harness.calls(clear=True)
    await harness.run_until(at_utc(MONDAY, "08:30"))
    assert ["Mon 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 200"] == [str(c) for c in harness.calls()]
    assert None is harness.sample("scaler_deployment_override", deployment="llama-3-8b-chat", deployment_id=LLAMA_8B)


async def test_ending_an_override_applies_the_schedule_at_that_instant(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    """DELETE ends it: the stopped schedule (before 08:00) is applied within the next check."""
    await harness.daemon.check_exceptions()
    created = (await http.post("/api/v1/exceptions", json=body(), headers=OPERATOR)).json()
    harness.advance(seconds=1)
    await harness.daemon.check_exceptions()
    harness.calls(clear=True)
    harness.advance(minutes=10)
    ended = await http.delete(f"/api/v1/exceptions/{created['id']}", headers=OPERATOR)
    assert (200, "alice", False) == (ended.status_code, ended.json()["ended_by"], ended.json()["active"])
    harness.advance(seconds=1)
    assert await harness.daemon.check_exceptions()
    assert ["Mon 06:10:02 llama-3-8b-chat stop -> 200"] == [str(call) for call in harness.calls()]
    assert ["resume"] == [r.action for r in harness.audit() if r.action == "resume"]


async def test_a_suspension_beats_an_override(http: httpx.AsyncClient, harness: Harness) -> None:
    """Suspended and overridden: nothing is sent."""
    await harness.daemon.check_exceptions()
    await http.post("/api/v1/exceptions", json=body(kind="suspend", state=None, target={"all": True}), headers=OPERATOR)
    await http.post("/api/v1/exceptions", json=body(), headers=OPERATOR)
    harness.calls(clear=True)
    harness.advance(seconds=1)
    await harness.daemon.check_exceptions()
    assert [] == harness.calls()


async def test_a_policy_target_covers_a_deployment_that_appears_later(http: httpx.AsyncClient, harness: Harness) -> None:
    """An override of the office policy names the deployments it governs now, and covers by the
    policy's name any it governs later (here: one whose resolved ids do not include it)."""
    answer = (await http.post("/api/v1/exceptions", json=body(target={"policy": "office"}), headers=OPERATOR)).json()
    assert {"policy": "office"} == answer["target"]
    record = harness.store.get_exception(answer["id"])
    assert record is not None
    from scaler.daemon.exceptions_in_force import in_force

    later = UUID("99999999-9999-4999-8999-999999999999")
    assert record.id == (in_force([record], later, "office", harness.now()).override or record).id
    assert in_force([record], later, "other", harness.now()).override is None


async def test_deployments_list_their_active_exceptions(http: httpx.AsyncClient) -> None:
    """GET /api/v1/deployments: each deployment as in /status plus its exceptions in force."""
    created = (await http.post("/api/v1/exceptions", json=body(), headers=OPERATOR)).json()
    listed = (await http.get("/api/v1/deployments", headers=VIEWER)).json()["deployments"]
    one = (await http.get("/api/v1/deployments/llama-3-8b-chat", headers=VIEWER)).json()
    llama = next(item for item in listed if item["deployment_id"] == LLAMA_8B)
    assert [created["id"]] == [e["id"] for e in llama["exceptions"]] == [e["id"] for e in one["exceptions"]]
    assert ("alice", "eval tonight") == (one["exceptions"][0]["by"], one["exceptions"][0]["reason"])


async def test_exceptions_list_active_and_all(http: httpx.AsyncClient) -> None:
    """GET /api/v1/exceptions lists those in force; ?all=true those ended too; another value is a 400."""
    created = (await http.post("/api/v1/exceptions", json=body(), headers=OPERATOR)).json()
    await http.delete(f"/api/v1/exceptions/{created['id']}", headers=OPERATOR)
    active = (await http.get("/api/v1/exceptions", headers=VIEWER)).json()["exceptions"]
    everything = (await http.get("/api/v1/exceptions?all=true", headers=VIEWER)).json()["exceptions"]
    bad = await http.get("/api/v1/exceptions?all=yes", headers=VIEWER)
    assert ([], [created["id"]], 400) == (active, [e["id"] for e in everything], bad.status_code)


async def test_exceptions_survive_a_restart_without_repeating_an_action(
    http: httpx.AsyncClient, harness: Harness
) -> None:
    """After a restart the override is still in force and its start is not sent again."""
    await harness.daemon.check_exceptions()
    await http.post("/api/v1/exceptions", json=body(), headers=OPERATOR)
    harness.advance(seconds=1)
    await harness.daemon.check_exceptions()
    harness.calls(clear=True)
    harness.restart()
    harness.advance(minutes=1)
    await harness.cycle()
    document_ = await harness.daemon.status_document()
    llama = next(item for item in document_["deployments"] if item["deployment_id"] == LLAMA_8B)
    assert ([], "override") == ([str(c) for c in harness.calls()], llama["exceptions"][0]["kind"])
    assert llama["desired"]["source"].startswith("override:")


@pytest.mark.parametrize("written_by", ["this daemon's API", "another process"])
async def test_a_suspension_written_while_calls_are_in_flight_stops_the_rest_of_them(
    make_harness: Callable[..., Harness], tmp_path: Path, written_by: str
) -> None:
    """At 08:00 the office window opens: llama's plan is update_replicas then start. While the
    update is unanswered a suspension of llama is written (and answered 201) through the API, or
    by another process straight into the store: the update finishes, the start is never sent (it
    is recorded deferred, naming the suspension), and the next cycles leave llama alone."""
    stalls: list[Stalls] = []

    def network(inner):  # type: ignore[no-untyped-def]
        stalls.append(Stalls(inner))
        return stalls[0]

    harness = make_harness(
        OFFICE, start=at_utc(MONDAY, "06:00"), api_keys_file=keys_file(tmp_path / "keys.json"), network=network
    )
    await harness.cycle()
    harness.at(at_utc(MONDAY, "08:00"))
    harness.calls(clear=True)
    stalls[0].hold("/update-replicas/")
    boundary = asyncio.create_task(harness.daemon.wake_up())
    await stalls[0].wait_held("/update-replicas/")
    suspension = body(kind="suspend", state=None, reason="incident 4711")
    if written_by == "this daemon's API":
        async with client_of(harness) as http:
            created = await http.post("/api/v1/exceptions", json=suspension, headers=OPERATOR)
        assert 201 == created.status_code, created.text
        exception_id = created.json()["id"]
    else:
        exception_id = "written-elsewhere"
        harness.store.create_exception(
            ExceptionRecord(
                id=exception_id, kind="suspend", target_kind="deployment", target=LLAMA_8B,
                target_name="llama-3-8b-chat", deployment_ids=(UUID(LLAMA_8B),), created_at=harness.now(),
                until=harness.now() + timedelta(hours=1), reason="incident 4711", created_by="bob",
            )
        )  # fmt: skip
    stalls[0].release("/update-replicas/")
    await boundary
    harness.advance(seconds=1)
    await harness.daemon.check_exceptions()
    await harness.cycle()
    assert ["Mon 08:00:00 llama-3-8b-chat update_replicas 1..3 -> 200"] == [str(c) for c in harness.calls()]
    (deferred,) = harness.audit(results=["deferred"])
    assert ("start", f"not sent: suspended since the plan was decided (exception {exception_id} by ") == (
        deferred.action,
        (deferred.platform_message or "")[: len(f"not sent: suspended since the plan was decided (exception {exception_id} by ")],
    ), deferred
