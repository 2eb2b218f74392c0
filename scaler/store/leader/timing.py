"""The election's periods, and the failover bounds they give.

The safety argument, with H = heartbeat, L = lease, C = campaign interval, D = takeover
delay (all seconds), every instant read from a monotonic clock:

1. The holder renews its lease with a heartbeat every H: one query on the lock connection
   confirming that its own server process still holds the lock. A heartbeat *sent* at
   ``s`` that succeeds renews the lease to ``s + L``. ``may_act()`` (the fence checked
   immediately before every mutating call) is true only while ``now < s + L``, whatever
   the heartbeat task is doing. A heartbeat that fails, or has not answered ``L - H``
   seconds after it was sent, makes the leader step down at once: it stops acting, closes
   the lock connection and campaigns again.
2. A standby that takes the lock at (server) instant ``g`` learns it at ``r >= g`` and
   acts only from ``r + D``. The old leader's last successful heartbeat was executed
   before ``g`` (it found the lock still held), so it was sent at ``s < g``, and the old
   leader's permission ended at ``s + L < g + L < r + D`` because ``D > H + L``: two
   instances never act at the same time, even when the old leader never learned that it
   lost the lock. The margin ``D - L`` (2 s by default) also covers a call that left just
   before the old leader's lease ran out.
3. Failover after a leader's death (kill -9, OOM, crash) on a reachable host: the kernel
   closes its socket, PostgreSQL ends its session and frees the lock at once; a standby
   takes it within C and acts D later: **failover <= C + D** (8 s by default), plus one
   connection and query (milliseconds).
4. A vanished leader *host* (power loss, network partition) sends nothing more. The lock
   session has ``idle_session_timeout = L`` (PostgreSQL 14 and later), so the server ends
   it at most L after the last heartbeat; older servers rely on the TCP keepalives set on
   the session (first probe after ceil(H) idle seconds, then ceil(L - H) probes one second
   apart). **Dead host failover <= L + C + D** (12 s by default; about
   ceil(H) + ceil(L - H) + C + D before PostgreSQL 14).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scaler.settings import (
    DEFAULT_LEADER_CAMPAIGN_SECONDS,
    DEFAULT_LEADER_HEARTBEAT_SECONDS,
    DEFAULT_LEADER_LEASE_SECONDS,
    DEFAULT_LEADER_TAKEOVER_DELAY_SECONDS,
    Settings,
    check_leader_timing,
)


@dataclass(frozen=True, slots=True)
class LeaderTiming:
    """The election's periods, in seconds (the module docstring says how they bound failover).

    Raises ``ValueError`` naming the ``SCALER_LEADER_*`` variables when a period is not
    positive, the lease does not outlast the heartbeat, or the takeover delay does not
    outlast heartbeat + lease.
    """

    heartbeat_seconds: float = DEFAULT_LEADER_HEARTBEAT_SECONDS
    lease_seconds: float = DEFAULT_LEADER_LEASE_SECONDS
    campaign_seconds: float = DEFAULT_LEADER_CAMPAIGN_SECONDS
    takeover_delay_seconds: float = DEFAULT_LEADER_TAKEOVER_DELAY_SECONDS

    def __post_init__(self) -> None:
        for name in ("heartbeat_seconds", "lease_seconds", "campaign_seconds", "takeover_delay_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"SCALER_LEADER_{name.upper()}: must be greater than 0")
        check_leader_timing(
            heartbeat_seconds=self.heartbeat_seconds,
            lease_seconds=self.lease_seconds,
            takeover_delay_seconds=self.takeover_delay_seconds,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LeaderTiming:
        """Return the timing the ``SCALER_LEADER_*`` settings describe."""
        return cls(
            heartbeat_seconds=settings.leader_heartbeat_seconds,
            lease_seconds=settings.leader_lease_seconds,
            campaign_seconds=settings.leader_campaign_seconds,
            takeover_delay_seconds=settings.leader_takeover_delay_seconds,
        )

    @property
    def heartbeat_timeout_seconds(self) -> float:
        """Seconds a heartbeat may take before the leader steps down: lease - heartbeat."""
        return self.lease_seconds - self.heartbeat_seconds

    @property
    def failover_bound_seconds(self) -> float:
        """Upper bound on failover after the leader process dies on a live host: campaign + takeover delay."""
        return self.campaign_seconds + self.takeover_delay_seconds

    @property
    def dead_host_failover_bound_seconds(self) -> float:
        """Upper bound on failover after the leader's host vanishes (PostgreSQL 14+): lease + campaign + takeover."""
        return self.lease_seconds + self.failover_bound_seconds

    @property
    def keepalive_idle_seconds(self) -> int:
        """Idle seconds before the first TCP keepalive probe on the lock connection (both ends)."""
        return max(1, math.ceil(self.heartbeat_seconds))

    @property
    def keepalive_count(self) -> int:
        """Unanswered probes, one a second, after which either end drops the lock connection."""
        return max(1, math.ceil(self.heartbeat_timeout_seconds))
