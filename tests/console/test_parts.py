"""The console's pure parts: the timeline's geometry, the overview's pages and words, sessions' expiry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scaler.daemon.api.keys import KeyRing, hash_key
from scaler.daemon.console.overview import PAGE_SIZE, Row, duration, page_of, relative
from scaler.daemon.console.sessions import SESSION_SECONDS, Sessions, same_token
from scaler.daemon.console.timeline import WIDTH, build_timeline, window
from scaler.policy import DesiredState, Usage
from scaler.policy.plan import Transition
from scaler.store import ExceptionRecord, HealthChange, Saved

NOW = datetime(2026, 3, 4, 12, 30, tzinfo=UTC)


def test_the_window_starts_a_day_before_on_the_hour_and_lasts_seven_days() -> None:
    """At Wed 12:30 the strip runs from Tue 12:00 to the next Tue 12:00."""
    assert (datetime(2026, 3, 3, 12, tzinfo=UTC), datetime(2026, 3, 10, 12, tzinfo=UTC)) == window(NOW)


def test_bands_cover_the_strip_with_each_state_and_exceptions_overlay() -> None:
    """Three transitions give three bands end to end across the width; an override from now for 3.5 days
    is a band from now's x over half the strip; one that ended before the strip is left out."""
    start, until = window(NOW)
    transitions = [
        Transition(start, DesiredState.stopped(), "default"),
        Transition(start + timedelta(days=1), DesiredState.bounds(1, 3), "window:office"),
        Transition(start + timedelta(days=2), None, "none"),
    ]
    override = ExceptionRecord(id="e1", kind="override", target_kind="deployment", target="x", target_name="x",
                               deployment_ids=(), state="running", created_at=NOW, until=NOW + timedelta(days=3.5),
                               reason="eval", created_by="alice")  # fmt: skip
    old = ExceptionRecord(id="e0", kind="suspend", target_kind="all", target=None, target_name=None,
                          deployment_ids=(), state=None, created_at=start - timedelta(days=3),
                          until=start - timedelta(days=2), reason="old", created_by="bob")  # fmt: skip
    strip = build_timeline(transitions, [override, old], start, until, NOW)
    assert ["stopped", "bounds", "unchanged"] == [band.state for band in strip.bands]
    assert [0.0, round(WIDTH / 7, 3), round(2 * WIDTH / 7, 3)] == [band.x for band in strip.bands]
    assert WIDTH == pytest.approx(sum(band.width for band in strip.bands), abs=0.01)
    (shown,) = strip.exceptions
    assert ("override", "override running") == (shown.state, shown.label)
    assert strip.now_x == shown.x == pytest.approx(WIDTH * 24.5 / (7 * 24), abs=0.001)
    assert WIDTH / 2 == pytest.approx(shown.width, abs=0.01)
    assert 7 == len(strip.ticks) and "Wed 04" == strip.ticks[0][1]


def test_health_history_is_a_lane_up_to_now_oldest_first() -> None:
    """Changes newest first become bands oldest first: one begun before the strip starts at 0, the current
    one ends at now (health is not planned), a value without a colour of its own is ``other``."""
    start, until = window(NOW)
    history = [
        HealthChange("Progressing", NOW - timedelta(hours=1), None),
        HealthChange("Degraded", start + timedelta(hours=12), NOW - timedelta(hours=1)),
        HealthChange("Healthy", start - timedelta(days=2), start + timedelta(hours=12)),
    ]
    strip = build_timeline([], [], start, until, NOW, history)
    assert ["healthy", "degraded", "other"] == [band.state for band in strip.health]
    assert 0.0 == strip.health[0].x
    assert strip.now_x == pytest.approx(strip.health[-1].x + strip.health[-1].width, abs=0.01)
    assert ["Healthy", "Degraded", "Progressing"] == [band.label for band in strip.health]


def test_durations_in_words() -> None:
    """To the minute, largest units first."""
    lengths = [timedelta(seconds=59), timedelta(minutes=40), timedelta(hours=3, minutes=5), timedelta(days=2, hours=4)]
    assert ["under 1 min", "40 min", "3 h 5 min", "2 d 4 h"] == [duration(length) for length in lengths]


def row(name: str, status: str = "DEPLOYED", saved: float = 0.0) -> Row:
    return Row(id=f"id-{name}", name=name, status=status, accelerator="nvidia-l4", health="Healthy",
               health_since=None, policy="office", conflict=(), desired="running", source="default",
               next_at=None, next_state=None, timezone="UTC", exceptions=(),
               saved_today=Saved(gpu_seconds=saved * 3600), saved_week=Saved(), next_24h=Usage())  # fmt: skip


def test_pages_are_bounded_and_clamped() -> None:
    """250 rows make 3 pages of at most PAGE_SIZE; a page past the end shows the last one."""
    rows = [row(f"d{index:03}") for index in range(250)]
    first = page_of(rows)
    last = page_of(rows, number=99)
    assert (PAGE_SIZE, 1, 3, 250) == (len(first.rows), first.number, first.pages, first.matching)
    assert (3, 50, "d249") == (last.number, len(last.rows), last.rows[-1].name)


def test_the_filter_and_sort_work_over_every_row() -> None:
    """The filter matches status too, ignoring case; sorting by saving puts the biggest first when descending."""
    rows = [row("a", saved=1), row("b", "SCALED_DOWN", saved=5), row("c", saved=3)]
    assert ["b"] == [r.name for r in page_of(rows, query="scaled").rows]
    assert ["b", "c", "a"] == [r.name for r in page_of(rows, sort="saved_today", descending=True).rows]
    with pytest.raises(ValueError, match="sort must be one of"):
        page_of(rows, sort="nope")


@pytest.mark.parametrize(
    ("delta", "expected"),
    [(timedelta(minutes=40), "in 40 min"), (timedelta(hours=3, minutes=5), "in 3 h 5 min"),
     (timedelta(days=2, hours=4), "in 2 d 4 h"), (-timedelta(minutes=12), "12 min ago"), (timedelta(seconds=20), "now")],
)  # fmt: skip
def test_relative_times_read_as_people_say_them(delta: timedelta, expected: str) -> None:
    assert expected == relative(NOW + delta, NOW)


def test_a_session_expires_after_its_lifetime(tmp_path: Path) -> None:
    """A session is found until SESSION_SECONDS have passed on the monotonic clock, then forgotten."""
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{"name": "alice", "role": "operator", "sha256": hash_key("k" * 20)}]))
    clock = [1000.0]
    sessions = Sessions(KeyRing(keys), monotonic=lambda: clock[0])
    assert sessions.sign_in("wrong") is None
    session = sessions.sign_in("k" * 20)
    assert session is not None and "k" * 20 not in repr(session)
    clock[0] += SESSION_SECONDS - 1
    assert session == sessions.find(session.id)
    clock[0] += 1
    assert sessions.find(session.id) is None


def test_csrf_tokens_compare_exactly() -> None:
    assert same_token("abc", "abc")
    assert not same_token("abc", "abd")
    assert not same_token("abc", None)
    assert not same_token("", "")
