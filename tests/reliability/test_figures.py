"""The suite's own bookkeeping: sizes, seeds, figures and the table they print."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.doc_pages import marked_section
from tests.reliability.figures import FiguresBook, ScenarioFigures, render_table, run_seed, run_size, scaled


def test_the_size_defaults_to_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without SCALERTEST_RELIABILITY the run is the fast subset and scaled() picks the fast count."""
    monkeypatch.delenv("SCALERTEST_RELIABILITY", raising=False)
    assert ("fast", 10) == (run_size(), scaled(10, 1000))


def test_full_picks_the_large_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """SCALERTEST_RELIABILITY=full (any case, spaces around) is the whole suite."""
    monkeypatch.setenv("SCALERTEST_RELIABILITY", " Full ")
    assert ("full", 1000) == (run_size(), scaled(10, 1000))


def test_an_unknown_size_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """A typo in SCALERTEST_RELIABILITY is an error, not silently the fast run."""
    monkeypatch.setenv("SCALERTEST_RELIABILITY", "ful")
    with pytest.raises(ValueError, match="SCALERTEST_RELIABILITY='ful': expected fast"):
        run_size()


def test_the_seed_is_read_from_its_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """SCALERTEST_RELIABILITY_SEED sets the seed; a non-number is refused."""
    monkeypatch.setenv("SCALERTEST_RELIABILITY_SEED", "42")
    assert 42 == run_seed()
    monkeypatch.setenv("SCALERTEST_RELIABILITY_SEED", "x")
    with pytest.raises(ValueError, match="SCALERTEST_RELIABILITY_SEED"):
        run_seed()


def test_columns_stay_unmeasured_until_a_test_adds_to_them() -> None:
    """cases and faults always count; the action columns only once given, 0 included."""
    row = ScenarioFigures(5)
    row.add(cases=3, faults=1)
    row.add(cases=2, duplicates=0)
    assert (5, 1, None, 0, None) == (row.cases, row.faults, row.actions_expected, row.duplicates, row.crashes)


def test_a_crash_is_counted_and_described() -> None:
    """crash() counts one crash and keeps its note on one line."""
    row = ScenarioFigures(5)
    row.crash("KeyError\n  on document 7")
    assert (1, ["KeyError on document 7"]) == (row.crashes, row.notes)


def test_crashes_of_one_kind_are_all_counted_and_described_once() -> None:
    """Notes differing only in numbers (columns, sizes) are one kind: every crash counts, one note is kept."""
    row = ScenarioFigures(5)
    for column in (3, 17, 120):
        row.crash(f"character U+007F (column {column}) has no path")
    row.crash("KeyError on document 7")
    assert (4, ["character U+007F (column 3) has no path", "KeyError on document 7"]) == (row.crashes, row.notes)


def test_a_leak_is_counted_and_noted_apart_from_crashes() -> None:
    """leak() counts in the token-leaks column and keeps a note saying where."""
    row = ScenarioFigures(6)
    row.leak("stderr of scaler deployments list")
    assert (1, None, ["token leak: stderr of scaler deployments list"]) == (row.leaks, row.crashes, row.notes)


def test_negative_counts_are_refused() -> None:
    """A count below zero is a bug in the test that recorded it."""
    with pytest.raises(ValueError, match="never negative"):
        ScenarioFigures(1).add(losses=-1)


def test_the_book_keeps_one_row_per_scenario_in_number_order() -> None:
    """Rows are created on first use, shared afterwards, and listed by number."""
    book = FiguresBook()
    book.scenario(6).add(cases=1)
    book.scenario(4).add(cases=1)
    book.scenario(6).add(cases=1)
    assert ([4, 6], 2) == ([row.number for row in book.rows], book.scenario(6).cases)
    with pytest.raises(ValueError, match="unknown scenario 8"):
        book.scenario(8)


def test_the_table_is_markdown_with_a_dash_for_unmeasured_columns() -> None:
    """One heading line, one rule, one line per row; numbers with thousands separators."""
    row = ScenarioFigures(5)
    row.add(cases=1234, faults=56, crashes=0)
    row.tests_passed, row.seconds = 3, 1.25
    heading, rule, line = render_table([row])
    assert heading.startswith("| scenario ") and "| cases tried |" in heading
    assert set(rule) <= {"|", " ", "-", ":"}
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert ["5. bad policy input", "1,234", "56", "-", "-", "-", "-", "0", "-", "-", "-", "3/3", "1.2"] == cells


ROOT = Path(__file__).resolve().parents[2]


def test_make_reliability_runs_the_whole_suite_at_full_size() -> None:
    """The Makefile's reliability target runs tests/reliability with SCALERTEST_RELIABILITY=full."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^reliability:.*\n\t(?P<command>.+)$", makefile, re.MULTILINE)
    assert recipe is not None
    assert recipe["command"].startswith("SCALERTEST_RELIABILITY=full ") and " tests/reliability" in recipe["command"]


def test_the_docs_table_has_the_columns_the_suite_prints() -> None:
    """The reliability page's latest figures use exactly the headings of the printed table."""
    section = marked_section("reliability.md", "reliability")
    printed = render_table([ScenarioFigures(4)])[0]
    headings = [cell.strip() for cell in printed.strip("|").split("|")]
    tables = [line for line in section.splitlines() if line.startswith("| scenario | cases tried")]
    assert [headings] == [[cell.strip() for cell in line.strip("|").split("|")] for line in tables]
