"""Scenario 5, bad policy input: any document either loads or is refused with located issues, quickly and in bounded memory.

Hypothesis generates policy documents (:mod:`tests.reliability.policy_documents`):
valid ones, which must load, and ones damaged in every way we know, which may load
(a harmless change) or must be refused with a :class:`PolicyLoadError` whose every
issue names the file, a line of the document and a path (only a problem of the whole
file, such as a YAML syntax error, has no path), on one printable line. Nothing else
may escape the loader, and no document may take long or much memory: the bounds
below are generous, to catch an explosion (an alias bomb expanded, a quadratic
corner), not to measure speed. The three entry points are exercised: bytes
(``parse_policy_sources``), text (``load_policy_text``) and files on disk
(``load_policy_set``). ``scaler validate`` is then run as a user runs it on a sample
of the refused files.
"""

from __future__ import annotations

import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from scaler.policy.errors import PolicyIssue, PolicyLoadError
from scaler.policy.loader import load_policy_set, load_policy_text, parse_policy_sources
from scaler.policy.policy_set import PolicySet
from tests.processes import environment
from tests.reliability.figures import ScenarioFigures, is_full, run_seed, scaled
from tests.reliability.policy_documents import Document, alias_bomb, deep_nesting, policy_documents

pytestmark = pytest.mark.scenario(5)

#: Documents generated: at least 1,000 in the full run, enough for every kind of damage that
#: tests.reliability.policy_documents knows to be drawn many times over.
DOCUMENTS = scaled(fast=150, full=1_500)
#: Refused files given to ``scaler validate``, one process each (plus one run over all of them).
CLI_FILES = scaled(fast=2, full=30)
#: Longest a document may take to load or be refused: an explosion, not slowness, trips it.
SECONDS_PER_DOCUMENT = 20.0
#: Most memory loading one document may allocate at its peak (Python allocations, tracemalloc),
#: and most the test process may grow while loading all of them (its peak resident size).
PEAK_BYTES_PER_DOCUMENT = 256 * 1024 * 1024
#: Address-space limit of the process that loads the worst documents.
WORST_CASE_ADDRESS_SPACE = 2 * 1024**3

#: The problems that concern a whole file or its top level, and so have no path.
FILE_LEVEL_PROBLEMS = (
    "file is ",
    "not valid UTF-8",
    "character U+",
    "YAML syntax error",
    "YAML error",
    "tab character",
    "more than one YAML document",
    "nesting is too deep",
    "the document expands",
    "expected a mapping with version",
    "unsupported YAML tag",
    "mapping keys must be plain names",
    "a merge key (<<)",
    "string of ",
)
_LINE_BREAKS = re.compile(rb"\r\n|\r|\n|\xc2\x85|\xe2\x80\xa8|\xe2\x80\xa9")
ENTRY_POINTS = ("bytes", "text", "files")


def line_count(raw: bytes) -> int:
    """Lines in ``raw`` as YAML counts them (CR, LF, CRLF, NEL, LS and PS all break lines)."""
    return len(_LINE_BREAKS.split(raw))


def issue_problems(issue: object, file: str, lines: int) -> list[str]:
    """Return what is wrong with one reported issue (nothing when it names file, line and path on one line)."""
    if not isinstance(issue, PolicyIssue):
        return [f"not a PolicyIssue: {issue!r}"]
    problems = []
    if issue.file != file:
        problems.append(f"names file {issue.file!r}, not {file!r}")
    if not isinstance(issue.line, int) or not 1 <= issue.line <= lines:
        problems.append(f"line {issue.line!r} is not a line of the {lines}-line document")
    if not issue.message.strip():
        problems.append("has no message")
    if not issue.path and not issue.message.startswith(FILE_LEVEL_PROBLEMS):
        problems.append(f"has no path: {issue.message[:120]!r}")
    if not str(issue).isprintable():
        problems.append(f"is not one printable line: {str(issue)[:200]!r}")
    return problems


class Outcome:
    """What loading one document did: the set or the error, and how long it took."""

    def __init__(self, result: PolicySet | PolicyLoadError | BaseException, seconds: float) -> None:
        self.result = result
        self.seconds = seconds


def load(document: Document, entry: str, directory: Path, number: int) -> tuple[str, Outcome]:
    """Load ``document`` through ``entry``; return the file name the issues must carry and the outcome."""
    file = f"{number:05d}-policy.yaml"
    text = document.text_or_none
    if entry == "text" and text is None:
        entry = "bytes"  # load_policy_text takes text: bytes that are not UTF-8 go in as bytes
    path = directory / file
    if entry == "files":
        path.write_bytes(document.raw)
        file = str(path)
    started = time.perf_counter()
    try:
        if entry == "bytes":
            result: PolicySet | PolicyLoadError | BaseException = parse_policy_sources([(file, document.raw)])
        elif entry == "text":
            result = load_policy_text(text or "", file)
        else:
            result = load_policy_set([path])
    except PolicyLoadError as exc:
        result = exc
    except Exception as exc:  # noqa: BLE001 - any other exception is the crash this scenario looks for
        result = exc
    seconds = time.perf_counter() - started
    path.unlink(missing_ok=True)
    return file, Outcome(result, seconds)


def peak_resident_bytes() -> int:
    """The test process's peak resident size so far (Linux reports it in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def judge(document: Document, file: str, outcome: Outcome) -> list[str]:
    """Return every way the outcome breaks the scenario's rules (nothing when it keeps them)."""
    result = outcome.result
    problems = []
    if outcome.seconds > SECONDS_PER_DOCUMENT:
        problems.append(f"took {outcome.seconds:.1f} s (bound {SECONDS_PER_DOCUMENT:g} s)")
    if isinstance(result, PolicySet):
        return problems
    if not isinstance(result, PolicyLoadError):
        return [*problems, f"raised {type(result).__name__}: {str(result)[:200]}"]
    if document.valid:
        problems.append(f"a valid document was refused: {str(result)[:300]}")
    if not result.issues:
        problems.append("PolicyLoadError without issues")
    lines = line_count(document.raw)
    for issue in result.issues:
        problems += issue_problems(issue, file, lines)
    return problems


def test_every_document_loads_or_is_refused_with_located_issues(figures: ScenarioFigures, tmp_path: Path) -> None:
    """Valid documents load; damaged ones load or raise PolicyLoadError with file, line and path; nothing else, within bounds."""
    resident_before = peak_resident_bytes()
    distinct: set[bytes] = set()
    outcomes = {"loaded": 0, "refused": 0}

    @settings(
        max_examples=DOCUMENTS,
        deadline=None,
        database=None,
        phases=[Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(document=policy_documents(large=is_full()), entry=st.sampled_from(ENTRY_POINTS))
    def check(document: Document, entry: str) -> None:
        distinct.add(document.raw)
        file, outcome = load(document, entry, tmp_path, len(distinct))
        problems = judge(document, file, outcome)
        figures.add(cases=1, faults=len(document.mutations), crashes=0)
        if problems:
            figures.crash(f"{document.describe()} via {entry}: {problems[0]}")
        outcomes["loaded" if isinstance(outcome.result, PolicySet) else "refused"] += 1
        assert [] == problems, document.describe()

    seed(run_seed())(check)()
    grown = peak_resident_bytes() - resident_before
    if grown > PEAK_BYTES_PER_DOCUMENT:
        figures.crash(f"the process grew by {grown / 2**20:.0f} MiB loading the documents")
    assert grown <= PEAK_BYTES_PER_DOCUMENT, f"grew by {grown / 2**20:.0f} MiB"
    assert len(distinct) >= (1_000 if is_full() else DOCUMENTS // 2), "too few distinct documents were generated"
    assert outcomes["loaded"] > 0 and outcomes["refused"] > 0, outcomes


#: Documents that hurt a YAML reader most; the fast run loads the first five (a second
#: or two), the full run every one (some take seconds: PyYAML reads about 1 MB/s).
WORST_CASES = {
    "alias bomb of 10^9 values": alias_bomb(9, 10, inside="top"),
    "alias bomb in match names": alias_bomb(5, 11, inside="names"),
    "alias bomb in a string field": alias_bomb(12, 10, inside="description"),
    "flow nesting 100,000 deep": deep_nesting(100_000, style="flow_list"),
    "block nesting 2,000 deep": deep_nesting(2_000, style="block"),
    "5 MB of comments": b"version: 1\npolicies: []\n# " + b"x" * (5 * 1024 * 1024 - 40) + b"\n",
    "one 4 MB string": b"version: 1\npolicies:\n  - name: p\n    match: {names: [a]}\n    description: " + b"x" * (4 * 1024 * 1024) + b"\n",
    "100,000 unknown keys": b"version: 1\n" + b"".join(b"k%d: 1\n" % index for index in range(100_000)),
    "10,000 policies through one alias": (
        b"version: 1\npolicies: [&p {name: p, match: {names: [a]}, windows: [{cron: '0 9 * * 1-5', duration: 8h, "
        b"state: running}, {between: 'Mon-Fri 20:00-08:00', state: stopped}], health: [{status: Degraded, for: 5m, "
        b"action: restart}]}" + b", *p" * 9_999 + b"]\n"
    ),
}

_WORST_CASE_LOADER = """
import json, resource, sys, time
from pathlib import Path
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from scaler.policy.errors import PolicyLoadError
from scaler.policy.loader import load_policy_set
def resident():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
before = resident()
results = {{}}
for path in sorted(Path(sys.argv[1]).iterdir()):
    started = time.perf_counter()
    try:
        load_policy_set([path])
        outcome = "loaded"
    except PolicyLoadError as exc:
        outcome = f"refused with {{len(exc.issues)}} issues, the first: {{exc.issues[0].message[:60]}}"
    results[path.name] = [outcome, round(time.perf_counter() - started, 2)]
print(json.dumps({{"grown": resident() - before, "results": results}}))
"""


def test_the_worst_documents_stay_within_bounds_in_a_memory_limited_process(figures: ScenarioFigures, tmp_path: Path) -> None:
    """Alias bombs, extreme nesting, the largest files: each refused or loaded in bounded time, the process (limited to 2 GiB) in bounded memory.

    The process's peak resident size bounds every document's peak at once: it may grow
    by at most PEAK_BYTES_PER_DOCUMENT over the whole list.
    """
    names = list(WORST_CASES)[: scaled(fast=5, full=len(WORST_CASES))]
    for number, name in enumerate(names):
        (tmp_path / f"{number:02d}.yaml").write_bytes(WORST_CASES[name])
    script = _WORST_CASE_LOADER.format(limit=WORST_CASE_ADDRESS_SPACE)
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True, timeout=600)
    figures.add(cases=len(names), faults=len(names), crashes=0)
    if run.returncode != 0:
        figures.crash(f"the worst-case loader exited {run.returncode}: {run.stderr.strip().splitlines()[-1:]}")
    assert 0 == run.returncode, run.stderr
    report = json.loads(run.stdout)
    results = {names[int(file[:2])]: (outcome, seconds) for file, (outcome, seconds) in report["results"].items()}
    slow = {name: seconds for name, (_, seconds) in results.items() if seconds > SECONDS_PER_DOCUMENT}
    for name, seconds in slow.items():
        figures.crash(f"{name} took {seconds} s")
    if report["grown"] > PEAK_BYTES_PER_DOCUMENT:
        figures.crash(f"loading the worst documents grew the process by {report['grown'] / 2**20:.0f} MiB")
    assert {} == slow
    assert report["grown"] <= PEAK_BYTES_PER_DOCUMENT, f"grew by {report['grown'] / 2**20:.0f} MiB"
    assert {"5 MB of comments"} & set(names) == {name for name, (outcome, _) in results.items() if outcome == "loaded"}, results


_VALIDATE_LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<rest>.+)$")


def refused_sample(count: int) -> list[Document]:
    """Return ``count`` generated documents that the loader refuses, mixed in kind (repeatable for a seed)."""
    found: list[Document] = []

    @settings(max_examples=count * 20, deadline=None, database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(document=policy_documents())
    def collect(document: Document) -> None:
        if len(found) >= count or document.valid or len(document.raw) > 1_000_000:
            return
        try:
            parse_policy_sources([("sample.yaml", document.raw)])
        except PolicyLoadError:
            found.append(document)

    seed(run_seed())(collect)()
    return found


def validate(*paths: Path) -> subprocess.CompletedProcess[str]:
    """Run ``scaler validate PATHS`` as a user does, in a process of its own."""
    command = [str(Path(sys.executable).with_name("scaler")), "validate", *map(str, paths)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, env=environment())


def expected_lines(*paths: Path) -> list[str]:
    """The issues the loader reports for ``paths``, as ``scaler validate`` must print them."""
    with pytest.raises(PolicyLoadError) as caught:
        load_policy_set(list(paths))
    return [str(issue) for issue in caught.value.issues]


def assert_refused_cleanly(run: subprocess.CompletedProcess[str], expected: list[str]) -> None:
    """Exit 1, every issue on stdout as FILE:LINE: path: message, one summary line on stderr, no traceback."""
    assert 1 == run.returncode, run.stderr
    assert "Traceback" not in run.stdout + run.stderr
    assert expected == run.stdout.splitlines()
    assert all(_VALIDATE_LINE.match(line) for line in expected)
    count = len(expected)
    assert [f"error: {count} problem{'s' if count != 1 else ''} in the policy files"] == run.stderr.splitlines()


def test_scaler_validate_reports_refused_files_line_by_line_and_never_a_traceback(figures: ScenarioFigures, tmp_path: Path) -> None:
    """`scaler validate` on refused files, each alone and all together: exit 1, the loader's issues, nothing else."""
    documents = refused_sample(CLI_FILES + 4)
    paths = []
    for number, document in enumerate(documents):
        path = tmp_path / f"{number:03d}-bad.yaml"
        path.write_bytes(document.raw)
        paths.append(path)
    runs = [(paths, validate(tmp_path))] + [([path], validate(path)) for path in paths[:CLI_FILES]]
    crashed = [run for _, run in runs if run.returncode not in (0, 1) or "Traceback" in run.stderr]
    figures.add(cases=len(runs), faults=sum(len(document.mutations) for document in documents), crashes=0)
    for run in crashed:
        figures.crash(f"scaler validate exited {run.returncode}: {run.stderr.strip().splitlines()[-1:]}")
    for given_paths, run in runs:
        assert_refused_cleanly(run, expected_lines(*given_paths))
