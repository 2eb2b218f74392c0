"""The plan: JSON shape, transitions, conflicts, skipped deployments and totals."""

from __future__ import annotations

import json
from datetime import timedelta

from scaler.policy.model import DesiredState
from scaler.policy.plan import ExceptionSpan, build_plan

from .helpers import deployment, policy_set, utc

POLICIES = policy_set(
    """
    - name: office
      match: {names: ["llama-*"]}
      default: stopped
      windows:
        - name: day
          between: "Mon-Fri 09:00-17:00"
          state: {min_replicas: 1, max_replicas: 2}
        - name: late
          between: "Mon-Fri 17:00-19:00"
          state: {min_replicas: 1, max_replicas: 2}
    - name: tie-a
      match: {names: ["twin"]}
    - name: tie-b
      match: {names: ["twin"]}
    """
)
MONDAY = utc("2026-03-02T00:00")
TUESDAY = utc("2026-03-03T00:00")


def plan_json(*deployments, start=MONDAY, until=TUESDAY) -> dict:
    return json.loads(json.dumps(build_plan(POLICIES, deployments, start, until).to_json()))


def test_plan_json_has_exactly_the_documented_keys():
    """The plan object, its deployments, transitions and totals carry exactly the documented keys."""
    plan = plan_json(deployment("llama-8b"))
    assert {"from", "until", "deployments", "totals"} == set(plan)
    entry = plan["deployments"][0]
    assert {
        "deployment_id", "deployment_name", "accelerator_type", "accelerator_count", "policy", "conflict",
        "transitions", "grace_until", "skipped_dates", "lead_times", "exceptions", "gpu_hours", "cost",
    } == set(entry)
    assert {"at", "state", "min_replicas", "max_replicas", "source"} == set(entry["transitions"][0])
    assert {"gpu_hours", "cost", "savings_percent"} == set(plan["totals"])
    assert ("2026-03-02T00:00:00Z", "2026-03-03T00:00:00Z") == (plan["from"], plan["until"])


def test_transitions_start_at_from_and_merge_equal_states():
    """The first transition is at from; windows with the same state one after another are one transition."""
    transitions = plan_json(deployment("llama-8b"))["deployments"][0]["transitions"]
    assert [
        {"at": "2026-03-02T00:00:00Z", "state": "stopped", "min_replicas": None, "max_replicas": None, "source": "default"},
        {"at": "2026-03-02T09:00:00Z", "state": "running", "min_replicas": 1, "max_replicas": 2, "source": "window:day"},
        {"at": "2026-03-02T19:00:00Z", "state": "stopped", "min_replicas": None, "max_replicas": None, "source": "default"},
    ] == transitions


def test_gpu_hours_and_cost_of_a_day():
    """10 hours at min 1 against a baseline of 1 on an L4: 24 baseline GPU-hours, 10 planned, at $1.50."""
    entry = plan_json(deployment("llama-8b"))["deployments"][0]
    assert ({"baseline": 24.0, "planned": 10.0}, {"baseline": 36.0, "planned": 15.0}) == (entry["gpu_hours"], entry["cost"])


def test_conflict_has_one_unchanged_transition():
    """A deployment in conflict: policy null, conflict listed, one unchanged transition with source none."""
    entry = plan_json(deployment("twin"))["deployments"][0]
    assert (None, ["tie-a", "tie-b"]) == (entry["policy"], entry["conflict"])
    assert [{"at": "2026-03-02T00:00:00Z", "state": "unchanged", "min_replicas": None, "max_replicas": None, "source": "none"}] == entry["transitions"]


def test_failed_deployments_are_left_out():
    """FAILED, DELETING and DELETED deployments are not planned."""
    plan = build_plan(POLICIES, [deployment("llama-a", status="FAILED"), deployment("llama-b")], MONDAY, TUESDAY)
    assert (["llama-b"], ["llama-a"]) == (
        [entry.deployment.deployment_name for entry in plan.deployments],
        [skipped.deployment_name for skipped in plan.skipped],
    )


def test_totals_and_percent_of_cost():
    """Totals add up; with every price known the saving is a percentage of cost."""
    totals = plan_json(deployment("llama-8b"), deployment("other", accelerator="nvidia-h100", count=2))["totals"]
    assert {"baseline": 72.0, "planned": 58.0} == totals["gpu_hours"]
    assert {"baseline": 228.0, "planned": 207.0} == totals["cost"]
    assert round(100 * 21 / 228, 4) == totals["savings_percent"]


def test_unknown_price_makes_totals_unknown_and_percent_of_gpu_hours():
    """One unknown price: cost totals null, the saving is a percentage of GPU-hours."""
    totals = plan_json(deployment("llama-8b"), deployment("tpu-thing", accelerator="tpu-v5"))["totals"]
    assert {"baseline": None, "planned": None} == totals["cost"]
    assert round(100 * 14 / 48, 4) == totals["savings_percent"]


def test_the_largest_accepted_replica_counts_plan_to_finite_figures():
    """10,000 replicas (the language's limit) on a 1,000-GPU deployment for a year: GPU-hours and cost stay finite."""
    largest = policy_set(
        """
        - name: big
          match: {names: ["*"]}
          baseline_replicas: 10000
          default: {min_replicas: 10000, max_replicas: 10000}
          windows:
            - between: "Mon-Fri 09:00-17:00"
              state: stopped
        """
    )
    result = build_plan(largest, [deployment("huge", count=1000)], MONDAY, MONDAY + (TUESDAY - MONDAY) * 366)
    totals = result.to_json()["totals"]
    figures = [*totals["gpu_hours"].values(), *totals["cost"].values(), totals["savings_percent"]]
    assert [] == [figure for figure in figures if not 0 < figure < float("inf")]


def test_a_new_deployment_runs_at_its_baseline_until_its_grace_period_ends():
    """First seen at 08:00 with a 2-hour grace: unchanged (grace) from midnight, then the window from 10:00;
    the 10 hours left alone count at the baseline (1 replica), then the window's 9 hours: 19 GPU-hours."""
    llama = deployment("llama-8b")
    plan = build_plan(
        POLICIES, [llama], MONDAY, TUESDAY,
        new_since={llama.deployment_id: utc("2026-03-02T08:00")}, default_grace=timedelta(hours=2),
    )
    entry = json.loads(json.dumps(plan.to_json()))["deployments"][0]
    assert [
        ("2026-03-02T00:00:00Z", "unchanged", "grace"),
        ("2026-03-02T10:00:00Z", "running", "window:day"),
        ("2026-03-02T19:00:00Z", "stopped", "default"),
    ] == [(t["at"], t["state"], t["source"]) for t in entry["transitions"]]
    assert ("2026-03-02T10:00:00Z", 19.0) == (entry["grace_until"], entry["gpu_hours"]["planned"])


def test_exceptions_are_laid_over_the_schedule_and_listed():
    """An override to running 20:00-23:00 keeps the stopped llama up (source override:<id>); a suspension
    10:00-12:00 leaves it alone inside its window (unchanged, suspended:<id>); the window's state comes
    back at the suspension's end and the default's at the override's. Usage counts 8 running hours plus
    2 left alone (the baseline, 1) plus 3 overridden: 13 GPU-hours."""
    llama = deployment("llama-8b")
    spans = [
        ExceptionSpan("s1", "suspend", None, utc("2026-03-02T10:00"), utc("2026-03-02T12:00"), "bob", "incident"),
        ExceptionSpan("o1", "override", DesiredState.running(), utc("2026-03-02T20:00"), utc("2026-03-02T23:00"),
                      "alice", "eval tonight"),
    ]  # fmt: skip
    plan = build_plan(POLICIES, [llama], MONDAY, TUESDAY, exceptions={llama.deployment_id: spans})
    (entry,) = plan.to_json()["deployments"]
    assert [
        ("2026-03-02T00:00:00Z", "stopped", "default"),
        ("2026-03-02T09:00:00Z", "running", "window:day"),
        ("2026-03-02T10:00:00Z", "unchanged", "suspended:s1"),
        ("2026-03-02T12:00:00Z", "running", "window:day"),
        ("2026-03-02T19:00:00Z", "stopped", "default"),
        ("2026-03-02T20:00:00Z", "running", "override:o1"),
        ("2026-03-02T23:00:00Z", "stopped", "default"),
    ] == [(t["at"], t["state"], t["source"]) for t in entry["transitions"]]
    assert ["s1", "o1"] == [e["id"] for e in entry["exceptions"]]
    assert {"id": "o1", "kind": "override", "state": "running", "from": "2026-03-02T20:00:00Z",
            "until": "2026-03-02T23:00:00Z", "by": "alice", "reason": "eval tonight"} == entry["exceptions"][1]  # fmt: skip
    assert {"baseline": 24.0, "planned": 13.0} == entry["gpu_hours"]


def test_an_exception_outside_the_period_or_an_override_of_an_ungoverned_deployment_changes_nothing():
    """Exceptions that end before the period or begin after it, and an override of a deployment no policy
    governs, leave the plan as it was."""
    llama, other = deployment("llama-8b"), deployment("other")
    spans = [
        ExceptionSpan("early", "override", DesiredState.running(), utc("2026-03-01T10:00"), MONDAY, "a", "r"),
        ExceptionSpan("late", "suspend", None, TUESDAY, utc("2026-03-03T05:00"), "a", "r"),
    ]
    override = [ExceptionSpan("o", "override", DesiredState.stopped(), MONDAY, TUESDAY, "a", "r")]
    planned = build_plan(POLICIES, [llama, other], MONDAY, TUESDAY,
                         exceptions={llama.deployment_id: spans, other.deployment_id: override})  # fmt: skip
    assert build_plan(POLICIES, [llama, other], MONDAY, TUESDAY).to_json() == planned.to_json()


def test_a_deployment_found_stopped_saves_nothing_of_the_scalers_until_the_plan_wants_it_up():
    """llama-8b listed SCALED_DOWN, never touched: midnight to 09:00 it would be stopped without the scaler too
    (no baseline, no saving); from 09:00 the plan runs it, and its 19:00 stop is the scaler's (5 h saved)."""
    found = deployment("llama-8b", status="SCALED_DOWN")
    entry = plan_json(found)["deployments"][0]
    assert ({"baseline": 15.0, "planned": 10.0}, {"baseline": 22.5, "planned": 15.0}) == (entry["gpu_hours"], entry["cost"])


def test_a_deployment_found_stopped_has_no_baseline_until_the_plan_first_wants_it_up():
    """The entry says until when it has no baseline (09:00, the window's opening), as ``scaler simulate``
    reads it to split the plan's GPU-hours over the week; a touched one has a baseline throughout."""
    found = deployment("llama-8b", status="SCALED_DOWN")
    entry = build_plan(POLICIES, [found], MONDAY, TUESDAY).deployments[0]
    touched = build_plan(POLICIES, [found], MONDAY, TUESDAY, touched={found.deployment_id}).deployments[0]
    opening = next(t.at for t in entry.transitions if t.state is not None and t.state.kind != "stopped")
    assert (opening, 0, 2, None, 2) == (
        entry.baseless_until,
        entry.baseline_at(opening - timedelta(seconds=1), 2),
        entry.baseline_at(opening, 2),
        touched.baseless_until,
        touched.baseline_at(MONDAY, 2),
    )


def test_a_deployment_the_scaler_stopped_itself_saves_from_the_start():
    """The same deployment with an applied state in the store (touched): the night's stop is the scaler's."""
    stopped = deployment("llama-8b", status="SCALED_DOWN")
    plan = build_plan(POLICIES, [stopped], MONDAY, TUESDAY, touched={stopped.deployment_id}).to_json()
    assert {"baseline": 24.0, "planned": 10.0} == plan["deployments"][0]["gpu_hours"]
