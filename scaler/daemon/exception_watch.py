"""Whether people's exceptions changed while a cycle's calls were going out.

A cycle decides with the exceptions it read at its start; its calls may then take seconds.
Before each call the executor asks :class:`PlanRecheck` whether the exception deciding the
deployment is still the one the plan was decided under: a suspension (or an override, or the
end of one) written meanwhile, through any replica or the CLI, stops the calls still to go
for that deployment, and the next cycle decides. The check is cheap: the store's revision of
the exceptions (:meth:`~scaler.store.Store.exceptions_revision`, one small query) is read by
one caller at a time for every caller waiting on it (:class:`RevisionReader`), and the
exceptions themselves are read again only once the revision has moved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from scaler.daemon.calls import Calls
from scaler.daemon.exceptions_in_force import InForce, in_force
from scaler.store import ExceptionRecord, Store

Revision = tuple[int, int]


class RevisionReader:
    """Reads the store's exceptions revision, sharing reads among concurrent callers.

    A caller is answered by a read that started after it asked, never by an older one, so
    a write answered before the question is always seen; callers that ask while a read is
    under way share the next read.
    """

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = asyncio.Lock()
        self._started = 0
        self._last: tuple[int, Revision] | None = None
        """The number of the last finished read and its answer."""

    async def read(self) -> Revision:
        """Return the revision as a read started after this call was made sees it."""
        asked_after = self._started
        async with self._lock:
            if self._last is not None and self._last[0] > asked_after:
                return self._last[1]
            self._started += 1
            number = self._started
            revision = await asyncio.to_thread(self._store.exceptions_revision)
            self._last = (number, revision)
            return revision


def _deciding(found: InForce) -> tuple[str, str] | None:
    """The exception that decides: the suspension, else the override (kind and id)."""
    if found.suspension is not None:
        return ("suspend", found.suspension.id)
    if found.override is not None:
        return ("override", found.override.id)
    return None


class PlanRecheck:
    """One cycle's re-check of the exceptions before each call (see the module's docstring).

    ``revision`` and ``exceptions`` are what the cycle read (the revision first), ``now`` its
    instant: exceptions ending by time are not a change, only writes are.
    """

    def __init__(
        self,
        reader: RevisionReader,
        store: Store,
        *,
        revision: Revision,
        exceptions: Sequence[ExceptionRecord],
        now: datetime,
    ) -> None:
        self._reader = reader
        self._store = store
        self._revision = revision
        self._decided_with = list(exceptions)
        self._now = now
        self._current: tuple[Revision, list[ExceptionRecord]] | None = None
        self._current_lock = asyncio.Lock()

    async def why_not(self, plan: Calls) -> str | None:
        """Return why ``plan``'s next call must not go (an exception written since it was decided
        changes what decides its deployment), or ``None`` when it still stands."""
        revision = await self._reader.read()
        if revision == self._revision:
            return None
        current = await self._exceptions_at(revision)
        deployment_id = plan.deployment.deployment_id
        policy = plan.policy or None
        before = _deciding(in_force(self._decided_with, deployment_id, policy, self._now))
        now_found = in_force(current, deployment_id, policy, self._now)
        after = _deciding(now_found)
        if before == after:
            return None
        if now_found.suspension is not None:
            return f"suspended since the plan was decided (exception {now_found.suspension.id} by {now_found.suspension.created_by})"
        if now_found.override is not None:
            return f"overridden since the plan was decided (exception {now_found.override.id} by {now_found.override.created_by})"
        assert before is not None
        return f"exception {before[1]} ended since the plan was decided"

    async def _exceptions_at(self, revision: Revision) -> list[ExceptionRecord]:
        """The exceptions in force at the cycle's instant, read again once per new revision."""
        async with self._current_lock:
            if self._current is None or self._current[0] != revision:
                found = await asyncio.to_thread(self._store.active_exceptions, self._now)
                self._current = (revision, found)
            return self._current[1]
