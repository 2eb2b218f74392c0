"""Fixtures of the store's suite: every test that takes ``state_url`` or ``store`` runs on both backends."""

from __future__ import annotations

import os
import pwd
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID, uuid4

import pytest

from scaler.store import ActionIntent, Store, open_store

T0 = datetime(2025, 3, 3, 8, 0, tzinfo=UTC)


def at(minutes: float = 0) -> datetime:
    """The instant ``minutes`` after T0 (Monday 3 March 2025, 08:00 UTC)."""
    return T0 + timedelta(minutes=minutes)


def intent(
    deployment_id: UUID | None = None, action: str = "stop", minutes: float = 0, **fields: object
) -> ActionIntent:
    """An action intent with sensible defaults, started ``minutes`` after T0."""
    values: dict[str, object] = {
        "deployment_id": deployment_id or uuid4(),
        "deployment_name": "llama-prod",
        "action": action,
        "started_at": at(minutes),
        "parameters": {"org": "acme"},
        "reason": "night stop",
        "policy": "office-hours",
        "rule": None,
    }
    values.update(fields)
    return ActionIntent(**values)  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of a new, empty state database: a SQLite file, or a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def store(state_url: str) -> Iterator[Store]:
    """An open store on a new database, closed after the test."""
    with open_store(state_url) as opened:
        yield opened


@contextmanager
def unprivileged() -> Iterator[None]:
    """Run the block without root's power to write anywhere (as ``nobody``), so that
    permissions bite as they do for the daemon's own user. A no-op when not root."""
    if os.geteuid() != 0:
        yield
        return
    nobody = pwd.getpwnam("nobody")
    os.setegid(nobody.pw_gid)
    os.seteuid(nobody.pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
