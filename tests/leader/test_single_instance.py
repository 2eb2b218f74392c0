"""On a SQLite state there is one instance by design: its elector is always the leader."""

from __future__ import annotations

from pathlib import Path

from scaler.store.leader import LEADER, STANDBY, SingleInstanceElector, open_elector
from tests.leader.conftest import FakeClock, changes, fresh_metrics


async def test_sqlite_elector_leads_from_start_to_stop(tmp_path: Path, clock: FakeClock) -> None:
    """A SQLite state URL gives an elector that leads at once, whatever the clock says, and stops acting on stop()."""
    elector = open_elector(f"sqlite:///{tmp_path / 'state.db'}", clock=clock)
    assert isinstance(elector, SingleInstanceElector)
    await elector.start()
    acting = []
    for _ in range(3):
        clock.advance(3600)
        acting.append((elector.role, elector.may_act()))
    await elector.stop()
    assert [(LEADER, True)] * 3 == acting
    assert (STANDBY, False) == (elector.role, elector.may_act())


async def test_sqlite_elector_reports_through_the_metrics(tmp_path: Path) -> None:
    """scaler_leader is 1 while the single instance runs; one acquisition is counted."""
    metrics = fresh_metrics()
    elector = open_elector(f"sqlite:///{tmp_path / 'state.db'}", metrics=metrics)
    await elector.start()
    assert (1.0, 1.0) == (metrics.registry.get_sample_value("scaler_leader"), changes(metrics, "acquired"))
    await elector.stop()


def test_sqlite_elector_opens_no_file(tmp_path: Path) -> None:
    """Making the SQLite elector touches nothing: the store owns the file."""
    open_elector(f"sqlite:///{tmp_path / 'state.db'}")
    assert [] == list(tmp_path.iterdir())
