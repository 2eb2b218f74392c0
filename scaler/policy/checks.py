"""The checks of a policy that its models cannot make, on the raw values so that their
problems are reported beside every other one: the shape of windows and health rules (one
timing form, a state or an action), unique names, and what spans fields (a match that
selects something, ``until`` after ``from``, bounds a default can restore)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter, ValidationError

from scaler.policy.fields import LocalDateTimeField
from scaler.policy.model import Match
from scaler.policy.states import StateField
from scaler.policy.validation_messages import Reporter
from scaler.policy.yamlsource import Path_
from scaler.policy.zones import wall_instant, zone

def check_shape(policy: dict[str, Any], path: Path_, report: Reporter) -> None:
    """Check what the models do not: timing forms, state/action, keys that belong to one kind of rule, names."""
    parts = (("windows", _check_window_shape, "window"), ("health", _check_rule_shape, "health rule"))
    for key, check_part, what in parts:
        items = policy.get(key)
        if isinstance(items, list):
            for index, item in enumerate(items):
                if isinstance(item, dict):
                    check_part(item, (*path, key, index), report)
            _check_unique_names(items, (*path, key), what, report)


def _check_window_shape(window: dict[str, Any], path: Path_, report: Reporter) -> None:
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


def _check_rule_shape(rule: dict[str, Any], path: Path_, report: Reporter) -> None:
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


def _check_unique_names(items: list[Any], path: Path_, what: str, report: Reporter) -> None:
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


def check_relations(policy: dict[str, Any], path: Path_, report: Reporter) -> None:
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
