"""The daemon's memory (applied state, audit log, health, exceptions) behind one narrow interface.

``open_store(settings.state_url)`` returns a :class:`Store` on SQLite or PostgreSQL;
code above this package never needs to know which.
"""

from scaler.store.errors import (
    ActionNotPending,
    MigrationFailed,
    SchemaTooNew,
    StoreConfigError,
    StoreError,
    StoreMissing,
    StoreUnavailable,
    UnavailableReason,
)
from scaler.store.opening import open_store
from scaler.store.records import (
    ACTION_RESULTS,
    FINAL_RESULTS,
    MAX_EXCEPTION_LENGTH,
    STATE_KINDS,
    ActionIntent,
    ActionOutcome,
    ActionRecord,
    ActionResult,
    AppliedState,
    Backoff,
    ExceptionKind,
    ExceptionRecord,
    HealthChange,
    HealthTrack,
    Saved,
    SeenDeployment,
    StateKind,
    Suspension,
    TargetKind,
)
from scaler.store.schema import LATEST_VERSION
from scaler.store.store import Store, new_exception_id

__all__ = [
    "ACTION_RESULTS",
    "FINAL_RESULTS",
    "LATEST_VERSION",
    "MAX_EXCEPTION_LENGTH",
    "STATE_KINDS",
    "ActionIntent",
    "ActionNotPending",
    "ActionOutcome",
    "ActionRecord",
    "ActionResult",
    "AppliedState",
    "Backoff",
    "ExceptionKind",
    "ExceptionRecord",
    "HealthChange",
    "HealthTrack",
    "MigrationFailed",
    "Saved",
    "SchemaTooNew",
    "SeenDeployment",
    "StateKind",
    "Store",
    "StoreConfigError",
    "StoreError",
    "StoreMissing",
    "StoreUnavailable",
    "Suspension",
    "TargetKind",
    "UnavailableReason",
    "new_exception_id",
    "open_store",
]
