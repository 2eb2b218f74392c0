"""What a notice says: which changes take capacity away, times in the policy's zone, the command in the text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scaler.daemon.notify.notice import in_words, local_time, reduction, upcoming_text
from scaler.policy import DesiredState

STOPPED, RUNNING = DesiredState.stopped(), DesiredState.running()
NOW = datetime(2026, 3, 2, 17, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("before", "after", "kind"),
    [
        (RUNNING, STOPPED, "stop"),
        (DesiredState.bounds(1, 3), STOPPED, "stop"),
        (STOPPED, STOPPED, None),
        (STOPPED, RUNNING, None),
        (DesiredState.bounds(2, 4), DesiredState.bounds(1, 4), "scale-down"),
        (DesiredState.bounds(2, 4), DesiredState.bounds(2, 2), "scale-down"),
        (DesiredState.bounds(1, 2), DesiredState.bounds(2, 4), None),
        (RUNNING, DesiredState.bounds(1, 1), None),
    ],
)
def test_only_changes_that_take_capacity_away_are_announced(
    before: DesiredState, after: DesiredState, kind: str | None
) -> None:
    """A stop, or a lower floor or ceiling; never a start, a scale-up, or bounds whose predecessor is unknown."""
    assert kind == reduction(before, after)


def test_times_are_in_the_policy_zone_with_the_day_when_not_today() -> None:
    """19:00 CET on the same day; the day is written for a later one; UTC without a zone."""
    assert "19:00 CET" == local_time(NOW + timedelta(minutes=15), NOW, "Europe/Berlin")
    assert "Tue 03 Mar 18:00 UTC" == local_time(NOW + timedelta(days=1, minutes=15), NOW, None)


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(20, "in less than a minute"), (900, "in 15 min"), (3600, "in 1 h"), (7500, "in 2 h 5 min")],
)
def test_durations_in_words(seconds: float, words: str) -> None:
    """Minutes below an hour, hours and minutes above, and no "in 0 min"."""
    assert words == in_words(seconds)


def test_a_scale_down_names_the_command_that_keeps_the_bounds_and_quotes_the_name() -> None:
    """The command keeps the bounds in force; a name the shell would split is quoted."""
    text = upcoming_text(
        "team a/model", "scale-down", DesiredState.bounds(2, 4), DesiredState.bounds(1, 1),
        NOW + timedelta(minutes=15), NOW, "UTC",
    )
    assert (
        "team a/model scales down to min=1 max=1 at 18:00 UTC (in 15 min). Keep it as it is: "
        "scaler override 'team a/model' --min 2 --max 4 --for 2h --reason 'needed tonight'"
    ) == text
