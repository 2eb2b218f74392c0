"""The settings of the platform: where it is, how the scaler authenticates and how hard it may call it."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

from pydantic import BaseModel, Field, SecretStr, field_validator

DEFAULT_API_URL = "https://api.app.simplismart.ai"


class PlatformSettings(BaseModel):
    """The Simplismart API and the client's limits on it."""

    api_url: str = Field(
        default=DEFAULT_API_URL,
        description="Base URL of the Simplismart API. Default: the public platform.",
    )
    api_token: SecretStr | None = Field(
        default=None,
        description="Bearer token (JWT). Prefer SCALER_API_TOKEN_FILE in production.",
    )
    api_token_file: Path | None = Field(
        default=None,
        description=(
            "File holding the bearer token, e.g. a mounted secret. Re-read when it "
            "changes, so a rotated token is picked up without a restart. Wins over "
            "SCALER_API_TOKEN when both are set."
        ),
    )
    org_id: UUID | None = Field(
        default=None,
        description=(
            "Organization UUID, sent as `org` by start/stop calls. Read once at start: a changed "
            "value takes effect at a restart. Refused by the platform, it pauses every start and stop."
        ),
    )
    http_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds allowed to connect and, separately, to read one response. "
            "10 s is far above the platform's normal answer time yet short enough "
            "that a hung request cannot delay a boundary by a whole cycle."
        ),
    )
    max_concurrency: int = Field(
        default=10,
        ge=1,
        le=1000,
        description=(
            "Requests in flight at once. 10 keeps a 1,000-deployment health poll "
            "well inside the default health interval without bursting the platform."
        ),
    )
    max_requests_per_second: float = Field(
        default=20.0,
        gt=0,
        description=(
            "Ceiling on the request rate (all endpoints together). The platform "
            "publishes no limit; 20/s is polite and still polls 1,000 deployments "
            "in under a minute."
        ),
    )
    api_retry_attempts: int = Field(
        default=4,
        ge=1,
        le=20,
        description="Attempts per call for transient failures (5xx, 429, timeouts), first one included.",
    )
    api_retry_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        description=(
            "Upper bound, in seconds, on the time one call may spend retrying. 30 s "
            "keeps a struggling platform from stalling a reconcile cycle."
        ),
    )
    ca_bundle: Path | None = Field(
        default=None,
        description="PEM file of extra certificate authorities, for a proxy or a private endpoint.",
    )

    @field_validator("api_url")
    @classmethod
    def _api_url_is_http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")
