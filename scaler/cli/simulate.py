"""``scaler simulate``: a week of the real daemon against the simulator in seconds, with the simulator's
ledger beside it (:mod:`scaler.simulation`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from scaler.cli.common import EXIT_FAILURE, EXIT_USAGE, call_platform, fail, policies_option, settings_or_exit
from scaler.cli.policy_commands import _parse_from, _policy_paths, _policy_set_or_exit, _read_inventory
from scaler.cli.usage import epilog
from scaler.logs import configure_logging
from scaler.policy import PolicyError
from scaler.policy.policy_set import PolicySet
from scaler.settings import Settings
from scaler.sim.model import SeedDocument
from scaler.sim.seed import DEFAULT_SEED_PATH, SeedError, load_seed
from scaler.simulation.compare import compare_reports
from scaler.simulation.driver import run_simulation
from scaler.simulation.events import DeploymentName, EventsError, ScriptedEvent, load_events
from scaler.simulation.seed_from_list import seed_from_inventory
from scaler.simulation.report import build_report
from scaler.simulation.run import SIMULATION_SETTINGS, SimulationInput
from scaler.simulation.text import render_report


#: What ``scaler simulate --help`` shows below the options: examples and exit statuses.
_EPILOG = epilog(
    [
        "scaler simulate --policies policies/ --from 2026-12-07T00:00 --events events.yaml",
        "scaler simulate --policies new/ --compare-to old/ --inventory inventory.json --output json",
    ],
    {
        0: "simulated",
        1: "invalid policies, seed, inventory or events (every problem listed), or a failed API call (--live)",
        2: "unreadable path, unusable settings or bad usage",
    },
)

#: The options of ``scaler simulate``, in the order --help lists them.
_OPTIONS = (
    policies_option,
    click.option(
        "--seed",
        "seed_path",
        type=click.Path(path_type=Path),
        help="A simulator seed (deployments, bounds, start-up delays, quotas). Default: the built-in seed.",
    ),
    click.option(
        "--inventory", type=click.Path(path_type=Path), help="A saved list response of GET /deployments/list/model/."
    ),
    click.option("--live", is_flag=True, help="List the organization's deployments through the API, then simulate only."),
    click.option("--from", "start", callback=_parse_from, help="Start, ISO 8601 (UTC when no offset). Default: now."),
    click.option("--days", type=click.IntRange(1, 366), default=7, show_default=True, help="Length of the simulation."),
    click.option("--events", "events_path", type=click.Path(path_type=Path), help="Scripted platform events (YAML)."),
    click.option(
        "--compare-to",
        "compare_paths",
        multiple=True,
        type=click.Path(path_type=Path),
        help="A second policy file or directory (repeatable) run on the same organization and events.",
    ),
    click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True),
)


def _with_options(command: Callable[..., None]) -> Callable[..., None]:
    """``command`` with :data:`_OPTIONS`, as if each were a decorator written above it in that order."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


@click.command("simulate", epilog=_EPILOG)
@_with_options
def simulate(
    policy_paths: tuple[Path, ...],
    seed_path: Path | None,
    inventory: Path | None,
    live: bool,
    start: datetime,
    days: int,
    events_path: Path | None,
    compare_paths: tuple[Path, ...],
    output: str,
) -> None:
    """Run the real daemon on a simulated organization for DAYS days of virtual time, and report
    what it did, what it saved (counted by the scaler, realized by the simulated platform), how
    that compares with `scaler plan`, and how often peak windows started Healthy.

    The organization comes from at most one of --seed FILE, --inventory FILE or --live
    (default: the built-in seed). The daemon's settings (intervals, SCALER_MAX_ACTIONS_PER_CYCLE,
    SCALER_DRY_RUN, SCALER_ALLOW_DELETE) apply as in `scaler run`; its state store is a
    throw-away one. Nothing is ever sent to the platform: --live only lists.
    """
    if sum((seed_path is not None, inventory is not None, live)) > 1:
        raise click.UsageError("give at most one of --seed FILE, --inventory FILE or --live")
    until = start + timedelta(days=days)
    labels = _policy_paths(policy_paths, option="--policies")
    policy_set = _policy_set_or_exit(labels)
    compare_labels = {path: f"--compare-to {path}" for path in compare_paths}
    if compare_labels:
        _policy_set_or_exit(compare_labels)
    seed = _organization(seed_path, inventory, live, policy_set)
    settings = _settings()
    events = _events(events_path, seed, start, until)
    report, requests = _simulate(seed, tuple(labels), start, until, settings, events)
    if compare_labels:
        theirs, _ = _simulate(seed, tuple(compare_labels), start, until, settings, events)
        report["comparison"] = compare_reports(report, theirs)
    _echo(report, requests, output)


def _echo(report: dict[str, Any], requests: int, output: str) -> None:
    """Print ``report`` as JSON (indented on a terminal) or as the table for people."""
    if output == "json":
        indent = 2 if sys.stdout.isatty() else None
        click.echo(json.dumps(report, indent=indent))
    else:
        click.echo(render_report(report, requests=requests))


def _settings() -> Settings:
    """The daemon's settings from the environment, pointed at the simulator and a throw-away store;
    the simulated daemon's own log kept to critical lines unless SCALER_LOG_LEVEL asks for more (its
    instants are the wall clock's, not the simulation's)."""
    settings = settings_or_exit(**SIMULATION_SETTINGS)
    if "log_level" not in settings.model_fields_set:
        configure_logging(log_format=settings.log_format, log_level="critical")
    return settings


def _organization(seed_path: Path | None, inventory: Path | None, live: bool, policy_set: PolicySet) -> SeedDocument:
    """The organization to simulate; exit 2 for an unreadable file, 1 for an invalid one."""
    if inventory is not None:
        return seed_from_inventory(_read_inventory(inventory), policy_set, source=str(inventory))
    if live:
        listed = call_platform(lambda client: client.list_deployments())
        return seed_from_inventory(listed, policy_set, source="--live")
    path = seed_path or DEFAULT_SEED_PATH
    if seed_path is not None and not seed_path.is_file():
        fail(f"--seed {seed_path}: no such file", code=EXIT_USAGE)
    try:
        return load_seed(path)
    except SeedError as exc:
        fail(str(exc), code=EXIT_FAILURE)


def _events(path: Path | None, seed: SeedDocument, start: datetime, until: datetime) -> tuple[ScriptedEvent, ...]:
    """The scripted events about ``seed``'s deployments; exit 2 for an unreadable file, 1 listing every
    problem of an invalid one."""
    if path is None:
        return ()
    names = [DeploymentName(item.deployment_id, item.deployment_name) for item in seed.deployments]
    try:
        return tuple(load_events(path, names, start, until))
    except OSError as exc:
        fail(f"--events {path}: cannot be read ({exc.strerror or exc})", code=EXIT_USAGE)
    except EventsError as exc:
        for issue in exc.issues:
            click.echo(str(issue))
        count = len(exc.issues)
        fail(f"{count} problem{'s' if count != 1 else ''} in the events file", code=EXIT_FAILURE)


def _simulate(
    seed: SeedDocument,
    policy_paths: tuple[Path, ...],
    start: datetime,
    until: datetime,
    settings: Settings,
    events: tuple[ScriptedEvent, ...],
) -> tuple[dict[str, Any], int]:
    inputs = SimulationInput(
        seed=seed, policy_paths=policy_paths, start=start, until=until, settings=settings, events=events
    )
    try:
        run = run_simulation(inputs)
    except PolicyError as exc:  # checked before; only a file changed meanwhile gets here
        fail(str(exc), code=EXIT_FAILURE)
    return build_report(run), run.requests
