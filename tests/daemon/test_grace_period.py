"""New deployments get a grace period: left alone after they first appear, then their desired state once.

A deployment is new when the store first sees it in an inventory after the store's first
one; on a fresh store every deployment is known. Everything runs on the harness's
virtual clock against the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import structlog

from tests.daemon.harness import MONDAY, Harness, at_utc
from tests.daemon.policies import document

#: Anything named late-* is stopped outside 08:00-19:00 UTC; trial-* likewise with a 30-minute grace
#: period of its own, and instant-* with none.
LATE = document(
    """
  - name: late
    match: {names: ["late-*"]}
    default: stopped
    windows:
      - name: office
        between: "08:00-19:00"
        state: running
  - name: trial
    match: {names: ["trial-*"]}
    grace_period: 30m
    default: stopped
  - name: instant
    match: {names: ["instant-*"]}
    grace_period: 0s
    default: stopped
"""
)

LATE_LLM = "6b1f0c2e-0000-4000-8000-0000000000a1"


def deployment(deployment_id: str, name: str) -> dict[str, Any]:
    """A running deployment in the simulator's seed shape."""
    return {
        "deployment_id": deployment_id,
        "deployment_name": name,
        "model_repo_name": name,
        "accelerator_type": ["nvidia-l4"],
        "status": "DEPLOYED",
    }


async def first_inventory_then_add(harness: Harness, *added: dict[str, Any]) -> None:
    """Run the first inventory at the harness's instant, then add ``added`` to the platform a minute later."""
    await harness.cycle()
    harness.calls(clear=True)
    harness.advance(minutes=1)
    await harness.control("POST", "deployments", list(added))


async def test_a_new_deployment_is_left_alone_until_its_grace_ends_then_stopped_once(
    make_harness: Callable[..., Harness],
) -> None:
    """Created at 20:01 outside its policy's hours, first seen at 20:05: nothing is sent until 20:20 (the
    default 15 minutes), then one stop, at the boundary wake-up; /status shows source grace and its end."""
    harness = make_harness(LATE, start=at_utc(MONDAY, "20:00"))
    await first_inventory_then_add(harness, deployment(LATE_LLM, "late-llm"))
    with structlog.testing.capture_logs() as logs:
        harness.at(at_utc(MONDAY, "20:05"))
        await harness.cycle()
        entry = next(
            item
            for item in (await harness.daemon.status_document())["deployments"]
            if item["deployment_id"] == LATE_LLM
        )
        before = harness.calls()
        await harness.run_until(at_utc(MONDAY, "21:00"), interval=timedelta(minutes=5))
    assert [] == before
    assert (("unchanged", "grace"), "2026-03-02T20:20:00Z", "2026-03-02T20:20:00Z") == (
        (entry["desired"]["state"], entry["desired"]["source"]),
        entry["grace_until"],
        entry["next_transition"]["at"],
    )
    assert "grace period until 2026-03-02T20:20:00Z: a new deployment is left alone" == entry["skipped"]
    assert ["Mon 20:20:00 late-llm stop -> 200"] == [str(call) for call in harness.calls()]
    assert [("grace_period_started", "2026-03-02T20:20:00Z"), ("grace_period_ended", None)] == [
        (line["event"], line.get("grace_until")) for line in logs if line["event"].startswith("grace_period")
    ]
    first_sight = [record for record in harness.audit() if record.deployment_id == UUID(LATE_LLM)]
    assert [("stop", "success")] == [(record.action, record.result) for record in first_sight]


async def test_a_restart_keeps_the_grace_period_of_a_new_deployment(make_harness: Callable[..., Harness]) -> None:
    """The first sighting is stored: a daemon restarted during the grace period still leaves the deployment
    alone, and stops it when the grace period that began before the restart ends."""
    harness = make_harness(LATE, start=at_utc(MONDAY, "20:00"))
    await first_inventory_then_add(harness, deployment(LATE_LLM, "late-llm"))
    harness.at(at_utc(MONDAY, "20:05"))
    await harness.cycle()
    harness.at(at_utc(MONDAY, "20:10"))
    harness.restart()
    await harness.cycle()
    during = harness.calls()
    await harness.run_until(at_utc(MONDAY, "21:00"), interval=timedelta(minutes=5))
    assert [] == during
    assert ["Mon 20:20:00 late-llm stop -> 200"] == [str(call) for call in harness.calls()]


async def test_deployments_of_the_first_inventory_are_known_not_new(make_harness: Callable[..., Harness]) -> None:
    """On a fresh store the scaler is new, not the deployments: one running at the first inventory is stopped
    at once, and the store remembers when that first inventory was."""
    harness = make_harness(LATE, start=at_utc(MONDAY, "20:00"))
    await harness.control("POST", "deployments", [deployment(LATE_LLM, "late-llm")])
    await harness.cycle()
    assert ["Mon 20:00:00 late-llm stop -> 200"] == [str(call) for call in harness.calls()]
    assert harness.store.first_inventory_at() == at_utc(MONDAY, "20:00")


async def test_a_policy_grace_period_overrides_the_setting(make_harness: Callable[..., Harness]) -> None:
    """``grace_period: 30m`` leaves its new deployment alone for 30 minutes, ``0s`` for none, whatever
    SCALER_NEW_DEPLOYMENT_GRACE_SECONDS says (here 600)."""
    harness = make_harness(LATE, start=at_utc(MONDAY, "20:00"), new_deployment_grace_seconds=600)
    await first_inventory_then_add(
        harness,
        deployment("6b1f0c2e-0000-4000-8000-0000000000b1", "trial-llm"),
        deployment("6b1f0c2e-0000-4000-8000-0000000000c1", "instant-llm"),
        deployment(LATE_LLM, "late-llm"),
    )
    await harness.cycle()
    await harness.run_until(at_utc(MONDAY, "21:00"), interval=timedelta(minutes=5))
    assert [
        "Mon 20:01:00 instant-llm stop -> 200",
        "Mon 20:11:00 late-llm stop -> 200",
        "Mon 20:31:00 trial-llm stop -> 200",
    ] == [str(call) for call in harness.calls()]
