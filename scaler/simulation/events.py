"""Scripted platform events for ``scaler simulate --events FILE``: reading and checking the file.

The file is YAML, read like a policy file (:mod:`scaler.policy.yamlsource`: lines kept,
duplicate keys refused), and every problem is reported as ``FILE:LINE: PATH: message``::

    timezone: Europe/Berlin            # instants without an offset are read in this zone (default UTC)
    events:
      - {at: "2026-12-08T10:00Z", deployment: embeddings-bge-large, health: Degraded, for: 40m}
      - {at: "2026-12-09T06:00", deployment: llama-3-70b-instruct, startup: 15m}
      - {at: "2026-12-09T07:00", quota: {nvidia-h100: 4}, for: 3h}
      - {at: "2026-12-10T12:00", wallet: blocked, for: 2h}

Each event has ``at`` and exactly one of ``health`` (with ``deployment``: the health
fetch-status answers from then on, until ``for`` has passed or the deployment is stopped
or restarted), ``startup`` (with ``deployment``: its start-up delay for every later
start), ``quota`` (GPUs per accelerator, ``null`` for no quota) or ``wallet``
(``blocked`` or ``ok``). ``for`` puts things back as they were after that long
(not for ``startup``). A deployment is named by its name or its id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from scaler.policy.durations import parse_duration
from scaler.policy.errors import PolicyIssue
from scaler.policy.yamlsource import Path_, YamlDocument, YamlSourceError, read_yaml
from scaler.policy.zones import UTC, zone

#: The health values an event may set (the platform contract's fetch-status values).
HEALTH_VALUES = ("Healthy", "Progressing", "Initializing", "Degraded", "Unhealthy", "Unknown", "Missing")
WALLET_VALUES = ("blocked", "ok")
KINDS = ("health", "startup", "quota", "wallet")
_EVENT_KEYS = ("at", "deployment", "for", *KINDS)
_TOP_KEYS = ("timezone", "events")


class EventsError(Exception):
    """The events file cannot be read or is not valid; ``issues`` lists every problem."""

    def __init__(self, issues: list[PolicyIssue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = issues


@dataclass(frozen=True)
class ScriptedEvent:
    """One event: at ``at`` (UTC), ``kind`` with ``value``, for ``deployment_id`` when it concerns one."""

    at: datetime
    kind: str
    value: Any
    deployment_id: str | None = None
    lasts: timedelta | None = None
    line: int = 0

    def describe(self) -> str:
        """A short line for people: ``health Degraded for 40m``."""
        text = f"{self.kind} {self.value}"
        return f"{text} for {self.lasts}" if self.lasts is not None else text


@dataclass(frozen=True)
class DeploymentName:
    """A deployment an event may name: its id and its name."""

    deployment_id: str
    deployment_name: str


def load_events(path: Path, deployments: Iterable[DeploymentName], start: datetime, until: datetime) -> list[ScriptedEvent]:
    """Return the events of the file at ``path`` in time order (then file order).

    Every event must fall in ``[start, until)`` and name a deployment of ``deployments``
    where it needs one. Raises :class:`EventsError` listing every problem, or ``OSError``
    when the file cannot be read.
    """
    raw = path.read_bytes()
    return parse_events(raw, str(path), deployments, start, until)


def parse_events(
    raw: bytes, file: str, deployments: Iterable[DeploymentName], start: datetime, until: datetime
) -> list[ScriptedEvent]:
    """Return the events in ``raw`` (the contents of ``file``); see :func:`load_events`."""
    try:
        document = read_yaml(raw)
    except YamlSourceError as exc:
        raise EventsError([PolicyIssue(file, exc.line, _path_text(exc.path), exc.message)]) from None
    reader = _Reader(file, document, deployments, start, until)
    for problem in document.problems:
        reader.issues.append(PolicyIssue(file, problem.line, _path_text(problem.path), problem.message))
    events = reader.read()
    if reader.issues:
        raise EventsError(sorted(reader.issues))
    return sorted(events, key=lambda event: (event.at, event.line))


class _Reader:
    def __init__(
        self,
        file: str,
        document: YamlDocument,
        deployments: Iterable[DeploymentName],
        start: datetime,
        until: datetime,
    ) -> None:
        self.file = file
        self.document = document
        self.start = start
        self.until = until
        self.issues: list[PolicyIssue] = []
        self.ids = {item.deployment_id: item for item in deployments}
        self.by_name: dict[str, list[str]] = {}
        for item in self.ids.values():
            self.by_name.setdefault(item.deployment_name, []).append(item.deployment_id)

    def problem(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.issues.append(PolicyIssue(self.file, self.document.line_of(path, key=key), _path_text(path), message))

    def read(self) -> list[ScriptedEvent]:
        data = self.document.data
        if not isinstance(data, Mapping):
            self.problem((), "expected a mapping with events: [...] (and optionally timezone)")
            return []
        for key in data:
            if key not in _TOP_KEYS:
                self.problem((key,), f"unknown key {key!r}; expected one of: {', '.join(_TOP_KEYS)}", key=True)
        tz = UTC
        if "timezone" in data:
            try:
                tz = zone(str(data["timezone"])) if isinstance(data["timezone"], str) else zone("")
            except ValueError as exc:
                self.problem(("timezone",), str(exc))
        raw_events = data.get("events")
        if not isinstance(raw_events, list):
            self.problem(("events",) if "events" in data else (), "expected events: a list of events")
            return []
        events = []
        for index, raw in enumerate(raw_events):
            event = self.event(raw, ("events", index), tz)
            if event is not None:
                events.extend(event)
        return events

    def event(self, raw: Any, path: Path_, tz: Any) -> list[ScriptedEvent] | None:
        if not isinstance(raw, Mapping):
            self.problem(path, f"expected an event (a mapping with at and one of {', '.join(KINDS)})")
            return None
        before = len(self.issues)
        for key in raw:
            if key not in _EVENT_KEYS:
                self.problem((*path, key), f"unknown key {key!r}; expected one of: {', '.join(_EVENT_KEYS)}", key=True)
        kinds = [kind for kind in KINDS if kind in raw]
        if len(kinds) != 1:
            found = f"found {', '.join(kinds)}" if kinds else "found none"
            self.problem(path, f"an event has exactly one of {', '.join(KINDS)}; {found}")
        at = self.instant(raw, path, tz)
        lasts = self.duration(raw, path)
        deployment_id = None
        if kinds and kinds[0] in ("health", "startup"):
            deployment_id = self.deployment(raw, path)
        elif "deployment" in raw:
            self.problem((*path, "deployment"), f"a {kinds[0] if kinds else ''} event applies to no one deployment; remove deployment", key=True)
        value = self.value(kinds[0], raw, path) if len(kinds) == 1 else None
        if len(kinds) == 1 and kinds[0] == "startup" and "for" in raw:
            self.problem((*path, "for"), "a startup event lasts until the next one; remove for", key=True)
        if len(kinds) == 1 and kinds[0] == "wallet" and value == "ok" and "for" in raw:
            self.problem((*path, "for"), "for goes with wallet: blocked only", key=True)
        if len(self.issues) > before or at is None:
            return None
        line = self.document.line_of(path)
        return [ScriptedEvent(at, kinds[0], value, deployment_id, lasts, line)]

    def instant(self, raw: Mapping[str, Any], path: Path_, tz: Any) -> datetime | None:
        if "at" not in raw:
            self.problem(path, "required key 'at' is missing")
            return None
        text = raw["at"]
        where = (*path, "at")
        if not isinstance(text, str):
            self.problem(where, f"expected an ISO 8601 instant in quotes, e.g. \"2026-12-08T10:00Z\", got {text!r}")
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            self.problem(where, f"{text!r} is not an ISO 8601 instant; expected e.g. 2026-12-08T10:00Z or 2026-12-08T10:00")
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        moment = moment.astimezone(UTC)
        if not self.start <= moment < self.until:
            self.problem(
                where,
                f"{text} is outside the simulated period {_utc(self.start)} to {_utc(self.until)}",
            )
            return None
        return moment

    def duration(self, raw: Mapping[str, Any], path: Path_) -> timedelta | None:
        if "for" not in raw:
            return None
        where = (*path, "for")
        try:
            lasts = parse_duration(str(raw["for"])) if isinstance(raw["for"], str) else None
        except ValueError as exc:
            self.problem(where, str(exc))
            return None
        if lasts is None or lasts <= timedelta(0):
            self.problem(where, f"expected a duration longer than 0s such as 40m or 2h, got {raw['for']!r}")
            return None
        return lasts

    def deployment(self, raw: Mapping[str, Any], path: Path_) -> str | None:
        if "deployment" not in raw:
            self.problem(path, "required key 'deployment' is missing (a deployment's name or id)")
            return None
        named = raw["deployment"]
        where = (*path, "deployment")
        text = str(named).lower() if named is not None else ""
        if text in self.ids:
            return text
        ids = self.by_name.get(str(named), [])
        if len(ids) == 1:
            return ids[0]
        if len(ids) > 1:
            self.problem(where, f"{len(ids)} deployments are named {named!r}; name it by its id: {', '.join(sorted(ids))}")
        else:
            self.problem(where, f"no deployment is named {named!r} (or has that id) in the simulated organization")
        return None

    def value(self, kind: str, raw: Mapping[str, Any], path: Path_) -> Any:
        value = raw[kind]
        where = (*path, kind)
        if kind == "health":
            if value not in HEALTH_VALUES:
                self.problem(where, f"{value!r} is not a health value; expected one of: {', '.join(HEALTH_VALUES)}")
            return value
        if kind == "startup":
            try:
                delay = parse_duration(value) if isinstance(value, str) else None
            except ValueError as exc:
                self.problem(where, str(exc))
                return None
            if delay is None:
                self.problem(where, f"expected a start-up delay such as 0s, 90s or 15m, got {value!r}")
                return None
            return delay.total_seconds()
        if kind == "wallet":
            if value not in WALLET_VALUES:
                self.problem(where, f"{value!r} is not a wallet state; expected blocked or ok")
            return value
        if not isinstance(value, Mapping) or not value:
            self.problem(where, "expected GPUs per accelerator, e.g. {nvidia-h100: 8} (null: no quota)")
            return None
        quotas: dict[str, int | None] = {}
        for name, gpus in value.items():
            if gpus is not None and (not isinstance(gpus, int) or isinstance(gpus, bool) or gpus < 0):
                self.problem((*where, name), f"expected a whole number of GPUs >= 0 or null, got {gpus!r}")
                continue
            quotas[str(name)] = gpus
        return quotas


def _path_text(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _utc(instant: datetime) -> str:
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
