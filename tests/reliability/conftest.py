"""The reliability suite's plugin: the run's size, the ``figures`` fixture and the closing table.

A scenario test is marked ``@pytest.mark.scenario(N)`` and asks for ``figures`` (the
scenario's :class:`~tests.reliability.figures.ScenarioFigures`) to record what it tried::

    pytestmark = pytest.mark.scenario(5)

    def test_something(figures):
        figures.add(cases=120, faults=80, crashes=0)       # crashes=0: measured, none
        figures.add(actions_expected=48, actions_applied=48, duplicates=0, losses=0)
        figures.crash("load_policy_set raised KeyError on ...")   # count it, then fail the test
        figures.leak("the token in /status")                      # scenario 6: a token leak

At the end of the run the table of every scenario that ran is printed and written,
with the run's size and seed, to ``bench/results/reliability.json``.
"""

from __future__ import annotations

import json
import platform
import sys
import time
from collections.abc import Generator, Iterator
from datetime import UTC, datetime

import pytest

from tests.reliability.figures import (
    SCENARIOS,
    SEED_VARIABLE,
    SIZE_VARIABLE,
    FiguresBook,
    ScenarioFigures,
    render_table,
    run_seed,
    run_size,
)

BOOK = pytest.StashKey[FiguresBook]()
REPORT_PATH = "bench/results/reliability.json"


def pytest_configure(config: pytest.Config) -> None:
    """Check the size and seed variables, register the ``scenario`` marker, start the book."""
    try:
        run_size()
        run_seed()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.addinivalue_line(
        "markers",
        "scenario(number): the reliability scenario (1-7) a test belongs to; its figures go to that row of the table",
    )
    config.stash[BOOK] = FiguresBook()


def _scenario_number(item: pytest.Item) -> int | None:
    marker = item.get_closest_marker("scenario")
    if marker is None:
        return None
    if len(marker.args) != 1 or marker.args[0] not in SCENARIOS:
        raise pytest.UsageError(f"{item.nodeid}: mark it scenario(N) with N one of {sorted(SCENARIOS)}")
    return marker.args[0]


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[ScenarioFigures]:
    """The figures of the test's scenario (from its ``scenario`` marker); the test's time is added to them."""
    number = _scenario_number(request.node)
    if number is None:
        raise pytest.UsageError(f"{request.node.nodeid} asks for figures without a scenario(N) marker")
    row = request.config.stash[BOOK].scenario(number)
    started = time.perf_counter()
    yield row
    row.seconds += time.perf_counter() - started


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Count each scenario test's outcome (a failure in setup or teardown counts as a failure)."""
    report = yield
    number = _scenario_number(item)
    if number is None:
        return report
    row = item.config.stash[BOOK].scenario(number)
    if report.failed:
        row.tests_failed += 1
    elif report.when == "call" and report.passed:
        row.tests_passed += 1
    return report


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """Print the table of the scenarios that ran and write it as JSON."""
    rows = config.stash[BOOK].rows
    if not rows:
        return
    size, seed = run_size(), run_seed()
    terminalreporter.write_sep("=", f"reliability: {size} run, seed {seed}")
    for line in render_table(rows):
        terminalreporter.write_line(line)
    for row in rows:
        for note in row.notes:
            terminalreporter.write_line(f"{row.title}: {note}")
    report = {
        "size": size,
        "seed": seed,
        "command": "make reliability" if size == "full" else "make test",
        "environment": {SIZE_VARIABLE: size, SEED_VARIABLE: str(seed)},
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": f"{platform.system()} {platform.machine()}",
        "scenarios": [row.to_json() for row in rows],
    }
    path = config.rootpath / REPORT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    terminalreporter.write_line(f"figures written to {REPORT_PATH}")
