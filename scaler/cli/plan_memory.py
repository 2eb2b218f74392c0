"""What ``scaler plan`` reads of the daemon's state store (SCALER_STATE_URL): the deployments
whose state the daemon established, first sightings and the recorded start-ups.

The store is opened once per command, when it is first needed, and only read, never created.
Without one, or when it cannot be read, each reading falls back to nothing and says on stderr
what the plan then does not show.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime
from typing import TypeVar
from uuid import UUID

import click

from scaler.settings import Settings
from scaler.simplismart.models import Deployment
from scaler.store import Store, StoreError, StoreMissing, open_store

T = TypeVar("T")


class StateStoreReader:
    """The daemon's state store, opened at the first reading (``settings`` read then) and kept open."""

    def __init__(self, stack: ExitStack, settings: Callable[[], Settings]) -> None:
        self._stack = stack
        self._settings = settings
        self._opened: tuple[Store | None, StoreError | None] | None = None

    def read(self, query: Callable[[Store], T], default: T, say: Callable[[StoreError], str | None]) -> T:
        """Return ``query``'s answer from the store; ``default`` when the store is missing or cannot
        be read, with ``say``'s message about the failure on stderr (``None``: nothing to say)."""
        store, problem = self._open()
        if store is not None:
            try:
                return query(store)
            except StoreError as exc:
                problem = exc
        assert problem is not None
        message = say(problem)
        if message is not None:
            click.echo(message, err=True)
        return default

    def _open(self) -> tuple[Store | None, StoreError | None]:
        if self._opened is None:
            try:
                store = self._stack.enter_context(open_store(self._settings().state_url, create=False))
                self._opened = (store, None)
            except StoreError as exc:
                self._opened = (None, exc)
        return self._opened


@contextmanager
def state_store_reader(settings: Callable[[], Settings]) -> Iterator[StateStoreReader]:
    """Yield a reader of the state store at ``settings().state_url``; the store is closed on the way out."""
    with ExitStack() as stack:
        yield StateStoreReader(stack, settings)


def warn_unless_missing(consequence: str) -> Callable[[StoreError], str | None]:
    """The warning for a store that exists but cannot be read, naming ``consequence``; none for no store."""

    def say(exc: StoreError) -> str | None:
        if isinstance(exc, StoreMissing):
            return None
        return f"warning: the state store cannot be read ({exc}): {consequence}"

    return say


def touched(reader: StateStoreReader) -> set[UUID]:
    """The deployments whose state the daemon established (an applied state in its store)."""
    return reader.read(
        lambda store: set(store.all_applied()), set(), warn_unless_missing("every stopped deployment counts as found so")
    )


def new_deployments(reader: StateStoreReader, deployments: Iterable[Deployment], now: datetime) -> dict[UUID, datetime]:
    """The first sighting of each listed deployment the daemon's state store counts as new.

    New: first seen after the store's first inventory, or not seen yet (the daemon will first
    see it at about ``now``). Without a store, or before its first inventory, nothing is new.
    """
    first_inventory, seen = reader.read(
        lambda store: (store.first_inventory_at(), store.seen_deployments()),
        (None, {}),
        warn_unless_missing("grace periods are not shown"),
    )
    if first_inventory is None:
        return {}
    new: dict[UUID, datetime] = {}
    for deployment in deployments:
        known = seen.get(deployment.deployment_id)
        if known is None:
            new[deployment.deployment_id] = now
        elif known.first_seen > first_inventory:
            new[deployment.deployment_id] = known.first_seen
    return new


def learned_startups(reader: StateStoreReader) -> dict[UUID, list[float]]:
    """The start-up times the daemon recorded, for ``lead_time: auto``; none, with a note, without a usable store."""
    return reader.read(
        lambda store: store.startups(),
        {},
        lambda exc: f"note: lead_time: auto shows its initial lead time: no start-ups read ({exc})",
    )
