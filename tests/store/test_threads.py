"""One store used from several threads at once, as the daemon does through asyncio.to_thread."""

from __future__ import annotations

import threading
from uuid import uuid4

from scaler.store import AppliedState, Store
from tests.store.conftest import at, intent

THREADS = 6
ACTIONS_PER_THREAD = 20


def test_concurrent_writers_and_readers_lose_nothing(store: Store) -> None:
    """Six threads beginning and finishing actions while others read: every action is recorded
    once, finished, with its applied state, and no call fails."""
    barrier = threading.Barrier(THREADS + 1)
    errors: list[BaseException] = []
    deployments = [[uuid4() for _ in range(ACTIONS_PER_THREAD)] for _ in range(THREADS)]
    ids: list[int] = []
    ids_lock = threading.Lock()

    def write(mine: list) -> None:  # type: ignore[type-arg]
        barrier.wait()
        try:
            for deployment in mine:
                action_id = store.begin_action(intent(deployment))
                store.record_health([(deployment, "Healthy", at(0))])
                store.finish_action(
                    action_id, result="success", finished_at=at(1), applied=AppliedState("stopped", at(1))
                )
                with ids_lock:
                    ids.append(action_id)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    def read() -> None:
        barrier.wait()
        try:
            for _ in range(ACTIONS_PER_THREAD):
                store.recent_actions(limit=10)
                store.all_applied()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(mine,)) for mine in deployments[:-1]]
    threads.append(threading.Thread(target=read))
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        thread.join()
    expected = (THREADS - 1) * ACTIONS_PER_THREAD
    assert ([], expected, [], expected) == (
        errors,
        len(set(ids)),
        store.pending_actions(),
        len(store.all_applied()),
    )
