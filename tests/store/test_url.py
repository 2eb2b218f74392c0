"""SCALER_STATE_URL: the accepted forms, clear errors, and a password that never shows."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from scaler.settings import load_settings
from scaler.store import StoreConfigError, StoreUnavailable, open_store
from tests.pg import PostgresServer
from scaler.store.url import PostgresLocation, SqliteLocation, parse_state_url


def test_relative_sqlite_path_is_read_from_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Three slashes: a path relative to the working directory."""
    monkeypatch.chdir(tmp_path)
    assert SqliteLocation(path=tmp_path / "state" / "scaler.db") == parse_state_url("sqlite:///state/scaler.db")


def test_absolute_sqlite_path_has_four_slashes() -> None:
    """Four slashes: an absolute path."""
    assert SqliteLocation(path=Path("/var/lib/scaler/state.db")) == parse_state_url(
        "sqlite:////var/lib/scaler/state.db"
    )


def test_memory_url_means_a_private_database() -> None:
    """``sqlite:///:memory:`` is an in-memory database."""
    assert SqliteLocation(path=None) == parse_state_url("sqlite:///:memory:")


def test_in_memory_store_works() -> None:
    """An in-memory store is fully migrated and usable (for tests and the demo)."""
    with open_store("sqlite:///:memory:") as store:
        store.set_meta("k", 1)
        assert 1 == store.get_meta("k")


@pytest.mark.parametrize(
    "url", ["postgresql://scaler:pw@db.internal:5433/scaler", "postgres://scaler:pw@db.internal:5433/scaler"]
)
def test_postgresql_url_is_read_by_libpq(url: str) -> None:
    """Both scheme spellings give libpq's parameters, the password among them."""
    location = parse_state_url(url)
    assert isinstance(location, PostgresLocation)
    assert {
        "host": "db.internal",
        "port": "5433",
        "user": "scaler",
        "password": "pw",
        "dbname": "scaler",
    } == location.params


def test_postgresql_location_is_shown_without_password() -> None:
    """The location shown in messages hides the password, percent-encoded or not."""
    location = parse_state_url("postgresql://scaler:s%40cret@db:5432/scaler?sslmode=require")
    assert "postgresql://scaler:***@db:5432/scaler?sslmode=require" == location.display
    assert isinstance(location, PostgresLocation)
    assert {"s%40cret", "s@cret"} <= set(location.secrets)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root:hunter2@db/scaler", "unsupported scheme 'mysql'"),
        ("scaler-state.db", "is not a URL"),
        ("sqlite://host/state.db", "names a host"),
        ("sqlite:///", "has no file path"),
        ("sqlite:///state.db?mode=ro", "take no parameters"),
        ("postgresql://scaler:hunter2@db:fivefour/scaler", "port must be a number"),
        ("postgresql://scaler:hunter2@db/scaler?bogus=1", 'invalid URI query parameter: "bogus"'),
    ],
)
def test_bad_url_names_the_variable(url: str, expected: str) -> None:
    """A URL that cannot be used raises StoreConfigError naming SCALER_STATE_URL and the problem."""
    with pytest.raises(StoreConfigError) as raised:
        parse_state_url(url)
    assert str(raised.value).startswith("SCALER_STATE_URL: ")
    assert expected in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://root:hunter2@db/scaler",
        "postgresql://scaler:hunter2@db:fivefour/scaler",
        "postgresql://scaler:hunter2@[::1/scaler",
        "postgresql://scaler:hun%zzter2@db/scaler",
    ],
)
def test_bad_url_error_never_echoes_the_password(url: str) -> None:
    """Even libpq's own parse errors, which quote the URL, reach the user without the password."""
    with pytest.raises(StoreConfigError) as raised:
        open_store(url)
    assert "hunter2" not in str(raised.value)
    assert "hun%zzter2" not in str(raised.value)


def test_settings_public_view_hides_the_state_url_password() -> None:
    """/status and `scaler config` show the settings through public_view: no password there."""
    settings = load_settings(state_url="postgresql://scaler:hunter2@db:5432/scaler")
    assert "postgresql://scaler:***@db:5432/scaler" == settings.public_view()["state_url"]


@pytest.mark.integration
def test_a_state_url_file_opens_the_postgresql_store(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SCALER_STATE_URL_FILE holding a URL with its password opens the real database."""
    (tmp_path / "state-url").write_text(postgres_url + "\n")
    monkeypatch.delenv("SCALER_STATE_URL", raising=False)
    monkeypatch.setenv("SCALER_STATE_URL_FILE", str(tmp_path / "state-url"))
    with open_store(load_settings().state_url) as store:
        store.set_meta("opened-from", "file")
        assert "file" == store.get_meta("opened-from")


@pytest.mark.integration
def test_libpq_reads_the_password_from_pgpassfile(
    postgres_server: PostgresServer, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A URL without a password and libpq's PGPASSFILE: the store opens, the password never in the URL."""
    parts = urlsplit(postgres_url)
    database = parts.path.lstrip("/")
    passfile = tmp_path / "pgpass"
    passfile.write_text(f"{postgres_server.host}:{postgres_server.port}:{database}:{postgres_server.user}:{postgres_server.password}\n")
    passfile.chmod(0o600)  # libpq ignores a password file that others can read
    url = f"postgresql://{postgres_server.user}@{postgres_server.host}:{postgres_server.port}/{database}"
    monkeypatch.setenv("PGPASSFILE", str(passfile))
    with open_store(url) as store:
        store.set_meta("password-from", "pgpassfile")
        assert "pgpassfile" == store.get_meta("password-from")
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "none"))
    with pytest.raises(StoreUnavailable):  # the same URL without the file: refused, so the file did it
        open_store(url)
