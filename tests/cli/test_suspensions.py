"""`scaler suspend`, `resume`, `suspensions` as a person runs them: which store, until when, for how long.

The commands read the wall clock, so these tests freeze it (freezegun) and set the
machine's zone (TZ) where a local date-time is read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
from freezegun import freeze_time

from scaler.store import open_store
from tests.cli.test_daemon_commands import invoke, state_url  # noqa: F401 - state_url is the fixture
from tests.daemon.harness import LLAMA_8B

pytestmark = pytest.mark.usefixtures("restore_logging")

NOW = "2026-03-02 10:00:00.250000+00:00"


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The machine's local zone is Europe/Berlin (UTC+1 in March)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def only_suspension(url: str):
    with open_store(url) as store:
        (suspension,) = store.all_suspensions().values()
    return suspension


# --- which store ---------------------------------------------------------------------------


def test_suspend_refuses_to_create_a_store(tmp_path: Path) -> None:
    """No store at SCALER_STATE_URL: exit 1 naming where it looked and the variable; no file is created."""
    missing = tmp_path / "scaler-state.db"
    result = invoke("suspend", LLAMA_8B, "--for", "1h", "--reason", "x", "--state-url", f"sqlite:///{missing}", SCALER_STATE_URL=f"sqlite:///{missing}")
    assert 1 == result.exit_code
    assert (
        f"error: no state store at {missing}: the daemon has not created one there; "
        "set SCALER_STATE_URL to the daemon's store\n"
    ) == result.stderr
    assert not missing.exists()


def test_a_relative_default_is_shown_as_the_absolute_path_it_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from another directory with a relative URL: the error names the absolute path it looked at."""
    monkeypatch.chdir(tmp_path)
    result = invoke("suspend", LLAMA_8B, "--for", "1h", "--reason", "x", "--state-url", "sqlite:///./scaler-state.db")
    assert 1 == result.exit_code
    assert f"no state store at {tmp_path / 'scaler-state.db'}:" in result.stderr
    assert not (tmp_path / "scaler-state.db").exists()


def test_a_file_without_the_schema_is_not_a_store(tmp_path: Path) -> None:
    """An empty file at the path is not the daemon's store: refused, and left empty."""
    empty = tmp_path / "state.db"
    empty.touch()
    result = invoke("suspend", LLAMA_8B, "--for", "1h", "--reason", "x", "--state-url", f"sqlite:///{empty}", SCALER_STATE_URL=f"sqlite:///{empty}")
    assert 1 == result.exit_code
    assert f"no state store at {empty}" in result.stderr
    assert 0 == empty.stat().st_size


@pytest.mark.parametrize("command", [("resume", LLAMA_8B, "--state-url"), ("exceptions", "--state-url"), ("suspensions",)])
def test_resume_and_suspensions_refuse_a_missing_store_too(tmp_path: Path, command: tuple[str, ...]) -> None:
    """resume, exceptions and suspensions do not create a store either."""
    missing = tmp_path / "state.db"
    url = f"sqlite:///{missing}"
    result = invoke(*command, *((url,) if command[-1] == "--state-url" else ()), SCALER_STATE_URL=url)
    assert 1 == result.exit_code
    assert "no state store at" in result.stderr
    assert not missing.exists()


def test_suspend_says_which_store_it_wrote_to(state_url: str) -> None:  # noqa: F811
    """The confirmation names the store the suspension went into."""
    result = invoke("suspend", "llama-3-8b-chat", "--for", "1h", "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url)
    assert 0 == result.exit_code, result.stderr
    assert f"state store: {state_url.removeprefix('sqlite:///')}" == result.stdout.splitlines()[-1]


# --- until when ------------------------------------------------------------------------------


@freeze_time(NOW)
def test_until_to_the_second(state_url: str) -> None:  # noqa: F811
    """--for 2h at 10:00:00.25: stored and printed as 12:00:00Z, to the second."""
    result = invoke("suspend", "llama-3-8b-chat", "--for", "2h", "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url)
    listed = invoke("suspensions", SCALER_STATE_URL=state_url)
    assert 0 == result.exit_code, result.stderr
    assert datetime(2026, 3, 2, 12, 0, tzinfo=UTC) == only_suspension(state_url).until
    assert result.stdout.startswith(f"suspended llama-3-8b-chat ({LLAMA_8B}) until 2026-03-02 12:00:00Z: x")
    assert "2026-03-02 12:00:00Z" == listed.stdout.splitlines()[1].split("  ")[2].strip()


@freeze_time(NOW)
def test_until_a_local_date_time_of_the_machine(state_url: str, berlin: None) -> None:  # noqa: F811
    """--until 2026-03-02T18:30 without an offset is the machine's local time (Berlin: 17:30Z)."""
    result = invoke("suspend", "llama-3-8b-chat", "--until", "2026-03-02T18:30", "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url)
    assert 0 == result.exit_code, result.stderr
    assert datetime(2026, 3, 2, 17, 30, tzinfo=UTC) == only_suspension(state_url).until


@freeze_time(NOW)
def test_until_with_an_offset_is_that_instant(state_url: str, berlin: None) -> None:  # noqa: F811
    """--until with an offset (or Z) is taken as written."""
    result = invoke("suspend", LLAMA_8B, "--until", "2026-03-03T08:00-05:00", "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url)
    assert 0 == result.exit_code, result.stderr
    assert datetime(2026, 3, 3, 13, 0, tzinfo=UTC) == only_suspension(state_url).until


@freeze_time(NOW)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--until", "2026-03-02T09:00Z"), "--until: 2026-03-02 09:00:00Z is not in the future"),
        (("--until", "tomorrow"), "--until: 'tomorrow' is not a date-time such as 2026-03-02T18:00"),
        (("--for", "1h", "--until", "2026-03-02T18:00Z"), "give exactly one of --for or --until"),
        ((), "give exactly one of --for or --until"),
    ],
)
def test_until_mistakes_are_usage_errors(state_url: str, args: tuple[str, ...], message: str) -> None:  # noqa: F811
    """A past or unreadable --until, or not exactly one of --for/--until: exit 2, nothing stored."""
    result = invoke("suspend", LLAMA_8B, *args, "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url)
    assert 2 == result.exit_code
    assert message in result.stderr
    with open_store(state_url) as store:
        assert {} == store.all_suspensions()


# --- for how long ------------------------------------------------------------------------------


@freeze_time(NOW)
@pytest.mark.parametrize("args", [("--for", "31d"), ("--until", "2026-04-02T10:00:01Z")])
def test_a_suspension_longer_than_30_days_is_refused(state_url: str, args: tuple[str, ...]) -> None:  # noqa: F811
    """Exceptions are temporary: more than 30 days is refused, pointing at the policy's exclude_names."""
    result = invoke("suspend", LLAMA_8B, *args, "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url)
    assert 2 == result.exit_code
    assert "at most 30 days" in result.stderr and "exclude_names" in result.stderr
    with open_store(state_url) as store:
        assert {} == store.all_suspensions()


@freeze_time(NOW)
def test_exactly_30_days_is_allowed(state_url: str) -> None:  # noqa: F811
    """30 days is the longest suspension."""
    assert 0 == invoke("suspend", LLAMA_8B, "--for", "30d", "--reason", "x", "--state-url", state_url, SCALER_STATE_URL=state_url).exit_code


# --- replacing -----------------------------------------------------------------------------------


@freeze_time(NOW)
def test_replacing_a_suspension_says_so(state_url: str) -> None:  # noqa: F811
    """A second suspend of a suspended deployment says what it replaced."""
    invoke("suspend", LLAMA_8B, "--for", "1h", "--reason", "incident", "--state-url", state_url, SCALER_STATE_URL=state_url)
    result = invoke("suspend", LLAMA_8B, "--for", "3h", "--reason", "longer incident", "--state-url", state_url, SCALER_STATE_URL=state_url)
    assert 0 == result.exit_code, result.stderr
    assert [
        f"suspended llama-3-8b-chat ({LLAMA_8B}) until 2026-03-02 13:00:00Z: longer incident",
        "replaced its suspension until 2026-03-02 11:00:00Z (incident)",
    ] == result.stdout.splitlines()[:2]
    assert ("longer incident", datetime(2026, 3, 2, 13, 0, tzinfo=UTC)) == (
        only_suspension(state_url).reason,
        only_suspension(state_url).until,
    )
    assert UUID(LLAMA_8B) == only_suspension(state_url).deployment_id
