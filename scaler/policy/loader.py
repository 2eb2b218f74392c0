"""Loading policy files: every error found, each with its file, line and path.

A policy path is a file, or a directory whose own ``.yaml``/``.yml`` files (in any case:
``.YAML`` too) are read in name order (not its subdirectories). Each file is read by
:mod:`scaler.policy.yamlsource`, checked for what its models cannot see on the raw values
(:mod:`scaler.policy.checks`: the shape of windows and rules, unique names, ``from`` before
``until``, bounds that a ``default`` can restore), so these are reported beside every other
problem, validated with the models of :mod:`scaler.policy.model` one policy at a time (so
one broken policy does not hide the errors of the next; :mod:`scaler.policy.validation_messages`
says what each error means), and finally checked across files (unique policy names, one
``pricing`` block). Each valid policy's schedules are compiled as it is loaded.
"""

from __future__ import annotations

import hashlib
import re
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from scaler.policy.checks import check_relations, check_shape
from scaler.policy.errors import PolicyIssue, PolicyLoadError, PolicyPathError, PolicySetEmpty
from scaler.policy.fields import CALENDAR_READER, Accelerator, Price
from scaler.policy.icalendars import CalendarError, CalendarFile, read_calendar_file
from scaler.policy.model import FORMAT_VERSION, Policy, PolicyFile
from scaler.policy.policy_set import BUILTIN_PRICES, PolicySet, PolicySource
from scaler.policy.schedule import compile_schedules
from scaler.policy.validation_messages import Reporter, format_path
from scaler.policy.yamlsource import Path_, YamlDocument, YamlSourceError, read_yaml

POLICY_SUFFIXES = (".yaml", ".yml")


# --------------------------------------------------------------------------- entry points


def load_policy_set(paths: Sequence[Path | str]) -> PolicySet:
    """Read and validate every policy file under ``paths``; return the set.

    Raises :class:`PolicyPathError` when a path does not exist or cannot be read, and
    :class:`PolicyLoadError` listing every problem when the files are not valid.
    """
    return parse_policy_sources(read_policy_sources(paths))


def require_policies(policy_set: PolicySet, paths: Sequence[Path | str]) -> None:
    """Check that ``policy_set``, read from ``paths``, holds at least one policy.

    Raises :class:`PolicySetEmpty` otherwise, naming the files read and the subdirectories
    that hold policy files (which are not read), so that a person sees where they went.
    """
    if policy_set.policies:
        return
    given = [Path(path) for path in paths]
    nested = [
        (child, count)
        for path in given
        if path.is_dir()
        for child in sorted(path.iterdir())
        if child.is_dir() and not child.name.startswith(".")
        for count in [_count_yaml_files(child)]
        if count
    ]
    raise PolicySetEmpty(given, [source.path for source in policy_set.sources], nested)


def _count_yaml_files(directory: Path) -> int:
    """How many policy files ``directory`` holds directly (0 when it cannot be listed)."""
    try:
        return len(_yaml_files(directory))
    except OSError:
        return 0


def _yaml_files(directory: Path) -> list[Path]:
    """The policy files directly inside ``directory``, in name order."""
    return sorted(
        (child for child in directory.iterdir() if child.suffix.lower() in POLICY_SUFFIXES and child.is_file()),
        key=lambda child: child.name,
    )


def policy_files(paths: Sequence[Path | str]) -> list[Path]:
    """Return the policy files named by ``paths``: files as given, directories' own YAML files in name order.

    Raises :class:`PolicyPathError` for a path that does not exist or cannot be listed.
    """
    files: list[Path] = []
    for raw_path in paths:
        path = Path(raw_path)
        try:
            if path.is_dir():
                files.extend(_yaml_files(path))
            elif path.exists():
                files.append(path)
            else:
                raise PolicyPathError(path, _missing(path))
        except PermissionError as exc:
            raise PolicyPathError(path, f"cannot be read ({exc.strerror})") from None
    return files


def _missing(path: Path) -> str:
    """What to call a path that does not exist: a policy file by its suffix, a directory without one."""
    if path.suffix.lower() in POLICY_SUFFIXES:
        return "no such file"
    return "no such directory" if not path.suffix else "no such file or directory"


def read_policy_sources(paths: Sequence[Path | str]) -> list[tuple[str, bytes]]:
    """Return ``(file name, bytes)`` of every policy file under ``paths``.

    Raises :class:`PolicyPathError` when a path does not exist or a file cannot be read.
    """
    sources = []
    for path in policy_files(paths):
        try:
            sources.append((str(path), path.read_bytes()))
        except OSError as exc:
            raise PolicyPathError(path, f"cannot be read ({exc.strerror or exc})") from None
    return sources


def load_policy_text(text: str, file: str = "policy.yaml") -> PolicySet:
    """Return the set described by one file's ``text``; raises :class:`PolicyLoadError` (for tests and tools)."""
    return parse_policy_sources([(file, text.encode())])


def parse_policy_sources(sources: Iterable[tuple[str, bytes]]) -> PolicySet:
    """Validate policy files given as ``(file name, bytes)``; return the set.

    Raises :class:`PolicyLoadError` listing every problem, in file order and line order.
    """
    issues: list[PolicyIssue] = []
    parsed: list[_ParsedFile] = []
    source_list = list(sources)
    calendars = _CalendarReader()
    for file, raw in source_list:
        parsed_file = _parse_file(file, raw, calendars)
        issues.extend(parsed_file.issues)
        parsed.append(parsed_file)
    issues.extend(_cross_file_issues(parsed))
    if issues:
        order = {file: index for index, (file, _) in enumerate(source_list)}
        unique = sorted(
            set(issues), key=lambda issue: (order.get(issue.file, 0), issue.line, _path_order(issue.path), issue.message)
        )
        raise PolicyLoadError(unique, calendar_paths=calendars.paths)
    pricing = dict(BUILTIN_PRICES)
    for parsed_file in parsed:
        pricing.update(parsed_file.pricing or {})
    policies = tuple(policy for parsed_file in parsed for policy in parsed_file.policies)
    file_hashes = tuple(PolicySource(Path(file), hashlib.sha256(raw).hexdigest()) for file, raw in source_list)
    calendar_hashes = calendars.sources()
    digest = hashlib.sha256()
    for source in file_hashes + calendar_hashes:
        digest.update(f"{source.path}\0{source.sha256}\n".encode())
    return PolicySet(
        policies=policies,
        pricing=MappingProxyType(pricing),
        sources=file_hashes,
        content_hash=digest.hexdigest(),
        calendars=calendar_hashes,
    )


class _CalendarReader:
    """Reads the calendar files of one load, each path once; remembers every path it was asked for."""

    def __init__(self) -> None:
        self._read: dict[Path, CalendarFile | CalendarError] = {}

    def reader(self, policy_file: str):
        """Return the function that reads a calendar named in ``policy_file`` (relative to its directory)."""
        base = Path(policy_file).parent

        def read(written: str) -> CalendarFile:
            path = base / written
            found = self._read.get(path)
            if found is None:
                try:
                    found = read_calendar_file(written, base)
                except CalendarError as exc:
                    found = exc
                self._read[path] = found
            if isinstance(found, CalendarError):
                raise found
            return found if found.written == written else CalendarFile(written, found.path, found.sha256, found.calendar)

        return read

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every calendar path asked for, readable or not, in the order first asked."""
        return tuple(self._read)

    def sources(self) -> tuple[PolicySource, ...]:
        """The calendars read, with the SHA-256 of their bytes."""
        return tuple(PolicySource(path, found.sha256) for path, found in self._read.items() if isinstance(found, CalendarFile))


def _path_order(path: str) -> tuple[str | int, ...]:
    """Sort key of a path: its indexes compared as numbers, so policies[2] comes before policies[10]."""
    return tuple(int(part) if index % 2 else part for index, part in enumerate(re.split(r"(\d+)", path)))


# --------------------------------------------------------------------------- one file


@dataclass
class _ParsedFile:
    file: str
    document: YamlDocument | None = None
    issues: list[PolicyIssue] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=list)
    pricing: dict[str, float] | None = None
    #: raw policy names with their lines, valid or not, for the cross-file checks
    names: list[tuple[str, int, str]] = field(default_factory=list)
    pricing_line: int | None = None


class _FileHead(BaseModel):
    """A file's top level; the policies are validated one by one afterwards."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: typing.Literal[1]
    pricing: dict[Accelerator, Price] | None = None
    policies: list[dict[str, Any]] = []


def _parse_file(file: str, raw: bytes, calendars: _CalendarReader) -> _ParsedFile:
    result = _ParsedFile(file)
    try:
        document = read_yaml(raw)
    except YamlSourceError as exc:
        result.issues.append(PolicyIssue(file, exc.line, format_path(exc.path), exc.message))
        return result
    result.document = document
    for problem in document.problems:
        result.issues.append(PolicyIssue(file, problem.line, format_path(problem.path), problem.message))
    data = document.data
    if data is None:
        result.issues.append(PolicyIssue(file, 1, "", f"file is empty; expected a mapping with version: {FORMAT_VERSION} and policies"))
        return result
    if not isinstance(data, dict):
        result.issues.append(
            PolicyIssue(file, document.line_of(()), "", f"expected a mapping with version: {FORMAT_VERSION} and policies at the top level")
        )
        return result
    report = Reporter(file, document, result.issues, reported={problem.path for problem in document.problems})

    try:
        head = _FileHead.model_validate({key: value for key, value in data.items()})
    except ValidationError as exc:
        report.validation_error(exc, (), PolicyFile)
        head = None
    if head is not None:
        result.pricing = head.pricing
    if "pricing" in data and data["pricing"] is not None:
        result.pricing_line = document.line_of(("pricing",), key=True)

    raw_policies = data.get("policies")
    if not isinstance(raw_policies, list):
        return result
    for index, raw_policy in enumerate(raw_policies):
        path: Path_ = ("policies", index)
        if not isinstance(raw_policy, dict):
            continue  # reported by the head's validation
        name = raw_policy.get("name")
        if isinstance(name, str):
            result.names.append((name, document.line_of((*path, "name")), format_path((*path, "name"))))
        check_shape(raw_policy, path, report)
        check_relations(raw_policy, path, report)
        try:
            policy = Policy.model_validate(raw_policy, context={CALENDAR_READER: calendars.reader(file)})
            compile_schedules(policy)
        except ValidationError as exc:
            report.validation_error(exc, path, Policy)
            continue
        result.policies.append(policy)
    return result


def _cross_file_issues(parsed: list[_ParsedFile]) -> list[PolicyIssue]:
    issues = []
    seen: dict[str, tuple[str, int]] = {}
    for parsed_file in parsed:
        for name, line, path in parsed_file.names:
            if name in seen:
                first_file, first_line = seen[name]
                issues.append(
                    PolicyIssue(parsed_file.file, line, path, f"policy name {name!r} is already used at {first_file}:{first_line}; names are unique across all files")
                )
            else:
                seen[name] = (parsed_file.file, line)
    first_pricing: tuple[str, int] | None = None
    for parsed_file in parsed:
        if parsed_file.pricing_line is None:
            continue
        if first_pricing is None:
            first_pricing = (parsed_file.file, parsed_file.pricing_line)
            continue
        issues.append(
            PolicyIssue(
                parsed_file.file,
                parsed_file.pricing_line,
                "pricing",
                f"a second pricing block (the first is at {first_pricing[0]}:{first_pricing[1]}); pricing may appear in one file only",
            )
        )
    return issues
