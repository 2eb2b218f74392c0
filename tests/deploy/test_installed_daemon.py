"""The installed daemon, run the way the image and the chart run it, on a read-only root filesystem.

The environment the Dockerfile's install steps build (fixture ``installed_venv``) runs
``scaler run`` against a ``scaler sim`` subprocess inside a mount namespace where every
filesystem is read-only except the state directory (see tests.deploy.read_only_root):
``docker run --read-only`` and the chart's ``readOnlyRootFilesystem`` without an engine.
As in the pod, the policies are a ConfigMap volume (timestamped directory, ``..data``,
one symlink per key), the token is a file of a read-only mount, HOME, TMPDIR and the
working directory are read-only, and no bytecode is written (PYTHONDONTWRITEBYTECODE).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.deploy.configmap_volume import write_configmap_volume
from tests.deploy.conftest import REPO, running_simulator
from tests.deploy.image_install import image_environment
from tests.deploy.organization import POLICIES, daemon_settings, seed_document
from tests.deploy.prometheus_harness import ServedProcess, wait_for
from tests.deploy.read_only_root import namespaces_available, read_only_command
from tests.processes import HarnessError, free_port

pytestmark = pytest.mark.integration

#: What SQLite may create next to its database (WAL mode, or a rollback journal).
STATE_FILES = {"state.db", "state.db-wal", "state.db-shm", "state.db-journal"}


@pytest.fixture(scope="module")
def read_only_sandbox() -> None:
    """Skip (or fail, in CI) where unprivileged mount namespaces cannot be made."""
    reason = namespaces_available()
    if reason is not None:
        skip_or_fail(f"no read-only sandbox: {reason}")


@pytest.fixture
def simulator(tmp_path: Path) -> Iterator[ServedProcess]:
    """A fresh ``scaler sim`` for each test: each daemon meets the organization as it was seeded."""
    yield from running_simulator(tmp_path)


@dataclass(frozen=True)
class Pod:
    """The directories of a scaler pod, laid out on the host."""

    state: Path
    """The state volume: the only writable directory."""
    policies: Path
    token: Path
    home: Path
    tmp: Path
    workdir: Path


@pytest.fixture
def pod(tmp_path: Path) -> Pod:
    """The directories: state volume, ConfigMap policies, token file, HOME, TMPDIR, working directory."""
    root = tmp_path / "pod"
    pod = Pod(
        state=root / "var/lib/scaler", policies=root / "etc/scaler/policies", token=root / "etc/scaler/token/token",
        home=root / "home", tmp=root / "tmp", workdir=root / "workdir",
    )
    for directory in (pod.state, pod.token.parent, pod.home, pod.tmp, pod.workdir):
        directory.mkdir(parents=True)
    files = {path.name: path.read_text() for path in sorted(POLICIES.glob("*.yaml"))}
    write_configmap_volume(pod.policies, files, version="2026_11_28_10_00_00.000000001")
    pod.token.write_text(seed_document()["token"] + "\n")
    return pod


def pod_environment(venv: Path, pod: Pod, *, api_url: str, http_port: int) -> dict[str, str]:
    """The image's environment plus the chart's settings, pointed at the simulator."""
    settings = daemon_settings(
        api_url=api_url, state_dir=pod.state, http_port=http_port, policy_path=pod.policies, token_file=pod.token
    )
    return image_environment(venv, HOME=str(pod.home), TMPDIR=str(pod.tmp), **settings)


def created_files(pod: Pod) -> list[str]:
    """Return every file below the state directory, relative to it."""
    return sorted(str(path.relative_to(pod.state)) for path in pod.state.rglob("*"))


def log_events(output: str) -> list[dict[str, object]]:
    """Return the daemon's JSON log lines, parsed."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def in_pod(venv: Path, pod: Pod, *args: str) -> list[str]:
    """The installed ``scaler`` with ``args``, on the read-only root where only the state volume is writable."""
    return read_only_command([str(venv / "bin" / "scaler"), *args], writable=pod.state)


def pod_daemon(venv: Path, pod: Pod, simulator: ServedProcess, *, ready_path: str = "/readyz") -> ServedProcess:
    """``scaler run`` in the pod against ``simulator``, not started yet."""
    port = free_port()
    return ServedProcess(
        command=in_pod(venv, pod, "run"), port=port, cwd=pod.workdir, log_path=pod.home.parent / "daemon.log",
        env=pod_environment(venv, pod, api_url=simulator.url, http_port=port), ready_path=ready_path,
    )


def test_run_once_succeeds_writing_only_its_state(
    read_only_sandbox: None, installed_venv: Path, simulator: ServedProcess, pod: Pod
) -> None:
    """`scaler run --once` applies the policies (exit 0) and creates nothing but the state database.

    chat-llm's bounds are 1..2, or 1..3 while steady-bounds' nightly window is open (03:00-04:00 UTC):
    the run is a real process on the wall clock, so both are expected by the hour it ran in.
    """
    env = pod_environment(installed_venv, pod, api_url=simulator.url, http_port=free_port())
    hours = {datetime.now(UTC).hour}
    result = subprocess.run(in_pod(installed_venv, pod, "run", "--once"), cwd=pod.workdir, env=env,
                            capture_output=True, text=True, timeout=60, check=False)
    hours.add(datetime.now(UTC).hour)
    actions = {
        (e["deployment"], " ".join([e["action"], *(f"{k[:3]}={e[k]}" for k in ("min_replicas", "max_replicas") if k in e)]),
         e["result"])
        for e in log_events(result.stdout + result.stderr)
        if e.get("event") == "action"
    }
    chat = {("chat-llm", f"update_replicas min=1 max={3 if hour == 3 else 2}", "success") for hour in hours}
    assert 0 == result.returncode, result.stdout + result.stderr
    assert ({("nightly-batch", "stop", "success")}, True) == (
        {action for action in actions if action[0] == "nightly-batch"},
        len(actions) == 2 and bool(actions & chat),
    ), actions
    assert (True, True) == (set(created_files(pod)) <= STATE_FILES, "state.db" in created_files(pod))


def test_daemon_serves_and_stops_cleanly_writing_only_its_state(
    read_only_sandbox: None, installed_venv: Path, simulator: ServedProcess, pod: Pod
) -> None:
    """`scaler run` gets ready, serves its endpoints, exits 0 on SIGTERM, and creates nothing but its state."""
    daemon = pod_daemon(installed_venv, pod, simulator)
    try:
        daemon.start()
        answers = {path: daemon.get(path)[0] for path in ("/healthz", "/readyz", "/status", "/metrics")}
        status = json.loads(daemon.get("/status")[1])
    finally:
        code = daemon.stop()
    assert {"/healthz": 200, "/readyz": 200, "/status": 200, "/metrics": 200} == answers
    assert ([str(pod.policies / "always-stopped.yaml"), str(pod.policies / "steady-bounds.yaml")], 0) == (
        status["daemon"]["policies"]["files"], code
    ), daemon.output()
    assert (True, True) == (set(created_files(pod)) <= STATE_FILES, "state.db" in created_files(pod))


def test_runbook_commands_work_beside_the_running_daemon(
    read_only_sandbox: None, installed_venv: Path, simulator: ServedProcess, pod: Pod
) -> None:
    """What the runbook has people run in the pod (`kubectl exec ... -- scaler ...`) works on its read-only root.

    validate (of SCALER_POLICY_PATH), plan --live (through the API), status (of the daemon at
    SCALER_HTTP_*), suspend, suspensions and resume (on the state store the daemon uses),
    and the daemon honours the suspension at its next cycle.
    """
    daemon = pod_daemon(installed_venv, pod, simulator)

    def scaler(*args: str) -> tuple[int, str]:
        result = subprocess.run(in_pod(installed_venv, pod, *args), cwd=pod.workdir, env=daemon.env,
                                capture_output=True, text=True, timeout=60, check=False)
        return result.returncode, result.stdout + result.stderr

    def suspended() -> dict[str, object] | None:
        document = json.loads(daemon.get("/status")[1])
        return next(d["suspension"] for d in document["deployments"] if d["deployment_name"] == "chat-llm")

    try:
        daemon.start()
        validate = scaler("validate")
        plan = scaler("plan", "--live", "--hours", "1")
        status = scaler("status")
        store = ("--state-url", daemon.env["SCALER_STATE_URL"])  # no keys configured: the store, as the runbook says
        suspend = scaler("suspend", "chat-llm", "--for", "2h", "--reason", "incident 42", *store)
        listed = scaler("suspensions")
        honoured = wait_for("the daemon to honour the suspension", suspended, timeout=20)
        resume = scaler("resume", "chat-llm", *store)
    finally:
        daemon.stop()
    assert ([0, 0, 0, 0, 0, 0], "incident 42") == (
        [code for code, _ in (validate, plan, status, suspend, listed, resume)], honoured["reason"]
    ), (validate, plan, status, suspend, listed, resume)
    shown = {line.split()[0] for line in status[1].splitlines()[4:] if line.strip()}
    assert (True, True, {"chat-llm", "nightly-batch", "embed-svc", "dev-sandbox"}, True) == (
        validate[1].startswith("valid: 2 policies"), "steady-bounds" in plan[1], shown, "incident 42" in listed[1]
    )


def test_refused_token_makes_the_daemon_unready_but_alive(
    read_only_sandbox: None, installed_venv: Path, simulator: ServedProcess, pod: Pod
) -> None:
    """With a token the platform refuses, /readyz answers 503 naming it while /healthz stays 200.

    The chart relies on it: the liveness probe does not restart a pod for a refused token
    (the token file is re-read, a restart would not help); readiness shows it, and the
    Service publishes not-ready pods, so Prometheus still scrapes the auth gauge.
    """
    pod.token.write_text("a-revoked-token\n")
    daemon = pod_daemon(installed_venv, pod, simulator, ready_path="/healthz")

    def refused() -> dict[str, object] | None:
        status, body = daemon.get("/readyz")
        checks = json.loads(body)["checks"]
        return checks["api"] if status == 503 and "refuses the token" in checks["api"]["detail"] else None

    try:
        daemon.start()
        api_check = wait_for("/readyz to report the refused token", refused, timeout=20)
        alive = daemon.get("/healthz")[0]
        auth_gauge = b"\nscaler_api_auth_ok 0.0\n" in daemon.get("/metrics")[1]
    finally:
        daemon.stop()
    assert (False, 200, True) == (api_check["ok"], alive, auth_gauge)


def test_sandbox_refuses_writes_outside_the_state_directory(
    read_only_sandbox: None, installed_venv: Path, pod: Pod
) -> None:
    """The proof can fail: inside the sandbox a file can be created in the state directory and nowhere else."""
    places = [pod.state, pod.home, pod.tmp, pod.workdir, pod.policies, installed_venv, REPO, Path("/tmp"),
              Path("/dev/shm"), Path("/var/tmp")]
    probe = (
        "import json, sys\n"
        "result = {}\n"
        "for place in sys.argv[1:]:\n"
        "    try:\n"
        "        open(place + '/.write-probe', 'x').close()\n"
        "        result[place] = 'written'\n"
        "    except OSError as error:\n"
        "        result[place] = error.strerror\n"
        "print(json.dumps(result))\n"
    )
    command = read_only_command([str(installed_venv / "bin" / "python"), "-c", probe, *map(str, places)],
                                writable=pod.state)
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                            env=image_environment(installed_venv))
    if result.returncode != 0:
        raise HarnessError(result.stderr)
    expected = {str(place): "Read-only file system" for place in places}
    expected[str(pod.state)] = "written"
    assert expected == json.loads(result.stdout)
