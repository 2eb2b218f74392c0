"""The daemon as the failover tests run it: `scaler run`, its JSON log lines taken in as they come.

Built on the suites' shared harness (:mod:`tests.processes`): :class:`~tests.processes.LoggedProcess`
reads a process's JSON log lines with the monotonic instant each arrived, so a test waits for an
event without sleeping; the simulator is a :class:`~tests.processes.SimProcess`.
"""

from __future__ import annotations

from pathlib import Path

from tests.processes import LoggedProcess, daemon_environment, scaler_command, start_logged


def start_daemon(name: str, *, api_url: str, state_url: str, policy_path: Path, **settings: str) -> LoggedProcess:
    """`scaler run` against ``api_url`` with its state at ``state_url``, logging JSON at debug level."""
    env = daemon_environment(api_url, policies=policy_path, state_url=state_url, SCALER_LOG_LEVEL="debug", **settings)
    return start_logged(name, scaler_command("run"), env)
