"""The settings of the daemon's own running: logs, metrics, policies, memory, cycles and HTTP server."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, model_validator

from scaler.settings.variables import ENV_PREFIX, read_setting_file


def _default_log_format() -> str:
    return "console" if sys.stderr.isatty() else "json"



class DaemonSettings(BaseModel):
    """How the daemon logs, counts, remembers, cycles and serves."""

    # --- Logging ----------------------------------------------------------
    log_format: Literal["json", "console"] = Field(
        default_factory=_default_log_format,
        description="`json` (one object per line) or `console`. Default: console on a terminal, json otherwise.",
    )
    log_level: Literal["debug", "info", "warning", "error", "critical"] = Field(
        default="info",
        description="Lowest level that is logged.",
    )

    # --- Metrics ----------------------------------------------------------
    metrics_deployment_detail: Literal["full", "compact", "off"] = Field(
        default="compact",
        description=(
            "Series per deployment on /metrics: `full` (every one, status and health one-hot, "
            "up to 26), `compact` (at most 7: the current status and health, desired running, "
            "next transition, savings) or `off` (none). The per-policy series exist in every "
            "mode. `compact` keeps 10,000 deployments' scrape under 8 MB."
        ),
    )

    # --- The daemon -------------------------------------------------------
    policy_path: Path = Field(
        default=Path("./policies"),
        description="Policy file, or directory whose .yaml/.yml files are all read in name order.",
    )
    allow_empty_policies: bool = Field(
        default=False,
        description=(
            "Run with a policy set that holds no policy (no policy file, or a pricing block alone). "
            "Off by default: an empty set at start, or a half-written ConfigMap or checkout on reload, "
            "would otherwise switch every schedule off in silence; it is refused instead (at start "
            "the daemon exits 2, on reload the previous set stays in force)."
        ),
    )
    state_url: str = Field(
        default="sqlite:///./scaler-state.db",
        description="Where the daemon keeps its memory: sqlite:///PATH or postgresql://...",
    )
    state_url_file: Path | None = Field(
        default=None,
        description=(
            "File holding SCALER_STATE_URL, e.g. a mounted secret, so that a database password is "
            "kept out of the environment. Read once at start; surrounding whitespace is dropped. "
            "Exclusive with SCALER_STATE_URL."
        ),
    )
    dry_run: bool = Field(
        default=False,
        description="Decide, log and count every action, but send no mutating call.",
    )
    allow_delete: bool = Field(
        default=False,
        description="Let `expire` rules delete deployments. Off by default: deletion cannot be undone.",
    )
    reconcile_interval_seconds: float = Field(
        default=60.0,
        ge=1,
        description=(
            "Seconds between inventory + reconcile cycles. Boundaries get their own "
            "wake-up, so this only bounds how fast new deployments and drift are seen."
        ),
    )
    health_interval_seconds: float = Field(
        default=30.0,
        ge=1,
        description=(
            "Seconds between health polls of running deployments whose policy has health "
            "rules. Health rules hold for minutes, so 30 s measures them to within a "
            "twentieth of a 10-minute `for`."
        ),
    )
    health_idle_interval_seconds: float = Field(
        default=300.0,
        ge=0,
        description=(
            "Seconds between health polls of running deployments that no health rule "
            "watches (0: never). Their health only feeds /status, metrics and alerts "
            "that wait 15 minutes or more, so 5 minutes is timely at a tenth of the requests."
        ),
    )
    new_deployment_grace_seconds: float = Field(
        default=900.0,
        ge=0,
        le=7 * 24 * 3600,
        description=(
            "Seconds a deployment that appears after the scaler's first inventory is left alone "
            "before its policy applies (0: none). 15 minutes, as the best-known downscalers use, "
            "lets a person who creates a deployment outside its policy's hours try it before it is "
            "stopped. A policy's `grace_period` overrides it."
        ),
    )
    max_actions_per_cycle: int = Field(
        default=20,
        ge=1,
        description=(
            "Mutating calls at most per cycle; the rest wait for the next cycle, most "
            "urgent first. Bounds the damage a wrong policy can do in one minute."
        ),
    )
    http_host: str = Field(
        default="127.0.0.1",
        description="Address of /metrics, /healthz, /readyz and /status. The container sets 0.0.0.0.",
    )
    http_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Port of the daemon's HTTP server (9464: the usual exporter port range).",
    )

    @model_validator(mode="before")
    @classmethod
    def _state_url_from_its_file(cls, data: Any) -> Any:
        """Read SCALER_STATE_URL_FILE into ``state_url``; both set is an error."""
        if not isinstance(data, dict) or data.get("state_url_file") is None:
            return data
        if data.get("state_url") is not None:
            raise ValueError(f"{ENV_PREFIX}STATE_URL and {ENV_PREFIX}STATE_URL_FILE are both set; set only one")
        path = Path(data["state_url_file"])
        return {**data, "state_url": read_setting_file(path, f"{ENV_PREFIX}STATE_URL_FILE")}
