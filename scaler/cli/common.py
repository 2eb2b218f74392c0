"""Helpers shared by the commands: settings, logging and one-line failures."""

from __future__ import annotations

from typing import Any, NoReturn

import click

from scaler.logs import configure_logging, redact
from scaler.settings import Settings, SettingsError, load_settings

#: Exit status of a command that failed because of its input or the platform.
EXIT_FAILURE = 1
#: Exit status of a command that could not start: bad usage, settings or an unreadable path.
EXIT_USAGE = 2


def fail(message: str, *, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``message`` as one clear line on stderr (secrets scrubbed) and exit with ``code``."""
    click.echo(f"error: {redact(message)}", err=True)
    raise SystemExit(code)


def settings_or_exit(**overrides: Any) -> Settings:
    """Load the settings, configure logging from them, or exit naming the bad variable."""
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        for line in str(exc).splitlines():
            click.echo(f"error: {line}", err=True)
        raise SystemExit(EXIT_USAGE) from None
    configure_logging(log_format=settings.log_format, log_level=settings.log_level)
    return settings
