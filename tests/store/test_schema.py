"""The versioned schema: built from empty, upgraded from every earlier version, migrated once
under concurrent opens, rolled back on failure, and refused when newer than the code."""

from __future__ import annotations

import threading
from uuid import UUID

import pytest

from scaler.store import LATEST_VERSION, HealthChange, MigrationFailed, Saved, SchemaTooNew, open_store
from scaler.store.database import Database
from scaler.store.opening import connect
from scaler.store.schema import MIGRATIONS, Migration, current_version, migrate
from tests.store.conftest import T0, at

DEPLOYMENT = UUID("11111111-2222-3333-4444-555555555555")

#: Rows written with the SQL of each earlier version, which an upgrade must keep readable.
SEEDS: dict[int, list[tuple[str, tuple[object, ...]]]] = {
    0: [],
    1: [
        (
            "INSERT INTO deployments (deployment_id, name, first_seen) VALUES (?, ?, ?)",
            (str(DEPLOYMENT), "llama-prod", "2025-03-03T08:00:00.000000+00:00"),
        ),
        (
            "INSERT INTO actions (deployment_id, deployment_name, action, parameters, reason, policy, rule, result, "
            "dry_run, started_at, finished_at) VALUES (?, ?, 'stop', '{}', 'night', 'office-hours', NULL, "
            "'success', ?, ?, ?)",
            (
                str(DEPLOYMENT),
                "llama-prod",
                False,
                "2025-03-03T08:00:00.000000+00:00",
                "2025-03-03T08:00:01.000000+00:00",
            ),
        ),
        (
            "INSERT INTO actions (deployment_id, deployment_name, action, parameters, reason, result, dry_run, "
            "started_at) VALUES (?, 'llama-prod', 'start', '{}', 'morning', 'pending', ?, ?)",
            (str(DEPLOYMENT), False, "2025-03-03T09:00:00.000000+00:00"),
        ),
        (
            "INSERT INTO applied_state (deployment_id, kind, source, applied_at, action_id) "
            "VALUES (?, 'stopped', 'window night', ?, 1)",
            (str(DEPLOYMENT), "2025-03-03T08:00:01.000000+00:00"),
        ),
    ],
}
#: Version 2 only added indexes: the same rows, written at version 2, must survive migration 3.
SEEDS[2] = SEEDS[1]
#: Version 3 with a suspension, which migration 4 moves into the exceptions.
SEEDS[3] = [
    *SEEDS[1],
    (
        "INSERT INTO suspensions (deployment_id, deployment_name, until, reason, created_at, created_by) "
        "VALUES (?, 'llama-prod', ?, 'incident 42', ?, 'alice')",
        (str(DEPLOYMENT), "2025-03-03T10:00:00.000000+00:00", "2025-03-03T08:00:00.000000+00:00"),
    ),
]
#: Version 4 added tables these rows do not touch: written at version 4, they must survive migration 5.
SEEDS[4] = SEEDS[1]
#: Version 5 with a start-up recorded: written at version 5, the rows must survive migration 6 (the notices).
SEEDS[5] = [
    *SEEDS[1],
    (
        "INSERT INTO startups (deployment_id, observed_at, seconds) VALUES (?, ?, 240.0)",
        (str(DEPLOYMENT), "2025-03-03T08:30:00.000000+00:00"),
    ),
]
#: Version 6 with a health track: migration 7 starts the health history with it.
SEEDS[6] = [
    *SEEDS[1],
    (
        "INSERT INTO health (deployment_id, value, since, last_observed) VALUES (?, 'Degraded', ?, ?)",
        (str(DEPLOYMENT), "2025-03-03T07:00:00.000000+00:00", "2025-03-03T08:00:00.000000+00:00"),
    ),
]
#: Version 7 with a health change: migration 8 adds the savings table beside it, which starts empty.
SEEDS[7] = [
    *SEEDS[6],
    (
        "INSERT INTO health_history (deployment_id, value, since) VALUES (?, 'Degraded', ?)",
        (str(DEPLOYMENT), "2025-03-03T07:00:00.000000+00:00"),
    ),
]


def _versions(db: Database) -> list[int]:
    with db.transaction(write=False) as cursor:
        return [int(row[0]) for row in cursor.execute("SELECT version FROM schema_version ORDER BY version").fetchall()]


def _table_exists(db: Database, name: str) -> bool:
    with db.transaction(write=False) as cursor:
        return cursor.execute(db.dialect.table_exists_sql, (name,)).fetchone() is not None


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    """Versions 1, 2, 3...: the order in which they are applied."""
    assert list(range(1, LATEST_VERSION + 1)) == [m.version for m in MIGRATIONS]


def test_every_earlier_version_has_seed_rows() -> None:
    """A new migration must come with rows written at the version before it, so its upgrade is tested."""
    assert set(range(LATEST_VERSION)) == set(SEEDS)


def test_empty_database_is_built_to_the_latest_version(state_url: str) -> None:
    """Opening an empty database applies every migration, each recorded once."""
    with open_store(state_url) as store:
        assert LATEST_VERSION == store.schema_version()
    db = connect(state_url)
    try:
        assert list(range(1, LATEST_VERSION + 1)) == _versions(db)
    finally:
        db.close()


@pytest.mark.parametrize("version", sorted(SEEDS))
def test_database_of_an_earlier_version_is_upgraded_with_its_rows(state_url: str, version: int) -> None:
    """A database left at an earlier version is migrated forward at open, and its rows stay readable."""
    db = connect(state_url)
    try:
        migrate(db, target=version)
        with db.transaction() as cursor:
            for statement, params in SEEDS[version]:
                cursor.execute(statement, params)
    finally:
        db.close()
    with open_store(state_url) as store:
        assert LATEST_VERSION == store.schema_version()
        if version >= 1:
            assert T0 == store.seen_deployments()[DEPLOYMENT].first_seen
            applied = store.all_applied()[DEPLOYMENT]
            assert ("stopped", None, ()) == (applied.kind, applied.decided_at, applied.remaining)
            assert ["start"] == [a.action for a in store.pending_actions()]
            assert 1 == store.count_actions(DEPLOYMENT, "stop", since=at(-60))
        if version == 3:
            (exception,) = store.active_exceptions(at(0))
            assert (f"suspension-{DEPLOYMENT}", "suspend", "deployment", (DEPLOYMENT,), at(120), "alice") == (
                exception.id,
                exception.kind,
                exception.target_kind,
                exception.deployment_ids,
                exception.until,
                exception.created_by,
            )
            assert {DEPLOYMENT} == set(store.active_suspensions(at(0)))
        if version == 5:
            assert {DEPLOYMENT: [240.0]} == store.startups()
            assert store.claim_notification("transition_upcoming:x", "transition_upcoming", at(0))
        if version == 6:
            assert [HealthChange("Degraded", at(-60), None)] == store.health_history(DEPLOYMENT, at(0))
        if version == 7:
            assert [HealthChange("Degraded", at(-60), None)] == store.health_history(DEPLOYMENT, at(0))
            assert {} == store.savings_since(T0.date())
            store.add_savings({(DEPLOYMENT, T0.date()): Saved(3600.0, 2.5)})
            assert {DEPLOYMENT: Saved(3600.0, 2.5)} == store.savings_since(T0.date())


def test_reopening_applies_nothing(state_url: str) -> None:
    """A database at the latest version is opened as it is."""
    open_store(state_url).close()
    db = connect(state_url)
    try:
        assert LATEST_VERSION == migrate(db)
        assert list(range(1, LATEST_VERSION + 1)) == _versions(db)
    finally:
        db.close()


def test_concurrent_opens_migrate_once(state_url: str) -> None:
    """Four processes' worth of connections opening one empty database at once all succeed, and
    every migration is recorded exactly once."""
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def open_and_close() -> None:
        barrier.wait()
        try:
            open_store(state_url).close()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_and_close) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [] == errors
    db = connect(state_url)
    try:
        assert list(range(1, LATEST_VERSION + 1)) == _versions(db)
    finally:
        db.close()


def test_newer_schema_is_refused(state_url: str) -> None:
    """A database migrated by a newer scaler raises SchemaTooNew saying both versions."""
    open_store(state_url).close()
    db = connect(state_url)
    try:
        with db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, 'from the future', ?)",
                (LATEST_VERSION + 1, "2030-01-01T00:00:00.000000+00:00"),
            )
    finally:
        db.close()
    with pytest.raises(SchemaTooNew) as raised:
        open_store(state_url)
    assert (LATEST_VERSION + 1, LATEST_VERSION) == (raised.value.found, raised.value.known)
    assert f"schema version {LATEST_VERSION + 1}" in str(raised.value)


def test_failed_migration_is_rolled_back(state_url: str) -> None:
    """A migration that fails half-way leaves nothing of itself and no version record."""
    broken = Migration(
        version=LATEST_VERSION + 1,
        description="half done",
        statements=("CREATE TABLE half_done (x INTEGER)", "CREATE TABLE broken ("),
    )
    db = connect(state_url)
    try:
        with pytest.raises(MigrationFailed) as raised:
            migrate(db, (*MIGRATIONS, broken))
        assert f"schema migration {LATEST_VERSION + 1} (half done)" in str(raised.value)
        assert (LATEST_VERSION, False) == (current_version(db), _table_exists(db, "half_done"))
    finally:
        db.close()


def test_sqlite_connection_is_durable(tmp_path: object) -> None:
    """SQLite runs in WAL mode with synchronous=FULL (2), foreign keys on and a busy timeout."""
    db = connect(f"sqlite:///{tmp_path}/state.db", busy_timeout_seconds=3)
    try:
        with db.transaction(write=False) as cursor:
            settings = tuple(
                cursor.execute(f"PRAGMA {name}").fetchone()[0]  # type: ignore[index]
                for name in ("journal_mode", "synchronous", "foreign_keys", "busy_timeout")
            )
        assert ("wal", 2, 1, 3000) == settings
    finally:
        db.close()
