"""The re-check of the exceptions before each call: reads of the store's revision shared by the calls
waiting for one, never answered by a read older than the question, and what changes a plan's standing."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from scaler.daemon.calls import Calls, Step
from scaler.daemon.exception_watch import PlanRecheck, RevisionReader
from scaler.policy import DesiredState
from scaler.simplismart.models import Deployment, DeploymentStatus
from scaler.store import ExceptionRecord, Store, open_store

NOW = datetime(2026, 3, 2, 8, tzinfo=UTC)
LLAMA = UUID("0b6df06d-c35c-4c90-ae22-290d3b7b7ed7")


class CountedStore:
    """The real store, counting the reads of its exceptions revision."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.reads = 0

    def exceptions_revision(self) -> tuple[int, int]:
        self.reads += 1
        return self.store.exceptions_revision()

    def active_exceptions(self, now: datetime) -> list[ExceptionRecord]:
        return self.store.active_exceptions(now)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'state.db'}") as opened:
        yield opened


def exception(exception_id: str, kind: str, state: str | None = None) -> ExceptionRecord:
    return ExceptionRecord(
        id=exception_id, kind=kind, target_kind="deployment", target=str(LLAMA),  # type: ignore[arg-type]
        deployment_ids=(LLAMA,), created_at=NOW, until=NOW + timedelta(hours=1), reason="r", created_by="bob",
        state=state,
    )  # fmt: skip


def start_plan() -> Calls:
    deployment = Deployment.model_validate(
        {"deployment_id": str(LLAMA), "deployment_name": "llama-3-8b-chat", "status": "SCALED_DOWN"}
    )
    assert deployment.status is DeploymentStatus.SCALED_DOWN
    return Calls(deployment=deployment, kind="change", steps=(Step("start"),), target=DesiredState.running(),
                previous=None, policy="office", source="default", reason="r")  # fmt: skip


async def test_concurrent_questions_share_reads_and_none_is_answered_by_an_older_read(store: Store) -> None:
    """Fifty calls asking at once cost at most two reads; a question asked after they were answered
    (after a write) is answered by a new read that sees the write."""
    counted = CountedStore(store)
    reader = RevisionReader(counted)  # type: ignore[arg-type]
    answers = await asyncio.gather(*(reader.read() for _ in range(50)))
    shared = counted.reads
    store.create_exception(exception("s1", "suspend"))
    after = await reader.read()
    assert ({(0, 0)}, True, (1, 0), shared + 1) == (set(answers), shared <= 2, after, counted.reads)


async def test_a_plan_stands_until_a_write_changes_what_decides_its_deployment(store: Store) -> None:
    """No write: it stands. A suspension of another deployment: it stands. A suspension of its deployment:
    it does not, naming the exception and its author."""
    reader = RevisionReader(store)
    recheck = PlanRecheck(reader, store, revision=store.exceptions_revision(), exceptions=[], now=NOW)
    plan = start_plan()
    unchanged = await recheck.why_not(plan)
    other = UUID("99999999-9999-4999-8999-999999999999")
    store.create_exception(replace(exception("o1", "suspend"), target=str(other), deployment_ids=(other,)))
    elsewhere = await recheck.why_not(plan)
    store.create_exception(exception("s1", "suspend"))
    suspended = await recheck.why_not(plan)
    assert (None, None, "suspended since the plan was decided (exception s1 by bob)") == (unchanged, elsewhere, suspended)
