"""The notices (webhooks) claimed or noted, so each is sent once across processes."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from scaler.store.dialect import instant_to_db
from scaler.store.tables import Tables


class NotificationTables(Tables):
    """One-time notices and the last noted state of each condition."""

    def claim_notification(self, key: str, event: str, at: datetime) -> bool:
        """Note that the notice ``key`` (one transition, one exception's creation...) is being sent;
        return whether it was new (false: it was claimed before, by this or another process)."""
        with self._db.transaction() as cursor:
            if cursor.execute("SELECT 1 FROM notifications WHERE key = ?", (key,)).fetchone() is not None:
                return False
            cursor.execute(
                "INSERT INTO notifications (key, event, noted_at) VALUES (?, ?, ?)",
                (key, event, instant_to_db(at, "at")),
            )
        return True

    def switch_notification(self, key: str, event: str, at: datetime) -> tuple[bool, str | None]:
        """Record ``event`` as the state of the condition ``key`` (the wallet, the token) last noted;
        return whether it changed, and the event it replaces (``None`` the first time)."""
        with self._db.transaction() as cursor:
            row = cursor.execute("SELECT event FROM notifications WHERE key = ?", (key,)).fetchone()
            if row is not None and row[0] == event:
                return False, event
            cursor.execute(
                "INSERT INTO notifications (key, event, noted_at) VALUES (?, ?, ?) ON CONFLICT (key) "
                "DO UPDATE SET event = excluded.event, noted_at = excluded.noted_at",
                (key, event, instant_to_db(at, "at")),
            )
        return True, str(row[0]) if row is not None else None

    def prune_notifications(self, before: datetime, keep: Iterable[str] = ()) -> int:
        """Forget the one-time notices noted before ``before`` except the condition keys ``keep``;
        return how many were forgotten."""
        kept = list(keep)
        marks = ", ".join("?" for _ in kept)
        condition = f" AND key NOT IN ({marks})" if kept else ""
        with self._db.transaction() as cursor:
            cursor.execute(
                f"DELETE FROM notifications WHERE noted_at < ?{condition}", (instant_to_db(before, "before"), *kept)
            )
            return max(cursor.rowcount, 0)
