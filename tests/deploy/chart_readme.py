"""The values table of the chart's README, generated from values.yaml's ``# --`` comments.

The comment convention is helm-docs': a comment starting ``# --`` right above a key
documents that key (the lines after it, up to the key, continue the description); the
key's default is its value in values.yaml. A documented map stands for everything under
it. helm-docs itself is a Go program that this project's machines cannot install, so
this small reader does the same for the subset of YAML that values.yaml uses (block
maps, lists of maps, flow collections, plain scalars).

Regenerate the README's table with ``make chart-readme`` (``python -m
tests.deploy.chart_readme``); tests/deploy/test_chart.py fails while it is stale.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "simplismart-scaler"
VALUES = CHART / "values.yaml"
README = CHART / "README.md"
BEGIN, END = "<!-- BEGIN:values -->", "<!-- END:values -->"

_KEY = re.compile(r"^(?P<indent> *)(?P<key>[A-Za-z0-9_][A-Za-z0-9_.-]*|\"[^\"]+\"):(?:\s+(?P<rest>.*))?$")
_BLOCK_SCALAR = re.compile(r"^[|>][-+0-9]*\s*(#.*)?$")


@dataclass(frozen=True)
class Key:
    """One key of values.yaml: its dotted path, its line, and its ``# --`` description (None: none)."""

    path: str
    line: int
    description: str | None
    is_leaf: bool


def _next_content(lines: list[str], start: int) -> str:
    """Return the first line from ``start`` on that is neither blank nor a comment ("" at the end)."""
    return next((line for line in lines[start:] if line.strip() and not line.strip().startswith("#")), "")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def read_keys(text: str) -> list[Key]:
    """Return every key of a values.yaml text in file order, with its description.

    A key is a leaf unless its value is a block map. Lines inside list items and block
    scalars are values, not keys, and are skipped. Raises ValueError naming the line of
    anything else it cannot read.
    """
    keys: list[Key] = []
    stack: list[tuple[int, str]] = []
    pending: list[str] | None = None
    inside: int | None = None  # lines deeper than this indent (and list items at it) are a value
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        indent = _indent(line)
        if inside is not None:
            if not stripped or indent > inside or (indent == inside and stripped.startswith("-")):
                continue
            inside = None
        if not stripped:
            pending = None
            continue
        if stripped.startswith("#"):
            comment = stripped[1:].strip()
            if comment.startswith("--"):
                pending = [comment[2:].strip()]
            elif pending is not None:
                pending.append(comment)
            continue
        match = _KEY.match(line)
        if match is None:
            raise ValueError(f"values.yaml:{number}: cannot read {line!r}")
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = match.group("key").strip('"')
        path = f"{stack[-1][1]}.{key}" if stack else key
        rest = (match.group("rest") or "").split(" #")[0].strip()
        following = _next_content(lines, number)
        is_map = rest == "" and _indent(following) > indent and not following.strip().startswith("- ")
        keys.append(Key(path, number, " ".join(pending) if pending is not None else None, not is_map))
        pending = None
        if is_map:
            stack.append((indent, path))
        elif rest == "" and following.strip().startswith("- "):
            inside = _indent(following)
        elif _BLOCK_SCALAR.match(rest):
            inside = indent
    return keys


def undocumented(keys: list[Key]) -> list[Key]:
    """Return the keys that neither have a ``# --`` description nor lie under a documented key."""
    documented = [key.path for key in keys if key.description is not None]
    return [
        key for key in keys
        if key.description is None and key.is_leaf
        and not any(key.path.startswith(parent + ".") for parent in documented)
    ]


def _lookup(values: dict[str, Any], path: str) -> Any:
    node: Any = values
    for part in path.split("."):
        node = node[part]
    return node


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "list"
    if isinstance(value, dict):
        return "object"
    return "string"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def values_table(text: str) -> str:
    """Return the Markdown table of the documented keys of a values.yaml text: key, type, default, description."""
    values = yaml.safe_load(text)
    rows = ["| Key | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for key in read_keys(text):
        if key.description is None:
            continue
        value = _lookup(values, key.path)
        default = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
        rows.append(f"| `{key.path}` | {_type(value)} | `{_cell(default)}` | {_cell(key.description)} |")
    return "\n".join(rows) + "\n"


def render_readme(readme: str, values_text: str) -> str:
    """Return ``readme`` with the text between its BEGIN:values and END:values markers replaced by the table."""
    before, found, rest = readme.partition(BEGIN)
    _, found_end, after = rest.partition(END)
    if not found or not found_end:
        raise ValueError(f"the chart README has no {BEGIN} ... {END} section")
    return f"{before}{BEGIN}\n{values_table(values_text)}{END}{after}"


def main() -> int:
    """Rewrite the chart README's values table from values.yaml; print what was written."""
    README.write_text(render_readme(README.read_text(), VALUES.read_text()))
    print(README)
    return 0


if __name__ == "__main__":
    sys.exit(main())
