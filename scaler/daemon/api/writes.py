"""The two writes people make, shared by the control API and the console: record an exception, end one.

Each records intent in the state store, logs it and wakes the daemon
(:meth:`~scaler.daemon.api.routes.ControlFacts.exceptions_changed`); neither calls the platform.
A target that names no deployment or policy, or several deployments, raises :class:`Refused`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import structlog

from scaler.daemon.api.bodies import ExceptionRequest
from scaler.daemon.api.facts import ControlFacts
from scaler.daemon.api.keys import Caller
from scaler.daemon.clock import iso
from scaler.store import ExceptionRecord, new_exception_id

log = structlog.get_logger()


class Refused(Exception):
    """A write that cannot be made: ``status`` (404, 409), a message, and ``details`` for the API's answer."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


async def record_exception(daemon: ControlFacts, wanted: ExceptionRequest, caller: Caller) -> ExceptionRecord:
    """Record ``wanted`` on behalf of ``caller`` at the daemon's now and return the stored exception.

    Raises :class:`Refused` (404 no such target, 409 an ambiguous name) or
    :class:`~scaler.store.StoreError`."""
    now = daemon.clock()
    ids, target, target_name = await _resolve_target(daemon, wanted)
    names = daemon.deployment_names()
    record = ExceptionRecord(
        id=new_exception_id(),
        kind=wanted.kind,
        target_kind=wanted.target_kind,
        target=target,
        target_name=target_name,
        deployment_ids=tuple(ids),
        state=wanted.state.describe() if wanted.state is not None else None,
        created_at=now,
        until=wanted.until,
        reason=wanted.reason,
        created_by=caller.name,
    )
    await asyncio.to_thread(daemon.store.create_exception, record, names)
    log.info(
        "exception_created",
        exception=record.id,
        kind=record.kind,
        target=record.target_kind,
        name=record.target_name or record.target,
        deployments=len(record.deployment_ids),
        state=record.state,
        until=iso(record.until),
        by=record.created_by,
        reason=record.reason,
    )
    daemon.exceptions_changed()
    return record


async def end_exception(daemon: ControlFacts, key: str, caller: Caller) -> ExceptionRecord:
    """End exception ``key`` on behalf of ``caller`` now (ending an ended one changes nothing) and return it.

    Raises :class:`Refused` (404) or :class:`~scaler.store.StoreError`."""
    now = daemon.clock()
    found = await asyncio.to_thread(daemon.store.end_exception, key, now, caller.name)
    if found is None:
        raise Refused(404, f"no exception {key!r}")
    if found.ended_by == caller.name and found.ended_at == now:
        log.info("exception_ended", exception=found.id, kind=found.kind, by=caller.name)
        daemon.exceptions_changed()
    return found


def ambiguous(wanted: str, found: Iterable[tuple[UUID, str]]) -> Refused:
    """The 409 of a name that several deployments bear, with the ``candidates``."""
    candidates = sorted(found, key=lambda item: (item[1], str(item[0])))
    return Refused(
        409,
        f"{wanted!r} names {len(candidates)} deployments: give the id instead",
        candidates=[{"id": str(key), "name": name} for key, name in candidates],
    )


async def _resolve_target(daemon: ControlFacts, wanted: ExceptionRequest) -> tuple[list[UUID], str | None, str | None]:
    """The deployments the target names now, the target to store and the deployment's name."""
    if wanted.target_kind == "all":
        return sorted(daemon.deployment_names(), key=str), None, None
    name = wanted.target or ""
    if wanted.target_kind == "policy":
        governed = daemon.governed_by(name)
        if governed is None:
            raise Refused(404, f"no policy is called {name!r}")
        return sorted(governed, key=str), name, None
    found = _matching(daemon.deployment_names().items(), name)
    if not found:
        seen = await asyncio.to_thread(daemon.store.find_deployments, name)
        found = [(item.deployment_id, item.name) for item in seen]
    if not found:
        raise Refused(404, f"no deployment is called {name!r} (by name or id)")
    if len(found) > 1:
        raise ambiguous(name, found)
    deployment_id, deployment_name = found[0]
    return [deployment_id], str(deployment_id), deployment_name


def _matching(deployments: Any, name_or_id: str) -> list[tuple[UUID, str]]:
    try:
        key: UUID | None = UUID(name_or_id)
    except ValueError:
        key = None
    return [(deployment_id, name) for deployment_id, name in deployments if name == name_or_id or deployment_id == key]
