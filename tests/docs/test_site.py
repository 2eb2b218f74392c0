"""The documentation site: it builds with ``mkdocs build --strict``, a broken link fails that build,
and every marked section lives on the page the tests read it from."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import skip_or_fail
from tests.deploy.conftest import ALERTS
from tests.doc_pages import DOCS, MKDOCS_CONFIG, README, markers, page_path

#: Each marked section of the documentation and the page it lives on (tests read them there).
SECTION_PAGES = {
    "quickstart-more": "README.md",
    "readme-policy": "README.md",
    "how-it-works": "how-it-works.md",
    "configuration": "configuration.md",
    "policies": "policies.md",
    "commands-daemon": "commands.md",
    "commands-policy": "commands.md",
    "commands-deployments": "commands.md",
    "commands-sim": "simulator.md",
    "metrics": "metrics.md",
    "deployment": "deployment.md",
    "dashboards": "dashboards-and-alerts.md",
    "runbook": "runbook.md",
    "ha": "high-availability.md",
    "performance-sim": "performance.md",
    "performance-plan": "performance.md",
    "performance-scale": "performance.md",
    "performance-metrics": "performance.md",
    "reliability": "reliability.md",
    "development": "development.md",
}


def build_site(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """Run ``mkdocs build --strict`` on ``config`` into ``site``, as ``make docs`` does."""
    if importlib.util.find_spec("mkdocs") is None:
        skip_or_fail("mkdocs is not installed: `make .venv/.installed-stamp` installs the docs extra")
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(config), "--site-dir", str(site)],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documentation site, built strictly into a temporary directory."""
    site = tmp_path_factory.mktemp("site")
    result = build_site(MKDOCS_CONFIG, site)
    assert 0 == result.returncode, result.stderr
    return site


@pytest.mark.integration
def test_site_builds_with_every_page(site: Path) -> None:
    """The strict build succeeds and makes a page of each file of docs/ (index.md the home page)."""
    pages = sorted(path.stem for path in DOCS.glob("*.md"))
    built = {stem: site / ("" if stem == "index" else stem) / "index.html" for stem in pages}
    assert len(pages) > 10 and [] == [stem for stem, path in built.items() if not path.is_file()]


@pytest.mark.integration
def test_every_runbook_link_of_the_alerts_lands_on_its_heading(site: Path) -> None:
    """Each alert's runbook_url, read against the site's URL, is a built page holding that anchor."""
    site_url = yaml.safe_load(MKDOCS_CONFIG.read_text())["site_url"]
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    missing = []
    for rule in rules:
        url = rule["annotations"]["runbook_url"]
        path, _, anchor = url.removeprefix(site_url).partition("#")
        page = site / path / "index.html"
        if not url.startswith(site_url) or not page.is_file() or f'id="{anchor}"' not in page.read_text():
            missing.append(url)
    assert len(rules) > 10 and [] == missing


def _break(docs: Path, kind: str) -> str:
    """Break the copied documentation in one way; return what the build's error must name."""
    if kind == "anchor on another page":
        with (docs / "index.md").open("a") as index:
            index.write("\nSee [the runbook](runbook.md#simplismartscalerasleep).\n")
        return "simplismartscalerasleep"
    if kind == "anchor on the same page":
        with (docs / "metrics.md").open("a") as metrics:
            metrics.write("\nSee [above](#no-such-heading).\n")
        return "no-such-heading"
    if kind == "missing page":
        with (docs / "runbook.md").open("a") as runbook:
            runbook.write("\nSee [the old runbook](runbook-v1.md).\n")
        return "runbook-v1.md"
    if kind == "page left out of the navigation":
        (docs / "orphan.md").write_text("# Orphan\n")
        return "orphan.md"
    raise AssertionError(kind)


@pytest.mark.integration
@pytest.mark.parametrize(
    "kind", ["anchor on another page", "anchor on the same page", "missing page", "page left out of the navigation"]
)
def test_a_broken_link_fails_the_build(tmp_path: Path, kind: str) -> None:
    """mkdocs.yml's validation settings turn each kind of broken link into a failure under --strict."""
    shutil.copytree(DOCS, tmp_path / "docs")
    config = tmp_path / "mkdocs.yml"
    shutil.copy(MKDOCS_CONFIG, config)
    named = _break(tmp_path / "docs", kind)
    result = build_site(config, tmp_path / "site")
    assert (1, True) == (result.returncode, named in result.stderr), result.stderr


def test_every_marked_section_lives_once_on_its_page() -> None:
    """Each section the tests read is marked once, whole (BEGIN then END, nothing nested), on its page."""
    found: dict[str, list[str]] = {}
    problems = []
    for page in ["README.md", *sorted(path.name for path in DOCS.glob("*.md"))]:
        open_name = None
        for kind, name in markers(page_path(page).read_text(encoding="utf-8")):
            if kind == "BEGIN" and open_name is None:
                open_name = name
                found.setdefault(name, []).append(page)
            elif kind == "END" and name == open_name:
                open_name = None
            else:
                problems.append(f"{page}: {kind}:{name} while {open_name} is open")
        if open_name is not None:
            problems.append(f"{page}: {open_name} never ends")
    assert [] == problems
    assert {name: [page] for name, page in SECTION_PAGES.items()} == found


def test_marker_check_sees_markers() -> None:
    """The section markers are found in order, with their names (so the check above cannot pass on nothing)."""
    assert [("BEGIN", "a-b"), ("END", "a-b")] == markers("x <!-- BEGIN:a-b --> y\n<!-- END:a-b -->")
    assert ("BEGIN", "quickstart-more") in markers(README.read_text())

