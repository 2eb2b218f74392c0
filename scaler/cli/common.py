"""Helpers shared by the commands: settings, logging, one-line failures and one-off API calls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from scaler.logs import configure_logging, redact
from scaler.policy.durations import parse_duration
from scaler.policy.errors import PolicyPathError
from scaler.settings import ENV_PREFIX, Settings, SettingsError, load_settings
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import ConfigurationError, SimplismartError

ResultT = TypeVar("ResultT")

#: Exit status of a command that failed because of its input or the platform.
EXIT_FAILURE = 1
#: Exit status of a command that could not start: bad usage, settings or an unreadable path.
EXIT_USAGE = 2


policies_option = click.option(
    "--policies",
    "policy_paths",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Policy file or directory (repeatable). Default: SCALER_POLICY_PATH.",
)
"""``--policies PATH`` (repeatable) into ``policy_paths``: the commands that read policy sets take it alike."""


def fail(message: str, *, code: int = EXIT_FAILURE) -> NoReturn:
    """Print ``message`` as one clear line on stderr (secrets scrubbed) and exit with ``code``."""
    click.echo(f"error: {redact(message)}", err=True)
    raise SystemExit(code)


def positive_duration(_: click.Context | None, __: click.Parameter | None, value: str | None) -> timedelta | None:
    """click callback: ``value`` as a duration of the policy language (``30s``, ``2h``, ``1d12h``), longer than 0.

    Raises :class:`click.BadParameter` saying what a duration looks like.
    """
    if value is None:
        return None
    try:
        length = parse_duration(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if length <= timedelta(0):
        raise click.BadParameter("must be longer than 0s")
    return length


def fail_lines(lines: list[str], *, code: int = EXIT_FAILURE) -> NoReturn:
    """Print each of ``lines`` as an ``error:`` line on stderr (secrets scrubbed) and exit with ``code``."""
    for line in lines[:-1]:
        click.echo(f"error: {redact(line)}", err=True)
    fail(lines[-1] if lines else "failed", code=code)


def settings_or_exit(**overrides: Any) -> Settings:
    """Load the settings, configure logging from them, or exit 2 with one line per bad variable."""
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        fail_lines(str(exc).splitlines(), code=EXIT_USAGE)
    configure_logging(log_format=settings.log_format, log_level=settings.log_level)
    return settings


def quiet_settings() -> Settings:
    """Load the settings; keep logging to errors unless SCALER_LOG_LEVEL asks for more."""
    settings = settings_or_exit()
    if "log_level" not in settings.model_fields_set:
        configure_logging(log_format=settings.log_format, log_level="error")
    return settings


def policy_path_label(settings: Settings) -> str:
    """How messages name SCALER_POLICY_PATH: ``SCALER_POLICY_PATH=./policies (the default)`` or
    ``(from the environment)``, so a person knows which setting to change."""
    path = settings.policy_path
    shown = str(path) if path.is_absolute() or str(path).startswith(".") else f"./{path}"
    origin = "from the environment" if "policy_path" in settings.model_fields_set else "the default"
    return f"{ENV_PREFIX}POLICY_PATH={shown} ({origin})"


def describe_policy_path_error(error: PolicyPathError, labels: Mapping[Path, str]) -> str:
    """One line for a policy path that cannot be read, the path named by ``labels`` (where it came
    from: a setting, an option) when it is one of theirs, and a relative path's starting point."""
    label = labels.get(error.path, str(error.path))
    relative = "" if error.path.is_absolute() else f" (relative to {Path.cwd()})"
    return f"{label}: {error.problem}{relative}"


def call_platform(operation: Callable[[SimplismartClient], Awaitable[ResultT]]) -> ResultT:
    """Run one client call with the environment's settings and return its result.

    Exits with one line on stderr: status 2 for unusable settings (no token, say), 1 for
    a failed call (the platform's message and the request id).
    """
    settings = quiet_settings()

    async def run() -> ResultT:
        async with SimplismartClient.from_settings(settings) as client:
            return await operation(client)

    try:
        return asyncio.run(run())
    except ConfigurationError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except SimplismartError as exc:
        fail(str(exc))
