"""Reading requirements.lock (written by ``make lock``) and telling whether it is stale against pyproject.toml.

The lock is in pip's requirements format as ``uv pip compile --generate-hashes`` writes
it: one ``name==version [; marker]`` entry per package, its ``--hash`` lines, then
``# via`` comments naming what needs it (``simplismart-scaler (pyproject.toml)`` for the
project's own dependencies). Everything here works offline, from the two files alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

#: How the lock names the project in its ``# via`` comments.
PROJECT_VIA = "simplismart-scaler (pyproject.toml)"

_ENTRY = re.compile(r"^(?P<requirement>[A-Za-z0-9][^\s\\]*(?:\s*;[^\\]*)?)\s*\\?\s*$")
_HASH = re.compile(r"^\s+--hash=sha256:[0-9a-f]{64}")
_VIA_ONE = re.compile(r"^\s+# via (?P<name>.+)$")
_VIA_MORE = re.compile(r"^\s+#   (?P<name>.+)$")


@dataclass
class LockedPackage:
    """One entry of the lock: what it pins, its hashes, and what it is there for."""

    requirement: Requirement
    hashes: int = 0
    via: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return canonicalize_name(self.requirement.name)

    @property
    def version(self) -> str | None:
        """The pinned version (``==``), or None when the entry pins nothing exactly."""
        specifiers = list(self.requirement.specifier)
        if len(specifiers) == 1 and specifiers[0].operator == "==":
            return specifiers[0].version
        return None


def parse_lock(text: str) -> dict[str, LockedPackage]:
    """Return the entries of a lock file by canonical name; raise ValueError on a line it cannot read."""
    packages: dict[str, LockedPackage] = {}
    current: LockedPackage | None = None
    in_via = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or (line.startswith("#") and current is None):
            continue
        entry = _ENTRY.match(line)
        if entry:
            current = LockedPackage(Requirement(entry.group("requirement")))
            packages[current.name] = current
            in_via = False
        elif current is not None and _HASH.match(line):
            current.hashes += 1
        elif current is not None and (via := _VIA_ONE.match(line)):
            current.via.add(via.group("name").strip())
            in_via = False
        elif current is not None and line.strip() == "# via":
            in_via = True
        elif current is not None and in_via and (more := _VIA_MORE.match(line)):
            current.via.add(more.group("name").strip())
        else:
            raise ValueError(f"requirements.lock:{number}: cannot read {line!r}")
    return packages


def _via_name(via: str) -> str:
    return via if via == PROJECT_VIA else canonicalize_name(via)


def needed(packages: dict[str, LockedPackage]) -> set[str]:
    """Return the entries the project needs: its own dependencies, theirs, and so on (from the ``# via`` notes)."""
    reached: set[str] = set()
    frontier = {PROJECT_VIA}
    while frontier:
        frontier = {
            name for name, locked in packages.items()
            if name not in reached and {_via_name(via) for via in locked.via} & frontier
        }
        reached |= frontier
    return reached


def staleness(dependencies: Iterable[str], packages: dict[str, LockedPackage]) -> list[str]:
    """Return why the lock does not fit the project's ``dependencies`` (empty when it does).

    Every dependency must be locked, for the project, at a version its specifier admits;
    every entry must pin one version with at least one hash; the entries locked for the
    project must be exactly its dependencies; and every entry must be needed, through the
    ``# via`` notes, by the project (nothing left over from a dependency that was dropped).
    """
    problems = []
    wanted = {canonicalize_name(Requirement(text).name): Requirement(text) for text in dependencies}
    for name, requirement in sorted(wanted.items()):
        locked = packages.get(name)
        if locked is None:
            problems.append(f"{requirement}: not in the lock")
        elif locked.version is None or not requirement.specifier.contains(locked.version, prereleases=True):
            problems.append(f"{requirement}: the lock pins {locked.requirement.specifier or 'no version'}")
        elif PROJECT_VIA not in locked.via:
            problems.append(f"{requirement}: locked only for {', '.join(sorted(locked.via))}, not for the project")
    reachable = needed(packages)
    for name, locked in sorted(packages.items()):
        if locked.version is None or locked.hashes == 0:
            problems.append(f"{name}: not pinned to one version with its hashes")
        if PROJECT_VIA in locked.via and name not in wanted:
            problems.append(f"{name}: locked for the project, which no longer depends on it")
        elif name not in reachable:
            problems.append(f"{name}: needed by nothing the project needs ({', '.join(sorted(locked.via)) or 'no # via'})")
    return problems
