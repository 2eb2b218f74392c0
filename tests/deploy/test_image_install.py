"""The image's install steps, followed in a fresh virtual environment (see tests.deploy.image_install).

The environment is built once per session (fixture ``installed_venv``) and then used
as the image would use it: ``scaler --version``, ``scaler validate`` of the shipped
policies and of the policy files the chart's examples inline. Its software bill of
materials, made as the documentation says (``cyclonedx-py environment``), must list
exactly the packages requirements.lock pins.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.utils import canonicalize_name

from tests.deploy.conftest import CHART, REPO
from tests.deploy.dockerfile import stages
from tests.deploy.image_install import image_environment
from tests.deploy.lockfile import parse_lock

pytestmark = pytest.mark.integration


def _scaler(venv: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(venv / "bin" / "scaler"), *args], capture_output=True, text=True, timeout=60,
                          check=False, cwd=REPO, env=image_environment(venv))


def test_final_stage_takes_the_environment_the_build_stage_made() -> None:
    """The final stage copies exactly the directory the install script fills."""
    run = next(i for i in stages()[0] if i.keyword == "RUN").exec_form()
    copy = next(i for i in stages()[-1] if i.keyword == "COPY").argument
    assert f"--from=build {run[2]} {run[2]}" == copy


def test_installed_scaler_reports_the_package_version(installed_venv: Path) -> None:
    """`scaler --version` runs from the installed environment and prints the package's version."""
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    result = _scaler(installed_venv, "--version")
    assert (0, f"scaler {version}\n") == (result.returncode, result.stdout)


def test_installed_environment_holds_no_pip(installed_venv: Path) -> None:
    """The environment the image carries has no pip: nothing in the image can install packages."""
    assert [] == sorted(p.name for p in (installed_venv / "bin").glob("pip*"))


def test_installed_scaler_is_not_the_source_tree(installed_venv: Path) -> None:
    """The installed package is a copy inside the environment, not an editable link back to the checkout."""
    result = subprocess.run(
        [str(installed_venv / "bin" / "python"), "-c", "import scaler; print(scaler.__file__)"],
        capture_output=True, text=True, timeout=60, check=False, cwd="/", env=image_environment(installed_venv),
    )
    assert (0, True) == (result.returncode, Path(result.stdout.strip()).is_relative_to(installed_venv)), result


def test_installed_scaler_validates_the_example_policies(installed_venv: Path) -> None:
    """`scaler validate policies/examples` accepts the shipped examples with the installed package."""
    result = _scaler(installed_venv, "validate", "policies/examples")
    assert (0, "valid:") == (result.returncode, result.stdout[:6]), result.stdout + result.stderr


def test_installed_scaler_rejects_an_invalid_policy(installed_venv: Path, tmp_path: Path) -> None:
    """The installed `scaler validate` can fail: a policy without a name exits 1 naming the file and line."""
    path = tmp_path / "broken.yaml"
    path.write_text("version: 1\npolicies:\n  - match: {names: ['*']}\n    default: stopped\n")
    result = _scaler(installed_venv, "validate", str(path))
    assert (1, f"{path}:3:") == (result.returncode, result.stdout[: len(str(path)) + 3]), result.stdout + result.stderr


def test_chart_example_policies_are_valid(installed_venv: Path, tmp_path: Path) -> None:
    """The policy files inlined in the chart's ci/*.yaml pass `scaler validate`."""
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
        result = _scaler(installed_venv, "validate", str(path))
        if result.returncode != 0:
            failures[str(path.relative_to(tmp_path))] = result.stdout + result.stderr
    assert {} == failures


def test_sbom_of_the_environment_lists_exactly_the_locked_packages(installed_venv: Path, tmp_path: Path) -> None:
    """`cyclonedx-py environment` run on the environment the image carries gives a CycloneDX SBOM whose root is
    the project at its version and whose components are the packages of requirements.lock at their pins."""
    tool = shutil.which("cyclonedx-py", path=str(Path(sys.executable).parent))
    assert tool is not None, "cyclonedx-py is a test dependency (cyclonedx-bom): pip install -e '.[test]'"
    output = tmp_path / "sbom.cdx.json"
    result = subprocess.run(
        [tool, "environment", str(installed_venv / "bin" / "python"), "--pyproject", str(REPO / "pyproject.toml"),
         "--of", "JSON", "-o", str(output)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )
    assert 0 == result.returncode, result.stderr
    sbom = json.loads(output.read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    locked = {name: package.version for name, package in parse_lock((REPO / "requirements.lock").read_text()).items()}
    assert ((project["name"], project["version"]), locked) == (
        (sbom["metadata"]["component"]["name"], sbom["metadata"]["component"]["version"]),
        {canonicalize_name(c["name"]): c["version"] for c in sbom["components"]},
    )
