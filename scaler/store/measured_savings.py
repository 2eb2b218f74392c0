"""The measured savings by deployment and UTC day (what the console sums)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from uuid import UUID

from scaler.store.dialect import uuid_from_db
from scaler.store.records import Saved
from scaler.store.tables import Tables, uid

#: Measured savings are kept for this many UTC days (today and the 34 before it).
SAVINGS_DAYS = 35


class SavingsTables(Tables):
    """Measured savings by (deployment, UTC day)."""

    def add_savings(self, amounts: Mapping[tuple[UUID, date], Saved]) -> None:
        """Add measured savings by (deployment, UTC day) to what each day already holds, and drop the days
        more than :data:`SAVINGS_DAYS` before the newest one added. One transaction."""
        rows = sorted(  # by deployment, then day (ISO dates sort as the days do)
            (uid(deployment_id), day.isoformat(), float(saved.gpu_seconds), float(saved.dollars))
            for (deployment_id, day), saved in amounts.items()
        )
        if not rows:
            return
        newest = max(day for _, day in amounts)
        with self._db.transaction() as cursor:
            cursor.executemany(
                "INSERT INTO savings (deployment_id, day, gpu_seconds, dollars) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (deployment_id, day) DO UPDATE SET "
                "gpu_seconds = savings.gpu_seconds + excluded.gpu_seconds, dollars = savings.dollars + excluded.dollars",
                rows,
            )
            cutoff = newest - timedelta(days=SAVINGS_DAYS - 1)
            cursor.execute("DELETE FROM savings WHERE day < ?", (cutoff.isoformat(),))

    def savings_since(self, first_day: date) -> dict[UUID, Saved]:
        """Return each deployment's measured saving from the UTC day ``first_day`` on (those that saved
        nothing are absent)."""
        with self._db.transaction(write=False) as cursor:
            rows = cursor.execute(
                "SELECT deployment_id, SUM(gpu_seconds), SUM(dollars) FROM savings WHERE day >= ? "
                "GROUP BY deployment_id",
                (first_day.isoformat(),),
            ).fetchall()
        return {uuid_from_db(key): Saved(float(seconds), float(dollars)) for key, seconds, dollars in rows}
