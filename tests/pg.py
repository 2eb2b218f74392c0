"""A real PostgreSQL server for the tests: started once per session on loopback, one fresh database per test.

Fixtures:

- ``postgres_server`` (session): a :class:`PostgresServer`, started from the server
  binaries on PATH or under ``/usr/lib/postgresql/*/bin`` (Debian's ``postgresql``
  package), in a temporary directory, on a free port, with its socket in that
  directory, ``fsync=off`` for speed; stopped at the end of the session. Password
  authentication over TCP (scram-sha-256), so URLs carry a real password.
  Under root, which PostgreSQL refuses to run as, the server runs as the ``postgres``
  system user. ``SCALERTEST_POSTGRES_URL=postgresql://...`` (a superuser on an
  existing server) is used instead of starting one.
- ``postgres_url``: the URL of a new, empty database on that server, for one test.

Without server binaries the tests that use them skip (fail under
``SCALERTEST_REQUIRE_INTEGRATION=1``), with the reason.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import psycopg
import pytest

from tests.conftest import skip_or_fail
from tests.processes import free_port

SERVER_USER = "postgres"
SUPERUSER = "scaler_test"
_START_TIMEOUT_SECONDS = 60


@dataclass
class PostgresServer:
    """A PostgreSQL server the tests may use: where it is and how to reach it as a superuser."""

    host: str
    port: int
    user: str
    password: str
    admin_database: str = "postgres"
    datadir: Path | None = None
    bindir: Path | None = None
    _free: list[str] = field(default_factory=list, repr=False)
    _admin: psycopg.Connection[Any] | None = field(default=None, repr=False)

    def url(self, database: str, *, user: str | None = None, password: str | None = None) -> str:
        """Return the URL of ``database`` on this server (as the superuser unless told otherwise)."""
        user = self.user if user is None else user
        password = self.password if password is None else password
        return f"postgresql://{quote(user, safe='')}:{quote(password, safe='')}@{self.host}:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[Any]:
        """Return the session's autocommit superuser connection to the maintenance database."""
        if self._admin is None or self._admin.closed or self._admin.broken:
            self._admin = psycopg.connect(self.url(self.admin_database), autocommit=True, connect_timeout=10)
        return self._admin

    def close(self) -> None:
        """Close the superuser connection."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None

    def create_database(self) -> str:
        """Create a new, empty database; return its URL."""
        name = f"scaler_test_{secrets.token_hex(6)}"
        self.admin().execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database ``url`` names, disconnecting whoever is still on it."""
        name = urlsplit(url).path.lstrip("/")
        self.admin().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def take_database(self) -> str:
        """Return the URL of an empty database: an emptied one if any is free, else a new one.

        CREATE DATABASE costs about 90 ms here; emptying a used one about 15 ms.
        """
        return self._free.pop() if self._free else self.create_database()

    def give_back_database(self, url: str) -> None:
        """Empty the database ``url`` names and keep it for the next :meth:`take_database`.

        Ends its connections (and so their advisory locks), resets its settings and
        drops every schema in it; a database that cannot be emptied is dropped instead.
        """
        name = urlsplit(url).path.lstrip("/")
        try:
            admin = self.admin()
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            admin.execute(f'ALTER DATABASE "{name}" RESET ALL')
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                schemas = conn.execute(
                    "SELECT nspname FROM pg_namespace "
                    "WHERE nspname NOT LIKE 'pg\\_%' AND nspname <> 'information_schema'"
                ).fetchall()
                for (schema,) in schemas:
                    conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                conn.execute("CREATE SCHEMA public AUTHORIZATION pg_database_owner")
        except psycopg.Error:
            self.drop_database(url)
            return
        self._free.append(url)


def find_postgres_bindir() -> Path | None:
    """Return the directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or ``None``.

    Looks at ``SCALERTEST_PG_BINDIR``, then PATH, then the newest
    ``/usr/lib/postgresql/<version>/bin`` (Debian keeps the server binaries off PATH).
    """
    wanted = ("initdb", "pg_ctl", "postgres")
    candidates: list[Path] = []
    if os.environ.get("SCALERTEST_PG_BINDIR"):
        candidates.append(Path(os.environ["SCALERTEST_PG_BINDIR"]))
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(os.path.realpath(on_path)).parent)
    debian = Path("/usr/lib/postgresql")
    if debian.is_dir():
        versions = [p for p in debian.iterdir() if p.name.replace(".", "").isdigit()]
        candidates += [p / "bin" for p in sorted(versions, key=lambda p: float(p.name), reverse=True)]
    for candidate in candidates:
        if all(os.access(candidate / name, os.X_OK) for name in wanted):
            return candidate
    return None


class NoPostgres(Exception):
    """No PostgreSQL server can be started here; the message says why."""


class LocalPostgres:
    """A throw-away server in a new temporary directory, run with the binaries in ``bindir``.

    ``start()`` returns its :class:`PostgresServer`; ``stop()`` stops it and removes the
    directory. Raises :class:`NoPostgres` when run as root without a ``postgres`` user.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self._run_as: dict[str, Any] = {}
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise NoPostgres(
                    f"PostgreSQL refuses to run as root and there is no {SERVER_USER!r} system user "
                    "to run it as (install the postgresql package)"
                ) from None
            self._run_as = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
        self.base = Path(tempfile.mkdtemp(prefix="scaler-test-pg-"))
        if self._run_as:
            os.chown(self.base, self._run_as["user"], self._run_as["group"])
        self.base.chmod(0o700)
        self.datadir = self.base / "data"
        self.logfile = self.base / "server.log"
        self.password = secrets.token_urlsafe(18)

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {"PATH": f"{self.bindir}:/usr/bin:/bin", "LC_ALL": "C", "LANG": "C", "TZ": "UTC"}
        return subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            cwd=self.base,
            env=env,
            capture_output=True,
            text=True,
            timeout=_START_TIMEOUT_SECONDS + 30,
            check=False,
            **self._run_as,
        )

    def start(self) -> PostgresServer:
        pwfile = self.base / "pwfile"
        pwfile.write_text(self.password + "\n")
        if self._run_as:
            os.chown(pwfile, self._run_as["user"], self._run_as["group"])
        pwfile.chmod(0o600)
        init = self._run(
            "initdb", "-D", str(self.datadir), "-U", SUPERUSER, f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync",
        )  # fmt: skip
        pwfile.unlink()
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr.strip()}")
        last_error = ""
        for _attempt in range(3):  # a free port can be taken between the check and the start
            port = free_port()
            options = (
                f"-p {port} -h 127.0.0.1 -k {self.base} -c fsync=off -c synchronous_commit=off "
                "-c full_page_writes=off -c max_connections=200 -c shared_buffers=32MB"
            )
            started = self._run(
                "pg_ctl", "start", "-D", str(self.datadir), "-l", str(self.logfile), "-w",
                "-t", str(_START_TIMEOUT_SECONDS), "-o", options,
            )  # fmt: skip
            if started.returncode == 0:
                return PostgresServer(
                    host="127.0.0.1",
                    port=port,
                    user=SUPERUSER,
                    password=self.password,
                    datadir=self.datadir,
                    bindir=self.bindir,
                )
            last_error = f"{started.stdout.strip()} {started.stderr.strip()} {self._log_tail()}"
        raise RuntimeError(f"PostgreSQL did not start: {last_error}")

    def stop(self) -> None:
        if (self.datadir / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-D", str(self.datadir), "-m", "immediate", "-w")
        shutil.rmtree(self.base, ignore_errors=True)

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.logfile.read_text(errors="replace").splitlines()[-5:])
        except OSError:
            return ""


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the whole session (see the module docstring)."""
    external = os.environ.get("SCALERTEST_POSTGRES_URL")
    if external:
        parts = urlsplit(external)
        yield PostgresServer(
            host=parts.hostname or "127.0.0.1",
            port=parts.port or 5432,
            user=parts.username or "postgres",
            password=parts.password or "",
            admin_database=parts.path.lstrip("/") or "postgres",
        )
        return
    bindir = find_postgres_bindir()
    if bindir is None:
        skip_or_fail(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) on PATH or under "
            "/usr/lib/postgresql/*/bin: install the postgresql package, or set SCALERTEST_PG_BINDIR"
        )
    try:
        local = LocalPostgres(bindir)
    except NoPostgres as exc:
        skip_or_fail(str(exc))
    try:
        server = local.start()
    except BaseException:
        local.stop()
        raise
    try:
        yield server
    finally:
        server.close()
        local.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of an empty database of its own on the session's server, for one test."""
    url = postgres_server.take_database()
    yield url
    postgres_server.give_back_database(url)
