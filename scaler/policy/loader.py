"""Loading policy files: every error found, each with its file, line and path.

A policy path is a file, or a directory whose own ``.yaml``/``.yml`` files (in any case:
``.YAML`` too) are read in name order (not its subdirectories). Each file is read by
:mod:`scaler.policy.yamlsource`, checked for the shape of its windows and rules,
checked for what spans fields (``from`` before ``until``, bounds that a ``default`` can
restore, unique names) on the raw values, so these are reported beside every other
problem, validated with the models of :mod:`scaler.policy.model` one policy at a time
(so one broken policy does not hide the errors of the next), and finally checked across
files (unique policy names, one ``pricing`` block).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import types
import typing
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, TypeAdapter, ValidationError

from scaler.policy.errors import PolicyIssue, PolicyLoadError, PolicyPathError, PolicySetEmpty
from scaler.policy.icalendars import CalendarError, CalendarFile, read_calendar_file
from scaler.policy.fields import (
    CALENDAR_READER,
    NAME_MAX,
    Accelerator,
    LocalDateTimeField,
    Price,
    describe_value,
)
from scaler.policy.model import FORMAT_VERSION, Match, Policy, PolicyFile
from scaler.policy.policy_set import BUILTIN_PRICES, PolicySet, PolicySource
from scaler.policy.schedule import compile_schedules
from scaler.policy.states import StateField
from scaler.policy.yamlsource import Path_, YamlDocument, YamlSourceError, read_yaml
from scaler.policy.zones import wall_instant, zone

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
        result.issues.append(PolicyIssue(file, exc.line, _format_path(exc.path), exc.message))
        return result
    result.document = document
    for problem in document.problems:
        result.issues.append(PolicyIssue(file, problem.line, _format_path(problem.path), problem.message))
    data = document.data
    if data is None:
        result.issues.append(PolicyIssue(file, 1, "", f"file is empty; expected a mapping with version: {FORMAT_VERSION} and policies"))
        return result
    if not isinstance(data, dict):
        result.issues.append(
            PolicyIssue(file, document.line_of(()), "", f"expected a mapping with version: {FORMAT_VERSION} and policies at the top level")
        )
        return result
    report = _Reporter(file, document, result.issues, reported={problem.path for problem in document.problems})

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
            result.names.append((name, document.line_of((*path, "name")), _format_path((*path, "name"))))
        _check_shape(raw_policy, path, report)
        _check_relations(raw_policy, path, report)
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


# --------------------------------------------------------------------------- shape checks (raw data)

_TIMINGS = ("cron + duration", "between", "from + until")


def _check_shape(policy: dict[str, Any], path: Path_, report: _Reporter) -> None:
    """Check what the models do not: timing forms, state/action, keys that belong to one kind of rule, names."""
    windows = policy.get("windows")
    if isinstance(windows, list):
        for index, window in enumerate(windows):
            if isinstance(window, dict):
                _check_window_shape(window, (*path, "windows", index), report)
        _check_unique_names(windows, (*path, "windows"), "window", report)
    rules = policy.get("health")
    if isinstance(rules, list):
        for index, rule in enumerate(rules):
            if isinstance(rule, dict):
                _check_rule_shape(rule, (*path, "health", index), report)
        _check_unique_names(rules, (*path, "health"), "health rule", report)


def _check_window_shape(window: dict[str, Any], path: Path_, report: _Reporter) -> None:
    present = [key for key in ("cron", "duration", "between", "from", "until") if key in window]
    forms = []
    if "cron" in window or "duration" in window:
        forms.append("cron + duration")
    if "between" in window:
        forms.append("between")
    if "from" in window or "until" in window:
        forms.append("from + until")
    if not forms:
        report.at(path, "a window needs exactly one timing: cron + duration, between, or from + until")
        return
    if len(forms) > 1:
        report.at(path, f"a window has exactly one timing form, found {' and '.join(present)}; use cron + duration, between, or from + until")
        return
    if "cron" in window and "duration" not in window:
        report.at(path, "a cron window needs a duration (how long it stays open after each firing), e.g. duration: 8h")
    if "duration" in window and "cron" not in window:
        report.at((*path, "duration"), "duration belongs to a cron window; add a cron saying when it opens")
    if "from" in window and "until" not in window:
        report.at(path, "a from window needs an until (when it closes)")
    if "until" in window and "from" not in window:
        report.at(path, "an until window needs a from (when it opens)")


def _check_rule_shape(rule: dict[str, Any], path: Path_, report: _Reporter) -> None:
    has_state = "state" in rule
    has_action = "action" in rule
    if has_state == has_action:
        found = "both" if has_state else "neither"
        report.at(path, f"a health rule has exactly one of state or action: restart (found {found})")
        return
    if has_state and "max_per_day" in rule:
        report.at((*path, "max_per_day"), "max_per_day applies to restart rules only (action: restart)", key=True)
    if has_action and "recover_for" in rule:
        report.at((*path, "recover_for"), "recover_for applies to rules with a state; a restart rule is done once it has restarted", key=True)


def _check_unique_names(items: list[Any], path: Path_, what: str, report: _Reporter) -> None:
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        name = item.get("name")
        effective = name if isinstance(name, str) else str(index) if name is None else None
        if effective is None:
            continue
        if effective in seen:
            first = seen[effective]
            report.at(
                (*path, index, "name") if "name" in item else (*path, index),
                f"{what} name {effective!r} is already used by {path[-1]}[{first}]; names are unique within a policy"
                + ("" if "name" in item else " (an unnamed one is named by its position)"),
            )
        else:
            seen[effective] = index


# --------------------------------------------------------------------------- relations between fields (raw data)

_MATCH = TypeAdapter(Match)
_STATE = TypeAdapter(StateField)
_LOCAL_DATETIME = TypeAdapter(LocalDateTimeField)
_NOT_VALID = object()


def _valid(adapter: TypeAdapter[Any], value: Any) -> Any:
    """``value`` validated by ``adapter``, or ``_NOT_VALID`` (its own problem is reported by the models)."""
    try:
        return adapter.validate_python(value)
    except (ValidationError, ValueError):
        return _NOT_VALID


def _check_relations(policy: dict[str, Any], path: Path_, report: _Reporter) -> None:
    """Check what spans fields (a match that selects nothing, ``until`` after ``from``, bounds a
    default can restore) on the raw values, each field validated on its own, so that these
    problems are reported beside any other in the policy: pydantic runs no check across
    fields once one field fails. A relation with an invalid part is left to that part's error."""
    match = _valid(_MATCH, policy["match"]) if isinstance(policy.get("match"), dict) else _NOT_VALID
    if match is not _NOT_VALID and not match.selects_anything:
        report.at(
            (*path, "match"),
            "match selects nothing: give names, ids, model_repo_ids, model_repo_names or accelerator_types "
            "(to select every deployment write names: [\"*\"])",
        )
    try:
        tz = zone(policy.get("timezone", "UTC")) if isinstance(policy.get("timezone", "UTC"), str) else None
    except ValueError:
        tz = None
    default = _valid(_STATE, policy["default"]) if policy.get("default") is not None else None
    restorable = None if default is _NOT_VALID else default is not None and default.kind in ("stopped", "bounds")
    windows = policy.get("windows")
    for index, window in enumerate(windows if isinstance(windows, list) else []):
        if not isinstance(window, dict):
            continue
        window_path = (*path, "windows", index)
        if tz is not None and "from" in window and "until" in window:
            opens, closes = _valid(_LOCAL_DATETIME, window["from"]), _valid(_LOCAL_DATETIME, window["until"])
            if _NOT_VALID not in (opens, closes) and wall_instant(closes, tz) <= wall_instant(opens, tz):
                report.at(
                    (*window_path, "until"),
                    f"until ({closes.isoformat(timespec='minutes')}) must be after from "
                    f"({opens.isoformat(timespec='minutes')})",
                )
        if restorable is False and _is_bounds(window.get("state")):
            report.at((*window_path, "state"), _unrestorable("window"))
    rules = policy.get("health")
    for index, rule in enumerate(rules if isinstance(rules, list) else []):
        if restorable is False and isinstance(rule, dict) and _is_bounds(rule.get("state")):
            report.at((*path, "health", index, "state"), _unrestorable("health rule"))


def _is_bounds(raw_state: Any) -> bool:
    """Whether ``raw_state`` is a valid state with replica bounds."""
    state = _valid(_STATE, raw_state) if raw_state is not None else _NOT_VALID
    return state is not _NOT_VALID and state.kind == "bounds"


def _unrestorable(what: str) -> str:
    return (
        f"this {what} sets replica bounds, but the policy's default is neither stopped nor bounds; the platform "
        "does not report current bounds, so nothing could be restored afterwards: add a default such as "
        "{min_replicas: 1, max_replicas: 2}"
    )


# --------------------------------------------------------------------------- reporting


#: A key shown as is in a path; any other key is shown quoted, as ``["odd key"]``.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")


def _format_path(path: Path_) -> str:
    """Return ``path`` as ``policies[0].windows[1].cron``; a key that is not a plain name is quoted and escaped.

    A file may hold any text as a key (a newline, a terminal escape, a bidi override,
    thousands of characters), and the path must stay one short, printable line.
    """
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part):
            text += f".{part}" if text else part
        else:
            text += f"[{_quoted_key(part)}]"
    return text


def _quoted_key(key: str) -> str:
    shown = key if len(key) <= 40 else key[:37] + "..."
    quoted = json.dumps(shown, ensure_ascii=False)  # escapes control characters, quotes and backslashes
    return "".join(character if character.isprintable() else _escape(character) for character in quoted)


def _escape(character: str) -> str:
    code = ord(character)
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


class _Reporter:
    """Turns problems at document paths into issues with file and line."""

    def __init__(
        self, file: str, document: YamlDocument, issues: list[PolicyIssue], reported: set[Path_] | None = None
    ) -> None:
        self.file = file
        self.document = document
        self.issues = issues
        self.reported = reported or set()

    def at(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.issues.append(PolicyIssue(self.file, self.document.line_of(path, key=key), _format_path(path), message))

    def validation_error(self, exc: ValidationError, prefix: Path_, model: type[BaseModel]) -> None:
        for error in exc.errors(include_url=False):
            loc: list[Any] = []
            key_error = False
            for part in error["loc"]:
                if isinstance(part, str) and part.startswith("<") and part.endswith(">"):
                    continue  # a union's tag, not a place in the document
                if part == "[key]":
                    key_error = True
                    continue
                loc.append(part)
            path = (*prefix, *loc)
            if path in self.reported:
                continue  # the reader already said what is wrong here
            kind = error["type"]
            message = _message(error, path, model, prefix)
            if kind == "missing":
                line = self.document.line_of(path[:-1])
            else:
                line = self.document.line_of(path, key=kind == "extra_forbidden" or key_error)
            self.issues.append(PolicyIssue(self.file, line, _format_path(path), message))


def _message(error: dict[str, Any], path: Path_, model: type[BaseModel], prefix: Path_) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    value = error.get("input")
    last = path[-1] if path else ""
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "missing":
        return f"required key {describe_value(last)} is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_keys(model, path[len(prefix) : -1])
        close = difflib.get_close_matches(str(last), allowed, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}? " if close else ""
        return f"unknown key {describe_value(last)}; {hint}expected one of: {', '.join(allowed)}"
    if kind == "state_type":
        return error["msg"]
    if kind == "literal_error":
        if last == "version":
            return f"unsupported version {value!r}; this scaler reads version: {FORMAT_VERSION}"
        if last == "action":
            return f"unknown action {describe_value(value)}; expected restart"
        if last == "auto":
            return (
                f"{describe_value(value)} is not allowed; auto takes true only (for a fixed lead time write a "
                "duration, such as lead_time: 15m)"
            )
        if last in ("state", "default"):
            return f"{describe_value(value)} is not a state; expected stopped, running or {{min_replicas: N, max_replicas: M}}"
        return f"{describe_value(value)} is not allowed; expected {ctx.get('expected')}"
    if kind == "string_pattern_mismatch":
        return (
            f"{describe_value(value)} is not a valid name: lowercase letters, digits and '-', "
            f"starting with a letter or digit, at most {NAME_MAX} characters"
        )
    if kind == "string_too_long":
        return f"is {len(value)} characters long; at most {ctx.get('max_length')} are allowed"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"must be {'at least' if kind == 'greater_than_equal' else 'more than'} {bound}, got {value!r}"
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return f"must be {'at most' if kind == 'less_than_equal' else 'less than'} {bound}, got {value!r}"
    if kind in ("uuid_parsing", "uuid_type", "uuid_version"):
        return f"{describe_value(value)} is not a UUID; expected e.g. 1e99a854-26de-4c19-b6b6-68c7e03c39c3"
    expected = _EXPECTED_TYPES.get(kind)
    if expected:
        return f"expected {expected}, got {describe_value(value)}"
    return str(error["msg"])


_EXPECTED_TYPES = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "tuple_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _allowed_keys(model: type[BaseModel], relative: Path_) -> list[str]:
    """Return the keys accepted at ``relative`` inside ``model`` (aliases as written in files)."""
    current: Any = model
    for part in relative:
        if isinstance(part, int):
            continue
        target = None
        if isinstance(current, type) and issubclass(current, BaseModel):
            for name, info in current.model_fields.items():
                if (info.alias or name) == part:
                    target = _model_in(info.annotation)
                    break
        if target is None:
            return []
        current = target
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    if isinstance(annotation, types.UnionType):  # pragma: no cover - covered by get_args
        return None
    return None
