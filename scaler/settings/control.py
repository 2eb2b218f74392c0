"""The settings of the control API: the keys it accepts, and the key the commands send to it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class ControlSettings(BaseModel):
    """The control API's keys (exceptions: suspensions and overrides)."""

    api_keys_file: Path | None = Field(
        default=None,
        description=(
            "YAML or JSON file of the control API's keys: entries of name, role (viewer or "
            "operator) and sha256 (the hex SHA-256 of the key; the file holds no key). Re-read "
            "when it changes. Unset: writes are refused and reads stay open."
        ),
    )
    control_key_file: Path | None = Field(
        default=None,
        description=(
            "File holding the key the commands (scaler suspend, override, resume, exceptions) "
            "send to the daemon's control API. Wins over SCALER_CONTROL_KEY."
        ),
    )
    control_key: SecretStr | None = Field(
        default=None,
        description="The key the commands send to the daemon's control API. Prefer SCALER_CONTROL_KEY_FILE.",
    )
