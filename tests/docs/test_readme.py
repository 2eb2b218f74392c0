"""The README: one page a newcomer reads whole, pointing into docs/ for the rest.

It stays short, keeps the two commands CI and people look for, links only to pages and
headings that exist, and its one-minute policy and the commands shown with it work as written.
"""

from __future__ import annotations

import re
import shlex
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner
from freezegun import freeze_time

from scaler.cli.main import main
from tests.deploy.test_readme import code_of, command_problems
from tests.doc_pages import README, REPO, marked_section, page_anchors

#: The README is read whole: past this it is a reference again, and belongs in docs/.
MAX_LINES = 400


def test_readme_is_short() -> None:
    """The README stays under 400 lines."""
    assert len(README.read_text().splitlines()) < MAX_LINES


def test_readme_keeps_make_demo_and_make_test() -> None:
    """`make demo` and `make test` stand in the README's quick start, as CI and newcomers look for them."""
    lines = README.read_text().splitlines()
    assert {"make demo", "make test"} <= {line.split("#")[0].strip() for line in lines}


def _readme_links() -> list[str]:
    return re.findall(r"\]\(([^)\s]+)\)", README.read_text())


def test_readme_links_to_pages_and_headings_that_exist() -> None:
    """Each relative link of the README names a file of the repository and, for a page, one of its headings."""
    broken = []
    for link in _readme_links():
        if re.match(r"[a-z]+://", link):
            continue
        path, _, anchor = link.partition("#")
        target = REPO / path
        if not target.exists() or (anchor and anchor not in page_anchors(str(target.relative_to(REPO / "docs")))):
            broken.append(link)
    assert [] == broken


def test_readme_links_to_every_page_of_the_documentation() -> None:
    """The README's table of contents names every page of docs/."""
    linked = {link.partition("#")[0] for link in _readme_links()}
    assert [] == [page.name for page in sorted((REPO / "docs").glob("*.md")) if f"docs/{page.name}" not in linked]


def test_every_scaler_command_of_the_readme_exists_with_its_options() -> None:
    """Each `scaler ...` in the README's code is a real command, given only options it has."""
    shown = [line for line in code_of(README.read_text()) if line.lstrip().startswith("scaler ")]
    assert len(shown) >= 5
    assert [] == [problem for line in shown for problem in command_problems(line)]


@pytest.fixture
def policy_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory laid out as the README's policy example assumes: policies/office-hours.yaml, examples/."""
    section = marked_section("README.md", "readme-policy")
    example = re.search(r"```yaml\n(.*?)```", section, re.DOTALL)
    assert example is not None
    name = re.match(r"# (\S+)\n", example.group(1))
    assert name is not None, "the example's first line names its file"
    (tmp_path / name.group(1)).parent.mkdir(parents=True)
    (tmp_path / name.group(1)).write_text(example.group(1))
    (tmp_path / "examples").symlink_to(REPO / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _commands() -> list[list[str]]:
    section = marked_section("README.md", "readme-policy")
    block = re.search(r"```console\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [shlex.split(line) for line in block.group(1).splitlines() if line.strip()]


def test_readme_policy_commands_work_as_written(policy_checkout: Path) -> None:
    """`scaler validate` accepts the one-minute policy and `scaler plan`, run on a Monday (it plans from
    now), stops and starts the Llama models by it."""
    validate, plan = _commands()
    assert ["scaler", "validate"] == validate[:2] and ["scaler", "plan"] == plan[:2]
    validated = CliRunner().invoke(main, validate[1:])
    assert (0, "valid: 1 policy, 1 window, 0 health rules in 1 file\n") == (validated.exit_code, validated.stdout)
    with freeze_time(datetime(2026, 12, 21, 5, 0, tzinfo=timezone.utc)):
        planned = CliRunner().invoke(main, plan[1:])
    assert 0 == planned.exit_code, planned.output
    governed = re.findall(r"^(\S+) .* policy office-hours \(Europe/Berlin\)$", planned.stdout, re.MULTILINE)
    assert ["llama-3-70b-instruct", "llama-3-8b-chat"] == governed  # by name
    assert planned.stdout.startswith("Plan from 2026-12-21 05:00Z until 2026-12-23 05:00Z (48 h)")
    assert "  Mon 2026-12-21 07:50 CET    2026-12-21 06:50Z  min=1 max=3    window:office\n" in planned.stdout
    assert "  Mon 2026-12-21 19:00 CET    2026-12-21 18:00Z  stopped        default\n" in planned.stdout
