"""``scaler deployments``: look at and operate the organization's deployments by hand.

Each command is one API call through :class:`~scaler.simplismart.client.SimplismartClient`
with the settings from the environment. A deployment is given by id or by name: a name is
looked up in the organization's list first (one more call), and a name shared by several
deployments is refused, listing their ids. Results go to stdout as an aligned table or,
with ``--output json``, as the client's typed models in JSON; a failure is one line on
stderr (the platform's message and the request id) with exit status 1, or 2 for bad
settings and usage. Logging is quiet (errors only) unless SCALER_LOG_LEVEL is set, so
the output is the result; SCALER_LOG_LEVEL=debug shows every request.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import click
from pydantic import BaseModel

from scaler.cli.common import call_platform, fail
from scaler.cli.naming import as_id, matching, the_one
from scaler.cli.usage import WholeHelpGroup, epilog, examples_only
from scaler.simplismart.models import Deployment, DeploymentHealth, DeploymentStatus, HealthStatus

_output_option = click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="table for people, json for scripts.",
)


def render_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Return ``rows`` under ``headers`` as plain columns aligned with spaces (no trailing blanks)."""
    cells = [[str(header) for header in headers], *[["" if cell is None else str(cell) for cell in row] for row in rows]]
    widths = [max(len(row[column]) for row in cells) for column in range(len(headers))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def _dump(value: BaseModel | list[BaseModel], **extra: Any) -> str:
    if isinstance(value, list):
        return json.dumps([item.model_dump(mode="json") for item in value], indent=2)
    return json.dumps({**extra, **value.model_dump(mode="json")}, indent=2)


def _status_text(deployment: Deployment) -> str:
    if deployment.status is DeploymentStatus.UNKNOWN:
        return f"{deployment.status_raw or '-'} (unknown)"
    return deployment.status.value


def _health_text(health: DeploymentHealth) -> str:
    if health.status is HealthStatus.UNRECOGNIZED:
        return f"{health.status_raw} (unrecognized)"
    return health.status.value


def deployments_table(deployments: Sequence[Deployment]) -> str:
    """Return the deployments as a table, by name, with a count line."""
    if not deployments:
        return "no deployments"
    rows = [
        (
            deployment.deployment_id,
            deployment.deployment_name,
            _status_text(deployment),
            ",".join(deployment.accelerator_type) or "-",
            deployment.accelerator_count,
            deployment.model_repo_name or deployment.model_repo_id or "-",
        )
        for deployment in sorted(deployments, key=lambda item: (item.deployment_name, str(item.deployment_id)))
    ]
    table = render_table(("ID", "NAME", "STATUS", "ACCELERATOR", "COUNT", "MODEL REPO"), rows)
    noun = "deployment" if len(deployments) == 1 else "deployments"
    return f"{table}\n\n{len(deployments)} {noun}"


def health_table(health: DeploymentHealth) -> str:
    """Return the health answer as labelled lines."""
    pods = "-" if health.pods is None else f"{health.pods.ready} ready, {health.pods.not_ready} not ready"
    rows: list[tuple[str, str]] = [("health", _health_text(health)), ("pods", pods)]
    for message in health.messages:
        rows.append(("message", f"[{message.severity}] {message.message}"))
    return render_table(("FIELD", "VALUE"), rows)


#: Exit statuses of the commands that call the platform.
PLATFORM_EXITS = {
    0: "done",
    1: "unknown or ambiguous name, or the platform refused or the call failed (one line on stderr)",
    2: "bad usage or settings (no token, say)",
}
_ID = "1e99a854-26de-4c19-b6b6-68c7e03c39c3"
_NAME_OR_ID = click.argument("name_or_id", metavar="NAME-OR-ID")


@dataclass(frozen=True)
class Target:
    """The deployment a command acts on: its id, and its name when it was looked up."""

    deployment_id: UUID | str
    name: str | None = None

    @property
    def label(self) -> str:
        """``whisper-v3 (1e99a854-...)``, or the id alone when the name is not known."""
        return f"{self.name} ({self.deployment_id})" if self.name else str(self.deployment_id)


def resolve_target(name_or_id: str, *, want_name: bool = False) -> Target:
    """The deployment ``name_or_id`` names. An id is taken as it is (looked up only when
    ``want_name``); a name is looked up in the organization's list. Exits 1 for a name that
    names no deployment or several."""
    key = as_id(name_or_id)
    if key is not None and not want_name:
        return Target(key)
    listed = call_platform(lambda client: client.list_deployments())
    found = matching(((d.deployment_id, d.deployment_name) for d in listed), name_or_id)
    if key is not None and not found:
        return Target(key)  # not listed: the call itself says what the platform knows of it
    deployment_id, name = the_one(found, name_or_id, searched="the organization's list of deployments")
    return Target(deployment_id, name)


def _dump_for(target: Target, result: BaseModel) -> str:
    return _dump(result, deployment_id=str(target.deployment_id))


@click.group(
    "deployments",
    cls=WholeHelpGroup,
    epilog=examples_only(["scaler deployments list", "scaler deployments stop whisper-v3"]),
)
def deployments() -> None:
    """Look at and operate the organization's deployments directly, outside any policy."""


@deployments.command(
    "list",
    epilog=epilog(["scaler deployments list", "scaler deployments list -o json > inventory.json"], PLATFORM_EXITS),
)
@click.option("--model-repo-id", metavar="UUID", help="Only the deployments of this model repository.")
@_output_option
def list_command(model_repo_id: str | None, output: str) -> None:
    """List the organization's deployments."""
    result = call_platform(lambda client: client.list_deployments(model_repo_id))
    click.echo(_dump(result) if output == "json" else deployments_table(result))


@deployments.command(
    "health",
    epilog=epilog(["scaler deployments health whisper-v3", f"scaler deployments health {_ID}"], PLATFORM_EXITS),
)
@_NAME_OR_ID
@_output_option
def health_command(name_or_id: str, output: str) -> None:
    """Show the health of a deployment (by name or id): aggregated value, pods and messages."""
    target = resolve_target(name_or_id)
    result = call_platform(lambda client: client.get_health(target.deployment_id))
    click.echo(_dump_for(target, result) if output == "json" else health_table(result))


@deployments.command(
    "scale", epilog=epilog(["scaler deployments scale whisper-v3 --min 1 --max 3"], PLATFORM_EXITS)
)
@_NAME_OR_ID
@click.option("--min", "min_replicas", type=int, required=True, help="Minimum replicas (>= 0).")
@click.option("--max", "max_replicas", type=int, required=True, help="Maximum replicas (>= 1, >= --min).")
@_output_option
def scale_command(name_or_id: str, min_replicas: int, max_replicas: int, output: str) -> None:
    """Set the autoscaling bounds of a deployment (by name or id)."""
    target = resolve_target(name_or_id)
    result = call_platform(lambda client: client.update_replicas(target.deployment_id, min_replicas, max_replicas))
    if output == "json":
        click.echo(_dump_for(target, result))
        return
    applied_min = min_replicas if result.min_replicas is None else result.min_replicas
    applied_max = max_replicas if result.max_replicas is None else result.max_replicas
    message = result.message or "replica bounds updated"
    click.echo(f"{target.label}: {message} (min {applied_min}, max {applied_max})")


def _start_or_stop(name_or_id: str, action: Literal["start", "stop"], output: str) -> None:
    """Resume or pause the deployment ``name_or_id`` names, and print the platform's answer."""
    target = resolve_target(name_or_id)
    result = call_platform(
        lambda client: (client.start if action == "start" else client.stop)(target.deployment_id)
    )
    if output == "json":
        click.echo(_dump_for(target, result))
    else:
        click.echo(f"{target.label}: {result.message or action + ' requested'}")


@deployments.command("start", epilog=epilog(["scaler deployments start whisper-v3"], PLATFORM_EXITS))
@_NAME_OR_ID
@_output_option
def start_command(name_or_id: str, output: str) -> None:
    """Resume a deployment (by name or id; SCALER_ORG_ID names the organization)."""
    _start_or_stop(name_or_id, "start", output)


@deployments.command("stop", epilog=epilog(["scaler deployments stop whisper-v3"], PLATFORM_EXITS))
@_NAME_OR_ID
@_output_option
def stop_command(name_or_id: str, output: str) -> None:
    """Pause a deployment (by name or id): it scales to zero until started (SCALER_ORG_ID names the organization)."""
    _start_or_stop(name_or_id, "stop", output)


@deployments.command(
    "delete",
    epilog=epilog(
        ["scaler deployments delete whisper-v3", f"scaler deployments delete {_ID} --yes"],
        {**PLATFORM_EXITS, 1: "not confirmed, unknown or ambiguous name, or the platform refused or the call failed"},
    ),
)
@_NAME_OR_ID
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@_output_option
def delete_command(name_or_id: str, yes: bool, output: str) -> None:
    """Delete a deployment (by name or id) permanently; asks first, naming it and its id, unless --yes."""
    target = resolve_target(name_or_id, want_name=not yes)
    if not yes:
        try:
            question = f"Delete deployment {target.label}? This cannot be undone."
            confirmed = click.confirm(question, default=False, err=True)
        except click.Abort as abort:
            if isinstance(abort.__context__, KeyboardInterrupt):
                raise  # Ctrl-C at the question: the command is interrupted
            click.echo(err=True)  # no answer: end of input
            confirmed = False
        if not confirmed:
            fail("deletion not confirmed, nothing deleted (pass --yes to skip the question)")
    result = call_platform(lambda client: client.delete(target.deployment_id))
    if output == "json":
        click.echo(_dump_for(target, result))
    else:
        click.echo(f"{target.label}: {result.message or 'deleted'}")
