"""The settings of high availability: the timing of leader election between replicas on one PostgreSQL."""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, Field, model_validator

from scaler.settings.variables import ENV_PREFIX

#: Leader election defaults (seconds), shared by the settings and the elector; see the fields.
DEFAULT_LEADER_HEARTBEAT_SECONDS = 1.0
DEFAULT_LEADER_LEASE_SECONDS = 4.0
DEFAULT_LEADER_CAMPAIGN_SECONDS = 2.0
DEFAULT_LEADER_TAKEOVER_DELAY_SECONDS = 6.0


class LeadershipSettings(BaseModel):
    """Leader election (several replicas on one PostgreSQL)."""

    leader_heartbeat_seconds: float = Field(
        default=DEFAULT_LEADER_HEARTBEAT_SECONDS,
        gt=0,
        description=(
            "Seconds between the leader's checks that it still holds the leader lock. "
            "Each success renews its lease. 1 s costs one tiny query a second and leaves "
            "the lease room for three missed checks."
        ),
    )
    leader_lease_seconds: float = Field(
        default=DEFAULT_LEADER_LEASE_SECONDS,
        gt=0,
        description=(
            "Seconds the leader may act after its last confirmed check; a check that "
            "has not answered after lease minus heartbeat seconds makes it step down. "
            "4 s rides out a slow query or a brief network hiccup, and bounds how long "
            "a leader cut off from the database may still act. Must exceed "
            "SCALER_LEADER_HEARTBEAT_SECONDS."
        ),
    )
    leader_campaign_seconds: float = Field(
        default=DEFAULT_LEADER_CAMPAIGN_SECONDS,
        gt=0,
        description=(
            "Seconds between a standby's attempts to take the leader lock. 2 s is one "
            "cheap query per standby and adds at most 2 s to a failover."
        ),
    )
    leader_takeover_delay_seconds: float = Field(
        default=DEFAULT_LEADER_TAKEOVER_DELAY_SECONDS,
        gt=0,
        description=(
            "Seconds a new leader waits after taking the lock before it acts, so that a "
            "previous leader cut off without noticing has certainly stopped (its lease "
            "ran out). Must exceed heartbeat + lease; 6 s keeps a failover (campaign + "
            "takeover delay: 8 s) well under 15 s."
        ),
    )

    @model_validator(mode="after")
    def _leader_timing_is_safe(self) -> Self:
        check_leader_timing(
            heartbeat_seconds=self.leader_heartbeat_seconds,
            lease_seconds=self.leader_lease_seconds,
            takeover_delay_seconds=self.leader_takeover_delay_seconds,
        )
        return self


def check_leader_timing(*, heartbeat_seconds: float, lease_seconds: float, takeover_delay_seconds: float) -> None:
    """Check that a leader election timing is safe: the lease outlasts the heartbeat (a leader
    renews it before it runs out), and the takeover delay outlasts heartbeat + lease (a leader
    cut off without noticing has stopped acting before a new one starts).

    Raises ``ValueError`` with one line per problem, each starting with the variable to change.
    """
    problems = []
    if not lease_seconds > heartbeat_seconds:
        problems.append(
            f"{ENV_PREFIX}LEADER_LEASE_SECONDS ({lease_seconds:g}) must exceed "
            f"{ENV_PREFIX}LEADER_HEARTBEAT_SECONDS ({heartbeat_seconds:g}): the leader renews its "
            "lease once a heartbeat, so a shorter lease would run out between two heartbeats"
        )
    if not takeover_delay_seconds > heartbeat_seconds + lease_seconds:
        problems.append(
            f"{ENV_PREFIX}LEADER_TAKEOVER_DELAY_SECONDS ({takeover_delay_seconds:g}) must exceed "
            f"{ENV_PREFIX}LEADER_HEARTBEAT_SECONDS + {ENV_PREFIX}LEADER_LEASE_SECONDS "
            f"({heartbeat_seconds + lease_seconds:g}): a new leader must wait until a previous one, "
            "cut off without noticing, has stopped acting"
        )
    if problems:
        raise ValueError("\n".join(problems))
