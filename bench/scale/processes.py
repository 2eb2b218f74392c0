"""The benchmark's processes: the simulator and the daemon started apart, pinned to cores, stopped
cleanly, and watched from outside (CPU time and peak RSS from ``/proc``)."""

from __future__ import annotations

import bisect
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SCALER = str(Path(sys.executable).with_name("scaler"))


def usable_cores() -> list[int]:
    """The cores this process may run on, in order."""
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads), or None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def memory_kib(pid: int) -> dict[str, int]:
    """``VmHWM`` (peak resident set) and ``VmRSS`` of process ``pid`` in KiB (empty once it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    values = {}
    for line in lines:
        key, _, rest = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            values[key] = int(rest.split()[0])
    return values


def _pinned_to(core: int | None):
    def pin() -> None:
        if core is not None:
            os.sched_setaffinity(0, {core})

    return pin


def clean_environment(**extra: str) -> dict[str, str]:
    """This environment without any SCALER_ variable, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCALER_")}
    env.update(extra)
    return env


def stop(process: subprocess.Popen, timeout: float = 40.0) -> int:
    """SIGTERM ``process`` and wait for it (SIGKILL after ``timeout`` seconds); return its exit status."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@dataclass
class Simulator:
    """``scaler sim`` running in its own process."""

    process: subprocess.Popen
    url: str
    token: str
    org_id: str
    core: int | None


def start_simulator(deployments: int, *, core: int | None, request_log_limit: int, cwd: Path) -> Simulator:
    """Start ``scaler sim --generate N --port 0`` pinned to ``core``; return it once it listens.

    Raises ``RuntimeError`` with its output when it does not start.
    """
    command = [
        SCALER, "sim", "--generate", str(deployments), "--port", "0",
        "--request-log-limit", str(request_log_limit), "--log-level", "error",
    ]
    errors = (cwd / "simulator.log").open("w")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=errors, text=True,
        preexec_fn=_pinned_to(core), cwd=cwd, env=clean_environment(),
    )
    errors.close()
    assert process.stdout is not None
    lines = []
    facts: dict[str, str] = {}
    while "done" not in facts:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator did not start: {''.join(lines)}{(cwd / 'simulator.log').read_text()}")
        lines.append(line)
        text = line.strip()
        if "listening on" in text:
            facts["url"] = text.rsplit(" ", 1)[1]
        elif text.startswith("token:"):
            facts["token"] = text.split(":", 1)[1].strip()
        elif text.startswith("org id:"):
            facts["org_id"] = text.split(":", 1)[1].strip()
        elif text.startswith("export SCALER_ORG_ID"):
            facts["done"] = text  # the last line it prints
    return Simulator(process, facts["url"], facts["token"], facts["org_id"], core)


@dataclass
class DaemonProcess:
    """``scaler run`` running in its own process."""

    process: subprocess.Popen
    url: str
    log_path: Path
    core: int | None


def start_daemon(
    settings: Mapping[str, str], *, core: int | None, log_path: Path, cwd: Path, timeout: float = 120.0
) -> DaemonProcess:
    """Start ``scaler run`` with ``settings`` (``SCALER_*`` variables) pinned to ``core``, its JSON log
    in ``log_path``; return it once it serves HTTP. Raises ``RuntimeError`` when it does not start."""
    log = log_path.open("w")
    process = subprocess.Popen(
        [SCALER, "run"], stdout=subprocess.DEVNULL, stderr=log, text=True,
        preexec_fn=_pinned_to(core), cwd=cwd, env=clean_environment(**settings),
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in read_log(log_path):
            if event.get("event") == "daemon_started":
                return DaemonProcess(process, str(event["http"]), log_path, core)
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode}: {log_path.read_text()[-2000:]}")
        time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"the daemon did not start within {timeout:g} s: {log_path.read_text()[-2000:]}")


def read_log(path: Path) -> list[dict]:
    """The JSON events of a daemon log so far (other lines skipped)."""
    events = []
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    return events


class CpuSampler:
    """Samples the CPU seconds of some processes every ``interval`` seconds, in a thread.

    ``cpu_between(pid, start, end)`` interpolates the CPU a process used between two
    wall-clock instants (``time.time()`` seconds); ``/proc`` counts in clock ticks (10 ms).
    """

    def __init__(self, pids: Mapping[str, int], interval: float = 0.02) -> None:
        self.pids = dict(pids)
        self.interval = interval
        self.times: list[float] = []
        self.samples: dict[str, list[float]] = {name: [] for name in pids}
        self.peak_kib: dict[str, int] = {name: 0 for name in pids}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def start(self) -> CpuSampler:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        rounds = 0
        while not self._stop.is_set():
            now = time.time()
            values = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
            if all(value is not None for value in values.values()):
                self.times.append(now)
                for name, value in values.items():
                    self.samples[name].append(value)  # type: ignore[arg-type]
            if rounds % 25 == 0:  # VmHWM only grows: twice a second is plenty
                self.note_memory()
            rounds += 1
            self._stop.wait(self.interval)

    def note_memory(self) -> None:
        """Read every process's VmHWM now (call it once more just before a process stops)."""
        for name, pid in self.pids.items():
            peak = memory_kib(pid).get("VmHWM", 0)
            self.peak_kib[name] = max(self.peak_kib[name], peak)

    def cpu_at(self, name: str, instant: float) -> float:
        """CPU seconds of ``name`` at wall-clock ``instant``, interpolated between samples."""
        times, values = self.times, self.samples[name]
        if not times:
            raise RuntimeError("no CPU sample was taken")
        index = bisect.bisect_left(times, instant)
        if index <= 0:
            return values[0]
        if index >= len(times):
            return values[-1]
        before, after = times[index - 1], times[index]
        share = (instant - before) / (after - before) if after > before else 0.0
        return values[index - 1] + share * (values[index] - values[index - 1])

    def cpu_between(self, name: str, start: float, end: float) -> float:
        """CPU seconds ``name`` used between the wall-clock instants ``start`` and ``end``."""
        return self.cpu_at(name, end) - self.cpu_at(name, start)
