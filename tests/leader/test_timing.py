"""The election's settings: defaults, the relationships that keep it safe, and the bounds they give."""

from __future__ import annotations

import os

import pytest

from scaler.settings import SettingsError, load_settings
from scaler.store import StoreConfigError
from scaler.store.leader import LeaderTiming, open_elector


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SCALER_"):
            monkeypatch.delenv(name)


def test_default_timing_fails_over_well_within_15_seconds() -> None:
    """The defaults (H 1, L 4, C 2, D 6) bound failover at 8 s after a process death and 12 s after a host loss."""
    timing = LeaderTiming.from_settings(load_settings())
    assert (1.0, 4.0, 2.0, 6.0) == (
        timing.heartbeat_seconds,
        timing.lease_seconds,
        timing.campaign_seconds,
        timing.takeover_delay_seconds,
    )
    assert (3.0, 8.0, 12.0) == (
        timing.heartbeat_timeout_seconds,
        timing.failover_bound_seconds,
        timing.dead_host_failover_bound_seconds,
    )


def test_keepalives_drop_a_silent_peer_about_a_lease_after_its_last_word() -> None:
    """First probe after ceil(H) idle seconds, then ceil(L - H) probes a second apart: about L in all."""
    timing = LeaderTiming(heartbeat_seconds=1.5, lease_seconds=5, campaign_seconds=2, takeover_delay_seconds=7)
    assert (2, 4) == (timing.keepalive_idle_seconds, timing.keepalive_count)


def test_leader_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """SCALER_LEADER_* set the timing."""
    monkeypatch.setenv("SCALER_LEADER_HEARTBEAT_SECONDS", "2")
    monkeypatch.setenv("SCALER_LEADER_LEASE_SECONDS", "5")
    monkeypatch.setenv("SCALER_LEADER_CAMPAIGN_SECONDS", "1")
    monkeypatch.setenv("SCALER_LEADER_TAKEOVER_DELAY_SECONDS", "7.5")
    assert LeaderTiming(2, 5, 1, 7.5) == LeaderTiming.from_settings(load_settings())


@pytest.mark.parametrize(
    ("environment", "first_variable", "also_named"),
    [
        ({"SCALER_LEADER_LEASE_SECONDS": "1"}, "SCALER_LEADER_LEASE_SECONDS", "SCALER_LEADER_HEARTBEAT_SECONDS"),
        (
            {"SCALER_LEADER_TAKEOVER_DELAY_SECONDS": "5"},
            "SCALER_LEADER_TAKEOVER_DELAY_SECONDS",
            "SCALER_LEADER_HEARTBEAT_SECONDS + SCALER_LEADER_LEASE_SECONDS",
        ),
        (
            {"SCALER_LEADER_LEASE_SECONDS": "10"},
            "SCALER_LEADER_TAKEOVER_DELAY_SECONDS",
            "SCALER_LEADER_HEARTBEAT_SECONDS + SCALER_LEADER_LEASE_SECONDS (11)",
        ),
    ],
)
def test_unsafe_relationship_fails_naming_the_variables(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], first_variable: str, also_named: str
) -> None:
    """A lease not above the heartbeat, or a takeover delay not above heartbeat + lease, stops start-up with one line
    that starts with the variable to change and names the others."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    lines = str(caught.value).splitlines()
    assert 1 == len(lines)
    assert lines[0].startswith(f"{first_variable} (")
    assert also_named in lines[0]


@pytest.mark.parametrize(
    "variable",
    [
        "SCALER_LEADER_HEARTBEAT_SECONDS",
        "SCALER_LEADER_LEASE_SECONDS",
        "SCALER_LEADER_CAMPAIGN_SECONDS",
        "SCALER_LEADER_TAKEOVER_DELAY_SECONDS",
    ],
)
def test_non_positive_period_is_named(monkeypatch: pytest.MonkeyPatch, variable: str) -> None:
    """Zero seconds is refused, naming the variable."""
    monkeypatch.setenv(variable, "0")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith(f"{variable}: ")


def test_timing_built_in_code_is_checked_too() -> None:
    """LeaderTiming refuses an unsafe combination on its own, naming the variables."""
    with pytest.raises(ValueError, match="^SCALER_LEADER_TAKEOVER_DELAY_SECONDS"):
        LeaderTiming(heartbeat_seconds=1, lease_seconds=4, campaign_seconds=2, takeover_delay_seconds=5)


def test_bad_state_url_is_refused_without_its_password() -> None:
    """open_elector reads SCALER_STATE_URL as the store does: an unknown scheme names the variable, hides the
    password."""
    with pytest.raises(StoreConfigError) as caught:
        open_elector("mysql://scaler:hunter2-secret@db/scaler")
    assert str(caught.value).startswith("SCALER_STATE_URL: ")
    assert "hunter2-secret" not in str(caught.value)
