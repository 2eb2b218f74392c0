"""The daemon as the reliability scenarios run it: ``scaler run`` as an operator starts it, beside ``scaler sim``.

:class:`DaemonProcess` runs the daemon with a chosen environment, its JSON log in a file
that outlives restarts (each process reads only its own lines), and can read its endpoints,
stop it with SIGTERM or kill it with SIGKILL. The environment, the waits and the simulator's
process are the suites' shared harness (:mod:`tests.processes`).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from tests.processes import START_TIMEOUT_SECONDS, environment, scaler_command, wait_for

class DaemonProcess:
    """``scaler run`` with ``env`` (on top of :func:`environment`), its stderr (JSON log lines) in ``log_path``."""

    def __init__(self, env: Mapping[str, str | None], log_path: Path, *, user: str | None = None) -> None:
        self.log_path = log_path
        self._log_offset = log_path.stat().st_size if log_path.exists() else 0
        self._log = open(log_path, "a")  # noqa: SIM115 - closed when the process is reaped
        self.started = time.time()
        self.process = subprocess.Popen(
            scaler_command("run"),
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

        self.url = wait_for("daemon_started", started, timeout=timeout, describe=self.tail)
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

        since = wait_for(sign, acquired, timeout=timeout, describe=self.tail)
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

        return wait_for("a reconcile", cycled, timeout=timeout, describe=self.tail)

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
