"""``scaler validate`` and ``scaler plan``: check policy files, and show what they will do and save;
``scaler examples`` and ``scaler schema``: the example policies and the JSON Schema the package ships.

``scaler plan`` reads the deployments from a saved list response (``--inventory``) or
lists them through the API (``--live``); the engine itself never does I/O.
"""

from __future__ import annotations

import fnmatch
import json
import sys
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID

import click
from pydantic import ValidationError

from scaler.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    call_platform,
    describe_policy_path_error,
    fail,
    policies_option,
    policy_path_label,
    quiet_settings,
)
from scaler.cli.plan_exceptions import exceptions_over
from scaler.cli.plan_memory import StateStoreReader, learned_startups, new_deployments, state_store_reader, touched
from scaler.cli.usage import epilog
from scaler.policy.errors import PolicyLoadError, PolicyPathError, PolicySetEmpty
from scaler.policy.loader import load_policy_set, require_policies
from scaler.policy.matching import policies_matching_nothing
from scaler.policy.policy_set import PolicySet
from scaler.policy.forecast import Forecast
from scaler.policy.plan import build_plan
from scaler.policy.report import render_plan_table
from scaler.policy.shipped import example_texts, schema_text
from scaler.simplismart.models import Deployment

F = TypeVar("F", bound=Callable[..., Any])


def _policy_set_or_exit(paths: Mapping[Path, str]) -> PolicySet:
    """Load the policies (each path with how to name it), or print every issue (stdout) and exit 1;
    exit 2 for an unreadable path."""
    try:
        policy_set = load_policy_set(list(paths))
    except PolicyPathError as exc:
        fail(describe_policy_path_error(exc, paths), code=EXIT_USAGE)
    except PolicyLoadError as exc:
        for issue in exc.issues:
            click.echo(str(issue))
        count = len(exc.issues)
        fail(f"{count} problem{'s' if count != 1 else ''} in the policy files", code=EXIT_FAILURE)
    try:
        require_policies(policy_set, list(paths))
    except PolicySetEmpty as exc:
        fail(exc.describe(paths), code=EXIT_FAILURE)
    return policy_set


def _policy_paths(paths: tuple[Path, ...], *, option: str | None = None) -> dict[Path, str]:
    """The paths given (as an option's values or as arguments), else SCALER_POLICY_PATH; each with its name."""
    if paths:
        return {path: f"{option} {path}" if option else str(path) for path in paths}
    settings = quiet_settings()
    return {settings.policy_path: policy_path_label(settings)}


@click.command(
    "validate",
    epilog=epilog(
        ["scaler validate policies/", "scaler validate policies/office.yaml policies/night.yaml"],
        {0: "valid", 1: "invalid (every problem listed) or no policy file", 2: "unreadable path or unusable settings"},
    ),
)
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(paths: tuple[Path, ...]) -> None:
    """Check policy files and list every problem as FILE:LINE: PATH: message.

    PATHS are files or directories (their own .yaml/.yml files, in name order);
    default: SCALER_POLICY_PATH.
    """
    policy_set = _policy_set_or_exit(_policy_paths(paths))
    click.echo(f"valid: {policy_set.summary()}")


def _parse_from(_: click.Context, __: click.Parameter, value: str | None) -> datetime:
    if value is None:
        return datetime.now(timezone.utc).replace(microsecond=0)
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not ISO 8601, e.g. 2026-12-21T08:00 or 2026-12-21T08:00+01:00") from None
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=timezone.utc)


def _read_inventory(path: Path) -> list[Deployment]:
    """Return the deployments of a saved list response; exit 2 when unreadable, 1 when malformed."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        fail(f"{path}: cannot be read ({exc.strerror or exc})", code=EXIT_USAGE)
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        fail(f"{path}: not JSON{where}; expected the list response of GET /deployments/list/model/ (a JSON array)")
    if not isinstance(data, list):
        fail(f"{path}: expected a JSON array of deployments (the list response of GET /deployments/list/model/)")
    deployments = []
    for index, item in enumerate(data):
        try:
            deployments.append(Deployment.model_validate(item))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            field = ".".join(str(part) for part in first["loc"]) or "entry"
            fail(f"{path}: deployment [{index}]: {field}: {first['msg']}")
    return deployments


_PLAN_EPILOG = epilog(
    [
        "scaler plan --inventory inventory.json --from 2026-12-21T00:00 --hours 48",
        "scaler plan --live --deployment 'llama-*' --fail-on-conflict",
    ],
    {
        0: "planned",
        1: "invalid policies or inventory, a failed API call, --deployment matching nothing, "
        "or a conflict with --fail-on-conflict",
        2: "unreadable path, unusable settings or bad usage",
    },
)

#: The options of ``scaler plan`` after --policies, in the order --help lists them.
_PLAN_OPTIONS = (
    click.option(
        "--inventory",
        type=click.Path(path_type=Path),
        help="A saved list response (JSON array of deployments) of GET /deployments/list/model/.",
    ),
    click.option(
        "--live",
        is_flag=True,
        help="List the deployments through the API instead (SCALER_API_URL, SCALER_API_TOKEN or SCALER_API_TOKEN_FILE).",
    ),
    click.option("--from", "start", callback=_parse_from, help="Start, ISO 8601 (UTC when no offset). Default: now."),
    click.option("--hours", type=click.IntRange(1, 24 * 366), default=168, show_default=True, help="Length of the plan."),
    click.option(
        "--deployment",
        "name_globs",
        multiple=True,
        help="Only deployments whose name matches this glob (repeatable); matching none is an error.",
    ),
    click.option(
        "--fail-on-conflict",
        is_flag=True,
        help="Exit 1 when policies conflict over any planned deployment (a CI gate).",
    ),
    click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True),
)


def _with_options(options: tuple[Callable[[F], F], ...]) -> Callable[[F], F]:
    """Apply ``options`` to a command so that they are listed in the order given."""

    def apply(command: F) -> F:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


@click.command("plan", epilog=_PLAN_EPILOG)
@policies_option
@_with_options(_PLAN_OPTIONS)
def plan(
    policy_paths: tuple[Path, ...],
    inventory: Path | None,
    live: bool,
    start: datetime,
    hours: int,
    name_globs: tuple[str, ...],
    fail_on_conflict: bool,
    output: str,
) -> None:
    """Show what the policies will do to each deployment, and what that saves.

    Give exactly one of --inventory FILE or --live. Health rules are not predicted.
    With --live, a policy that selects none of the organization's deployments is named
    in a warning on stderr, and a new deployment (one the daemon's state store, when
    there is one, first saw after its first inventory, or has not seen yet) is left
    alone until its grace period ends (source grace). With --live, the suspensions and
    overrides that store holds in force over the period are laid over the schedule and listed.
    A deployment listed SCALED_DOWN that the scaler has not stopped itself (no applied state
    in its store) saves nothing while the plan keeps it stopped: it would be stopped anyway.
    """
    if (inventory is None) == (not live):
        raise click.UsageError("give exactly one of --inventory FILE or --live")
    policy_set = _policy_set_or_exit(_policy_paths(policy_paths, option="--policies"))
    until = start + timedelta(hours=hours)
    with state_store_reader(quiet_settings) as memory:
        if inventory is not None:
            deployments, new_since, default_grace = _read_inventory(inventory), {}, timedelta(0)
        else:
            deployments, new_since, default_grace = _list_live(policy_set, memory)
        deployments = _named(deployments, name_globs)
        auto_lead = any(policy.has_auto_lead for policy in policy_set.policies)
        result = build_plan(
            policy_set,
            deployments,
            start,
            until,
            new_since=new_since,
            default_grace=default_grace,
            startups=learned_startups(memory) if auto_lead else {},
            exceptions=exceptions_over(memory, policy_set, deployments, start, until) if live else {},
            touched=touched(memory),
        )
    _print_plan(result, output)
    if fail_on_conflict:
        _fail_on_conflicts(result)


def _list_live(
    policy_set: PolicySet, memory: StateStoreReader
) -> tuple[list[Deployment], dict[UUID, datetime], timedelta]:
    """List the organization's deployments through the API, naming on stderr each policy that selects
    none; return them with the new ones' first sightings and the default grace period."""
    deployments = call_platform(lambda client: client.list_deployments())
    for name in policies_matching_nothing(policy_set, deployments):
        click.echo(f"warning: policy {name} matches none of the organization's deployments", err=True)
    settings = quiet_settings()
    new_since = new_deployments(memory, deployments, datetime.now(timezone.utc))
    return deployments, new_since, timedelta(seconds=settings.new_deployment_grace_seconds)


def _named(deployments: list[Deployment], name_globs: tuple[str, ...]) -> list[Deployment]:
    """The deployments whose name matches one of ``name_globs`` (all without globs); exit 1 when none does."""
    if not name_globs:
        return deployments
    chosen = [d for d in deployments if any(fnmatch.fnmatchcase(d.deployment_name, glob) for glob in name_globs)]
    if not chosen:
        globs = ", ".join(repr(glob) for glob in name_globs)
        listed = len(deployments)
        fail(f"no deployment matches --deployment {globs} ({listed} deployment{'s' if listed != 1 else ''} listed)")
    return chosen


def _fail_on_conflicts(result: Forecast) -> None:
    """Exit 1 naming the deployments over which policies conflict, if any."""
    conflicts = [entry for entry in result.deployments if entry.conflict]
    if conflicts:
        named = ", ".join(f"{entry.deployment.deployment_name} ({', '.join(entry.conflict)})" for entry in conflicts)
        fail(f"{len(conflicts)} deployment{'s' if len(conflicts) != 1 else ''} in conflict: {named}")


def _print_plan(result: Forecast, output: str) -> None:
    if output == "json":
        # Indented for a person at a terminal; compact (and much faster to write) otherwise.
        indent = 2 if sys.stdout.isatty() else None
        click.echo(json.dumps(result.to_json(), indent=indent))
    else:
        click.echo(render_plan_table(result))


@click.command(
    "schema",
    epilog=epilog(["scaler schema > policies/schema.json"], {0: "printed"}),
)
def schema() -> None:
    """Print the JSON Schema of policy files (draft 2020-12).

    Save it beside your policies and point your editor at it with a first line
    ``# yaml-language-server: $schema=schema.json``.
    """
    click.echo(schema_text(), nl=False)


@click.command(
    "examples",
    epilog=epilog(
        ["scaler examples ./my-policies", "scaler examples /tmp/try-policies"],
        {0: "written", 1: "a file already exists (nothing written)", 2: "the directory cannot be written"},
    ),
)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def examples(directory: Path) -> None:
    """Write the example policy files into DIRECTORY (created if missing).

    They are the files `scaler demo` runs on: start from them, then check your own with
    `scaler validate DIRECTORY`. Existing files are never overwritten.
    """
    texts = example_texts()
    existing = [name for name in texts if (directory / name).exists()]
    if existing:
        fail(f"{directory}: already holds {', '.join(existing)}; nothing written (choose another directory)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (directory / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"{directory}: cannot be written ({exc.strerror or exc})", code=EXIT_USAGE)
    click.echo(f"wrote {len(texts)} example policy files to {directory}: check them with `scaler validate {directory}`")
