"""The image's install steps, followed outside a container engine.

No container engine runs here, so this test does what the build stage does, step by
step, read from the Dockerfile itself: the COPY lines (through .dockerignore) into a
scratch root, then the RUN line, which runs docker/install-venv.sh, the same script
the image runs. Paths of the image are mapped under the scratch root. The interpreter
is this one (the image's is the base image's Python 3.12; both satisfy
requires-python).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
import yaml

from tests.deploy.conftest import CHART, REPO
from tests.deploy.dockerfile import in_build_context, stages

pytestmark = pytest.mark.integration


def _inside(root: Path, image_path: str) -> Path:
    return root / PurePosixPath(image_path).relative_to("/")


def _copy(source: Path, destination: Path) -> None:
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(REPO).as_posix()
            if path.is_file() and in_build_context(relative):
                target = destination / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    else:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def follow_build_stage(root: Path) -> Path:
    """Run the build stage's WORKDIR/COPY/RUN under ``root``; return the environment it installs."""
    workdir = "/"
    venv = None
    for instruction in stages()[0][1:]:
        if instruction.keyword == "WORKDIR":
            workdir = instruction.argument
            _inside(root, workdir).mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            *sources, destination = instruction.argument.split()
            target = PurePosixPath(workdir) / destination
            for source in sources:
                assert in_build_context(source), f"{source} is left out by .dockerignore"
                into = _inside(root, str(target))
                if destination.endswith("/"):
                    into = into / Path(source).name
                _copy(REPO / source, into)
        elif instruction.keyword == "RUN":
            command = instruction.exec_form()
            assert command is not None, "the build stage's RUN is in exec form"
            mapped = [str(_inside(root, arg)) if arg.startswith("/") else arg for arg in command]
            env = {**os.environ, "PYTHON": sys.executable, "PIP_NO_CACHE_DIR": "1"}
            result = subprocess.run(mapped, cwd=_inside(root, workdir), env=env, capture_output=True, timeout=300,
                                    check=False)
            assert 0 == result.returncode, (result.stdout + result.stderr).decode()[-4000:]
            venv = command[2]
        else:
            raise AssertionError(f"line {instruction.line}: the test does not know how to follow {instruction.keyword}")
    assert venv is not None
    return _inside(root, venv)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The virtual environment the build stage would put at /opt/scaler."""
    yield follow_build_stage(tmp_path_factory.mktemp("image-root"))


def _scaler(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "scaler"), *args], capture_output=True, text=True, timeout=60,
                          check=False, env={"PATH": str(venv / "bin"), "PYTHONDONTWRITEBYTECODE": "1"})


def _has_validate(venv: Path) -> bool:
    return 0 == _scaler(venv, "validate", "--help").returncode


def test_final_stage_takes_the_environment_the_build_stage_made() -> None:
    """The final stage copies exactly the directory the install script fills."""
    run = next(i for i in stages()[0] if i.keyword == "RUN").exec_form()
    copy = next(i for i in stages()[-1] if i.keyword == "COPY").argument
    assert f"--from=build {run[2]} {run[2]}" == copy


def test_installed_scaler_reports_the_package_version(installed: Path) -> None:
    """`scaler --version` runs from the installed environment and prints the package's version."""
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    result = _scaler(installed, "--version")
    assert (0, f"scaler {version}\n") == (result.returncode, result.stdout)


def test_installed_environment_holds_no_pip(installed: Path) -> None:
    """The environment the image carries has no pip: nothing in the image can install packages."""
    assert [] == sorted(p.name for p in (installed / "bin").glob("pip*"))


def test_installed_scaler_validates_the_example_policies(installed: Path) -> None:
    """`scaler validate policies/examples` accepts the shipped examples with the installed package."""
    if not _has_validate(installed):
        pytest.skip("`scaler validate` does not exist yet (policy issue)")
    examples = REPO / "policies" / "examples"
    if not examples.is_dir():
        pytest.skip("policies/examples/ does not exist yet (daemon issue)")
    result = _scaler(installed, "validate", str(examples))
    assert 0 == result.returncode, result.stdout + result.stderr


def test_chart_example_policies_are_valid(installed: Path, tmp_path: Path) -> None:
    """The policy files inlined in the chart's ci/*.yaml pass `scaler validate`."""
    if not _has_validate(installed):
        pytest.skip("`scaler validate` does not exist yet (policy issue)")
    written = []
    for values in sorted((CHART / "ci").glob("*.yaml")):
        files = (yaml.safe_load(values.read_text()).get("policies") or {}).get("files") or {}
        for name, text in files.items():
            path = tmp_path / values.stem / name
            path.parent.mkdir(exist_ok=True)
            path.write_text(text)
            written.append(path)
    assert written, "no ci/*.yaml inlines a policy file"
    failures = {}
    for path in written:
        result = _scaler(installed, "validate", str(path))
        if result.returncode != 0:
            failures[str(path.relative_to(tmp_path))] = result.stdout + result.stderr
    assert {} == failures
