"""The suites' one harness for real processes: the daemon, the simulator, Prometheus, PostgreSQL.

Every suite that starts one of them as a subprocess builds on these:

- :func:`environment`: this process's environment without any ``SCALER_`` variable (a
  developer's own settings never leak into a test), plus what the test sets;
- :func:`daemon_environment`: the settings of ``scaler run`` against the simulator;
- :func:`free_port`, and :func:`wait_for`, which polls a condition with a deadline and
  fails with what was awaited and what the process said (nothing sleeps a fixed time);
- :func:`stop`: SIGTERM, then SIGKILL if the process lingers, always reaped;
- :class:`SimProcess`: ``scaler sim --port 0`` with its control API;
- :class:`LoggedProcess`: a process whose stderr carries JSON log lines, read as they come
  with the instant each arrived, so a test waits for an event instead of sleeping.

The daemon's processes (``scaler run``) are started by each suite with what it needs around
them (a log file that outlives restarts in the reliability suite, live events in the leader
and command suites, readiness over HTTP in the deployment suite), all on these helpers.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import httpx

from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN

REPO = Path(__file__).resolve().parents[1]
#: Seconds a process may take to start serving (an import of the package takes about one on a busy machine).
START_TIMEOUT_SECONDS = 30.0
#: How often :func:`wait_for` looks again.
POLL_SECONDS = 0.02

T = TypeVar("T")


class HarnessError(AssertionError):
    """A process did not start, or a condition was not met before its deadline (fails the test)."""


def environment(**extra: str | None) -> dict[str, str]:
    """This process's environment without any SCALER_ variable, plus ``extra`` (``None`` removes one)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCALER_")}
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def scaler_command(*args: str) -> list[str]:
    """``scaler ARGS`` run by this Python (the package as checked out, not an installed script)."""
    return [sys.executable, "-m", "scaler", *args]


def daemon_environment(
    api_url: str, *, policies: Path, state_url: str, token: str = DEFAULT_TOKEN, **extra: str | None
) -> dict[str, str | None]:
    """The ``SCALER_`` variables of a daemon against the simulator at ``api_url``: its token and
    organization, ``policies``, its state at ``state_url``, JSON logs at info level, an HTTP port
    of its own; ``extra`` added or replacing (``None`` removes one)."""
    return {
        "SCALER_API_URL": api_url,
        "SCALER_API_TOKEN": token,
        "SCALER_ORG_ID": DEFAULT_ORG_ID,
        "SCALER_POLICY_PATH": str(policies),
        "SCALER_STATE_URL": state_url,
        "SCALER_HTTP_PORT": "0",
        "SCALER_LOG_FORMAT": "json",
        "SCALER_LOG_LEVEL": "info",
        **extra,
    }


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(
    what: str,
    check: Callable[[], T | None],
    *,
    timeout: float,
    describe: Callable[[], str] = lambda: "",
    every: float = POLL_SECONDS,
) -> T:
    """Poll ``check`` every ``every`` seconds until it returns something true, and return that.

    Raises :class:`HarnessError` naming ``what``, with ``describe()`` (the end of a process's
    log, say), when ``timeout`` seconds pass first; an exception ``check`` raises (a process
    that exited) ends the wait at once.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise HarnessError(f"{what}: not after {timeout:g} s. {describe()}".rstrip())
        time.sleep(every)


def stop(process: subprocess.Popen[Any], *, grace: float = 10.0) -> int:
    """SIGTERM ``process`` unless it has exited, SIGKILL it after ``grace`` seconds; reap it and
    return its exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=grace)
    return process.returncode


class SimProcess:
    """``scaler sim --port 0`` in a process of its own; ``url`` is where it listens. Stop it with :meth:`stop`."""

    def __init__(
        self, *, token: str = DEFAULT_TOKEN, log_path: Path | None = None, extra_args: tuple[str, ...] = ()
    ) -> None:
        """Start it with ``token`` as the only token the simulated platform accepts, its log (stderr)
        in ``log_path`` (discarded without one) and ``extra_args``; raises :class:`HarnessError`
        when it does not say where it listens."""
        # A request log long enough for the longest scenario, so that no request a test counts is dropped.
        command = scaler_command("sim", "--port", "0", "--request-log-limit", "1000000", *extra_args)
        if token != DEFAULT_TOKEN:
            command += ["--token", token]
        self.token = token
        self._log: IO[str] | int = open(log_path, "w") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, text=True, env=environment(), cwd=REPO
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if "listening on" not in first:
            self.stop()
            raise HarnessError(f"scaler sim did not start: {first!r}")
        self.url = first.strip().rsplit(" ", 1)[1]
        self.http = httpx.Client(base_url=self.url, timeout=30)

    def __enter__(self) -> SimProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def control(self, method: str, path: str, body: Any = None) -> Any:
        """Call the control API (``path`` below ``/_sim``); fail on an error answer."""
        response = self.http.request(method, f"/_sim{path}", json=body)
        assert response.is_success, f"{method} /_sim{path}: {response.status_code} {response.text}"
        return response.json()

    def requests(self) -> list[dict[str, Any]]:
        """The simulator's whole request log, oldest first."""
        return self.control("GET", "/requests")["requests"]

    def deployments(self) -> dict[str, dict[str, Any]]:
        """Every deployment's full simulated state, by id."""
        return {item["deployment_id"]: item for item in self.control("GET", "/deployments")}

    def stop(self) -> None:
        """Stop the simulator (SIGTERM, then SIGKILL if it lingers)."""
        if hasattr(self, "http"):
            self.http.close()
        stop(self.process)
        if self.process.stdout is not None:
            self.process.stdout.close()
        if not isinstance(self._log, int):
            self._log.close()


@dataclass(frozen=True)
class Event:
    """One JSON log line and when it arrived (monotonic seconds)."""

    at: float
    fields: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.fields.get("event"))


@dataclass
class LoggedProcess:
    """A process whose stderr (a pipe, text) carries JSON log lines; ``events`` are those taken in so far."""

    name: str
    process: subprocess.Popen[str]
    events: list[Event] = field(default_factory=list)
    rest: list[str] = field(default_factory=list)
    """The lines that were not JSON objects (a traceback, a warning), in order."""
    _incoming: queue.Queue[Event | None] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True, name=f"read-{self.name}").start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                fields = json.loads(line)
            except ValueError:
                fields = None
            if isinstance(fields, dict):
                self._incoming.put(Event(time.monotonic(), fields))
            else:
                self.rest.append(line)
        self._incoming.put(None)

    def wait_for(self, name: str, *, timeout: float, **matching: Any) -> Event:
        """Return the first event called ``name`` (with the ``matching`` fields), waiting for it if it has
        not been read yet. Raises ``TimeoutError`` when it has not come within ``timeout`` seconds, or the
        log ended without it."""

        def wanted(event: Event) -> bool:
            return event.name == name and all(event.fields.get(k) == v for k, v in matching.items())

        found = next((event for event in self.events if wanted(event)), None)
        if found is None:
            found = self._take_until(wanted, timeout=timeout, what=f"{name} {matching}")
        if found is None:
            raise TimeoutError(f"{self.name}: the log ended without {name} {matching}")
        return found

    def read_to_end(self, *, timeout: float = 30.0) -> None:
        """Take in every line up to the end of the log (the process has exited or closed stderr).
        Raises ``TimeoutError`` when the log has not ended within ``timeout`` seconds."""
        self._take_until(lambda _event: False, timeout=timeout, what="the end of the log")

    def _take_until(self, wanted: Callable[[Event], bool], *, timeout: float, what: str) -> Event | None:
        """Take in events until one is ``wanted`` (return it) or the log ends (return ``None``).
        Raises ``TimeoutError`` naming ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self._incoming.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"{self.name}: no {what} within {timeout} s") from None
            if event is None:
                self._incoming.put(None)  # the end stays visible to later waits
                return None
            self.events.append(event)
            if wanted(event):
                return event

    def drain(self) -> None:
        """Take in the lines read so far."""
        while True:
            try:
                event = self._incoming.get_nowait()
            except queue.Empty:
                return
            if event is None:
                self._incoming.put(None)
                return
            self.events.append(event)

    def stop(self) -> None:
        """Kill the process if it still runs, and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


def start_logged(name: str, command: list[str], env: Mapping[str, str | None]) -> LoggedProcess:
    """Start ``command`` with ``env`` (on top of :func:`environment`), its stdout discarded and its JSON
    log (stderr) read as it comes."""
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO, env=environment(**env)
    )
    return LoggedProcess(name, process)
