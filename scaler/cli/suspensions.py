"""``scaler suspend``, ``scaler resume``, ``scaler suspensions``: a person takes a deployment out of automation.

They read and write the state store (SCALER_STATE_URL) directly; a running daemon honours
a suspension at its next cycle and reports it (log, ``/status``, ``scaler_policy_deployments{desired="suspended"}``).
They only open a store the daemon has created: a store started anew here (a relative
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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import click

from scaler.cli.common import EXIT_USAGE, fail, positive_duration, quiet_settings
from scaler.cli.deployments import render_table
from scaler.cli.naming import matching, the_one
from scaler.cli.usage import epilog
from scaler.settings import Settings
from scaler.simplismart.client import SimplismartClient
from scaler.simplismart.errors import SimplismartError
from scaler.store import Store, StoreConfigError, StoreError, StoreMissing, open_store


#: The longest suspension: exceptions are temporary by design.
MAX_SUSPENSION = timedelta(days=30)


def _store(settings: Settings) -> Store:
    """Open the existing state store or exit: 2 for a bad SCALER_STATE_URL, 1 when there is no
    store there or it cannot be used."""
    try:
        return open_store(settings.state_url, create=False)
    except StoreConfigError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except StoreMissing as exc:
        fail(str(exc))
    except StoreError as exc:
        fail(f"the state store cannot be used: {exc}")


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


@click.command(
    "suspend",
    epilog=epilog(
        [
            "scaler suspend llama-3-8b-chat --for 2h --reason 'incident 4711'",
            "scaler suspend whisper-v3 --until 2026-03-02T18:00 --reason 'launch'",
        ],
        {
            0: "recorded",
            1: "unknown or ambiguous deployment, no state store at SCALER_STATE_URL, or it cannot be used",
            2: "bad usage (--for or --until missing, in the past or beyond 30 days) or settings",
        },
    ),
)
@click.argument("name_or_id", metavar="NAME-OR-ID")
@click.option(
    "--for",
    "length",
    callback=positive_duration,
    metavar="DURATION",
    help="How long: 30m, 2h, 1d12h ... (at most 30d).",
)
@click.option(
    "--until",
    "until_text",
    metavar="DATETIME",
    help="Until when: 2026-03-02T18:00 (this machine's local time) or with an offset (+01:00, Z).",
)
@click.option("--reason", required=True, help="Why, for the people who will wonder (shown in /status and logs).")
def suspend(name_or_id: str, length: timedelta | None, until_text: str | None, reason: str) -> None:
    """Take a deployment out of automation for a while (an incident, a launch, an experiment).

    Give --for or --until; a suspension lasts at most 30 days. The suspension is written
    to the daemon's existing state store (SCALER_STATE_URL), which is named.
    """
    if not reason.strip():
        raise click.BadParameter("must not be empty", param_hint="--reason")
    now = datetime.now(UTC).replace(microsecond=0)
    until = _suspension_end(now, length, until_text)
    settings = quiet_settings()
    store = _store(settings)
    try:
        deployment_id, name = resolve_deployment(store, settings, name_or_id)
        replaced = store.active_suspensions(now).get(deployment_id)
        suspension = store.suspend(deployment_id, name, until, reason.strip(), now, _who())
    except StoreError as exc:
        fail(f"the suspension could not be recorded: {exc}")
    finally:
        store.close()
    click.echo(f"suspended {name} ({deployment_id}) until {_second(suspension.until)}: {suspension.reason}")
    if replaced is not None:
        click.echo(f"replaced its suspension until {_second(replaced.until)} ({replaced.reason})")
    click.echo(f"state store: {_where(store)}")


@click.command(
    "resume",
    epilog=epilog(
        ["scaler resume llama-3-8b-chat"],
        {
            0: "resumed",
            1: "not suspended, unknown or ambiguous deployment, "
            "no state store at SCALER_STATE_URL, or it cannot be used",
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
        {0: "listed", 1: "no state store at SCALER_STATE_URL, or it cannot be read", 2: "unusable settings"},
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
