"""When the database cannot be opened, reached or written: a clear StoreUnavailable saying
which and where, never a password, and nothing reported as written that was not."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import pytest
from structlog.testing import capture_logs

from scaler.logs import REDACTED, redact
from scaler.store import StoreUnavailable, open_store
from scaler.store.opening import connect
from tests.pg import PostgresServer
from tests.store.conftest import at, intent, unprivileged


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory anyone may enter (pytest's own temporary directories are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="scaler-store-test-"))
    path.chmod(0o755)
    yield path
    path.chmod(0o755)
    shutil.rmtree(path)


def test_missing_directory_is_named(tmp_path: Path) -> None:
    """A state file in a directory that does not exist: cannot_open, naming the directory."""
    with pytest.raises(StoreUnavailable) as raised:
        open_store(f"sqlite:///{tmp_path}/missing/state.db")
    assert ("cannot_open", f"directory {tmp_path}/missing does not exist") == (
        raised.value.reason,
        str(raised.value).split(": ", 1)[1],
    )


def test_read_only_directory_at_open(open_dir: Path) -> None:
    """A new state file in a directory the daemon may not write: read_only, naming the directory."""
    open_dir.chmod(0o555)
    with unprivileged(), pytest.raises(StoreUnavailable) as raised:
        open_store(f"sqlite:///{open_dir}/state.db")
    assert "read_only" == raised.value.reason
    assert f"directory {open_dir} is not writable" in str(raised.value)


def test_read_only_file_at_open(open_dir: Path) -> None:
    """An existing state file the daemon may not write (in a directory it may): read_only."""
    open_store(f"sqlite:///{open_dir}/state.db").close()
    open_dir.chmod(0o777)
    (open_dir / "state.db").chmod(0o444)
    with unprivileged(), pytest.raises(StoreUnavailable) as raised:
        open_store(f"sqlite:///{open_dir}/state.db")
    assert ("read_only", f"{open_dir}/state.db") == (raised.value.reason, raised.value.location)
    assert "is read-only" in str(raised.value)


def test_read_only_file_and_directory_at_open(open_dir: Path) -> None:
    """A state file on a read-only volume (file and directory): StoreUnavailable at open, not later."""
    open_store(f"sqlite:///{open_dir}/state.db").close()
    for leftover in open_dir.glob("state.db-*"):
        leftover.unlink()
    (open_dir / "state.db").chmod(0o444)
    open_dir.chmod(0o555)
    with unprivileged(), pytest.raises(StoreUnavailable) as raised:
        open_store(f"sqlite:///{open_dir}/state.db")
    assert ("read_only", f"{open_dir}/state.db") == (raised.value.reason, raised.value.location)


def test_file_that_is_not_a_database(tmp_path: Path) -> None:
    """A state path holding something else: corrupt, naming the file."""
    (tmp_path / "state.db").write_bytes(b"this is not a SQLite database" * 200)
    with pytest.raises(StoreUnavailable) as raised:
        open_store(f"sqlite:///{tmp_path}/state.db")
    assert ("corrupt", f"{tmp_path}/state.db") == (raised.value.reason, raised.value.location)


def test_full_disk_fails_the_write_and_keeps_nothing(tmp_path: Path) -> None:
    """A write the disk cannot hold raises StoreUnavailable (disk_full) and is rolled back whole."""
    url = f"sqlite:///{tmp_path}/state.db"
    open_store(url).close()
    db = connect(url)
    try:
        with db.transaction() as cursor:
            pages = cursor.execute("PRAGMA page_count").fetchone()[0]  # type: ignore[index]
            cursor.execute(f"PRAGMA max_page_count = {pages + 2}")  # the "disk" has two pages left
        with pytest.raises(StoreUnavailable) as raised, db.transaction() as cursor:
            cursor.execute("INSERT INTO meta (key, value) VALUES ('small', '1')")
            cursor.execute("INSERT INTO meta (key, value) VALUES ('large', ?)", ('"' + "x" * 100_000 + '"',))
        with db.transaction(write=False) as cursor:
            kept = cursor.execute("SELECT key FROM meta").fetchall()
    finally:
        db.close()
    assert ("disk_full", []) == (raised.value.reason, kept)


def test_closed_store_refuses_calls(tmp_path: Path) -> None:
    """A call after close raises StoreUnavailable with reason closed."""
    store = open_store(f"sqlite:///{tmp_path}/state.db")
    store.close()
    with pytest.raises(StoreUnavailable) as raised:
        store.begin_action(intent())
    assert "closed" == raised.value.reason


@pytest.mark.integration
def test_unreachable_server_is_named_without_password(postgres_server: PostgresServer) -> None:
    """Nothing listening: connection, the redacted URL in the message, no password anywhere."""
    url = "postgresql://scaler:Sup3rSecret@127.0.0.1:1/scaler?connect_timeout=2"
    with pytest.raises(StoreUnavailable) as raised:
        open_store(url)
    assert "connection" == raised.value.reason
    assert "postgresql://scaler:***@127.0.0.1:1/scaler?connect_timeout=2" in str(raised.value)
    assert "Sup3rSecret" not in str(raised.value)


@pytest.mark.parametrize("password", ["p", "cept"])
def test_a_short_password_alters_nothing_else_in_the_message(password: str) -> None:
    """A one-letter password, or one found inside words ('accepting'), leaves libpq's message whole;
    the URL shows *** where the password was."""
    url = f"postgresql://scaler:{password}@127.0.0.1:1/scaler?connect_timeout=2"
    with pytest.raises(StoreUnavailable) as raised:
        open_store(url)
    message = str(raised.value)
    assert "postgresql://scaler:***@127.0.0.1:1/scaler?connect_timeout=2" in message
    assert 'connection to server at "127.0.0.1", port 1 failed: Connection refused' in message
    assert "accepting TCP/IP connections?" in message


@pytest.mark.integration
def test_wrong_password_is_never_shown(postgres_server: PostgresServer, postgres_url: str) -> None:
    """Refused credentials: connection, and neither the wrong nor the right password in the message."""
    database = postgres_url.rsplit("/", 1)[1]
    with pytest.raises(StoreUnavailable) as raised:
        open_store(postgres_server.url(database, password="Wr0ngSecret"))
    assert "password authentication failed" in str(raised.value)
    assert ("Wr0ngSecret" in str(raised.value), postgres_server.password in str(raised.value)) == (False, False)


@pytest.mark.integration
def test_password_never_reaches_the_logs(postgres_server: PostgresServer, postgres_url: str) -> None:
    """Opening logs the location without the password, and registers it to be scrubbed from any line."""
    with capture_logs() as logs:
        open_store(postgres_url).close()
    assert [] == [entry for entry in logs if postgres_server.password in repr(entry)]
    assert REDACTED == redact(postgres_server.password)


@pytest.mark.integration
def test_read_only_server_at_open(postgres_server: PostgresServer, postgres_url: str) -> None:
    """A database that refuses writes (a standby, default_transaction_read_only): read_only at open."""
    open_store(postgres_url).close()
    database = postgres_url.rsplit("/", 1)[1]
    postgres_server.admin().execute(f'ALTER DATABASE "{database}" SET default_transaction_read_only = on')
    with pytest.raises(StoreUnavailable) as raised:
        open_store(postgres_url)
    assert "read_only" == raised.value.reason


@pytest.mark.integration
def test_a_connection_lost_while_idle_is_replaced_at_the_next_call(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """The server ends the store's idle connection (a failover does): the next call finds it dead at BEGIN,
    before anything of it was sent, connects again and succeeds: a failover costs no failed call."""
    database = postgres_url.rsplit("/", 1)[1]
    with open_store(postgres_url) as store:
        deployment = uuid4()
        postgres_server.admin().execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        )
        store.set_backoff(deployment, at(1), 1, "quota")
        assert 1 == store.backoffs()[deployment].failures


@pytest.mark.integration
def test_a_connection_lost_during_a_transaction_fails_that_call_and_the_next_one_reconnects(
    postgres_server: PostgresServer, postgres_url: str
) -> None:
    """Lost after the transaction's first statement: that call raises StoreUnavailable (nothing is retried
    behind the caller's back: a write may or may not have happened), and the next call connects again."""
    database = postgres_url.rsplit("/", 1)[1]
    db = connect(postgres_url)
    try:
        with pytest.raises(StoreUnavailable) as raised, db.transaction() as cursor:
            cursor.execute("SELECT 1").fetchone()
            postgres_server.admin().execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
            cursor.execute("SELECT 2").fetchone()
        with db.transaction() as cursor:
            answer = cursor.execute("SELECT 3").fetchone()
    finally:
        db.close()
    assert ("connection", (3,)) == (raised.value.reason, answer)

@pytest.mark.integration
def test_a_full_postgresql_disk_is_reported_on_one_line(postgres_server: PostgresServer, postgres_url: str) -> None:
    """The server's disk-full error (SQLSTATE 53100) comes with HINT and CONTEXT lines: disk_full, on one line."""
    with open_store(postgres_url) as store:
        db = connect(postgres_url)
        try:
            with db.transaction() as cursor:
                cursor.execute(
                    "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION "
                    "'could not extend file: No space left on device' USING ERRCODE = 'disk_full', "
                    "HINT = 'Check free disk space.'; END $$"
                )
                cursor.execute("CREATE TRIGGER full_disk BEFORE INSERT ON backoffs EXECUTE FUNCTION full_disk()")
        finally:
            db.close()
        with pytest.raises(StoreUnavailable) as raised:
            store.set_backoff(uuid4(), at(1), 1, "quota")
    message = str(raised.value)
    assert ("disk_full", 1) == (raised.value.reason, len(message.splitlines()))
    assert "No space left on device" in message and "Check free disk space." in message
