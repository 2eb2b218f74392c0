"""People's exceptions across two `scaler run` processes on one PostgreSQL state against a `scaler sim`
process: an override written through the standby's API is acted on by the leader within 2 s of the 201.

Real time, in real processes: this is the one immediacy test that is not run on virtual time (the
virtual-time ones are in tests/daemon/test_control_api.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from scaler.daemon.api.keys import hash_key
from tests.daemon.harness import LLAMA_8B
from tests.daemon.policies import LLAMA_STOPPED, document
from tests.leader.processes import start_daemon
from tests.leader.test_daemon_processes import QUICK_FIRST_LEADER, mutating_requests
from tests.processes import LoggedProcess, SimProcess

pytestmark = pytest.mark.integration

#: An exception takes effect within 2 s of its 201, through any replica: the control API's
#: promise ("acts within about a second", docs/control-api.md) with a second of slack for
#: two processes sharing a busy machine.
IMMEDIACY_SECONDS = 2.0
OPERATOR_KEY = "operator-key-for-the-replicas-0123456789"


@pytest.fixture
def simulator() -> Iterator[str]:
    """The simulator in a process of its own; yields its URL."""
    with SimProcess() as process:
        yield process.url


def test_an_override_written_on_the_standby_is_started_by_the_leader_within_2_s(
    tmp_path: Path, simulator: str, postgres_url: str
) -> None:
    """The leader has stopped llama (its policy: stopped); an override to running is POSTed to the standby:
    the leader's start is answered within 2 s of the standby's 201, with the override's id, author and reason
    in its reason, and the standby sends no call."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(document(LLAMA_STOPPED))
    keys = tmp_path / "keys.json"
    keys.write_text(json.dumps([{"name": "alice", "role": "operator", "sha256": hash_key(OPERATOR_KEY)}]))
    settings = {"SCALER_API_KEYS_FILE": str(keys)}
    leader = start_daemon(
        "leader", api_url=simulator, state_url=postgres_url, policy_path=policies, **QUICK_FIRST_LEADER, **settings
    )
    standby: LoggedProcess | None = None
    try:
        leader.wait_for("leader_lock_acquired", timeout=60)
        leader.wait_for("action", timeout=60, deployment="llama-3-8b-chat", action="stop")
        standby = start_daemon("standby", api_url=simulator, state_url=postgres_url, policy_path=policies, **settings)
        url = str(standby.wait_for("daemon_started", timeout=60).fields["http"])
        role = httpx.get(f"{url}/readyz", timeout=10).json()["checks"]["leadership"]["role"]
        created = httpx.post(
            f"{url}/api/v1/exceptions",
            json={"kind": "override", "target": {"deployment": "llama-3-8b-chat"}, "state": "running",
                  "for": "1h", "reason": "eval tonight"},  # fmt: skip
            headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
            timeout=10,
        )
        answered_at = time.monotonic()
        assert 201 == created.status_code, created.text
        started = leader.wait_for("action", timeout=30, deployment="llama-3-8b-chat", action="start")
    finally:
        leader.stop()
        if standby is not None:
            standby.stop()
    leader.drain()
    standby.drain()
    delay = started.at - answered_at
    print(f"an override written on the standby: the leader's start was answered {delay:.2f} s after the 201")
    exception_id = created.json()["id"]
    assert ("standby", [LLAMA_8B]) == (role, [d["id"] for d in created.json()["deployments"]])
    assert (True, "success") == (
        f"override:{exception_id} by alice: eval tonight" in str(started.fields.get("reason")),
        started.fields.get("result"),
    ), started.fields
    assert [] == mutating_requests(standby)
    assert delay < IMMEDIACY_SECONDS
