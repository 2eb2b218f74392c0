"""Real processes for the failover tests: `scaler sim`, `scaler run`, and their JSON log lines as they come.

:class:`LoggedProcess` reads a process's JSON log lines (stderr) in a thread and hands them
over with the monotonic instant each arrived, so a test waits for an event without sleeping.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN

REPO = Path(__file__).parents[2]


def environment(**extra: str) -> dict[str, str]:
    """This process's environment without any SCALER_ variable, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCALER_")}
    env.update(extra)
    return env


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
    """A process whose stderr carries JSON log lines; ``events`` are those read so far."""

    name: str
    process: subprocess.Popen[str]
    events: list[Event] = field(default_factory=list)
    _incoming: queue.Queue[Event | None] = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, daemon=True, name=f"read-{self.name}").start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            try:
                fields = json.loads(line)
            except ValueError:
                continue
            if isinstance(fields, dict):
                self._incoming.put(Event(time.monotonic(), fields))
        self._incoming.put(None)

    def wait_for(self, name: str, *, timeout: float, **matching: Any) -> Event:
        """Return the first event called ``name`` (with the ``matching`` fields), waiting for it if it has
        not been read yet. Raises ``TimeoutError`` when it has not come within ``timeout`` seconds, or the
        log ended without it."""
        for event in self.events:
            if event.name == name and all(event.fields.get(k) == v for k, v in matching.items()):
                return event
        deadline = time.monotonic() + timeout
        while True:
            try:
                event = self._incoming.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(f"{self.name}: no {name} {matching} within {timeout} s") from None
            if event is None:
                raise TimeoutError(f"{self.name}: the log ended without {name} {matching}")
            self.events.append(event)
            if event.name == name and all(event.fields.get(k) == v for k, v in matching.items()):
                return event

    def drain(self) -> None:
        """Take in the lines read so far."""
        while True:
            try:
                event = self._incoming.get_nowait()
            except queue.Empty:
                return
            if event is None:
                return
            self.events.append(event)

    def stop(self) -> None:
        """Kill the process if it still runs, and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=30)


def start_simulator() -> tuple[subprocess.Popen[str], str]:
    """`scaler sim --port 0` in a process of its own; return it and its URL."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scaler", "sim", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=environment(),
        cwd=REPO,
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip().rsplit(" ", 1)[1]


def start_daemon(name: str, *, api_url: str, state_url: str, policy_path: Path, **settings: str) -> LoggedProcess:
    """`scaler run` against ``api_url`` with its state at ``state_url``, logging JSON at debug level."""
    process = subprocess.Popen(
        [sys.executable, "-m", "scaler", "run"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env=environment(
            SCALER_API_URL=api_url,
            SCALER_API_TOKEN=DEFAULT_TOKEN,
            SCALER_ORG_ID=DEFAULT_ORG_ID,
            SCALER_POLICY_PATH=str(policy_path),
            SCALER_STATE_URL=state_url,
            SCALER_HTTP_PORT="0",
            SCALER_LOG_FORMAT="json",
            SCALER_LOG_LEVEL="debug",
            **settings,
        ),
    )
    return LoggedProcess(name, process)
