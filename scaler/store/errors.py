"""The state store's exceptions, and nothing else.

::

    StoreError                 anything the store could not do
     ├── StoreConfigError      SCALER_STATE_URL is malformed or names an unknown backend
     ├── StoreUnavailable      cannot open or reach the database, it is read-only, its disk
     │                         is full, or it stayed locked: nothing was written
     ├── StoreMissing          no store where one was expected (opened without creating one)
     ├── SchemaTooNew          the database was migrated by a newer scaler than this one
     ├── MigrationFailed       a schema migration failed and was rolled back
     └── ActionNotPending      finish of an action that is unknown or already finished

Messages never contain a database password: locations are shown redacted.
Wrong arguments (a naive datetime, an unknown result) raise ``ValueError`` instead,
because they are mistakes in the calling code, not states of the store.
"""

from __future__ import annotations

from typing import Literal

UnavailableReason = Literal[
    "cannot_open",
    "connection",
    "read_only",
    "disk_full",
    "io_error",
    "busy",
    "corrupt",
    "closed",
]


class StoreError(Exception):
    """The state store could not do what was asked; the message says what and where."""


class StoreConfigError(StoreError, ValueError):
    """``SCALER_STATE_URL`` cannot be used; the message names the variable."""


class StoreUnavailable(StoreError):
    """The database cannot be opened, reached or written right now.

    ``reason`` is one of :data:`UnavailableReason` (a bounded value, fit for a metric
    label) and ``location`` the redacted path or URL. The operation did not happen:
    a write that raised this was not committed.
    """

    def __init__(self, message: str, *, reason: UnavailableReason, location: str) -> None:
        super().__init__(message)
        self.reason: UnavailableReason = reason
        self.location = location


class StoreMissing(StoreError):
    """There is no state store at ``location``: no database file, or one the scaler never set up.

    Raised only when the caller asked not to create one (``open_store(..., create=False)``).
    """

    def __init__(self, message: str, *, location: str) -> None:
        super().__init__(message)
        self.location = location


class SchemaTooNew(StoreError):
    """The database carries a schema version newer than this code knows."""

    def __init__(self, message: str, *, found: int, known: int) -> None:
        super().__init__(message)
        self.found = found
        self.known = known


class MigrationFailed(StoreError):
    """A migration raised; its transaction was rolled back and the version not recorded."""


class ActionNotPending(StoreError):
    """``finish_action`` named an action id that does not exist or already has an outcome."""
