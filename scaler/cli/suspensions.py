"""``scaler suspensions`` and the store-side helpers of ``scaler suspend``/``resume --state-url``.

``scaler suspensions`` reads the state store (SCALER_STATE_URL) directly and lists the
suspensions of one deployment each; :mod:`scaler.cli.control` has the commands that make
and end exceptions. They only open a store the daemon has created: a store started anew here (a relative
SCALER_STATE_URL read from another directory) would be one the daemon never reads.
A deployment is named by id or name: first among those the daemon has seen (the store),
else, when API credentials are set, among the organization's deployments. A name shared
by several deployments is refused, listing them, so that the id can be given instead.
A suspension lasts at most :data:`MAX_SUSPENSION` (exceptions are temporary; leaving a
deployment alone for longer belongs in its policy, ``exclude_names``). Ends are whole seconds.
"""

from __future__ import annotations

import asyncio
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import click

from scaler.cli.common import EXIT_USAGE, fail, quiet_settings
from scaler.cli.deployments import render_table
from scaler.cli.naming import matching, the_one
from scaler.cli.usage import epilog
from scaler.settings import Settings
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import SimplismartError
from scaler.store import Store, StoreConfigError, StoreError, StoreMissing, open_store


#: The longest suspension: exceptions are temporary by design.
MAX_SUSPENSION = timedelta(days=30)


def open_existing_store(url: str) -> Store:
    """Open the existing state store at ``url`` or exit: 2 for a bad URL, 1 when there is no store
    there or it cannot be used."""
    try:
        return open_store(url, create=False)
    except StoreConfigError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except StoreMissing as exc:
        fail(str(exc))
    except StoreError as exc:
        fail(f"the state store cannot be used: {exc}")


@contextmanager
def existing_store(url: str, failure: str) -> Iterator[Store]:
    """The existing state store at ``url`` (see :func:`open_existing_store`), closed after the block;
    a store error in the block exits 1 with ``failure: error``."""
    store = open_existing_store(url)
    try:
        yield store
    except StoreError as exc:
        fail(f"{failure}: {exc}")
    finally:
        store.close()


def _where(store: Store) -> str:
    """The store's location for people: an absolute path for SQLite, the redacted URL for PostgreSQL."""
    return str(Path(store.location).absolute()) if store.backend == "sqlite" else store.location


def _second(instant: datetime) -> str:
    """``2026-03-02 18:00:00Z``: an instant in UTC, to the second."""
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%M:%SZ}"


def _parse_until(text: str) -> datetime:
    """``--until``: an ISO 8601 date-time, local to this machine unless it carries an offset."""
    try:
        instant = datetime.fromisoformat(text.strip())
    except ValueError:
        raise click.UsageError(
            f"--until: {text!r} is not a date-time such as 2026-03-02T18:00 (this machine's local time) "
            "or 2026-03-02T18:00+01:00"
        ) from None
    return instant.astimezone(UTC) if instant.tzinfo is not None else instant.astimezone().astimezone(UTC)


def _suspension_end(now: datetime, length: timedelta | None, until_text: str | None) -> datetime:
    """When the suspension ends, to the second; a usage error unless exactly one of --for and
    --until is given, the end is in the future and at most :data:`MAX_SUSPENSION` away."""
    if (length is None) == (until_text is None):
        raise click.UsageError("give exactly one of --for or --until")
    until = (now + length if length is not None else _parse_until(until_text or "")).replace(microsecond=0)
    if until <= now:
        raise click.UsageError(f"--until: {_second(until)} is not in the future (now: {_second(now)})")
    if until - now > MAX_SUSPENSION:
        raise click.UsageError(
            f"a suspension lasts at most 30 days (this one would end {_second(until)}): exceptions are "
            "temporary; to leave a deployment alone for longer, exclude it in its policy (match.exclude_names)"
        )
    return until


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


def suspend_in_store(state_url: str, name_or_id: str, until: datetime, reason: str, now: datetime) -> None:
    """``scaler suspend NAME --state-url URL``: suspend one deployment in the store, replacing its
    suspension, as ``$USER``; print what was done and the store's location."""
    settings = quiet_settings()
    with existing_store(state_url, "the suspension could not be recorded") as store:
        deployment_id, name = resolve_deployment(store, settings, name_or_id)
        replaced = store.active_suspensions(now).get(deployment_id)
        suspension = store.suspend(deployment_id, name, until, reason, now, _who())
    click.echo(f"suspended {name} ({deployment_id}) until {_second(suspension.until)}: {suspension.reason}")
    if replaced is not None:
        click.echo(f"replaced its suspension until {_second(replaced.until)} ({replaced.reason})")
    click.echo(f"state store: {_where(store)}")


def resume_in_store(state_url: str, name_or_id: str) -> None:
    """``scaler resume NAME --state-url URL``: end one deployment's suspension in the store as ``$USER``."""
    settings = quiet_settings()
    now = datetime.now(UTC)
    with existing_store(state_url, "the suspension could not be removed") as store:
        deployment_id, name = resolve_deployment(store, settings, name_or_id)
        active = store.active_suspensions(now)
        store.resume(deployment_id, now, _who())
    if deployment_id not in active:
        fail(f"{name} ({deployment_id}) is not suspended")
    click.echo(f"resumed {name} ({deployment_id})")


@click.command(
    "suspensions",
    epilog=epilog(
        ["scaler suspensions", "scaler suspensions --all"],
        {0: "listed", 1: "no state store at SCALER_STATE_URL, or it cannot be read", 2: "unusable settings"},
    ),
)
@click.option("--all", "show_all", is_flag=True, help="Include suspensions that have ended.")
def suspensions(show_all: bool) -> None:
    """List the deployments taken out of automation, and until when."""
    settings = quiet_settings()
    now = datetime.now(UTC)
    with existing_store(settings.state_url, "the suspensions could not be read") as store:
        found = store.all_suspensions() if show_all else store.active_suspensions(now)
    if not found:
        click.echo("no suspensions")
        return
    rows = [
        (
            item.deployment_name,
            item.deployment_id,
            _second(item.until),
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
