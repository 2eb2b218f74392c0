"""Errors of the policy package.

::

    PolicyError               anything wrong with the policies given
     ├── PolicyPathError      a policy path does not exist or cannot be read
     ├── PolicyLoadError      the files were read but are not valid; .issues lists every problem
     └── PolicySetEmpty       the files are valid but hold no policy (none at all, or pricing only)

Each :class:`PolicyIssue` names the file, the line, the path inside the document
(``policies[2].windows[0].cron``) and what is wrong and what is expected.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, order=True)
class PolicyIssue:
    """One problem in a policy file; ``str()`` gives ``FILE:LINE: PATH: MESSAGE``."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class PolicyError(Exception):
    """Base of the policy package's errors."""


class PolicyPathError(PolicyError):
    """A policy path does not exist or cannot be read; the message names the path and the reason.

    ``path`` is the path that failed (a path given, or a file inside a directory given) and
    ``problem`` what is wrong with it, so a command can name where the path came from.
    """

    def __init__(self, path: Path, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class PolicyLoadError(PolicyError):
    """The policy files are not valid; ``issues`` lists every problem, ``str()`` one per line."""

    def __init__(self, issues: list[PolicyIssue], *, calendar_paths: Sequence[Path] = ()) -> None:
        self.issues = issues
        #: The calendar files the policies name, so that a watcher sees a broken one mended.
        self.calendar_paths = tuple(calendar_paths)
        super().__init__("\n".join(str(issue) for issue in issues))


class PolicySetEmpty(PolicyError):
    """The paths hold no policy: no policy file, or files that declare none (a pricing block alone).

    ``paths`` are the paths given, ``files`` the policy files read in them, and ``nested``
    each subdirectory of a path given that holds policy files (which are not read), with
    their count. :meth:`describe` names the paths as a command knows them.
    """

    def __init__(self, paths: Sequence[Path], files: Sequence[Path], nested: Sequence[tuple[Path, int]]) -> None:
        self.paths = tuple(paths)
        self.files = tuple(files)
        self.nested = tuple(nested)
        super().__init__(self.describe())

    def describe(self, labels: Mapping[Path, str] | None = None) -> str:
        """One line saying what is missing and where to look; ``labels`` name the paths given."""
        names = ", ".join((labels or {}).get(path, str(path)) for path in self.paths)
        verb = "holds" if len(self.paths) == 1 else "hold"
        if self.files:
            shown = ", ".join(file.name for file in self.files)
            text = f"{names} {verb} no policy: {shown} {'has' if len(self.files) == 1 else 'have'} none under policies"
        else:
            text = f"{names} {verb} no policy file (.yaml, .yml)"
        if any(path.is_dir() for path in self.paths):
            text += "; policy files are read from the directory itself, not from its subdirectories"
        if len(self.nested) == 1:
            ((directory, count),) = self.nested
            text += f", and {directory}/ holds {count}: point the policy path at it, or move the files up"
        elif self.nested:
            listed = ", ".join(f"{directory}/ ({count})" for directory, count in self.nested)
            text += f", and {listed} hold some: point the policy path at one of them, or move the files up"
        return text
