"""Which deployment a NAME-OR-ID argument names: its id, or the one deployment of that name.

Names need not be unique on the platform: a name shared by several deployments is refused,
listing each with its id, so that the id can be given instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from scaler.cli.common import fail


def as_id(name_or_id: str) -> UUID | None:
    """Return ``name_or_id`` as a deployment id, or ``None`` when it is not a UUID (so a name)."""
    try:
        return UUID(name_or_id.strip())
    except ValueError:
        return None


def matching(deployments: Iterable[tuple[UUID, str]], name_or_id: str) -> list[tuple[UUID, str]]:
    """Return the (id, name) pairs whose id or name is ``name_or_id``, by name then id."""
    wanted = name_or_id.strip()
    key = as_id(wanted)
    found = {
        deployment_id: name
        for deployment_id, name in deployments
        if name == wanted or (key is not None and deployment_id == key)
    }
    return sorted(found.items(), key=lambda item: (item[1], str(item[0])))


def the_one(found: list[tuple[UUID, str]], name_or_id: str, *, searched: str) -> tuple[UUID, str]:
    """Return the one (id, name) of ``found``; exit 1 when there is none (naming what was
    ``searched``) or several (listing them with their ids)."""
    if not found:
        fail(f"no deployment is called {name_or_id!r} (by name or id) in {searched}")
    if len(found) > 1:
        candidates = ", ".join(f"{name} ({deployment_id})" for deployment_id, name in found)
        fail(f"{name_or_id!r} names {len(found)} deployments: {candidates}; give the id instead")
    return found[0]
