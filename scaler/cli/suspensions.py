"""``scaler suspend``, ``scaler resume``, ``scaler suspensions``: a person takes a deployment out of automation.

They read and write the state store (SCALER_STATE_URL) directly; a running daemon honours
a suspension at its next cycle and reports it (log, ``/status``, ``scaler_deployment_suspended``).
A deployment is named by id or name: first among those the daemon has seen (the store),
else, when API credentials are set, among the organization's deployments. A name shared
by several deployments is refused, listing them, so that the id can be given instead.
"""

from __future__ import annotations

import asyncio
import getpass
from datetime import UTC, datetime, timedelta
from uuid import UUID

import click

from scaler.cli.common import EXIT_USAGE, fail, positive_duration, quiet_settings
from scaler.cli.deployments import render_table
from scaler.cli.naming import matching, the_one
from scaler.cli.usage import epilog
from scaler.daemon.clock import iso
from scaler.settings import Settings
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import SimplismartError
from scaler.store import Store, StoreConfigError, StoreError, open_store


def _store(settings: Settings) -> Store:
    """Open the state store or exit: 2 for a bad SCALER_STATE_URL, 1 when it cannot be used."""
    try:
        return open_store(settings.state_url)
    except StoreConfigError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except StoreError as exc:
        fail(f"the state store cannot be used: {exc}")


def _from_api(settings: Settings, name_or_id: str) -> list[tuple[UUID, str]]:
    """The organization's deployments called ``name_or_id`` (by id or name), or [] without credentials."""
    if settings.api_token is None and settings.api_token_file is None:
        return []

    async def listing() -> list[tuple[UUID, str]]:
        async with SimplismartClient.from_settings(settings) as client:
            deployments = await client.list_deployments()
        return matching(((d.deployment_id, d.deployment_name) for d in deployments), name_or_id)

    try:
        return asyncio.run(listing())
    except SimplismartError as exc:
        fail(f"{name_or_id!r} is not known to the state store, and the API could not be asked: {exc}")


def resolve_deployment(store: Store, settings: Settings, name_or_id: str) -> tuple[UUID, str]:
    """Return (id, name) of the one deployment ``name_or_id`` names, or exit 1 saying why not."""
    found = [(seen.deployment_id, seen.name) for seen in store.find_deployments(name_or_id)]
    if not found:
        found = _from_api(settings, name_or_id)
    return the_one(found, name_or_id, searched="the state store or the organization")


@click.command(
    "suspend",
    epilog=epilog(
        ["scaler suspend llama-3-8b-chat --for 2h --reason 'incident 4711'"],
        {
            0: "recorded",
            1: "unknown or ambiguous deployment, or the state store cannot be used",
            2: "bad usage or settings",
        },
    ),
)
@click.argument("name_or_id", metavar="NAME-OR-ID")
@click.option(
    "--for", "length", required=True, callback=positive_duration, metavar="DURATION", help="How long: 30m, 2h, 1d12h ..."
)
@click.option("--reason", required=True, help="Why, for the people who will wonder (shown in /status and logs).")
def suspend(name_or_id: str, length: timedelta, reason: str) -> None:
    """Take a deployment out of automation for a while (an incident, a launch, an experiment)."""
    if not reason.strip():
        raise click.BadParameter("must not be empty", param_hint="--reason")
    settings = quiet_settings()
    store = _store(settings)
    try:
        deployment_id, name = resolve_deployment(store, settings, name_or_id)
        now = datetime.now(UTC)
        suspension = store.suspend(deployment_id, name, now + length, reason.strip(), now, _who())
    except StoreError as exc:
        fail(f"the suspension could not be recorded: {exc}")
    finally:
        store.close()
    click.echo(f"suspended {name} ({deployment_id}) until {iso(suspension.until)}: {suspension.reason}")


@click.command(
    "resume",
    epilog=epilog(
        ["scaler resume llama-3-8b-chat"],
        {
            0: "resumed",
            1: "not suspended, unknown or ambiguous deployment, or the state store cannot be used",
            2: "bad usage or settings",
        },
    ),
)
@click.argument("name_or_id", metavar="NAME-OR-ID")
def resume(name_or_id: str) -> None:
    """End a deployment's suspension: the scaler applies its desired state again at its next cycle."""
    settings = quiet_settings()
    store = _store(settings)
    try:
        deployment_id, name = resolve_deployment(store, settings, name_or_id)
        active = store.active_suspensions(datetime.now(UTC))
        store.resume(deployment_id)
    except StoreError as exc:
        fail(f"the suspension could not be removed: {exc}")
    finally:
        store.close()
    if deployment_id not in active:
        fail(f"{name} ({deployment_id}) is not suspended")
    click.echo(f"resumed {name} ({deployment_id})")


@click.command(
    "suspensions",
    epilog=epilog(
        ["scaler suspensions", "scaler suspensions --all"],
        {0: "listed", 1: "the state store cannot be read", 2: "unusable settings"},
    ),
)
@click.option("--all", "show_all", is_flag=True, help="Include suspensions that have ended.")
def suspensions(show_all: bool) -> None:
    """List the deployments taken out of automation, and until when."""
    settings = quiet_settings()
    store = _store(settings)
    now = datetime.now(UTC)
    try:
        found = store.all_suspensions() if show_all else store.active_suspensions(now)
    except StoreError as exc:
        fail(f"the suspensions could not be read: {exc}")
    finally:
        store.close()
    if not found:
        click.echo("no suspensions")
        return
    rows = [
        (
            item.deployment_name,
            item.deployment_id,
            iso(item.until),
            _remaining(item.until - now),
            item.reason,
            item.created_by,
        )
        for item in sorted(found.values(), key=lambda item: (item.until, item.deployment_name))
    ]
    click.echo(render_table(("DEPLOYMENT", "ID", "UNTIL", "REMAINING", "REASON", "BY"), rows))


def _remaining(left: timedelta) -> str:
    seconds = int(left.total_seconds())
    if seconds <= 0:
        return "ended"
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if hours else f"{rest // 60}m{rest % 60:02d}s"


def _who() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
