"""``open_store(url, create=False)``: only an existing store opens; nothing is created where there is none."""

from __future__ import annotations

from pathlib import Path

import pytest

from scaler.store import StoreMissing, open_store
from scaler.store.opening import connect
from scaler.store.schema import current_version


def test_a_database_without_the_schema_is_missing_and_stays_empty(state_url: str) -> None:
    """A new database (a SQLite path with no file, an empty PostgreSQL database) is no store: nothing is set up."""
    with pytest.raises(StoreMissing, match="no state store at .*set SCALER_STATE_URL"):
        open_store(state_url, create=False)
    if state_url.startswith("sqlite"):
        assert not Path(state_url.removeprefix("sqlite:///")).exists()
    else:
        db = connect(state_url)
        try:
            assert 0 == current_version(db)
        finally:
            db.close()


def test_an_existing_store_opens(state_url: str) -> None:
    """Once the daemon has created the store, create=False opens it."""
    open_store(state_url).close()
    with open_store(state_url, create=False) as store:
        assert {} == store.all_suspensions()


def test_an_empty_sqlite_file_is_no_store_and_is_left_untouched(tmp_path: Path) -> None:
    """A file that is not the scaler's database is refused without writing to it (no journal either)."""
    empty = tmp_path / "state.db"
    empty.touch()
    with pytest.raises(StoreMissing) as raised:
        open_store(f"sqlite:///{empty}", create=False)
    assert str(empty) == raised.value.location
    assert (0, ["state.db"]) == (empty.stat().st_size, sorted(path.name for path in tmp_path.iterdir()))


def test_a_relative_sqlite_path_is_named_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The message names the absolute path a relative URL (the default ./scaler-state.db) points to."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreMissing) as raised:
        open_store("sqlite:///./scaler-state.db", create=False)
    assert str(tmp_path / "scaler-state.db") == raised.value.location


def test_a_private_in_memory_database_is_no_store() -> None:
    """sqlite:///:memory: cannot be the daemon's store."""
    with pytest.raises(StoreMissing):
        open_store("sqlite:///:memory:", create=False)
