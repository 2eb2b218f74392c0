"""Errors of the policy package.

::

    PolicyError               anything wrong with the policies given
     ├── PolicyPathError      a policy path does not exist or cannot be read
     └── PolicyLoadError      the files were read but are not valid; .issues lists every problem

Each :class:`PolicyIssue` names the file, the line, the path inside the document
(``policies[2].windows[0].cron``) and what is wrong and what is expected.
"""

from __future__ import annotations

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

    def __init__(self, issues: list[PolicyIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(issue) for issue in issues))
