"""The versioned schema shared by both backends, and the forward migrations that build it.

Each :class:`Migration` is applied in its own transaction, under the migration lock
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), after re-reading the
version inside that transaction: two processes opening one database at once migrate it
once. ``schema_version`` holds one row per applied migration. A database whose version
is newer than :data:`LATEST_VERSION` is refused: an older scaler must not write to it.

Migrations are append-only: never edit one that has shipped; add the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog

from scaler.store.database import Cursor, Database
from scaler.store.dialect import instant_to_db
from scaler.store.errors import MigrationFailed, SchemaTooNew, StoreError, StoreUnavailable

log = structlog.get_logger()


@dataclass(frozen=True, slots=True)
class Migration:
    """Schema version ``version``: DDL templates (``{uuid}``, ``{instant}``, ``{json}``, ``{serial}``)."""

    version: int
    description: str
    statements: tuple[str, ...]


_RESULTS = "'pending', 'success', 'error', 'dry_run', 'deferred', 'blocked'"

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        version=1,
        description="deployments, applied state, audit log, health, rule memory, suspensions, backoffs, meta",
        statements=(
            """CREATE TABLE deployments (
                deployment_id {uuid} PRIMARY KEY,
                name TEXT NOT NULL,
                first_seen {instant} NOT NULL
            )""",
            "CREATE INDEX deployments_by_name ON deployments (name)",
            f"""CREATE TABLE actions (
                id {{serial}},
                deployment_id {{uuid}} NOT NULL,
                deployment_name TEXT NOT NULL,
                action TEXT NOT NULL,
                parameters {{json}} NOT NULL,
                reason TEXT NOT NULL,
                policy TEXT,
                rule TEXT,
                result TEXT NOT NULL CHECK (result IN ({_RESULTS})),
                dry_run BOOLEAN NOT NULL,
                started_at {{instant}} NOT NULL,
                finished_at {{instant}},
                platform_message TEXT,
                request_id TEXT,
                error_reason TEXT,
                CHECK ((result = 'pending') = (finished_at IS NULL))
            )""",
            """CREATE TABLE applied_state (
                deployment_id {uuid} PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('stopped', 'running', 'bounds')),
                min_replicas INTEGER,
                max_replicas INTEGER,
                policy TEXT,
                rule TEXT,
                source TEXT NOT NULL,
                applied_at {instant} NOT NULL,
                action_id BIGINT REFERENCES actions (id) ON DELETE SET NULL
            )""",
            """CREATE TABLE health (
                deployment_id {uuid} PRIMARY KEY,
                value TEXT NOT NULL,
                since {instant} NOT NULL,
                last_observed {instant} NOT NULL
            )""",
            """CREATE TABLE rule_memory (
                deployment_id {uuid} NOT NULL,
                policy TEXT NOT NULL,
                rule TEXT NOT NULL,
                memory {json} NOT NULL,
                PRIMARY KEY (deployment_id, policy, rule)
            )""",
            """CREATE TABLE suspensions (
                deployment_id {uuid} PRIMARY KEY,
                deployment_name TEXT NOT NULL,
                until {instant} NOT NULL,
                reason TEXT NOT NULL,
                created_at {instant} NOT NULL,
                created_by TEXT NOT NULL
            )""",
            """CREATE TABLE backoffs (
                deployment_id {uuid} PRIMARY KEY,
                until {instant} NOT NULL,
                failures INTEGER NOT NULL,
                reason TEXT NOT NULL
            )""",
            """CREATE TABLE meta (
                key TEXT PRIMARY KEY,
                value {json} NOT NULL
            )""",
        ),
    ),
    Migration(
        version=2,
        description="index the audit log for per-deployment counts and crash recovery",
        statements=(
            "CREATE INDEX actions_by_deployment ON actions (deployment_id, action, started_at)",
            "CREATE INDEX actions_pending ON actions (id) WHERE result = 'pending'",
        ),
    ),
    Migration(
        version=3,
        description="applied state: the instant it was decided at, and the steps of its plan still to send",
        statements=(
            "ALTER TABLE applied_state ADD COLUMN decided_at {instant}",
            "ALTER TABLE applied_state ADD COLUMN remaining TEXT",
        ),
    ),
    Migration(
        version=4,
        description="exceptions (suspensions and overrides of a deployment, a policy or all); "
        "the suspensions move into them",
        statements=(
            """CREATE TABLE exceptions (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('suspend', 'override')),
                target_kind TEXT NOT NULL CHECK (target_kind IN ('deployment', 'policy', 'all')),
                target TEXT,
                target_name TEXT,
                deployment_ids TEXT NOT NULL,
                state TEXT,
                created_at {instant} NOT NULL,
                until {instant} NOT NULL,
                reason TEXT NOT NULL,
                created_by TEXT NOT NULL,
                ended_at {instant},
                ended_by TEXT,
                CHECK ((kind = 'override') = (state IS NOT NULL)),
                CHECK ((target_kind = 'all') = (target IS NULL)),
                CHECK ((ended_at IS NULL) = (ended_by IS NULL))
            )""",
            "CREATE INDEX exceptions_open ON exceptions (until) WHERE ended_at IS NULL",
            # Each suspension of version 1-3 becomes a deployment-target suspension (its id names it).
            "INSERT INTO exceptions (id, kind, target_kind, target, target_name, deployment_ids, state, created_at, "
            "until, reason, created_by) SELECT 'suspension-' || CAST(deployment_id AS TEXT), 'suspend', 'deployment', "
            "CAST(deployment_id AS TEXT), deployment_name, CAST(deployment_id AS TEXT), NULL, created_at, until, "
            "reason, created_by FROM suspensions",
            "DROP TABLE suspensions",
        ),
    ),
    Migration(
        version=5,
        description="observed start-up times of deployments, for learned lead times",
        statements=(
            """CREATE TABLE startups (
                deployment_id {uuid} NOT NULL,
                observed_at {instant} NOT NULL,
                seconds DOUBLE PRECISION NOT NULL CHECK (seconds >= 0),
                PRIMARY KEY (deployment_id, observed_at)
            )""",
        ),
    ),
    Migration(
        version=6,
        description="notices sent (webhooks), so that a restart or a new leader sends none twice",
        statements=(
            """CREATE TABLE notifications (
                key TEXT PRIMARY KEY,
                event TEXT NOT NULL,
                noted_at {instant} NOT NULL
            )""",
            "CREATE INDEX notifications_by_instant ON notifications (noted_at)",
        ),
    ),
    Migration(
        version=7,
        description="health history: each deployment's recent changes of health, starting from its current track",
        statements=(
            """CREATE TABLE health_history (
                deployment_id {uuid} NOT NULL,
                value TEXT NOT NULL,
                since {instant} NOT NULL,
                PRIMARY KEY (deployment_id, since)
            )""",
            "INSERT INTO health_history (deployment_id, value, since) SELECT deployment_id, value, since FROM health",
        ),
    ),
    Migration(
        version=8,
        description="measured savings: GPU-seconds and dollars each deployment saved, by UTC day",
        statements=(
            """CREATE TABLE savings (
                deployment_id {uuid} NOT NULL,
                day TEXT NOT NULL,
                gpu_seconds DOUBLE PRECISION NOT NULL CHECK (gpu_seconds >= 0),
                dollars DOUBLE PRECISION NOT NULL CHECK (dollars >= 0),
                PRIMARY KEY (deployment_id, day)
            )""",
            "CREATE INDEX savings_by_day ON savings (day)",
        ),
    ),
)

#: The schema version this code writes and reads.
LATEST_VERSION = MIGRATIONS[-1].version

_CREATE_VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at {instant} NOT NULL
)"""


def _utcnow() -> datetime:
    return datetime.now(UTC)


def current_version(db: Database) -> int:
    """Return the database's schema version (0 when it has none yet).

    Raises :class:`StoreUnavailable` or :class:`StoreError` when it cannot be read.
    """
    with db.transaction(write=False) as cursor:
        return _read_version(cursor, db)


def _read_version(cursor: Cursor, db: Database) -> int:
    if cursor.execute(db.dialect.table_exists_sql, ("schema_version",)).fetchone() is None:
        return 0
    row = cursor.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(
    db: Database,
    migrations: Sequence[Migration] = MIGRATIONS,
    *,
    target: int | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> int:
    """Bring ``db`` forward to version ``target`` (default: the last of ``migrations``); return it.

    ``clock`` stamps ``schema_version.applied_at``. Raises :class:`SchemaTooNew` when the
    database is newer than ``migrations`` know, :class:`MigrationFailed` when a
    migration fails (that migration is rolled back, earlier ones stay), and
    :class:`StoreUnavailable` when the database cannot be written.
    """
    _check_sequence(migrations)
    known = migrations[-1].version if migrations else 0
    target = known if target is None else target
    found = current_version(db)
    if found > known:
        raise _too_new(db, found, known)
    if found >= target:
        return found
    for migration in migrations[:target]:
        if migration.version > found:
            _apply(db, migration, known, clock)
    return target


def _apply(db: Database, migration: Migration, known: int, clock: Callable[[], datetime]) -> None:
    try:
        with db.migration_transaction() as cursor:
            cursor.execute(db.dialect.ddl(_CREATE_VERSION_TABLE))
            found = _read_version(cursor, db)
            if found > known:
                raise _too_new(db, found, known)
            if found >= migration.version:
                return  # another process applied it while we waited for the lock
            for statement in migration.statements:
                cursor.execute(db.dialect.ddl(statement))
            cursor.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (migration.version, migration.description, instant_to_db(clock(), "clock()")),
            )
    except (StoreUnavailable, SchemaTooNew):
        raise
    except StoreError as exc:
        raise MigrationFailed(
            f"schema migration {migration.version} ({migration.description}) of {db.location} failed "
            f"and was rolled back: {exc}"
        ) from exc
    log.info("store_migrated", location=db.location, version=migration.version, description=migration.description)


def _check_sequence(migrations: Sequence[Migration]) -> None:
    versions = [m.version for m in migrations]
    if versions != list(range(1, len(versions) + 1)):
        raise ValueError(f"migrations must be numbered 1, 2, 3... in order, got {versions}")


def _too_new(db: Database, found: int, known: int) -> SchemaTooNew:
    return SchemaTooNew(
        f"the state database {db.location} has schema version {found}, but this scaler knows versions up "
        f"to {known}: it was written by a newer scaler; run that version (or newer) instead",
        found=found,
        known=known,
    )
