"""Problems found in a policy file as people read them: each validation error of the models
translated into a message at its file, line and path (``policies[0].windows[1].cron``)."""

from __future__ import annotations

import difflib
import json
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from scaler.policy.errors import PolicyIssue
from scaler.policy.fields import NAME_MAX, describe_value
from scaler.policy.model import FORMAT_VERSION
from scaler.policy.yamlsource import Path_, YamlDocument

#: A key shown as is in a path; any other key is shown quoted, as ``["odd key"]``.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_-]{0,63}")


def format_path(path: Path_) -> str:
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


class Reporter:
    """Turns problems at document paths into issues with file and line."""

    def __init__(
        self, file: str, document: YamlDocument, issues: list[PolicyIssue], reported: set[Path_] | None = None
    ) -> None:
        self.file = file
        self.document = document
        self.issues = issues
        self.reported = reported or set()

    def at(self, path: Path_, message: str, *, key: bool = False) -> None:
        self.issues.append(PolicyIssue(self.file, self.document.line_of(path, key=key), format_path(path), message))

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
            message = message_for(error, path, model, prefix)
            if kind == "missing":
                line = self.document.line_of(path[:-1])
            else:
                line = self.document.line_of(path, key=kind == "extra_forbidden" or key_error)
            self.issues.append(PolicyIssue(self.file, line, format_path(path), message))


def message_for(error: dict[str, Any], path: Path_, model: type[BaseModel], prefix: Path_) -> str:
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
