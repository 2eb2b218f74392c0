"""Reading the Helm chart without a ``helm`` binary: values, schema, template structure.

What Helm does before rendering is reproduced here only as far as the tests need it:
user values are merged over values.yaml (maps merged key by key, everything else
replaced, ``null`` deleting a key) and the result is validated against
values.schema.json.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.deploy.conftest import CHART

TEMPLATES = CHART / "templates"
#: Settings the chart deliberately does not take from values, and why.
SETTINGS_NOT_FROM_VALUES = {
    "api_token": "the token is mounted from a Secret as SCALER_API_TOKEN_FILE, so a rotation needs no restart",
    "state_url_file": "the URL comes from a Secret (state.existingSecret) as SCALER_STATE_URL, never in plain text",
    "control_key": "the commands' key to reach a daemon (scaler suspend, override, ...), not the daemon's",
    "control_key_file": "the commands' key to reach a daemon (scaler suspend, override, ...), not the daemon's",
    "notify_webhook_urls": "the URLs carry tokens: they come from a Secret (notifications.existingSecret) as a file",
}

_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_VALUES_PATH = re.compile(r"\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)")
_OPENERS = ("if", "with", "range", "define", "block")


def load_values() -> dict[str, Any]:
    """Return values.yaml, parsed."""
    return yaml.safe_load((CHART / "values.yaml").read_text())


def load_schema() -> dict[str, Any]:
    """Return values.schema.json, parsed."""
    return json.loads((CHART / "values.schema.json").read_text())


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Return ``override`` merged over ``base`` as Helm merges user values over defaults."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def schema_errors(values: dict[str, Any]) -> list[str]:
    """Return the schema's complaints about ``values`` (empty when valid), path first."""
    validator = jsonschema.Draft7Validator(load_schema())
    return sorted(
        f"{'.'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(values)
    )


def errors_with(override: dict[str, Any]) -> list[str]:
    """Return the schema's complaints about values.yaml with ``override`` merged over it."""
    return schema_errors(merge_values(load_values(), override))


def template_files() -> list[Path]:
    """Return every file of templates/, sorted."""
    return sorted(p for p in TEMPLATES.iterdir() if p.is_file())


def template_actions(text: str) -> Iterator[str]:
    """Yield the body of every ``{{ ... }}`` action of a template, comments left out."""
    for match in _ACTION.finditer(text):
        body = match.group(1)
        if body.startswith("/*"):
            continue
        yield body


def block_structure_errors(text: str) -> list[str]:
    """Return what is wrong with the if/with/range/define ... end nesting of a template."""
    errors = []
    stack: list[str] = []
    for body in template_actions(text):
        word = body.split(maxsplit=1)[0] if body.split() else ""
        if word in _OPENERS:
            stack.append(word)
        elif word == "else":
            if not stack or stack[-1] not in ("if", "with", "range"):
                errors.append(f"'else' outside if/with/range: {{{{ {body} }}}}")
        elif word == "end":
            if not stack:
                errors.append("'end' without an opening action")
            else:
                stack.pop()
    errors.extend(f"'{word}' never closed" for word in stack)
    return errors


def values_paths(text: str) -> set[str]:
    """Return every ``.Values.a.b`` path a template refers to, as "a.b"."""
    return {match.group(1).lstrip(".") for match in _VALUES_PATH.finditer(text)}


def has_path(values: dict[str, Any], dotted: str) -> bool:
    """Tell whether ``values`` holds the key path ``dotted`` ("a.b.c")."""
    node: Any = values
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


def schema_objects(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Yield (path, subschema) for every object schema with declared properties."""
    if schema.get("type") == "object" and "properties" in schema:
        yield path or "(root)", schema
        for key, sub in schema["properties"].items():
            yield from schema_objects(sub, f"{path}.{key}" if path else key)
    if isinstance(schema.get("items"), dict):
        yield from schema_objects(schema["items"], f"{path}[]")
