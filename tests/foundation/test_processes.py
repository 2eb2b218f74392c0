"""The suites' process harness (tests/processes.py): what every suite that starts a process relies on."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.processes import HarnessError, LoggedProcess, environment, stop, wait_for

#: A process that logs two JSON events, a line that is not JSON, and exits.
TALKER = (
    "import json, sys\n"
    "print(json.dumps({'event': 'started', 'n': 1}), file=sys.stderr)\n"
    "print('not json', file=sys.stderr)\n"
    "print(json.dumps({'event': 'done', 'n': 2}), file=sys.stderr)\n"
)


def test_the_environment_of_a_process_holds_no_setting_of_the_developer(monkeypatch: pytest.MonkeyPatch) -> None:
    """SCALER_ variables of the test's own environment are left out; those given are set, None removes one."""
    monkeypatch.setenv("SCALER_DRY_RUN", "true")
    monkeypatch.setenv("SCALERTEST_KEPT", "1")
    env = environment(SCALER_API_URL="http://sim", SCALERTEST_KEPT=None)
    assert ({"SCALER_API_URL": "http://sim"}, None) == (
        {key: value for key, value in env.items() if key.startswith("SCALER_")},
        env.get("SCALERTEST_KEPT"),
    )


def test_wait_for_returns_the_first_true_answer() -> None:
    """The condition is asked again until it answers something true, which is returned."""
    answers = iter([None, 0, "ready"])
    assert "ready" == wait_for("readiness", lambda: next(answers), timeout=5, every=0)


def test_wait_for_names_what_did_not_happen() -> None:
    """Past the deadline the failure names what was awaited and what the process said."""
    with pytest.raises(HarnessError, match=r"readiness: not after 0 s\. it said nothing"):
        wait_for("readiness", lambda: None, timeout=0, describe=lambda: "it said nothing", every=0)


def test_a_logged_process_gives_its_events_in_order_and_keeps_other_lines() -> None:
    """Events are found by name and fields; a line that is not JSON is kept apart; the end of the log is seen."""
    process = subprocess.Popen(
        [sys.executable, "-c", TALKER], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    logged = LoggedProcess("talker", process)
    try:
        done = logged.wait_for("done", timeout=30, n=2)
        logged.read_to_end()
        with pytest.raises(TimeoutError, match="the log ended without never"):
            logged.wait_for("never", timeout=30)
    finally:
        logged.stop()
    assert (["started", "done"], 2, ["not json\n"]) == ([event.name for event in logged.events], done.fields["n"], logged.rest)


def test_stop_terminates_and_reaps_a_running_process() -> None:
    """A running process is terminated and reaped; its exit status says SIGTERM."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    assert -15 == stop(process)
