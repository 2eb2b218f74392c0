"""``--state-url``: people's exceptions recorded in, ended in and read from the state store directly.

For when the daemon is down: ``scaler suspend``, ``override``, ``resume`` and ``exceptions``
then write the store as ``$USER``, and a daemon running on it notices within a second. A
policy's deployments are not known without the daemon, which covers them by the policy's name.

:func:`named_exceptions` picks what ``resume`` ends, among the store's exceptions or the daemon's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from scaler.cli.common import fail
from scaler.cli.suspensions import _who, existing_store, resolve_deployment
from scaler.daemon.status import exception_document
from scaler.policy import DesiredState
from scaler.settings import Settings
from scaler.store import ExceptionRecord, Store, new_exception_id


def _store_target(
    store: Store, settings: Settings, name_or_id: str | None, policy: str | None, everything: bool
) -> tuple[str, str | None, str | None, tuple[UUID, ...]]:
    """(target kind, target, target name, resolved ids) of the exception's target."""
    if everything:
        return "all", None, None, tuple(sorted(store.seen_deployments(), key=str))
    if policy is not None:
        return "policy", policy, None, ()
    deployment_id, name = resolve_deployment(store, settings, name_or_id or "")
    return "deployment", str(deployment_id), name, (deployment_id,)


def _names(store: Store) -> dict[UUID, str]:
    """The names of the deployments the daemon has seen, by id."""
    return {seen.deployment_id: seen.name for seen in store.seen_deployments().values()}


def create_in_store(
    settings: Settings,
    state_url: str,
    *,
    kind: str,
    name_or_id: str | None,
    policy: str | None,
    everything: bool,
    state: DesiredState | None,
    until: datetime,
    reason: str,
    now: datetime,
) -> dict[str, Any]:
    """Record an exception in the store; return its document (as the control API answers)."""
    with existing_store(state_url, "the exception could not be recorded") as store:
        target_kind, target, target_name, ids = _store_target(store, settings, name_or_id, policy, everything)
        record = ExceptionRecord(
            id=new_exception_id(),
            kind=kind,  # type: ignore[arg-type]
            target_kind=target_kind,  # type: ignore[arg-type]
            target=target,
            target_name=target_name,
            deployment_ids=ids,
            state=state.describe() if state is not None else None,
            created_at=now,
            until=until,
            reason=reason,
            created_by=_who(),
        )
        store.create_exception(record)
        names = _names(store)
    return exception_document(record, names, now)


def is_no_exception_id(state_url: str, what: str) -> bool:
    """Whether ``what`` is no exception id of the store (so a deployment's name or id)."""
    with existing_store(state_url, "the state store cannot be read") as store:
        return store.get_exception(what) is None


def end_in_store(
    settings: Settings,
    state_url: str,
    what: str | None,
    policy: str | None,
    everything: bool,
) -> list[dict[str, Any]]:
    """End the active exceptions ``resume``'s arguments name (see :func:`named_exceptions`); return their documents."""
    now = datetime.now(UTC)
    with existing_store(state_url, "the exception could not be ended") as store:
        names = _names(store)
        active = [exception_document(e, names, now) for e in store.active_exceptions(now)]
        if what is not None and not any(item["id"] == what for item in active) and not everything and policy is None:
            deployment_id, _ = resolve_deployment(store, settings, what)
            what = str(deployment_id)
        chosen = named_exceptions(active, what, policy, everything)
        ended = [store.end_exception(item["id"], now, _who()) for item in chosen]
    return [exception_document(e, names, now) for e in ended if e is not None]


def read_in_store(state_url: str, show_all: bool, now: datetime) -> list[dict[str, Any]]:
    """The documents of the exceptions in force at ``now`` (``show_all``: of every exception)."""
    with existing_store(state_url, "the exceptions could not be read") as store:
        names = _names(store)
        found = store.all_exceptions() if show_all else store.active_exceptions(now)
    return [exception_document(e, names, now) for e in found]


def named_exceptions(
    active: list[dict[str, Any]], what: str | None, policy: str | None, everything: bool
) -> list[dict[str, Any]]:
    """The active exceptions ``resume``'s arguments name; exit 1 when none."""
    if everything:
        chosen = [item for item in active if "all" in item["target"]]
        named = "all deployments"
    elif policy is not None:
        chosen = [item for item in active if item["target"].get("policy") == policy]
        named = f"policy {policy}"
    else:
        chosen = [item for item in active if item["id"] == what]
        if not chosen:
            chosen = [
                item
                for item in active
                if what in (item["target"].get("deployment"), item["target"].get("name"))
            ]
        named = str(what)
    if not chosen:
        fail(f"no exception in force is {named!r} or targets it")
    return chosen
