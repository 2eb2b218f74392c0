"""What the control API and the console ask the daemon: :class:`ControlFacts`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from scaler.store import Store


class ControlFacts(Protocol):
    """What the control API asks the daemon."""

    store: Store
    clock: Callable[[], datetime]

    def deployment_names(self) -> dict[UUID, str]:
        """The deployments of the last list, by id."""
        ...

    def governed_by(self, policy: str) -> list[UUID] | None:
        """The listed deployments ``policy`` governs now (``None``: no policy of that name)."""
        ...

    async def deployment_documents(self) -> list[dict[str, Any]]:
        """Every deployment as ``/status`` shows it."""
        ...

    def exceptions_changed(self) -> None:
        """An exception was created or ended: reconcile the deployments it concerns at once."""
        ...
