"""People's exceptions (suspensions and overrides): recorded, ended, audited, noticed by another process."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from scaler.store import ExceptionRecord, Store, open_store
from tests.store.conftest import at

LLAMA = UUID("11111111-1111-4111-8111-111111111111")
WHISPER = UUID("22222222-2222-4222-8222-222222222222")


def override(**fields: object) -> ExceptionRecord:
    """An override of llama to running from T0 for an hour, by alice, with ``fields`` changed."""
    values: dict[str, object] = {
        "id": "abc123",
        "kind": "override",
        "target_kind": "deployment",
        "target": str(LLAMA),
        "target_name": "llama",
        "deployment_ids": (LLAMA,),
        "state": "running",
        "created_at": at(0),
        "until": at(60),
        "reason": "eval tonight",
        "created_by": "alice",
    }
    values.update(fields)
    return ExceptionRecord(**values)  # type: ignore[arg-type]


def test_an_exception_is_read_back_as_created(store: Store) -> None:
    """Every field is stored: kind, target, resolved ids, state, instants, reason, author."""
    created = override(target_kind="policy", target="dev-night", target_name=None, deployment_ids=(LLAMA, WHISPER))
    store.create_exception(created)
    assert (created, [created]) == (store.get_exception("abc123"), store.active_exceptions(at(1)))


def test_an_exception_is_in_force_until_its_end(store: Store) -> None:
    """Active before ``until``, not at it; still listed among all exceptions."""
    store.create_exception(override())
    assert (["abc123"], [], ["abc123"]) == (
        [e.id for e in store.active_exceptions(at(59))],
        [e.id for e in store.active_exceptions(at(60))],
        [e.id for e in store.all_exceptions()],
    )


def test_ending_an_exception_records_who_and_when(store: Store) -> None:
    """Ending sets ended_at/ended_by; it is no longer active; ending it again changes nothing."""
    store.create_exception(override())
    ended = store.end_exception("abc123", at(10), "bob")
    again = store.end_exception("abc123", at(20), "carol")
    assert ended is not None
    assert ((at(10), "bob"), (at(10), "bob"), []) == (
        (ended.ended_at, ended.ended_by),
        (again.ended_at, again.ended_by) if again else None,
        store.active_exceptions(at(11)),
    )


def test_ending_an_unknown_exception_returns_none(store: Store) -> None:
    """Nothing to end is None, not an error."""
    assert store.end_exception("nope", at(0), "bob") is None


def test_creation_and_ending_are_in_the_audit_log(store: Store) -> None:
    """One audit record per named deployment for the creation (its kind) and for the end (resume), with
    the exception's id, its author and reason."""
    store.mark_seen([(LLAMA, "llama"), (WHISPER, "whisper")], at(0))
    store.create_exception(override(target_kind="all", target=None, target_name=None, deployment_ids=(LLAMA, WHISPER)))
    store.end_exception("abc123", at(5), "bob")
    records = sorted(store.recent_actions(10), key=lambda r: (r.id))
    assert [
        ("override", "llama", "abc123", "success", at(0)),
        ("override", "whisper", "abc123", "success", at(0)),
        ("resume", "llama", "abc123", "success", at(5)),
        ("resume", "whisper", "abc123", "success", at(5)),
    ] == sorted(
        (r.action, r.deployment_name, r.parameters["exception"], r.result, r.started_at) for r in records
    )
    assert "by alice: eval tonight" in records[0].reason and "by bob: eval tonight" in records[-1].reason


def test_a_taken_id_is_refused(store: Store) -> None:
    """Two exceptions never share an id."""
    store.create_exception(override())
    with pytest.raises(ValueError, match="taken"):
        store.create_exception(override())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"state": None}, "an override needs a state"),
        ({"kind": "suspend"}, "only an override has one"),
        ({"target": None}, "only an exception of all deployments has no target"),
        ({"until": at(0)}, "until must be after created_at"),
        ({"reason": "  "}, "reason must not be empty"),
    ],
)
def test_an_inconsistent_exception_is_refused(fields: dict[str, object], message: str) -> None:
    """The record checks itself before the database is touched."""
    with pytest.raises(ValueError, match=message):
        override(**fields)


def test_the_revision_changes_with_every_creation_and_ending(store: Store) -> None:
    """What the daemon polls to notice a write by another process (a standby, the CLI)."""
    first = store.exceptions_revision()
    store.create_exception(override())
    created = store.exceptions_revision()
    store.end_exception("abc123", at(1), "bob")
    assert 3 == len({first, created, store.exceptions_revision()})


def test_another_connection_sees_an_exception_at_once(state_url: str) -> None:
    """A write through one connection (a standby's API, the CLI) is read by another (the leader)."""
    with open_store(state_url) as leader, open_store(state_url) as standby:
        before = leader.exceptions_revision()
        standby.create_exception(override())
        assert (True, ["abc123"]) == (
            leader.exceptions_revision() != before,
            [e.id for e in leader.active_exceptions(at(1))],
        )


def test_suspend_of_one_deployment_is_an_exception(store: Store) -> None:
    """The one-deployment suspension (``scaler suspend --state-url``) is stored as a suspend exception."""
    deployment = uuid4()
    store.suspend(deployment, "llama", at(60), "incident", at(0), "alice")
    (exception,) = store.active_exceptions(at(1))
    assert ("suspend", "deployment", str(deployment), (deployment,), None) == (
        exception.kind,
        exception.target_kind,
        exception.target,
        exception.deployment_ids,
        exception.state,
    )


def test_resume_ends_the_suspension_as_its_author(store: Store) -> None:
    """resume records when and by whom the suspension ended."""
    deployment = uuid4()
    store.suspend(deployment, "llama", at(60), "incident", at(0), "alice")
    store.resume(deployment, at(5), "bob")
    (exception,) = store.all_exceptions()
    assert (at(5), "bob") == (exception.ended_at, exception.ended_by)


def test_an_exception_longer_than_30_days_is_refused(store: Store) -> None:
    """Exceptions are temporary: 30 days is the most, checked by the store itself."""
    store.create_exception(override(id="thirty", until=at(30 * 24 * 60)))
    with pytest.raises(ValueError, match="at most 30 days"):
        store.create_exception(override(id="longer", until=at(30 * 24 * 60 + 1)))
