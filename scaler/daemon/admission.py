"""Admission: which of a cycle's plans go out now and which wait, and why. Pure: from values alone.

Plans are taken most urgent first (:func:`scaler.daemon.calls.urgency`: money-saving
first, then the plan waiting longest):

- **Blocked by configuration**: a plan decided ``blocked`` (an expiry that may not delete)
  never goes.
- **Gates** (:class:`Gates`, the organization's state at the cycle's start): a refused token
  holds every plan that sends calls; a refused organization id holds those with a start or
  stop, and a blocked wallet those that increase spend, each except the most urgent one when
  its probe is due (that plan carries the probe, see :mod:`scaler.daemon.organization`).
  A plan without calls passes every gate.
- **Budget**, after the gates (a plan a gate holds takes no slot): at most ``budget`` actions
  shared among the plans that passed, in order. A plan is never split: one that does not fit
  what is left is deferred, except that the first plan of a cycle always goes (a two-action
  plan under a limit of 1 would otherwise never run). A deferred plan takes no probe.

A quota refusal's backoff is a gate too, but :func:`scaler.daemon.decide.decide` applies
it (the plan that increases spend is not made while the backoff runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from scaler.daemon.calls import Calls, urgency

GateState = Literal["open", "probe_due", "closed"]
"""``open``: no pause. ``probe_due``: paused, but the probe may go (to the most urgent plan it
gates). ``closed``: paused, the probe not due or already in flight."""

Passed = Literal["open", "probe"]
"""How a plan passed one gate: open, or carrying that gate's probe."""

HeldResult = Literal["blocked", "deferred"]


@dataclass(frozen=True)
class Gates:
    """The organization's gates at the start of a cycle."""

    api_paused: bool = False
    """The platform refuses the token: nothing that sends calls goes."""
    startstop: GateState = "open"
    """Starts and stops (restarts included), paused while the platform refuses SCALER_ORG_ID."""
    spend: GateState = "open"
    """Calls that increase spend, paused while the wallet is blocked."""


OPEN_GATES = Gates()


@dataclass(frozen=True)
class Passage:
    """How an admitted plan passed the gates: whether it carries the wallet's probe
    (``spend == "probe"``) and the organization id's probe (``org_probe``)."""

    spend: Passed = "open"
    org_probe: bool = False


OPEN = Passage()


@dataclass(frozen=True)
class Waiting:
    """A plan of this cycle and when it was first decided (earlier cycles' deferrals included)."""

    plan: Calls
    since: datetime


@dataclass(frozen=True)
class Admitted:
    """A plan that goes out this cycle, and how it passed the gates."""

    plan: Calls
    passage: Passage = OPEN


@dataclass(frozen=True)
class Held:
    """A plan that waits: ``blocked`` (by configuration or a gate) or ``deferred`` (the budget), and why."""

    plan: Calls
    result: HeldResult
    why: str


@dataclass(frozen=True)
class Admission:
    """What goes this cycle (most urgent first) and what waits (in the order it was held)."""

    admitted: list[Admitted] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)


TOKEN_REFUSED = "the platform refuses the token"
ORG_ID_REFUSED = "the platform refuses SCALER_ORG_ID: starts and stops wait"
WALLET_BLOCKED = "the wallet is blocked: starts and scale-ups wait"


def over_budget(budget: int) -> str:
    """Why a plan is deferred when it does not fit what is left of a cycle's ``budget``."""
    return f"more than {budget} actions this cycle"


def admit(waiting: Sequence[Waiting], *, gates: Gates, budget: int) -> Admission:
    """Return which of ``waiting`` go out this cycle and which wait (see the module's docstring).

    ``gates``: the organization's gates (:data:`OPEN_GATES` in a dry run, which sends nothing);
    ``budget``: the most actions a cycle may carry out.
    """
    ordered = [entry.plan for entry in sorted(waiting, key=lambda entry: urgency(entry.plan, entry.since))]
    admission = Admission()
    open_plans: list[Calls] = []
    for plan in ordered:
        if plan.blocked is not None:
            admission.held.append(Held(plan, "blocked", plan.blocked))
        else:
            open_plans.append(plan)
    passed = _through_gates(open_plans, gates, admission.held)
    admission.admitted.extend(_within_budget(passed, budget, admission.held))
    return admission


def _through_gates(plans: list[Calls], gates: Gates, held: list[Held]) -> list[Admitted]:
    """Pass ``plans``, most urgent first, through ``gates``; append the ones held to ``held``.

    Each probe goes to the first plan its gate holds; a plan that takes the organization id's
    probe but is held by the wallet gives it back to the next one.
    """
    org_probe_taken = spend_probe_taken = False
    going: list[Admitted] = []
    for plan in plans:
        if not plan.steps:
            going.append(Admitted(plan))
            continue
        if gates.api_paused:
            held.append(Held(plan, "blocked", TOKEN_REFUSED))
            continue
        org_passed = _pass(gates.startstop, org_probe_taken) if plan.sends_startstop else "open"
        if org_passed == "closed":
            held.append(Held(plan, "blocked", ORG_ID_REFUSED))
            continue
        spend_passed = _pass(gates.spend, spend_probe_taken) if plan.increases_spend else "open"
        if spend_passed == "closed":
            held.append(Held(plan, "blocked", WALLET_BLOCKED))
            continue
        org_probe_taken = org_probe_taken or org_passed == "probe"
        spend_probe_taken = spend_probe_taken or spend_passed == "probe"
        going.append(Admitted(plan, Passage(spend=spend_passed, org_probe=org_passed == "probe")))
    return going


def _pass(gate: GateState, probe_taken: bool) -> Literal["open", "probe", "closed"]:
    """How a plan passes one ``gate``: the probe when it is due and no earlier plan took it."""
    if gate == "open":
        return "open"
    if gate == "probe_due" and not probe_taken:
        return "probe"
    return "closed"


def _within_budget(passed: list[Admitted], budget: int, held: list[Held]) -> list[Admitted]:
    """Share ``budget`` among the plans that passed the gates, in order; defer the ones that do not fit."""
    left = budget
    going: list[Admitted] = []
    for admitted in passed:
        steps = len(admitted.plan.steps)
        if not steps:
            going.append(admitted)
        elif steps <= left or left == budget:
            left = max(left - steps, 0)
            going.append(admitted)
        else:
            held.append(Held(admitted.plan, "deferred", over_budget(budget)))
    return going
