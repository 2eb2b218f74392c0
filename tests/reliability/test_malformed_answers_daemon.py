"""Scenario 4, malformed platform answers, the daemon's part: one deployment's damaged answer
costs that deployment its cycle, never the others theirs, never the process.

The daemon runs in process on virtual time (a slow drip costs no real time), its cycles
driven by the test. At 08:00 five deployments of the default seed have a transition
due; the platform's answers about one of them (its list item, its health, the answer
to its call) or the whole list are damaged in every way the client knows: not JSON, an
HTML page (with 200 and with 502), fields missing or of the wrong type, statuses and
health values nobody knows, an empty body, 10 MiB, a slow drip. Each time:

- the damage is logged and counted (``scaler_api_malformed_responses_total`` or
  ``scaler_api_request_errors_total`` for the endpoint), and no exception leaves a job;
- the damaged deployment gets no successful call in that cycle (its list item unusable,
  its call failed), and every other deployment's 08:00 transition is applied;
- at the next cycle, the damage gone, the damaged deployment's transition is applied,
  and no transition is applied twice.

A damaged health answer is an unknown health: no health rule acts on it (the rule's
last good observation is not taken as still true). An empty list after a full one
stops nothing and forgets nothing: what was applied stays applied, and when the
deployments are listed again nothing is applied a second time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
import structlog
from structlog.testing import capture_logs

from scaler.store import ActionIntent
from tests.daemon.harness import CANARY, MISTRAL, MONDAY, NAMES, RERANKER, TMP_QWEN, WHISPER, at_utc
from tests.daemon.policies import OFFICE, RESTART, document
from tests.reliability.figures import ScenarioFigures
from tests.reliability.live import Live, Network, live_daemon

pytestmark = pytest.mark.scenario(4)

#: At 08:00 UTC: llama-3-8b-chat opens (1..3, started), whisper-v3 and sdxl-image-gen stop,
#: mistral-7b-support goes from 1..1 to 1..2, embeddings-bge-large from 2..3 to 2..4.
EARLY = """
  - name: early-running
    match: {names: [whisper-v3, sdxl-image-gen]}
    default: stopped
    windows:
      - {name: early, between: "00:00-08:00", state: running}
  - name: early-bounds
    match: {names: [mistral-7b-support]}
    default: {min_replicas: 1, max_replicas: 2}
    windows:
      - {name: early, between: "00:00-08:00", state: {min_replicas: 1, max_replicas: 1}}
  - name: early-embeddings
    match: {names: [embeddings-bge-large]}
    default: {min_replicas: 2, max_replicas: 4}
    windows:
      - {name: early, between: "00:00-08:00", state: {min_replicas: 2, max_replicas: 3}}
"""
POLICIES = document(OFFICE, EARLY)
#: At 08:00, what each deployment is sent (the reference, without damage).
AT_EIGHT = {
    "llama-3-8b-chat": ["update_replicas 1..3", "start"],
    "whisper-v3": ["stop"],
    "sdxl-image-gen": ["stop"],
    "mistral-7b-support": ["update_replicas 1..2"],
    "embeddings-bge-large": ["update_replicas 2..4"],
}
#: reranker-ms-marco and llama-3-8b-chat-canary restart after 5 minutes Unhealthy.
RESTARTS = document(RESTART.replace("names: [reranker-ms-marco]", "names: [reranker-ms-marco, llama-3-8b-chat-canary]"))

TEN_MIB = 10 * 1024 * 1024
LOGIN_PAGE = b"<!DOCTYPE html><html><body><form action='/login'>Sign in</form></body></html>"


async def dripping(body: bytes) -> AsyncIterator[bytes]:
    """``body`` a byte a (virtual) second: past the client's per-attempt deadline (20 s) for any answer."""
    for start in range(len(body)):
        await asyncio.sleep(1)
        yield body[start : start + 1]


def damaged_body(kind: str, endpoint: str, answer: httpx.Response) -> httpx.Response:
    """The answer ``answer`` damaged as ``kind`` says (the platform acted already)."""
    json_type = {"content-type": "application/json"}
    if kind == "non_json":
        return httpx.Response(200, text="upstream connect error or disconnect/reset before headers", headers={"content-type": "text/plain"})
    if kind == "html_200":
        return httpx.Response(200, content=LOGIN_PAGE, headers={"content-type": "text/html"})
    if kind == "html_502":
        return httpx.Response(502, content=b"<html><h1>502 Bad Gateway</h1></html>", headers={"content-type": "text/html"})
    if kind == "empty_body":
        return httpx.Response(200, content=b"", headers=json_type)
    if kind == "large":
        return httpx.Response(200, content=b"[" + b" " * TEN_MIB + b"]", headers=json_type)
    if kind == "slow_drip":
        return httpx.Response(200, content=dripping(answer.content), headers=json_type)
    body = answer.json()
    if endpoint == "get_health":
        if kind == "missing_fields":
            body = {"pods": body.get("pods")}
        elif kind == "wrong_types":
            body = {"data": 5, "pods": "three", "messages": 7}
        elif kind == "unknown_value":
            body = {**body, "data": "Overheating"}
    elif kind == "missing_fields":
        body = {}
    elif kind == "wrong_types":
        body = {"message": ["not", "text"], "update_result": 5}
    return httpx.Response(200, content=json.dumps(body).encode(), headers=json_type)


def damaged_item(kind: str, item: dict[str, Any]) -> Any:
    """One list item damaged as ``kind`` says."""
    if kind == "missing_fields":
        return {key: value for key, value in item.items() if key not in ("deployment_id", "status")}
    if kind == "wrong_types":
        return {**item, "deployment_id": 12345, "accelerator_count": "three"}
    if kind == "unknown_status":
        return {**item, "status": "HIBERNATING"}
    if kind == "not_an_object":
        return "deployment"
    raise ValueError(kind)


@dataclass
class Damage:
    """Damage the answers about ``deployment`` (None: the whole list) on ``endpoint``, while ``active``."""

    kind: str
    endpoint: str
    deployment: str | None
    active: bool = False
    damaged: int = 0

    async def __call__(self, request: httpx.Request, network: Network) -> httpx.Response | None:
        if not self.active:
            return None
        endpoint = endpoint_of(request)
        if endpoint != self.endpoint:
            return None
        if self.deployment is not None and endpoint != "list_deployments" and self.deployment not in request.url.path:
            return None
        answer = await network.forward(request)
        if answer.status_code != 200:
            return answer
        self.damaged += 1
        if endpoint == "list_deployments" and self.deployment is not None:
            items = [damaged_item(self.kind, item) if item.get("deployment_id") == self.deployment else item for item in answer.json()]
            return httpx.Response(200, content=json.dumps(items).encode(), headers={"content-type": "application/json"})
        if self.kind == "empty_list":
            return httpx.Response(200, content=b"[]", headers={"content-type": "application/json"})
        return damaged_body(self.kind, endpoint, answer)


def endpoint_of(request: httpx.Request) -> str:
    path = request.url.path
    if path.startswith("/deployments/list"):
        return "list_deployments"
    if "fetch-status" in path:
        return "get_health"
    if "update-replicas" in path:
        return "update_replicas"
    if "startstop" in path:
        return "startstop"
    return "delete"


def counted(live: Live, endpoint: str) -> float:
    """Malformed answers and failed calls counted for ``endpoint``."""
    registry = live.harness.registry
    total = registry.get_sample_value("scaler_api_malformed_responses_total", {"endpoint": endpoint}) or 0.0
    for metric in registry.collect():
        if metric.name == "scaler_api_request_errors":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total") and s.labels["endpoint"] == endpoint)
    return total


def calls_since(live: Live, since: datetime) -> dict[str, list[str]]:
    """Each deployment's actions recorded as succeeded since ``since``, as the simulator names them."""
    calls: dict[str, list[str]] = {}
    for record in live.harness.audit(results=["success"]):
        if record.started_at >= since:
            action = record.action
            if action == "update_replicas":
                action = f"update_replicas {record.parameters['min_replicas']}..{record.parameters['max_replicas']}"
            calls.setdefault(record.deployment_name, []).append(action)
    return calls


@pytest.fixture(autouse=True)
def _info_structlog() -> Iterator[None]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    yield
    structlog.reset_defaults()


MUTATION_KINDS = ["non_json", "html_200", "html_502", "missing_fields", "wrong_types", "empty_body", "large", "slow_drip"]
#: A 2xx answer to a call without its optional fields, or without a body, is the platform's acknowledgement:
#: the call is done (the client's part of the scenario shows it is parsed so).
ACKNOWLEDGED = {"missing_fields", "empty_body"}
ITEM_KINDS = ["missing_fields", "wrong_types", "unknown_status", "not_an_object"]
CASES = [
    *(("list item", kind, "list_deployments", MISTRAL) for kind in ITEM_KINDS),
    *(("answer to its call", kind, "update_replicas", MISTRAL) for kind in MUTATION_KINDS),
    *(("answer to its call", kind, "startstop", WHISPER) for kind in ("non_json", "html_200", "large", "slow_drip")),
]


@pytest.mark.parametrize(("where", "kind", "endpoint", "target"), CASES, ids=[f"{c[0]}-{c[2]}-{c[1]}" for c in CASES])
async def test_one_damaged_answer_costs_one_deployment_its_cycle_and_no_other(
    tmp_path: Path, figures: ScenarioFigures, where: str, kind: str, endpoint: str, target: str
) -> None:
    """The damaged deployment is skipped at 08:00 and caught up at 08:01; the four others are applied at 08:00, once."""
    damage = Damage(kind, endpoint, target)
    name = NAMES[target]
    async with live_daemon(tmp_path, policies=POLICIES, start=at_utc(MONDAY, "07:59"), fault=damage, scheduler=False) as live:
        await live.harness.cycle()
        await live.time.sleep_until(at_utc(MONDAY, "08:00"))
        damage.active = True
        with capture_logs() as logs:
            try:
                summary = await live.harness.cycle()
            except Exception as error:  # noqa: BLE001 - what this scenario looks for
                figures.crash(f"{where} {kind}: the cycle raised {error!r}")
                raise
        damage.active = False
        during = calls_since(live, at_utc(MONDAY, "08:00"))
        errors = counted(live, endpoint)
        unknown_statuses = sum(
            live.harness.sample("scaler_deployment_status", deployment=name, deployment_id=target, status="UNKNOWN") or 0.0
            for name in [NAMES[target]]
        )
        await live.time.sleep_until(at_utc(MONDAY, "08:01"))
        await live.harness.cycle()
        total = calls_since(live, at_utc(MONDAY, "08:00"))
    expected_actions = sum(len(actions) for actions in AT_EIGHT.values())
    figures.add(cases=1, faults=damage.damaged, actions_expected=expected_actions, crashes=0)
    extra = sum(max(0, len(total.get(deployment, [])) - len(actions)) for deployment, actions in AT_EIGHT.items())
    others = {deployment: actions for deployment, actions in during.items() if deployment != name}
    expected_others = {deployment: actions for deployment, actions in AT_EIGHT.items() if deployment != name}
    assert expected_others == others
    if endpoint != "list_deployments" and kind in ACKNOWLEDGED:
        applied = sum(len(actions) for actions in total.values()) - extra
        figures.add(actions_applied=applied, duplicates=extra, losses=expected_actions - applied)
        assert (AT_EIGHT[name], AT_EIGHT[name]) == (during.get(name), total.get(name))
        return
    assert [] == during.get(name, [])
    caught_up = total.get(name, [])
    # The platform took the stop before its answer was damaged: the next cycle sees it stopped, no call needed.
    assert caught_up in (AT_EIGHT[name], [])
    if caught_up == []:
        assert ("startstop", "stop") == (endpoint, AT_EIGHT[name][0])
    applied = sum(len(actions) for actions in total.values()) - extra + (0 if caught_up else len(AT_EIGHT[name]))
    figures.add(actions_applied=applied, duplicates=extra, losses=expected_actions - applied)
    events = {line["event"] for line in logs}
    if kind == "unknown_status":  # an answer, not an error: the status gauge shows it, one warning says it
        assert (1, 1.0) == (damage.damaged, unknown_statuses)
        assert "deployment_status_unknown" in events
    else:
        assert 1 <= damage.damaged and 1 <= errors
        assert events & {"api_malformed_response", "api_malformed_item", "api_request"}, events
    assert summary.considered >= 4


HEALTH_KINDS = [
    "non_json",
    "html_200",
    "html_502",
    "missing_fields",
    "wrong_types",
    "unknown_value",
    "empty_body",
    "large",
    "slow_drip",
]


@pytest.mark.parametrize("kind", HEALTH_KINDS)
async def test_a_damaged_health_answer_is_an_unknown_health_no_rule_acts_on(
    tmp_path: Path, figures: ScenarioFigures, kind: str
) -> None:
    """Both Unhealthy from 07:00, restart after 5 minutes: the canary is restarted at 07:05; the reranker, whose
    answers are damaged from 07:00:30 to 07:08:30, is not restarted on its last good answer, only once one can be
    read again."""
    damage = Damage(kind, "get_health", RERANKER)
    async with live_daemon(tmp_path, policies=RESTARTS, start=at_utc(MONDAY, "07:00"), fault=damage, scheduler=False) as live:
        harness = live.harness
        for deployment_id in (RERANKER, CANARY):
            await harness.control("PUT", f"deployments/{deployment_id}/health", {"data": "Unhealthy"})
        await harness.cycle()
        await harness.poll_health()
        damage.active = True
        cleared: datetime | None = None
        with capture_logs() as logs:
            for step in range(1, 31):  # a health poll and a cycle every 30 s, as the daemon's jobs run
                await live.time.sleep_until(at_utc(MONDAY, "07:00") + timedelta(seconds=30 * step))
                if cleared is None and live.time.now() >= at_utc(MONDAY, "07:08:30"):
                    damage.active, cleared = False, live.time.now()
                try:
                    await harness.poll_health()
                    await harness.cycle()
                except Exception as error:  # noqa: BLE001 - what this scenario looks for
                    figures.crash(f"health {kind}: {error!r}")
                    raise
        restarts = {
            NAMES[str(record.deployment_id)]: record.started_at
            for record in harness.audit(results=["success"])
            if record.action == "restart"
        }
        errors = counted(live, "get_health")
    figures.add(cases=1, faults=damage.damaged, actions_expected=2, crashes=0)
    assert cleared is not None
    # The 5 minutes count again from the first good answer only when the damage was a value (Overheating is an
    # answer: the Unhealthy episode ended); otherwise from 07:00, and the restart waits for a readable answer.
    due = cleared + timedelta(minutes=5 if kind == "unknown_value" else 0)
    reranker, canary = restarts.get("reranker-ms-marco"), restarts.get("llama-3-8b-chat-canary")
    on_time = reranker is not None and due <= reranker < due + timedelta(minutes=1)
    figures.add(actions_applied=len(restarts), duplicates=0, losses=0 if on_time else 1)
    five = at_utc(MONDAY, "07:05")
    assert canary is not None and five <= canary < five + timedelta(minutes=1), restarts
    assert on_time, (due, restarts)
    assert 8 <= damage.damaged and (kind == "unknown_value" or 8 <= errors)
    events = {line["event"] for line in logs}
    assert events & {"api_malformed_response", "api_request", "health_unrecognized"}, events


LIST_KINDS = ["non_json", "html_200", "html_502", "wrong_types", "empty_body", "large", "slow_drip"]


@pytest.mark.parametrize("kind", LIST_KINDS)
async def test_a_damaged_list_fails_the_cycle_cleanly_and_the_boundary_still_acts(
    tmp_path: Path, figures: ScenarioFigures, kind: str
) -> None:
    """While the whole list is damaged: the 08:00 wake-up acts from the last good list; the 08:00:30 cycle fails,
    logged and counted, /readyz false; the next good list finds nothing left to do and repeats nothing."""
    damage = Damage(kind, "list_deployments", None)
    async with live_daemon(tmp_path, policies=POLICIES, start=at_utc(MONDAY, "07:59"), fault=damage, scheduler=False) as live:
        harness = live.harness
        await harness.cycle()
        damage.active = True
        with capture_logs() as logs:
            await live.time.sleep_until(at_utc(MONDAY, "08:00"))
            await harness.daemon.wake_up()
            await live.time.sleep_until(at_utc(MONDAY, "08:00:30"))
            try:
                summary = await harness.cycle()
            except Exception as error:  # noqa: BLE001 - what this scenario looks for
                figures.crash(f"list {kind}: {error!r}")
                raise
        ready, checks = harness.daemon.readiness()
        damage.active = False
        errors = counted(live, "list_deployments")
        await live.time.sleep_until(at_utc(MONDAY, "08:01"))
        await harness.cycle()
        recovered = harness.daemon.readiness()[0]
        total = calls_since(live, at_utc(MONDAY, "08:00"))
    expected_actions = sum(len(actions) for actions in AT_EIGHT.values())
    applied = sum(len(actions) for actions in total.values())
    figures.add(
        cases=1,
        faults=damage.damaged,
        actions_expected=expected_actions,
        actions_applied=applied,
        duplicates=max(0, applied - expected_actions),
        losses=max(0, expected_actions - applied),
        crashes=0,
    )
    assert AT_EIGHT == total
    assert summary.error is not None and "could not be listed" in summary.error
    assert (False, "the last list of the deployments failed", True) == (ready, checks["api"]["detail"], recovered)
    assert 1 <= damage.damaged and 1 <= errors
    assert "inventory_failed" in {line["event"] for line in logs}


async def test_an_empty_list_after_a_full_one_stops_nothing_and_forgets_nothing(
    tmp_path: Path, figures: ScenarioFigures
) -> None:
    """An empty list at 07:59:30: no call, every applied state kept; the full list at 08:00:30 brings the 08:00
    transitions, each once, and nothing first-sight again."""
    damage = Damage("empty_list", "list_deployments", None)
    async with live_daemon(tmp_path, policies=POLICIES, start=at_utc(MONDAY, "07:59"), fault=damage, scheduler=False) as live:
        harness = live.harness
        await harness.cycle()
        applied_before = harness.store.all_applied()
        first_sight = calls_since(live, at_utc(MONDAY, "07:59"))
        damage.active = True
        await live.time.sleep_until(at_utc(MONDAY, "07:59:30"))
        with capture_logs() as logs:
            summary = await harness.cycle()
        damage.active = False
        during = calls_since(live, at_utc(MONDAY, "07:59:30"))
        applied_during = harness.store.all_applied()
        shown = len(harness.daemon.board.views)
        await live.time.sleep_until(at_utc(MONDAY, "08:00"))
        await harness.daemon.wake_up()
        await live.time.sleep_until(at_utc(MONDAY, "08:00:30"))
        await harness.cycle()
        total = calls_since(live, at_utc(MONDAY, "07:59:30"))
    applied = sum(len(actions) for actions in total.values())
    expected_actions = sum(len(actions) for actions in AT_EIGHT.values())
    figures.add(
        cases=1,
        faults=1,
        actions_expected=expected_actions,
        actions_applied=applied,
        duplicates=max(0, applied - expected_actions),
        losses=max(0, expected_actions - applied),
        crashes=0,
    )
    assert first_sight and {} == during and applied_before == applied_during
    assert (None, 0, 0) == (summary.error, summary.considered, shown)
    assert AT_EIGHT == total
    assert not [line for line in logs if line.get("log_level") == "error"]


async def test_a_pending_deletion_is_not_confirmed_by_an_empty_list(tmp_path: Path, figures: ScenarioFigures) -> None:
    """A crash left a deletion pending and the first list after the restart is empty: the deletion is not taken
    for done; the platform is asked, and the deployment, still there, is deleted once, at the next cycle."""
    expiring = document(
        """
  - name: temporary
    match: {names: ["tmp-*"]}
    default: running
    expire: {after: 1h}
"""
    )
    damage = Damage("empty_list", "list_deployments", None)
    async with live_daemon(
        tmp_path, policies=expiring, start=at_utc(MONDAY, "06:00"), fault=damage, scheduler=False, allow_delete=True
    ) as live:
        harness = live.harness
        await harness.cycle()
        await live.time.sleep_until(at_utc(MONDAY, "07:00:30"))
        record_id = harness.store.begin_action(
            ActionIntent(
                deployment_id=UUID(TMP_QWEN),
                deployment_name="tmp-eval-qwen-32b",
                action="delete",
                started_at=harness.now(),
                parameters={"source": "expire"},
                reason="expired at 2026-03-02T07:00:00Z",
                policy="temporary",
            )
        )
        await live.restart()
        damage.active = True
        await harness.cycle()
        damage.active = False
        settled = harness.store.get_action(record_id)
        await live.time.sleep_until(at_utc(MONDAY, "07:02"))
        await harness.cycle()
        deletions = [call for call in live.network.mutations() if call.action == "delete"]
        successes = [r for r in harness.audit(results=["success"]) if r.action == "delete"]
    figures.add(cases=1, faults=1, actions_expected=1, actions_applied=len(deletions), crashes=0)
    figures.add(duplicates=max(0, len(successes) - 1), losses=0 if deletions else 1)
    assert settled is not None and "error" == settled.result
    assert (1, 1) == (len(deletions), len(successes))
