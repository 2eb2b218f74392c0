"""How an instance shows its role: /readyz, /status and the header of `scaler status`."""

from __future__ import annotations

from pathlib import Path

from scaler.cli.daemon_commands import status_table
from scaler.store.leader import open_elector
from tests.daemon.harness import MONDAY, Harness, at_utc
from tests.daemon.policies import LLAMA_STOPPED, document


def test_status_header_names_the_role_and_the_leader() -> None:
    """A standby's `scaler status` header says it is a standby and who leads."""
    document_ = {"daemon": {"version": "1.0", "leadership": {"role": "standby", "leader": "scaler-0:1"}}}
    assert "scaler 1.0, role: standby (leader: scaler-0:1), ready: no" in status_table(document_).splitlines()[0]


async def test_a_single_sqlite_instance_leads_and_says_so(tmp_path: Path) -> None:
    """On SQLite the daemon's elector leads from its start: /readyz and /status say leader, and it may act."""
    harness = Harness(tmp_path, policies=document(LLAMA_STOPPED), start=at_utc(MONDAY, "06:00"))
    elector = open_elector(harness.settings.state_url)
    daemon = harness.sibling(elector=elector)
    try:
        await elector.start()
        _, checks = daemon.readiness()
        leadership = daemon.leadership()
        acting = daemon.may_act()
        await elector.stop()
        stopped = daemon.may_act()
    finally:
        await harness.close()
    assert {"ok": True, "role": "leader", "detail": "this instance leads and may act"} == checks["leadership"]
    assert ("sqlite", "leader", True, False) == (leadership["backend"], leadership["role"], acting, stopped)
