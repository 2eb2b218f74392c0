"""A writer killed with SIGKILL at random moments loses no committed record and leaves a sound file."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from scaler.store import Store, open_store
from scaler.store.url import SqliteLocation, parse_state_url
from tests.store.conftest import T0
from tests.store.writer import deployment_of, kind_of

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 3


def _run_until_killed(url: str, first_cycle: int, lines_before_kill: int) -> list[list[str]]:
    """Start a writer, read ``lines_before_kill`` committed lines, SIGKILL it; return those lines."""
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.store.writer", url, str(first_cycle)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: list[list[str]] = []
    try:
        assert writer.stdout is not None
        while len(lines) < lines_before_kill:
            line = writer.stdout.readline()
            if not line:
                pytest.fail(f"the writer stopped by itself: {writer.wait()} {writer.stderr.read()}")  # type: ignore[union-attr]
            lines.append(line.split())
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        writer.stdout.close()  # type: ignore[union-attr]
        writer.stderr.close()  # type: ignore[union-attr]
    return lines


def _check_committed(store: Store, lines: list[list[str]]) -> None:
    """Every line the writer printed is in the store."""
    for line in lines:
        if line[0] == "begun":
            assert store.get_action(int(line[1])) is not None
        elif line[0] == "finished":
            action_id, cycle = int(line[1]), int(line[2])
            applied = store.get_applied(deployment_of(cycle))
            assert ("success", kind_of(cycle), action_id) == (
                store.get_action(action_id).result,  # type: ignore[union-attr]
                applied.kind if applied else None,
                applied.action_id if applied else None,
            )
        elif line[0] == "health":
            observed = T0 + timedelta(minutes=int(line[1]))
            assert all(track.last_observed >= observed for track in store.health_tracks().values())


@pytest.mark.integration
def test_sigkilled_writer_loses_no_committed_record(state_url: str) -> None:
    """Three writers in turn, each killed at a random point of its loop (mid-transaction most
    often): every record reported committed survives, and a SQLite file passes integrity_check."""
    rng = random.Random(20250303)
    open_store(state_url).close()  # migrate once, so that every writer starts straight into its loop
    for round_number in range(ROUNDS):
        lines = _run_until_killed(state_url, first_cycle=round_number * 1000, lines_before_kill=rng.randint(4, 16))
        location = parse_state_url(state_url)
        if isinstance(location, SqliteLocation):
            with sqlite3.connect(str(location.path)) as check:
                assert [("ok",)] == check.execute("PRAGMA integrity_check").fetchall()
            check.close()
        with open_store(state_url) as store:
            _check_committed(store, lines)
            unfinished = {int(line[1]) for line in lines if line[0] == "begun"} - {
                int(line[1]) for line in lines if line[0] == "finished"
            }
            assert all(store.get_action(i).result in ("pending", "success") for i in unfinished)  # type: ignore[union-attr]
