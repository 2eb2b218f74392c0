"""The wheel as a new user meets it: built from the source, installed alone, run outside the checkout.

The sdist and the wheel are built once per module with ``python -m build`` (the wheel
from the sdist, as a package index would), and the wheel is installed with pip into a
fresh virtual environment in a temporary directory, its dependencies from the package
index. Every command then runs from that directory, so nothing of the checkout can be
found by accident.
"""

from __future__ import annotations

import email.parser
import importlib.util
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import skip_or_fail
from tests.deploy.conftest import REPO

pytestmark = pytest.mark.integration

#: A command of the installed package may take this long (the demo runs 20 s).
COMMAND_TIMEOUT = 120


@dataclass(frozen=True)
class Installed:
    """The built wheel and the environment it is installed in, with a working directory outside the checkout."""

    wheel: Path
    venv: Path
    workdir: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run ``args`` (``scaler ...`` or ``python ...`` of the environment) from the working directory."""
        command = [str(self.venv / "bin" / args[0]), *args[1:]]
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("SCALER_", "PYTHON", "VIRTUAL_ENV"))}
        env["PATH"] = f"{self.venv / 'bin'}:/usr/bin:/bin"
        return subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False,
                              cwd=self.workdir, env=env)


def _checked(command: list[str], cwd: Path) -> None:
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=cwd)
    assert 0 == result.returncode, f"{' '.join(command)}:\n{(result.stdout + result.stderr)[-4000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    """The wheel built from the source tree, installed in a new environment outside the checkout."""
    if importlib.util.find_spec("build") is None:
        skip_or_fail("the `build` package is a test dependency: pip install -e '.[test]'")
    root = tmp_path_factory.mktemp("wheel")
    dist = root / "dist"
    _checked([sys.executable, "-m", "build", "--outdir", str(dist), str(REPO)], cwd=root)
    wheels = sorted(dist.glob("*.whl"))
    assert 1 == len(wheels), wheels
    venv = root / "venv"
    _checked([sys.executable, "-m", "venv", str(venv)], cwd=root)
    _checked([str(venv / "bin" / "python"), "-m", "pip", "install", "--no-input", "--disable-pip-version-check",
              str(wheels[0])], cwd=root)
    workdir = root / "work"
    workdir.mkdir()
    yield Installed(wheels[0], venv, workdir)


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


def _project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())["project"]


def test_wheel_holds_the_committed_package_files_and_the_licence(installed: Installed) -> None:
    """The wheel's scaler/ is exactly the package's committed files (examples, schema, seed and py.typed
    included, nothing stale), and its metadata directory carries LICENSE."""
    committed = subprocess.run(["git", "ls-files", "scaler"], capture_output=True, text=True, check=True,
                               cwd=REPO).stdout.split()
    with zipfile.ZipFile(installed.wheel) as archive:
        names = archive.namelist()
    licences = [name.split("/", 1)[1] for name in names if ".dist-info/" in name and "LICENSE" in name]
    assert (sorted(committed), ["licenses/LICENSE"]) == (sorted(n for n in names if n.startswith("scaler/")), licences)


def test_wheel_metadata_declares_licence_classifiers_and_links(installed: Installed) -> None:
    """The metadata names Apache-2.0 and its file, the classifiers of pyproject.toml, and the documentation,
    changelog and issue links."""
    metadata = _metadata(installed.wheel)
    urls = dict(value.split(", ", 1) for value in metadata.get_all("Project-URL"))
    assert ("Apache-2.0", ["LICENSE"], _project()["classifiers"], _project()["urls"]) == (
        metadata["License-Expression"], metadata.get_all("License-File"), metadata.get_all("Classifier"), urls
    )
    assert {"Typing :: Typed", "Programming Language :: Python :: 3.11"} <= set(metadata.get_all("Classifier"))
    assert {"Documentation", "Changelog", "Issues"} <= set(urls)


def test_installed_package_is_the_wheels_copy(installed: Installed) -> None:
    """The package imported is the one installed in the environment, not the checkout."""
    result = installed.run("python", "-c", "import scaler; print(scaler.__file__)")
    assert (0, True) == (result.returncode, Path(result.stdout.strip()).is_relative_to(installed.venv)), result


def test_installed_scaler_reports_its_version(installed: Installed) -> None:
    """`scaler --version` prints the package's version."""
    result = installed.run("scaler", "--version")
    assert (0, f"scaler {_project()['version']}\n") == (result.returncode, result.stdout)


def test_installed_scaler_validates_the_shipped_examples(installed: Installed) -> None:
    """`scaler examples DIR` writes the shipped examples and `scaler validate DIR` accepts them; so does
    `scaler validate` of the examples' directory inside the installed package."""
    written = installed.run("scaler", "examples", "policies")
    validated = installed.run("scaler", "validate", "policies")
    located = installed.run("python", "-c", "import scaler.policy, pathlib; "
                                            "print(pathlib.Path(scaler.policy.__file__).parent / 'examples')")
    in_package = installed.run("scaler", "validate", located.stdout.strip())
    summary = "valid: 9 policies, 8 windows, 2 health rules in 7 files\n"
    assert (0, summary, summary) == (written.returncode, validated.stdout, in_package.stdout), (
        written.stderr + validated.stderr + in_package.stderr
    )


def test_installed_scaler_prints_the_policy_schema(installed: Installed) -> None:
    """`scaler schema` prints the committed policy JSON Schema."""
    result = installed.run("scaler", "schema")
    assert (0, json.loads((REPO / "scaler" / "policy" / "schema.json").read_text())) == (
        result.returncode, json.loads(result.stdout)
    )


def test_installed_demo_runs_for_20s_and_acts(installed: Installed) -> None:
    """`scaler demo --for 20s --port 0` runs on the shipped examples, acts, and exits 0 by itself."""
    result = installed.run("scaler", "demo", "--for", "20s", "--port", "0")
    assert 0 == result.returncode, result.stderr[-2000:]
    finished = [line for line in result.stdout.splitlines() if line.startswith("demo finished after 20s: ")]
    assert 1 == len(finished) and int(finished[0].split()[4]) >= 1, result.stdout[-2000:]
    assert "policies:" in result.stdout and str(installed.venv) in result.stdout
