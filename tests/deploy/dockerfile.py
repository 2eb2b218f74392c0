"""Reading the Dockerfile and .dockerignore as the tests need them.

Enough of the Dockerfile syntax for this project's file: instructions with their
continuation lines joined, split into stages at each FROM; and .dockerignore matching
with Docker's rules (patterns in order, the last match wins, ``!`` re-includes, a
pattern matching a directory matches everything under it, ``**`` any depth).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from tests.deploy.conftest import REPO

DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"


@dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction: its keyword (upper case), its argument text, its first line."""

    keyword: str
    argument: str
    line: int

    def exec_form(self) -> list[str] | None:
        """Return the JSON-array (exec) form of the argument, or None for the shell form."""
        text = self.argument.strip()
        if not text.startswith("["):
            return None
        return json.loads(text)


def instructions(text: str | None = None) -> list[Instruction]:
    """Return the Dockerfile's instructions in order, comments and blank lines left out."""
    source = DOCKERFILE.read_text() if text is None else text
    result = []
    pending = ""
    start = 0
    for number, raw in enumerate(source.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        pending += stripped
        keyword, _, argument = pending.partition(" ")
        result.append(Instruction(keyword.upper(), argument.strip(), start))
        pending = ""
    return result


def stages(text: str | None = None) -> list[list[Instruction]]:
    """Return the instructions grouped by build stage (each list starts with its FROM)."""
    grouped: list[list[Instruction]] = []
    for instruction in instructions(text):
        if instruction.keyword == "FROM":
            grouped.append([])
        if grouped:
            grouped[-1].append(instruction)
    return grouped


def build_args(text: str | None = None) -> dict[str, str]:
    """Return the default value of every ``ARG NAME=value``."""
    values = {}
    for instruction in instructions(text):
        if instruction.keyword == "ARG" and "=" in instruction.argument:
            name, _, value = instruction.argument.partition("=")
            values[name.strip()] = value.strip()
    return values


def _key_values(stage: list[Instruction], keyword: str) -> dict[str, str]:
    values = {}
    for instruction in stage:
        if instruction.keyword == keyword:
            for name, value in re.findall(r'([\w.-]+)=("[^"]*"|\S+)', instruction.argument):
                values[name] = value.strip('"')
    return values


def env_values(stage: list[Instruction]) -> dict[str, str]:
    """Return the ``ENV key=value`` pairs a stage sets (later ones win)."""
    return _key_values(stage, "ENV")


def labels(stage: list[Instruction]) -> dict[str, str]:
    """Return the ``LABEL key="value"`` pairs a stage sets."""
    return _key_values(stage, "LABEL")


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = []
    index = 0
    while index < len(pattern):
        if pattern.startswith("**/", index):
            parts.append("(?:.*/)?")
            index += 3
        elif pattern.startswith("**", index):
            parts.append(".*")
            index += 2
        elif pattern[index] == "*":
            parts.append("[^/]*")
            index += 1
        elif pattern[index] == "?":
            parts.append("[^/]")
            index += 1
        elif pattern[index] == "[":
            end = pattern.index("]", index)
            parts.append(pattern[index : end + 1])
            index = end + 1
        else:
            parts.append(re.escape(pattern[index]))
            index += 1
    return re.compile("".join(parts) + "$")


def ignore_patterns() -> list[tuple[bool, str, re.Pattern[str]]]:
    """Return .dockerignore as (excludes, pattern, regex) triples, in file order."""
    patterns = []
    for raw in DOCKERIGNORE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        excludes = not line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        patterns.append((excludes, pattern, _pattern_regex(pattern)))
    return patterns


def in_build_context(relative: str) -> bool:
    """Tell whether the file at ``relative`` (to the repository) is sent to the build."""
    parts = relative.strip("/").split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for excludes, _pattern, regex in ignore_patterns():
        if any(regex.match(prefix) for prefix in prefixes):
            excluded = excludes
    return not excluded


def build_context_files() -> list[str]:
    """Return the repository files (relative paths) that the build context holds.

    Directories that are excluded and that no ``!`` pattern reaches into are not
    walked (.git, .venv), as Docker does not walk them either.
    """
    reincluded = [pattern for excludes, pattern, _ in ignore_patterns() if not excludes]
    files = []
    for directory, subdirectories, names in os.walk(REPO):
        relative_dir = Path(directory).relative_to(REPO).as_posix()
        prefix = "" if relative_dir == "." else relative_dir + "/"
        subdirectories[:] = sorted(
            name for name in subdirectories
            if in_build_context(prefix + name)
            or any(pattern.startswith(prefix + name + "/") for pattern in reincluded)
        )
        files.extend(prefix + name for name in sorted(names) if in_build_context(prefix + name))
    return files
