"""Real processes for the reliability scenarios: ``scaler sim`` and ``scaler run``, as an operator starts them.

:class:`SimProcess` serves the simulator on a free loopback port and drives its control
API; :class:`DaemonProcess` runs the daemon with a chosen environment, its JSON log in a
file, and can read its endpoints, stop it with SIGTERM or kill it with SIGKILL. Waiting
is polling with a deadline: a process that does not get there in time fails the test
with what it logged.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN

#: Seconds a process may take to start serving (an import of the package takes about one on a busy machine).
START_TIMEOUT_SECONDS = 30.0
_POLL_SECONDS = 0.02


def environment(**extra: str | None) -> dict[str, str]:
    """This process's environment without any SCALER_ variable, plus ``extra`` (``None`` removes one)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCALER_")}
    for key, value in extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def wait_for(what: str, check: Callable[[], Any], timeout: float, describe: Callable[[], str] = lambda: "") -> Any:
    """Poll ``check`` until it returns something true; return it. Fail with ``what`` and ``describe()`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:g} s. {describe()}")
        time.sleep(_POLL_SECONDS)


class SimProcess:
    """``scaler sim --port 0`` in a process of its own."""

    def __init__(self, *, token: str = DEFAULT_TOKEN, log_path: Path | None = None) -> None:
        command = [sys.executable, "-m", "scaler", "sim", "--port", "0", "--request-log-limit", "1000000"]
        if token != DEFAULT_TOKEN:
            command += ["--token", token]
        self.token = token
        self._log = open(log_path, "w") if log_path is not None else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, text=True, env=environment()
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()
        if "listening on" not in first:
            self.stop()
            raise AssertionError(f"scaler sim did not start: {first!r}")
        self.url = first.strip().rsplit(" ", 1)[1]
        self.http = httpx.Client(base_url=self.url, timeout=30)

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
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        if self._log is not subprocess.DEVNULL:
            self._log.close()


class DaemonProcess:
    """``scaler run`` with ``env`` (on top of :func:`environment`), its stderr (JSON log lines) in ``log_path``."""

    def __init__(self, env: Mapping[str, str | None], log_path: Path, *, user: str | None = None) -> None:
        self.log_path = log_path
        self._log_offset = log_path.stat().st_size if log_path.exists() else 0
        self._log = open(log_path, "a")  # noqa: SIM115 - closed when the process is reaped
        self.started = time.time()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "scaler", "run"],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env=environment(**env),
            user=user,
        )
        self.url: str | None = None
        self.elects = not str(env.get("SCALER_STATE_URL") or "").startswith("sqlite")
        """Whether it takes part in an election (PostgreSQL); on SQLite it leads from its start, unannounced."""

    # --- What it says --------------------------------------------------------------

    def events(self) -> list[dict[str, Any]]:
        """The JSON events this process logged so far (not earlier ones in the same file)."""
        events = []
        with open(self.log_path, errors="replace") as log:
            log.seek(self._log_offset)
            for line in log:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                if isinstance(event, dict):
                    events.append(event)
        return events

    def tail(self, lines: int = 15) -> str:
        """The end of the log, for failure messages."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_started(self, timeout: float = START_TIMEOUT_SECONDS) -> str:
        """Wait for ``daemon_started``; return the URL of its HTTP server."""

        def started() -> str | None:
            if self.process.poll() is not None:
                raise AssertionError(f"scaler run exited {self.process.returncode}:\n{self.tail()}")
            return next((str(event["http"]) for event in self.events() if event.get("event") == "daemon_started"), None)

        self.url = wait_for("daemon_started", started, timeout, self.tail)
        return self.url

    def get(self, path: str) -> httpx.Response:
        """GET one of its endpoints."""
        assert self.url is not None, "not started"
        return httpx.get(f"{self.url}{path}", timeout=10)

    def wait_acting(self, timeout: float = START_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Wait until it leads (at once on SQLite, after the takeover delay on PostgreSQL) and a reconcile ran since
        (a new leader reconciles at once); return /status.

        A single SQLite instance logs no leadership at info level: it leads once ``daemon_started`` is logged."""
        sign = "leadership_acquired" if self.elects else "daemon_started"

        def acquired() -> float | None:
            for event in self.events():
                if event.get("event") == sign:
                    return _unix(str(event["timestamp"]))
            return None

        since = wait_for(sign, acquired, timeout, self.tail)
        return self.wait_cycle(after=since, timeout=timeout)

    def wait_cycle(self, *, after: float, timeout: float = START_TIMEOUT_SECONDS) -> dict[str, Any]:
        """Wait until /status shows a reconcile that ran at or after ``after`` (Unix seconds); return /status."""

        def cycled() -> dict[str, Any] | None:
            try:
                document = self.get("/status").json()
            except httpx.HTTPError:
                return None
            last = (document["daemon"].get("last_reconcile") or {}).get("at")
            if last and _unix(last) >= after:
                return document
            return None

        return wait_for("a reconcile", cycled, timeout, self.tail)

    # --- Ending it -------------------------------------------------------------------

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)
        self._log.close()

    def terminate(self, timeout: float = 60) -> int:
        """SIGTERM; return its exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        finally:
            self._log.close()

    def close(self) -> None:
        """Kill it if it still runs."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        if not self._log.closed:
            self._log.close()


def _unix(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def daemon_environment(sim: SimProcess, *, policies: Path, state_url: str, **extra: str) -> dict[str, str]:
    """The environment of a daemon against ``sim``: its token and org, JSON logs, an HTTP port of its own."""
    return {
        "SCALER_API_URL": sim.url,
        "SCALER_API_TOKEN": sim.token,
        "SCALER_ORG_ID": DEFAULT_ORG_ID,
        "SCALER_POLICY_PATH": str(policies),
        "SCALER_STATE_URL": state_url,
        "SCALER_HTTP_PORT": "0",
        "SCALER_LOG_FORMAT": "json",
        "SCALER_LOG_LEVEL": "info",
        **extra,
    }
