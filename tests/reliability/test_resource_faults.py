"""Scenario 7, resource faults: the state store read-only or full, at start and mid-run, on SQLite and PostgreSQL.

What must hold: a clear error (one line naming the store, the cause and where); while
the store cannot be written ``/readyz`` is false, naming the store; **no silent loss**:
no call leaves without its audit record written first, and an action whose outcome
cannot be recorded is not logged or counted as applied (it stays pending, and crash
recovery settles it once the store takes writes again); recovery once the fault clears.

The faults, chosen to work here and in CI (both run as root):

- **Read-only at start** (SQLite): ``scaler run`` as root without the capabilities
  that let root ignore file permissions (``CAP_DAC_OVERRIDE``, ``CAP_DAC_READ_SEARCH``,
  ``CAP_FOWNER``, dropped from its bounding set), against a state directory or file
  whose permissions forbid writing: the kernel's own refusal.
- **Full at start** (SQLite): a 1 MiB tmpfs filled to the last byte when this machine
  lets the test mount one (a real ENOSPC); otherwise a file size limit of 0 bytes
  (``RLIMIT_FSIZE``), which the disk refuses as an I/O error.
- **Read-only and full mid-run** (SQLite, the daemon in process): SQLite's own limits on
  the daemon's connection, ``PRAGMA query_only`` (every write refused as read-only) and
  ``PRAGMA max_page_count`` at the current size (the database cannot grow: SQLITE_FULL),
  set before a boundary or while the boundary's calls are on their way.
- **PostgreSQL**: ``default_transaction_read_only`` for the database and its
  connections ended (what a failover to a read-only replica does), and triggers that
  fail every write with SQLSTATE 53100 ``disk_full``, at start and mid-run.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import resource
import signal
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import structlog
from structlog.testing import capture_logs

from scaler.daemon.http import create_http_app
from scaler.store import Store, open_store
from tests.daemon.harness import MONDAY, Harness, at_utc
from tests.reliability.figures import ScenarioFigures
from tests.processes import SimProcess, daemon_environment, environment, scaler_command
from tests.reliability.processes import DaemonProcess
from tests.reliability.test_malformed_answers_daemon import AT_EIGHT, POLICIES

pytestmark = pytest.mark.scenario(7)

#: Linux capabilities that let root write where permissions forbid it (linux/capability.h).
CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER = 1, 2, 3
PR_CAPBSET_DROP = 24


#: The C library, loaded here: the child between fork and exec only calls into it.
LIBC = ctypes.CDLL(None, use_errno=True)


def without_override() -> None:
    """In the child before exec: drop the capabilities that let root ignore file permissions."""
    for capability in (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER):
        if LIBC.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def no_file_growth() -> None:
    """In the child before exec: no file may grow (writes fail with EFBIG instead of a signal)."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


# --------------------------------------------------------------------------- at start: scaler run


def run_scaler(env: dict[str, str | None], log: Path, preexec: Callable[[], None] | None = None) -> tuple[int, str]:
    """``scaler run`` that must refuse to start: its exit status and its stderr."""
    result = subprocess.run(
        scaler_command("run"),
        capture_output=True,
        text=True,
        timeout=60,
        env=environment(**env),
        preexec_fn=preexec,
    )
    log.write_text(result.stderr)
    return result.returncode, result.stderr


@contextlib.contextmanager
def small_filesystem(directory: Path) -> Iterator[bool]:
    """Mount a 1 MiB tmpfs on ``directory`` if this machine allows it; yield whether it did."""
    directory.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=1m,mode=0755", "tmpfs", str(directory)], capture_output=True
    ).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(directory)], capture_output=True)


def fill(directory: Path) -> Path:
    """Fill the filesystem of ``directory`` to the last byte; return the filler file."""
    filler = directory / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (65536, 4096, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(descriptor, b"\0" * size)
    finally:
        os.close(descriptor)
    return filler


@dataclass(frozen=True)
class StartCase:
    """A store that cannot be written at start: how to break it, what the one error line must say, how to mend it."""

    name: str
    backend: str


START_CASES = [
    StartCase("sqlite: directory read-only", "sqlite"),
    StartCase("sqlite: file read-only", "sqlite"),
    StartCase("sqlite: disk full", "sqlite"),
    StartCase("postgresql: read-only", "postgresql"),
    StartCase("postgresql: disk full", "postgresql"),
]


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimProcess]:
    sim = SimProcess()
    yield sim
    sim.stop()


@pytest.mark.integration
@pytest.mark.parametrize("case", START_CASES, ids=[case.name for case in START_CASES])
def test_a_store_that_cannot_be_written_at_start_stops_scaler_run_with_one_clear_line(
    case: StartCase, tmp_path: Path, simulator: SimProcess, request: pytest.FixtureRequest, figures: ScenarioFigures
) -> None:
    """Exit 2 and one line naming the store and the cause, no traceback; once mended, it starts and acts."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "p.yaml").write_text(POLICIES)
    base = tmp_path / "state"  # world-readable, so that a process without DAC override still reaches it
    base.mkdir()
    tmp_path.chmod(0o755)
    preexec: Callable[[], None] | None = None
    mend: Callable[[], None]
    if case.backend == "sqlite":
        database = base / "state.db"
        url = f"sqlite:///{database}"
        if case.name.endswith("directory read-only"):
            base.chmod(0o555)
            preexec, expected = without_override, f"directory {base} is not writable"
            mend = lambda: base.chmod(0o755)  # noqa: E731
        elif case.name.endswith("file read-only"):
            open_store(url).close()
            database.chmod(0o444)
            base.chmod(0o555)
            preexec, expected = without_override, "is read-only"
            mend = lambda: (base.chmod(0o755), database.chmod(0o644))  # noqa: E731
        else:
            stack = contextlib.ExitStack()
            request.addfinalizer(stack.close)
            mounted = stack.enter_context(small_filesystem(base))
            if mounted:
                filler = fill(base)
                expected = "is full"
                mend = filler.unlink
            else:
                preexec, expected = no_file_growth, "refused a read or write"
                mend = lambda: None  # noqa: E731 - the limit is the process's own: the next one has none
            figures.note(f"disk full at start: {'a full 1 MiB tmpfs' if mounted else 'RLIMIT_FSIZE=0 (no mount here)'}")
    else:
        server = request.getfixturevalue("postgres_server")
        url = request.getfixturevalue("postgres_url")
        open_store(url).close()
        name = urlsplit(url).path.lstrip("/")
        if case.name.endswith("read-only"):
            server.admin().execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            expected = "is read-only"
            mend = lambda: server.admin().execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')  # noqa: E731
        else:
            with psycopg.connect(url, autocommit=True) as conn:
                disk_full_triggers(conn)
            expected = "is full"
            mend = lambda: no_disk_full_triggers(url)  # noqa: E731
    env = daemon_environment(simulator.url, token=simulator.token, policies=policies, state_url=url)
    code, stderr = run_scaler(env, tmp_path / "refused.log", preexec)
    mend()
    simulator.control("POST", "/reset")
    daemon = DaemonProcess(env, tmp_path / "daemon.log")
    try:
        daemon.wait_started()
        daemon.wait_acting()
        started = daemon.terminate()
    finally:
        daemon.close()
    figures.add(cases=1, faults=1, crashes=0 if "Traceback" not in stderr else 1)
    lines = stderr.strip().splitlines()
    assert 2 == code, stderr
    assert lines and lines[-1].startswith("error: the state store cannot be used: "), stderr
    assert expected in lines[-1] and "Traceback" not in stderr
    assert 0 == started


def disk_full_triggers(conn: psycopg.Connection[Any]) -> None:
    """Make every write to the store's tables fail as a full disk does (SQLSTATE 53100)."""
    conn.execute(
        "CREATE OR REPLACE FUNCTION reliability_disk_full() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'could not extend file: No space left on device' USING ERRCODE = 'disk_full'; END $$"
    )
    tables = [row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
    for table in tables:
        conn.execute(
            f'CREATE TRIGGER reliability_disk_full BEFORE INSERT OR UPDATE OR DELETE ON "{table}" '
            "FOR EACH STATEMENT EXECUTE FUNCTION reliability_disk_full()"
        )


def no_disk_full_triggers(url: str) -> None:
    """Mend what :func:`disk_full_triggers` broke."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP FUNCTION reliability_disk_full() CASCADE")


# --------------------------------------------------------------------------- mid-run, in process


def sqlite_connection(store: Store) -> sqlite3.Connection:
    """The daemon's own SQLite connection (SQLite's limits are set per connection)."""
    return store._db._conn  # type: ignore[attr-defined]  # noqa: SLF001 - the fault must be on this very connection


class Fault:
    """A store fault the test switches on (before a boundary, or while the boundary's calls are on their way) and off."""

    def __init__(self, on: Callable[[], None], off: Callable[[], None]) -> None:
        self._on, self._off = on, off
        self.active = False

    def on(self) -> None:
        if not self.active:
            self._on()
            self.active = True

    def off(self) -> None:
        if self.active:
            self._off()
            self.active = False


class BreakWhileCalling(httpx.AsyncBaseTransport):
    """The daemon's network: switches ``fault`` on as the first mutating call leaves (its record is written ahead)."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.fault: Fault | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.fault is not None and request.method in ("POST", "DELETE"):
            self.fault.on()
        return await self.inner.handle_async_request(request)


def small_pages(path: Path) -> None:
    """Create the SQLite file at ``path`` with 512-byte pages: a cycle's records then need new pages."""
    connection = sqlite3.connect(path)
    try:
        connection.execute("PRAGMA page_size = 512")
        connection.execute("VACUUM")
    finally:
        connection.close()


def sqlite_fault(kind: str, store: Store) -> Fault:
    connection = sqlite_connection(store)
    if kind == "read-only":
        return Fault(lambda: connection.execute("PRAGMA query_only = ON"), lambda: connection.execute("PRAGMA query_only = OFF"))

    def full() -> None:
        # The database may not grow and its free pages are taken: the next write that needs a page fails
        # with SQLITE_FULL, as on a full disk. (With 512-byte pages, see small_pages, a cycle's records need some.)
        connection.execute("CREATE TABLE IF NOT EXISTS reliability_filler (x BLOB)")
        pages = int(connection.execute("PRAGMA page_count").fetchone()[0])
        connection.execute(f"PRAGMA max_page_count = {pages}")
        for size in (256, 32, 1):
            with contextlib.suppress(sqlite3.DatabaseError):
                while True:
                    connection.execute("INSERT INTO reliability_filler VALUES (zeroblob(?))", (size,))

    def room() -> None:
        connection.execute("PRAGMA max_page_count = 1073741823")
        connection.execute("DROP TABLE reliability_filler")

    return Fault(full, room)


def postgres_fault(kind: str, url: str, admin: Callable[[], psycopg.Connection[Any]]) -> Fault:
    name = urlsplit(url).path.lstrip("/")

    def end_connections() -> None:
        admin().execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )

    if kind == "read-only":

        def on() -> None:
            admin().execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            end_connections()

        def off() -> None:
            admin().execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            end_connections()

        return Fault(on, off)

    def full() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            disk_full_triggers(conn)

    return Fault(full, lambda: no_disk_full_triggers(url))


MID_RUN = [
    ("sqlite", "read-only", "before"),
    ("sqlite", "read-only", "while calling"),
    ("sqlite", "full", "before"),
    ("sqlite", "full", "while calling"),
    ("postgresql", "read-only", "before"),
    ("postgresql", "read-only", "while calling"),
    ("postgresql", "full", "before"),
    ("postgresql", "full", "while calling"),
]


@pytest.fixture(autouse=True)
def _info_structlog() -> Iterator[None]:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    yield
    structlog.reset_defaults()


@pytest.mark.parametrize(("backend", "kind", "when"), MID_RUN, ids=[" ".join(case) for case in MID_RUN])
async def test_a_store_that_stops_taking_writes_mid_run_loses_nothing_and_recovers(
    backend: str, kind: str, when: str, tmp_path: Path, request: pytest.FixtureRequest, figures: ScenarioFigures
) -> None:
    """At 08:00 the store is read-only or full: no call without its record, nothing reported applied unrecorded,
    /readyz false naming the store; mended, the 08:01 cycle settles and applies everything, once."""
    settings: dict[str, Any] = {}
    if backend == "postgresql":
        server = request.getfixturevalue("postgres_server")
        settings["state_url"] = request.getfixturevalue("postgres_url")
    network = BreakWhileCalling
    if backend == "sqlite" and kind == "full":
        small_pages(tmp_path / "state.db")
    harness = Harness(tmp_path, policies=POLICIES, start=at_utc(MONDAY, "07:59"), network=network, **settings)
    try:
        await harness.cycle()
        harness.calls(clear=True)
        fault = (
            sqlite_fault(kind, harness.store)
            if backend == "sqlite"
            else postgres_fault(kind, settings["state_url"], server.admin)
        )
        assert isinstance(harness.network, BreakWhileCalling)
        if when == "before":
            fault.on()
        else:
            harness.network.fault = fault
        harness.at(at_utc(MONDAY, "08:00"))
        app = create_http_app(harness.daemon, harness.metrics)
        with capture_logs() as logs:
            try:
                summary = await harness.cycle()
            except Exception as error:  # noqa: BLE001 - what this scenario looks for
                figures.crash(f"{backend} {kind} {when}: {error!r}")
                raise
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://daemon") as http:
                readyz = await http.get("/readyz")
        sent = harness.calls(clear=True)
        records_during = harness.audit()
        applied_logged = [line for line in logs if line["event"] == "action" and line["result"] == "success"]
        fault.off()
        harness.network.fault = None
        harness.at(at_utc(MONDAY, "08:01"))
        after = await harness.cycle()
        ready_after = harness.daemon.readiness()[0]
        records = harness.audit()
        pending = harness.store.pending_actions()
        platform = {d.deployment_name: (d.running, d.min_replicas, d.max_replicas) for d in harness.sim.deployments.values()}
        all_calls = sent + harness.calls()
    finally:
        await harness.close()
    # No silent loss: every call that left has its record (written ahead), and was not logged as applied unless recorded.
    eight = at_utc(MONDAY, "08:00")
    recorded_success = [r for r in records_during if r.result == "success" and r.started_at == eight]
    unrecorded_calls = sum(1 for call in sent if not any(r.deployment_name == call.deployment and r.started_at == eight for r in records))
    expected = sum(len(actions) for actions in AT_EIGHT.values())
    wanted = {
        "llama-3-8b-chat": (True, 1, 3),
        "whisper-v3": (False,),
        "sdxl-image-gen": (False,),
        "mistral-7b-support": (True, 1, 2),
        "embeddings-bge-large": (True, 2, 4),
    }
    reached = sum(1 for name, state in wanted.items() if platform[name][: len(state)] == state)
    calls_by_name: dict[str, int] = {}
    for call in all_calls:
        calls_by_name[call.deployment] = calls_by_name.get(call.deployment, 0) + 1
    extra = sum(max(0, count - len(AT_EIGHT.get(name, []))) for name, count in calls_by_name.items())
    figures.add(
        cases=1,
        faults=1,
        actions_expected=expected,
        actions_applied=sum(len(AT_EIGHT[name]) for name, state in wanted.items() if platform[name][: len(state)] == state),
        duplicates=0,
        losses=max(0, unrecorded_calls) + (len(wanted) - reached) + len(pending),
        crashes=0,
    )
    figures.note(f"{backend} {kind} {when}: {len(sent)} calls left during the fault, {extra} sent again after it")
    failed_writes = [line for line in logs if line["event"] in ("store_write_failed", "store_failed")]
    # Full while calling: which write needs a page first is the database's business; one of them does.
    assert failed_writes, logs
    assert 503 == readyz.status_code and readyz.json()["checks"]["store"]["ok"] is False, readyz.text
    assert unrecorded_calls <= 0, (sent, records)
    assert len(applied_logged) == len(recorded_success)
    assert summary is not None and after.error is None and ready_after
    assert ([], len(wanted)) == (pending, reached)
