"""The reliability suite's figures: what each scenario tried and what it found, and the run's size.

Every scenario test is marked ``@pytest.mark.scenario(N)`` (N from :data:`SCENARIOS`) and
records its counts through the ``figures`` fixture (a :class:`ScenarioFigures`); the
suite's conftest prints one table row per scenario at the end of the run and writes the
same rows to ``bench/results/reliability.json``.

The size of a run comes from ``SCALERTEST_RELIABILITY``: unset or ``fast`` (``make test``:
a few seconds per scenario) or ``full`` (``make reliability``: large case counts).
Tests size themselves with :func:`scaled`. Random choices are seeded from
``SCALERTEST_RELIABILITY_SEED`` (default :data:`DEFAULT_SEED`), so a run can be repeated.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

#: The suite's scenarios, by number (as docs/reliability.md's table numbers them), as the table names them.
SCENARIOS = {
    1: "platform faults",
    2: "crashes (SIGKILL)",
    3: "clock jumps",
    4: "malformed platform answers",
    5: "bad policy input",
    6: "secrets",
    7: "resource faults",
}

SIZE_VARIABLE = "SCALERTEST_RELIABILITY"
SEED_VARIABLE = "SCALERTEST_RELIABILITY_SEED"
SIZES = ("fast", "full")
DEFAULT_SEED = 20260901

#: The count columns of the table, in order, with their headings.
COLUMNS = {
    "cases": "cases tried",
    "faults": "faults injected",
    "actions_expected": "actions expected",
    "actions_applied": "actions applied",
    "duplicates": "duplicates",
    "losses": "losses",
    "crashes": "crashes",
    "leaks": "token leaks",
    "reverted": "reverted transitions",
    "gated": "money-saving calls delayed by a gate",
}
#: Notes kept per scenario on crashes and leaks (the first of each kind; the counts are exact).
MAX_NOTES = 20


def run_size() -> str:
    """Return ``fast`` or ``full`` from ``SCALERTEST_RELIABILITY``; raise ``ValueError`` for anything else."""
    size = os.environ.get(SIZE_VARIABLE, "").strip().lower() or "fast"
    if size not in SIZES:
        raise ValueError(f"{SIZE_VARIABLE}={size!r}: expected fast (the default) or full")
    return size


def run_seed() -> int:
    """Return the seed of the run's random choices: ``SCALERTEST_RELIABILITY_SEED`` or :data:`DEFAULT_SEED`."""
    text = os.environ.get(SEED_VARIABLE, "").strip()
    if not text:
        return DEFAULT_SEED
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SEED_VARIABLE}={text!r}: expected a whole number") from None


def is_full() -> bool:
    """Whether this is the whole suite (``make reliability``) rather than the fast subset."""
    return run_size() == "full"


def scaled(fast: int, full: int) -> int:
    """Return ``full`` in a full run, ``fast`` otherwise: a scenario's case count."""
    return full if is_full() else fast


@dataclass
class ScenarioFigures:
    """The counts of one scenario, summed over its tests.

    A column stays ``None`` ("not measured by this scenario", shown as ``-``) until a
    test adds to it; adding 0 marks it measured. ``notes`` says what the first crashes
    and leaks of each kind were.
    """

    number: int
    cases: int | None = None
    faults: int | None = None
    actions_expected: int | None = None
    actions_applied: int | None = None
    duplicates: int | None = None
    losses: int | None = None
    crashes: int | None = None
    leaks: int | None = None
    reverted: int | None = None
    gated: int | None = None
    notes: list[str] = field(default_factory=list)
    tests_passed: int = 0
    tests_failed: int = 0
    seconds: float = 0.0

    @property
    def title(self) -> str:
        """``N. name``, as the table shows the scenario."""
        return f"{self.number}. {SCENARIOS[self.number]}"

    def add(
        self,
        *,
        cases: int = 0,
        faults: int = 0,
        actions_expected: int | None = None,
        actions_applied: int | None = None,
        duplicates: int | None = None,
        losses: int | None = None,
        crashes: int | None = None,
        leaks: int | None = None,
        reverted: int | None = None,
        gated: int | None = None,
    ) -> None:
        """Add counts to the scenario's columns (``cases`` and ``faults`` always count; the others once given)."""
        given: dict[str, int | None] = {
            "cases": cases,
            "faults": faults,
            "actions_expected": actions_expected,
            "actions_applied": actions_applied,
            "duplicates": duplicates,
            "losses": losses,
            "crashes": crashes,
            "leaks": leaks,
            "reverted": reverted,
            "gated": gated,
        }
        for name, value in given.items():
            if value is None:
                continue
            if value < 0:
                raise ValueError(f"{name}: counts are never negative, got {value}")
            setattr(self, name, (getattr(self, name) or 0) + value)

    def leak(self, note: str) -> None:
        """Count one place where the API token (or a piece of it) showed, and say where."""
        self.add(leaks=1)
        self._note(f"token leak: {note}")

    def crash(self, note: str) -> None:
        """Count one crash (an unhandled exception, a dead process, a bound exceeded) and say what it was.

        Notes that differ only in their numbers (a line, a size, a count) are one kind:
        only the first of each kind is kept, so a shrinking search does not repeat itself.
        """
        self.add(crashes=1)
        self._note(note)

    def note(self, note: str) -> None:
        """Keep a line about what the scenario measured (printed under the table)."""
        self._note(note)

    def _note(self, note: str) -> None:
        line = " ".join(note.split())[:300]
        kind = re.sub(r"\d+", "N", line)
        if len(self.notes) < MAX_NOTES and all(re.sub(r"\d+", "N", kept) != kind for kept in self.notes):
            self.notes.append(line)

    def to_json(self) -> dict[str, Any]:
        """Return the row as the JSON report holds it (``null`` for a column not measured)."""
        return {
            "scenario": self.number,
            "name": SCENARIOS[self.number],
            **{name: getattr(self, name) for name in COLUMNS},
            "notes": self.notes,
            "tests_passed": self.tests_passed,
            "tests_failed": self.tests_failed,
            "seconds": round(self.seconds, 2),
        }


class FiguresBook:
    """Every scenario's figures for one run."""

    def __init__(self) -> None:
        self._rows: dict[int, ScenarioFigures] = {}

    def scenario(self, number: int) -> ScenarioFigures:
        """Return scenario ``number``'s figures (created on first use); ``ValueError`` for an unknown number."""
        if number not in SCENARIOS:
            raise ValueError(f"unknown scenario {number!r}; the scenarios are {sorted(SCENARIOS)}")
        if number not in self._rows:
            self._rows[number] = ScenarioFigures(number)
        return self._rows[number]

    @property
    def rows(self) -> list[ScenarioFigures]:
        """The scenarios that ran, in number order."""
        return [self._rows[number] for number in sorted(self._rows)]


def render_table(rows: list[ScenarioFigures]) -> list[str]:
    """Return the rows as a Markdown table (docs/reliability.md shows it as is), one string per line."""
    headings = ["scenario", *COLUMNS.values(), "tests passed", "seconds"]
    body = [
        [
            row.title,
            *("-" if getattr(row, name) is None else f"{getattr(row, name):,}" for name in COLUMNS),
            f"{row.tests_passed}/{row.tests_passed + row.tests_failed}",
            f"{row.seconds:.1f}",
        ]
        for row in rows
    ]
    widths = [max(len(line[column]) for line in [headings, *body]) for column in range(len(headings))]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(cells[1:], widths[1:]))]
        return "| " + " | ".join(padded) + " |"

    rule = "| " + " | ".join(["-" * widths[0], *("-" * (width - 1) + ":" for width in widths[1:])]) + " |"
    return [line(headings), rule, *(line(cells) for cells in body)]
