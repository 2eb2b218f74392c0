"""``lead_time: auto``: the language, the learning rule and the engine scheduling one deployment's lead time."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scaler.policy.errors import PolicyLoadError
from scaler.policy.leadtime import lead_time_in_use, learned_lead_times
from scaler.policy.model import DesiredState
from scaler.policy.plan import build_plan
from scaler.policy.report import render_plan_table
from scaler.policy.resolve import resolve_for_policy

from .helpers import deployment, policy_set, utc

RUNNING = DesiredState.running()
STOPPED = DesiredState.stopped()


def peak(lead_time: str):
    """A policy (default stopped) whose window ``peak`` runs 09:00-10:00 UTC daily with ``lead_time``."""
    return policy_set(
        f"""
        - name: p
          match: {{names: ["*"]}}
          default: stopped
          windows:
            - name: peak
              cron: "0 9 * * *"
              duration: 1h
              lead_time: {lead_time}
              state: running
        """
    ).policies[0]


def minutes(*values: float) -> list[float]:
    return [value * 60 for value in values]


def test_auto_alone_takes_the_defaults():
    """``lead_time: auto`` learns between 1 minute and 2 hours and starts from 15 minutes."""
    window = peak("auto").windows[0]
    assert (timedelta(minutes=1), timedelta(hours=2), timedelta(minutes=15)) == (
        window.auto_lead.minimum,
        window.auto_lead.maximum,
        window.auto_lead.initial,
    )
    assert timedelta(minutes=15) == window.lead


def test_before_three_starts_the_initial_lead_time_is_used():
    """Two observed start-ups are not enough: ``initial`` (10m), and the source says so."""
    window = peak("{auto: true, initial: 10m}").windows[0]
    in_use = lead_time_in_use(window, minutes(20, 21))
    assert (timedelta(minutes=10), "auto: initial, 2 of 3 starts observed") == (in_use.value, in_use.source)


def test_the_ninetieth_percentile_is_rounded_up_to_the_minute():
    """Twelve start-ups of 10 to 21 minutes plus seconds: the nearest-rank p90 (the 11th, 20m30s) becomes 21m."""
    window = peak("auto").windows[0]
    startups = [minute * 60 + 30 for minute in range(10, 22)]
    in_use = lead_time_in_use(window, startups)
    assert (timedelta(minutes=21), "auto: p90 of 12 starts") == (in_use.value, in_use.source)


def test_one_outlier_among_twenty_does_not_swing_it():
    """Nineteen start-ups of 3 minutes and one of 40: the lead time stays 3 minutes."""
    window = peak("auto").windows[0]
    assert timedelta(minutes=3) == lead_time_in_use(window, minutes(*[3] * 19, 40)).value


def test_only_the_last_twenty_start_ups_count():
    """Twenty slow start-ups followed by twenty fast ones: the slow ones are forgotten."""
    window = peak("auto").windows[0]
    assert timedelta(minutes=4) == lead_time_in_use(window, minutes(*[25] * 20, *[4] * 20)).value


def test_the_learned_lead_time_is_bounded_by_min_and_max():
    """A 3-hour start-up is capped at max (1h); a 10-second one raised to min (2m); the source says so."""
    window = peak("{auto: true, min: 2m, max: 1h}").windows[0]
    slow, fast = lead_time_in_use(window, minutes(180, 180, 180)), lead_time_in_use(window, [10, 10, 10])
    assert (timedelta(hours=1), "auto: p90 of 3 starts, bounded to 1h") == (slow.value, slow.source)
    assert (timedelta(minutes=2), "auto: p90 of 3 starts, bounded to 2m") == (fast.value, fast.source)


def test_a_fixed_lead_time_is_not_learned():
    """A window with ``lead_time: 15m`` keeps it whatever was observed; only automatic windows are learned."""
    policy = peak("15m")
    in_use = lead_time_in_use(policy.windows[0], minutes(40, 40, 40))
    assert (timedelta(minutes=15), "fixed") == (in_use.value, in_use.source)
    assert {} == learned_lead_times(policy, minutes(40, 40, 40))


def test_the_engine_opens_earlier_for_a_slow_deployment_and_later_for_a_fast_one():
    """With 25-minute start-ups the window opens 08:35; with 3-minute ones 08:57; another deployment keeps its own."""
    policy = peak("auto")
    slow = learned_lead_times(policy, minutes(25, 25, 25))
    fast = learned_lead_times(policy, minutes(3, 3, 3))
    at_0840 = utc("2026-03-02T08:40")
    assert RUNNING == resolve_for_policy(policy, now=at_0840, lead_times=slow).desired
    assert STOPPED == resolve_for_policy(policy, now=at_0840, lead_times=fast).desired
    assert utc("2026-03-02T08:57") == resolve_for_policy(policy, now=at_0840, lead_times=fast).next_change
    assert utc("2026-03-02T08:45") == resolve_for_policy(policy, now=at_0840).next_change  # initial 15m


@pytest.mark.parametrize(
    ("lead_time", "message"),
    [
        ("{auto: false}", "lead_time.auto: the boolean false is not allowed; auto takes true only"),
        ("{auto: true, min: 2h, max: 1h}", "lead_time: min (2h) must not exceed max (1h)"),
        ("{auto: true, mni: 2m}", "lead_time.mni: unknown key 'mni'; did you mean min?"),
        ("{auto: true, max: 8d}", "lead_time.max: must be at most 7d, got 8d"),
        ("{min: 2m}", "lead_time.auto: required key 'auto' is missing"),
        ("autoo", "lead_time: 'autoo' is not a duration; expected a duration such as 30s, 10m, 8h, 7d or 1h30m, or auto"),
    ],
)
def test_a_malformed_automatic_lead_time_is_an_error_at_its_line(lead_time: str, message: str):
    """Each misuse names the window's lead_time (or its key) at its line."""
    with pytest.raises(PolicyLoadError) as caught:
        peak(lead_time)
    found = [str(issue) for issue in caught.value.issues]
    assert 1 == len(found) and f"policy.yaml:10: policies[0].windows[0].{message}" in found[0], found


def test_the_plan_shows_each_deployment_lead_time_and_where_it_came_from():
    """With 12 observed start-ups of 20 minutes the plan starts the peak at 08:40 and says ``auto: p90 of 12 starts``;
    a deployment never observed starts 08:45 on its initial lead time."""
    policies = policy_set(
        """
        - name: p
          match: {names: ["*"]}
          default: stopped
          windows:
            - name: peak
              cron: "0 9 * * *"
              duration: 1h
              lead_time: auto
              state: running
        """
    )
    slow, fresh = deployment("slow"), deployment("fresh")
    plan = build_plan(
        policies,
        [slow, fresh],
        utc("2026-03-02T00:00"),
        utc("2026-03-03T00:00"),
        startups={slow.deployment_id: minutes(*[20] * 12)},
    )
    entries = {entry["deployment_name"]: entry for entry in plan.to_json()["deployments"]}
    assert {"peak": {"seconds": 1200, "source": "auto: p90 of 12 starts"}} == entries["slow"]["lead_times"]
    assert "2026-03-02T08:40:00Z" == entries["slow"]["transitions"][1]["at"]
    assert {"peak": {"seconds": 900, "source": "auto: initial, 0 of 3 starts observed"}} == entries["fresh"]["lead_times"]
    assert "2026-03-02T08:45:00Z" == entries["fresh"]["transitions"][1]["at"]
    assert "  lead time of window peak: 20m (auto: p90 of 12 starts)" in render_plan_table(plan).splitlines()
