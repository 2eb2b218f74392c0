"""Two scaler processes on one database (a leader and a standby both polling) write the same rows at once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from functools import partial
from uuid import UUID, uuid4

from scaler.store import Store, open_store
from tests.store.conftest import at

DEPLOYMENTS = 300
ROUNDS = 8


def _together(first: Callable[[], object], second: Callable[[], object]) -> list[BaseException]:
    """Run both calls at the same moment on two threads; return what they raised."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        barrier.wait()
        try:
            call()
        except BaseException as exc:  # reported by the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(call,)) for call in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_both_see_the_same_new_deployments(state_url: str) -> None:
    """Two processes listing the same new deployments at once both succeed and agree on first sightings."""
    with open_store(state_url) as one, open_store(state_url) as other:
        errors: list[BaseException] = []
        for round_number in range(ROUNDS):
            listed = [(uuid4(), f"d{i}") for i in range(DEPLOYMENTS)]
            seen: dict[str, dict[UUID, datetime]] = {}
            errors += _together(
                partial(_mark, seen, "one", one, listed, at(round_number * 10)),
                partial(_mark, seen, "other", other, listed, at(round_number * 10 + 1)),
            )
            assert seen.get("one") == seen.get("other")
        assert [] == errors


def _mark(
    seen: dict[str, dict[UUID, datetime]], name: str, store: Store, listed: list[tuple[UUID, str]], now: datetime
) -> None:
    seen[name] = store.mark_seen(listed, now)


def test_both_record_the_same_health_poll(state_url: str) -> None:
    """Two processes recording one poll in opposite orders at once neither fail nor deadlock."""
    deployments = [uuid4() for _ in range(DEPLOYMENTS)]
    with open_store(state_url) as one, open_store(state_url) as other:
        errors: list[BaseException] = []
        for round_number in range(ROUNDS):
            poll = [(d, "Healthy", at(round_number)) for d in deployments]
            errors += _together(partial(one.record_health, poll), partial(other.record_health, poll[::-1]))
        assert ([], DEPLOYMENTS) == (errors, len(one.health_tracks()))
