"""The request log: every platform-surface request the simulator answered, bounded in memory.

Tests assert on it ("exactly one stop was sent, with this body"). It keeps the most
recent ``limit`` entries; older ones are dropped and counted, so a long benchmark
cannot exhaust memory. Control API calls are never logged.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

#: Entries kept by default: about 50 MB at worst, hours of a busy benchmark.
DEFAULT_REQUEST_LOG_LIMIT = 100_000


@dataclass(frozen=True, slots=True)
class LoggedRequest:
    """One answered platform request."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    status: int | None
    request_id: str
    timestamp: str
    endpoint: str | None
    deployment_id: str | None
    fault: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the entry as the control API shows it."""
        return {
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "body": self.body,
            "status": self.status,
            "request_id": self.request_id,
            "timestamp": self.timestamp,
            "endpoint": self.endpoint,
            "deployment_id": self.deployment_id,
            "fault": self.fault,
        }


class RequestLog:
    """The most recent ``limit`` requests, oldest first."""

    def __init__(self, limit: int = DEFAULT_REQUEST_LOG_LIMIT) -> None:
        if limit < 1:
            raise ValueError("the request log needs a limit of at least 1 entry")
        self.limit = limit
        self._entries: deque[LoggedRequest] = deque(maxlen=limit)
        self.total = 0

    def record(self, entry: LoggedRequest) -> None:
        """Append ``entry``, dropping the oldest one when the log is full."""
        self._entries.append(entry)
        self.total += 1

    @property
    def dropped(self) -> int:
        """How many entries were dropped to stay within the limit since the last clear."""
        return self.total - len(self._entries)

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()
        self.total = 0

    def latest(self, count: int) -> list[LoggedRequest]:
        """The last ``count`` entries, oldest first (fewer when the log holds fewer)."""
        return list(itertools.islice(reversed(self._entries), count))[::-1]

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(self._entries)

    def select(
        self, *, endpoint: str | None = None, deployment_id: str | None = None, limit: int | None = None
    ) -> list[LoggedRequest]:
        """Return the entries (oldest first) for ``endpoint``/``deployment_id``, the last ``limit`` of them."""
        chosen = [
            entry
            for entry in self._entries
            if (endpoint is None or entry.endpoint == endpoint)
            and (deployment_id is None or entry.deployment_id == deployment_id)
        ]
        if limit is not None:
            chosen = chosen[-limit:] if limit > 0 else []
        return chosen
