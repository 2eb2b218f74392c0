"""Policy reloads: a changed file takes effect at once; an invalid one is rejected whole and the old set stays."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import structlog

from scaler.policy import PolicyLoadError, PolicySetEmpty
from tests.daemon.harness import MONDAY, Harness, at_utc

RUNNING = """
version: 1
policies:
  - name: llama
    match: {names: [llama-3-8b-chat]}
    default: running
"""

STOPPED = RUNNING.replace("default: running", "default: stopped")
BROKEN = RUNNING.replace("default: running", "default: stoped")
PRICING_ONLY = "version: 1\npricing: {nvidia-l4: 1.5}\n"


async def test_a_valid_change_is_reloaded_and_applied_at_once(make_harness: Callable[..., Harness]) -> None:
    """Writing a new policy file is noticed by the next check and reconciled right away."""
    harness = make_harness(RUNNING, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    (harness.policy_path / "policies.yaml").write_text(STOPPED)
    harness.advance(seconds=5)
    assert await harness.daemon.check_policies()
    assert ["Mon 10:00:05 llama-3-8b-chat stop -> 200"] == [str(call) for call in harness.calls()]
    assert 2.0 == harness.sample("scaler_policy_reloads_total", result="success")


async def test_an_invalid_reload_keeps_the_previous_set_in_force(make_harness: Callable[..., Harness]) -> None:
    """A broken file is rejected whole: logged with file, line and field, counted, and the old set still decides."""
    harness = make_harness(RUNNING, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    in_force = harness.daemon.policies.current
    (harness.policy_path / "policies.yaml").write_text(BROKEN)
    with structlog.testing.capture_logs() as logs:
        assert not await harness.daemon.check_policies()
        assert not await harness.daemon.check_policies()  # the same broken content: not logged again
    harness.advance(minutes=1)
    await harness.cycle()
    rejected = [line for line in logs if line["event"] == "policies_rejected"]
    assert in_force is harness.daemon.policies.current
    assert 1 == len(rejected)
    assert rejected[0]["issues"][0].endswith(
        "policies.yaml:6: policies[0].default: 'stoped' is not a state; "
        "expected stopped, running or {min_replicas: N, max_replicas: M}"
    )
    assert (1.0, 0.0, 1.0) == (
        harness.sample("scaler_policy_reloads_total", result="error"),
        harness.sample("scaler_policy_last_reload_successful"),
        harness.sample("scaler_policies_loaded"),
    )
    assert [] == harness.calls()
    assert "error" == (await harness.daemon.status_document())["daemon"]["policies"]["last_reload"]["result"]


async def test_fixing_the_file_recovers(make_harness: Callable[..., Harness]) -> None:
    """After a rejected reload, a valid file is loaded and the success gauge returns to 1."""
    harness = make_harness(RUNNING, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    (harness.policy_path / "policies.yaml").write_text(BROKEN)
    await harness.daemon.check_policies()
    (harness.policy_path / "policies.yaml").write_text(STOPPED)
    assert await harness.daemon.check_policies()
    assert 1.0 == harness.sample("scaler_policy_last_reload_successful")
    assert ["stop"] == [call.action for call in harness.calls()]


async def test_sighup_forces_a_reload_of_unchanged_files(make_harness: Callable[..., Harness]) -> None:
    """A forced check reloads even when the files did not change, and reports the set unchanged."""
    harness = make_harness(RUNNING, start=at_utc(MONDAY, "10:00"))
    with structlog.testing.capture_logs() as logs:
        changed = await harness.daemon.check_policies(force=True)
    assert not changed
    assert ["policies_unchanged"] == [line["event"] for line in logs if line["event"].startswith("policies_")]


def test_an_invalid_set_at_start_stops_the_daemon(make_harness: Callable[..., Harness]) -> None:
    """The daemon does not start on an invalid set: the load raises with every problem."""
    harness = make_harness(RUNNING)
    (harness.policy_path / "policies.yaml").write_text(BROKEN)
    daemon = harness.sibling()
    with pytest.raises(PolicyLoadError) as caught:
        daemon.load_policies()
    assert 1 == len(caught.value.issues)


async def test_a_reload_to_no_policy_is_rejected_and_the_previous_set_stays(make_harness: Callable[..., Harness]) -> None:
    """A half-written ConfigMap (only pricing left) must not switch the automation off: rejected like an invalid set."""
    harness = make_harness(STOPPED, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    in_force = harness.daemon.policies.current
    (harness.policy_path / "policies.yaml").write_text(PRICING_ONLY)
    with structlog.testing.capture_logs() as logs:
        assert not await harness.daemon.check_policies()
        assert not await harness.daemon.check_policies()
    rejected = [line for line in logs if line["event"] == "policies_rejected"]
    assert in_force is harness.daemon.policies.current
    assert 1 == len(rejected)
    assert [f"{harness.policy_path} holds no policy: policies.yaml has none under policies"] == [
        issue.split(";")[0] for issue in rejected[0]["issues"]
    ]
    assert "the previous policy set stays in force" == rejected[0]["effect"]
    assert (1.0, 0.0, 1.0) == (
        harness.sample("scaler_policy_reloads_total", result="error"),
        harness.sample("scaler_policy_last_reload_successful"),
        harness.sample("scaler_policies_loaded"),
    )


async def test_an_empty_directory_on_reload_is_rejected_too(make_harness: Callable[..., Harness]) -> None:
    """Every policy file removed: the previous set stays in force."""
    harness = make_harness(STOPPED, start=at_utc(MONDAY, "10:00"))
    in_force = harness.daemon.policies.current
    (harness.policy_path / "policies.yaml").unlink()
    assert not await harness.daemon.check_policies()
    assert in_force is harness.daemon.policies.current
    assert 0.0 == harness.sample("scaler_policy_last_reload_successful")


async def test_allow_empty_policies_accepts_a_set_with_no_policy(make_harness: Callable[..., Harness]) -> None:
    """SCALER_ALLOW_EMPTY_POLICIES=true: no policy is a choice, loaded at start and on reload."""
    harness = make_harness(PRICING_ONLY, start=at_utc(MONDAY, "10:00"), allow_empty_policies=True)
    assert () == harness.daemon.policies.current.policies
    (harness.policy_path / "policies.yaml").write_text(STOPPED)
    assert await harness.daemon.check_policies()
    (harness.policy_path / "policies.yaml").write_text(PRICING_ONLY)
    assert await harness.daemon.check_policies()
    assert (1.0, 0.0) == (
        harness.sample("scaler_policy_last_reload_successful"),
        harness.sample("scaler_policies_loaded"),
    )


def test_no_policy_at_start_stops_the_daemon(make_harness: Callable[..., Harness]) -> None:
    """A daemon with nothing to do does not start quietly: the load raises."""
    harness = make_harness(RUNNING)
    (harness.policy_path / "policies.yaml").write_text(PRICING_ONLY)
    daemon = harness.sibling()
    with pytest.raises(PolicySetEmpty):
        daemon.load_policies()


CALENDAR_POLICY = """
version: 1
policies:
  - name: llama
    match: {names: [llama-3-8b-chat]}
    default: stopped
    calendars: [closures.ics]
    windows:
      - name: day
        cron: "0 9 * * *"
        duration: 8h
        state: running
"""


def with_calendar(tmp_path: Path, policies: str, calendar: str) -> Path:
    """A policy directory holding ``policies.yaml`` and the ``closures.ics`` it names."""
    directory = tmp_path / "with-calendar"
    directory.mkdir()
    (directory / "policies.yaml").write_text(policies)
    (directory / "closures.ics").write_text(calendar)
    return directory


def closure_on(day: str, summary: str = "Office closed") -> str:
    """An iCalendar file with one all-day closure on ``day`` (YYYYMMDD)."""
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Closures//EN\r\nBEGIN:VEVENT\r\nUID:closure\r\n"
        f"DTSTART;VALUE=DATE:{day}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


async def test_a_changed_calendar_is_reloaded_with_the_policies(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    """Only the calendar changes (a closure added for today): the next check reloads and the deployment stops."""
    directory = with_calendar(tmp_path, CALENDAR_POLICY, closure_on("20261225"))
    harness = make_harness(directory, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    assert [] == harness.calls()
    harness.advance(seconds=5)
    assert not await harness.daemon.check_policies()
    (harness.policy_path / "closures.ics").write_text(closure_on("20260302"))
    harness.advance(seconds=5)
    assert await harness.daemon.check_policies()
    assert ["stop"] == [call.action for call in harness.calls()]


async def test_a_broken_calendar_is_rejected_and_watched_until_mended(
    make_harness: Callable[..., Harness], tmp_path: Path
) -> None:
    """A calendar broken on disk keeps the previous set; mending it alone brings the new one into force."""
    directory = with_calendar(tmp_path, CALENDAR_POLICY, closure_on("20261225"))
    harness = make_harness(directory, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    in_force = harness.daemon.policies.current
    (harness.policy_path / "closures.ics").write_text("not a calendar\n")
    with structlog.testing.capture_logs() as logs:
        assert not await harness.daemon.check_policies()
    assert in_force is harness.daemon.policies.current
    issue = next(line for line in logs if line["event"] == "policies_rejected")["issues"][0]
    assert "policies.yaml:7: policies[0].calendars[0]: calendar 'closures.ics' is not an iCalendar file" in issue
    (harness.policy_path / "closures.ics").write_text(closure_on("20260302"))
    assert await harness.daemon.check_policies()
    assert ["stop"] == [call.action for call in harness.calls()]


async def test_a_calendar_named_by_a_rejected_set_is_watched_too(make_harness: Callable[..., Harness]) -> None:
    """A policy that starts naming a missing calendar is rejected; creating the calendar alone reloads it."""
    harness = make_harness(RUNNING, start=at_utc(MONDAY, "10:00"))
    await harness.cycle()
    (harness.policy_path / "policies.yaml").write_text(CALENDAR_POLICY)
    assert not await harness.daemon.check_policies()
    assert not await harness.daemon.check_policies()
    (harness.policy_path / "closures.ics").write_text(closure_on("20260302"))
    assert await harness.daemon.check_policies()
    assert "success" == harness.daemon.policies.last_result


async def test_status_shows_each_policy_next_skipped_date(make_harness: Callable[..., Harness], tmp_path: Path) -> None:
    """/status names each policy's next skipped date, its windows and why; a policy with none shows null."""
    two = CALENDAR_POLICY + RUNNING.replace("version: 1\npolicies:\n", "").replace("name: llama", "name: other").replace(
        "llama-3-8b-chat", "whisper-*"
    )
    directory = with_calendar(tmp_path, two, closure_on("20260310", "Offsite"))
    harness = make_harness(directory, start=at_utc(MONDAY, "10:00"))
    document = await harness.daemon.status_document()
    assert {
        "llama": {"date": "2026-03-10", "windows": ["day"], "names": ["Offsite"]},
        "other": None,
    } == document["daemon"]["policies"]["next_skipped"]
    assert [str(harness.policy_path / "closures.ics")] == document["daemon"]["policies"]["calendars"]
