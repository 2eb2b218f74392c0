"""`scaler run` as real processes on one PostgreSQL state against a `scaler sim` process: kill -9 of the leading
daemon, and `scaler run --once` taking part in the election."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.store.leader import LeaderTiming
from tests.daemon.harness import MUTATING
from tests.daemon.policies import LLAMA_STOPPED, document
from tests.leader.processes import start_daemon
from tests.processes import REPO, LoggedProcess, SimProcess, environment, scaler_command

pytestmark = pytest.mark.integration

#: The product's promise: failover within 15 s of the leader's death.
FAILOVER_PROMISE_SECONDS = 15.0
STOPPED = document(LLAMA_STOPPED)
RUNNING = STOPPED.replace("default: stopped", "default: running")
#: The first leader's timing only decides how soon it starts acting (the test is shorter for it); the
#: failover is bounded by the standby's timing, the defaults.
QUICK_FIRST_LEADER = {
    "SCALER_LEADER_HEARTBEAT_SECONDS": "0.2",
    "SCALER_LEADER_LEASE_SECONDS": "0.8",
    "SCALER_LEADER_CAMPAIGN_SECONDS": "0.5",
    "SCALER_LEADER_TAKEOVER_DELAY_SECONDS": "1.1",
}


@pytest.fixture
def simulator() -> Iterator[str]:
    """The simulator in a process of its own; yields its URL."""
    with SimProcess() as process:
        yield process.url


def mutating_requests(process: LoggedProcess) -> list[tuple[float, str]]:
    """(arrival, request id) of every mutating request the process logged."""
    return [
        (event.at, str(event.fields["request_id"]))
        for event in process.events
        if event.name == "api_request" and event.fields.get("endpoint") in MUTATING
    ]


def test_kill_9_of_the_leader_daemon_hands_over_within_the_bound(
    tmp_path: Path, simulator: str, postgres_url: str
) -> None:
    """The leading `scaler run` is killed with SIGKILL; the standby `scaler run` (default timing) leads within
    campaign + takeover delay, under 15 s, and applies a policy changed meanwhile. Every mutating call in the
    simulator's request log comes from the leader of the moment; the standby sent none before it led."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(STOPPED)
    timing = LeaderTiming()
    first = start_daemon(
        "first", api_url=simulator, state_url=postgres_url, policy_path=policies, **QUICK_FIRST_LEADER
    )
    second: LoggedProcess | None = None
    try:
        first.wait_for("leader_lock_acquired", timeout=60)
        second = start_daemon("second", api_url=simulator, state_url=postgres_url, policy_path=policies)
        first.wait_for("action", timeout=60, deployment="llama-3-8b-chat", action="stop")
        url = str(second.wait_for("daemon_started", timeout=60).fields["http"])
        standby_view = httpx.get(f"{url}/readyz", timeout=10).json()["checks"]["leadership"]
        first.process.send_signal(signal.SIGKILL)
        killed_at = time.monotonic()
        (policies / "p.yaml").write_text(RUNNING)
        leads = second.wait_for("leadership_acquired", timeout=FAILOVER_PROMISE_SECONDS + 10)
        started = second.wait_for("action", timeout=60, deployment="llama-3-8b-chat", action="start")
        log = httpx.get(f"{simulator}/_sim/requests", timeout=10).json()["requests"]
        leader_view = httpx.get(f"{url}/status", timeout=10).json()["daemon"]["leadership"]
    finally:
        first.stop()
        if second is not None:
            second.stop()
    first.drain()
    second.drain()
    print(
        f"kill -9 of the leader daemon: the standby led after {leads.at - killed_at:.2f} s and its first call "
        f"left after {started.at - killed_at:.2f} s (bound: campaign {timing.campaign_seconds:g} s + takeover "
        f"delay {timing.takeover_delay_seconds:g} s = {timing.failover_bound_seconds:g} s; promise "
        f"{FAILOVER_PROMISE_SECONDS:g} s)"
    )
    sent_by = {request_id: "first" for _, request_id in mutating_requests(first)}
    sent_by.update({request_id: "second" for _, request_id in mutating_requests(second)})
    calls = [(entry["endpoint"], (entry["body"] or {}).get("action"), sent_by.get(entry["request_id"])) for entry in log
             if entry["endpoint"] in MUTATING]  # fmt: skip
    assert ("standby", True) == (standby_view["role"], "leads" in standby_view["detail"])
    assert [("startstop", "stop", "first"), ("startstop", "start", "second")] == calls
    assert [] == [request_id for at, request_id in mutating_requests(second) if at < leads.at]
    assert ("leader", True) == (leader_view["role"], leader_view["may_act"])
    assert leads.at - killed_at < FAILOVER_PROMISE_SECONDS


def run_once(simulator: str, postgres_url: str, policies: Path) -> subprocess.CompletedProcess[str]:
    """`scaler run --once` against the simulator, on the PostgreSQL state, with a short election timing."""
    return subprocess.run(
        scaler_command("run", "--once"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        env=environment(
            SCALER_API_URL=simulator,
            SCALER_API_TOKEN=DEFAULT_TOKEN,
            SCALER_ORG_ID=DEFAULT_ORG_ID,
            SCALER_POLICY_PATH=str(policies),
            SCALER_STATE_URL=postgres_url,
            SCALER_LOG_FORMAT="json",
            **QUICK_FIRST_LEADER,
        ),
    )


def startstop_actions(simulator: str) -> list[str]:
    """The start/stop actions in the simulator's request log, oldest first."""
    log = httpx.get(f"{simulator}/_sim/requests", params={"endpoint": "startstop"}, timeout=10).json()
    return [entry["body"]["action"] for entry in log["requests"]]


def test_run_once_acts_when_it_wins_the_election(tmp_path: Path, simulator: str, postgres_url: str) -> None:
    """No other instance: `scaler run --once` takes the lock, waits its takeover delay, acts, exits 0."""
    (tmp_path / "p.yaml").write_text(STOPPED)
    result = run_once(simulator, postgres_url, tmp_path)
    assert (0, ["stop"]) == (result.returncode, startstop_actions(simulator)), result.stderr[-2000:]
    assert "llama-3-8b-chat (0b6df06d-c35c-4c90-ae22-290d3b7b7ed7): stop (default) success" in result.stdout


def test_run_once_only_watches_while_another_instance_leads(
    tmp_path: Path, simulator: str, postgres_url: str
) -> None:
    """Another process holds the leader lock: `scaler run --once` sends nothing, says why, and exits 0."""
    (tmp_path / "p.yaml").write_text(STOPPED)
    holder = subprocess.Popen(
        [sys.executable, "-m", "tests.leader.holder", postgres_url, "the-daemon"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None and "leader\n" == holder.stdout.readline()
        result = run_once(simulator, postgres_url, tmp_path)
    finally:
        holder.kill()
        holder.wait()
    assert (0, []) == (result.returncode, startstop_actions(simulator)), result.stderr[-2000:]
    assert "standby: another instance holds the leader lock, so this run sent nothing" in result.stderr


def test_sigterm_releases_the_lock_after_the_calls_in_flight(
    tmp_path: Path, simulator: str, postgres_url: str
) -> None:
    """A leading `scaler run` stopped by SIGTERM stops acting, lets its jobs finish, then releases the lock, and
    exits 0."""
    (tmp_path / "p.yaml").write_text(STOPPED)
    daemon = start_daemon(
        "leader", api_url=simulator, state_url=postgres_url, policy_path=tmp_path, **QUICK_FIRST_LEADER
    )
    try:
        daemon.wait_for("action", timeout=60, deployment="llama-3-8b-chat", action="stop")
        daemon.process.send_signal(signal.SIGTERM)
        daemon.wait_for("daemon_stopped", timeout=60)
        code = daemon.process.wait(timeout=30)
    finally:
        daemon.stop()
    order = [e.name for e in daemon.events if e.name in ("daemon_stopping", "leader_lock_released", "daemon_stopped")]
    assert (0, ["daemon_stopping", "leader_lock_released", "daemon_stopped"]) == (code, order)
