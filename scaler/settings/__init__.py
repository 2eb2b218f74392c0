"""Process configuration: every ``SCALER_*`` environment variable, read once.

The entry point builds one :class:`Settings` with :func:`load_settings` and passes
it down keyword-only; nothing else reads the environment. A missing or malformed
variable becomes a :class:`SettingsError` whose text names the variable.

:class:`Settings` is composed of one class per group of settings, each in its module with
its fields and their checks: the platform (:mod:`~scaler.settings.platform`), the daemon's
own running (:mod:`~scaler.settings.daemon`), the control API (:mod:`~scaler.settings.control`),
notifications (:mod:`~scaler.settings.notifications`) and leader election
(:mod:`~scaler.settings.leadership`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from scaler.redaction import MARKER, redact_url_passwords
from scaler.settings.control import ControlSettings
from scaler.settings.daemon import DaemonSettings
from scaler.settings.leadership import (
    DEFAULT_LEADER_CAMPAIGN_SECONDS,
    DEFAULT_LEADER_HEARTBEAT_SECONDS,
    DEFAULT_LEADER_LEASE_SECONDS,
    DEFAULT_LEADER_TAKEOVER_DELAY_SECONDS,
    LeadershipSettings,
    check_leader_timing,
)
from scaler.settings.notifications import NotificationSettings, webhook_url_problem
from scaler.settings.platform import DEFAULT_API_URL, PlatformSettings
from scaler.settings.variables import ENV_PREFIX, read_setting_file

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_LEADER_CAMPAIGN_SECONDS",
    "DEFAULT_LEADER_HEARTBEAT_SECONDS",
    "DEFAULT_LEADER_LEASE_SECONDS",
    "DEFAULT_LEADER_TAKEOVER_DELAY_SECONDS",
    "ENV_PREFIX",
    "Settings",
    "SettingsError",
    "check_leader_timing",
    "describe_validation_error",
    "load_settings",
    "read_setting_file",
    "setting_variables",
    "unknown_variables",
    "webhook_url_problem",
]


class SettingsError(Exception):
    """A setting is missing or malformed; the message names the variable."""



# pydantic gathers the fields of the bases from the last to the first: the groups are named in
# the reverse of the order their variables are listed in (the platform's first).
class Settings(
    LeadershipSettings, NotificationSettings, ControlSettings, DaemonSettings, PlatformSettings, BaseSettings
):
    """Everything the scaler can be told through its environment."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="ignore",
        frozen=True,
        validate_default=True,
    )

    def __repr_args__(self) -> Any:
        """What ``repr`` and ``str`` show: every field, the database password replaced (the token is a SecretStr)."""
        for name, value in super().__repr_args__():
            yield name, redact_url_passwords(value) if name == "state_url" and isinstance(value, str) else value

    def public_view(self) -> dict[str, Any]:
        """Return every setting as plain data, secrets replaced by a marker."""
        view = self.model_dump(mode="json")
        view["api_token"] = MARKER if self.api_token is not None else None
        view["notify_webhook_urls"] = MARKER if self.notify_webhook_urls is not None else None
        view["state_url"] = redact_url_passwords(self.state_url)
        return view



def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment (and explicit overrides).

    Raises :class:`SettingsError` with one line per bad variable, each naming it: first
    every ``SCALER_*`` variable that is no setting (a misspelt ``SCALER_DRY_RUN`` must
    not turn a dry run into a real one), then every malformed value.
    """
    problems = unknown_variables(os.environ)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        problems.append(describe_validation_error(exc))
    if problems:
        raise SettingsError("\n".join(problems))
    return settings


def setting_variables() -> list[str]:
    """Return the name of every setting's environment variable (``SCALER_DRY_RUN``...)."""
    return [f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields]


def unknown_variables(environ: Mapping[str, str]) -> list[str]:
    """Return one line for each variable of ``environ`` that starts with ``SCALER_`` but is no
    setting, naming the closest setting when one is close. Names are compared without regard
    to case, as the settings are read."""
    known = setting_variables()
    lines = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or upper in known:
            continue
        suffixes = [variable.removeprefix(ENV_PREFIX) for variable in known]
        close = difflib.get_close_matches(upper.removeprefix(ENV_PREFIX), suffixes, n=1, cutoff=0.6)
        hint = f"did you mean {ENV_PREFIX}{close[0]}?" if close else "no setting has a similar name"
        lines.append(f"{name} is not a setting; {hint}")
    return lines


def describe_validation_error(exc: ValidationError) -> str:
    """Render a settings validation error as lines of ``SCALER_<NAME>: problem``."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        if not error["loc"]:  # a check across fields: its message names the variables itself
            lines.append(error["msg"].removeprefix("Value error, "))
            continue
        field = str(error["loc"][0])
        lines.append(f"{ENV_PREFIX}{field.upper()}: {error['msg']}")
    return "\n".join(lines)
