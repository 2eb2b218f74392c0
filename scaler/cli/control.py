"""``scaler suspend``, ``override``, ``resume`` and ``exceptions``: people's exceptions, through the daemon.

By default they talk to the daemon's control API (``--url``, default
``http://SCALER_HTTP_HOST:SCALER_HTTP_PORT``) with the key of ``SCALER_CONTROL_KEY_FILE`` or
``SCALER_CONTROL_KEY``; the daemon records the exception, and its reconciler acts within
about a second. ``--state-url URL`` writes an existing state store directly instead (for when
the daemon is down), as ``$USER``: a daemon running on that store notices within a second.
Each prints the exception: id, target, resolved deployments, until in local time and UTC, by.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import click
import httpx

from scaler.cli.common import fail, positive_duration, quiet_settings
from scaler.cli.daemon_commands import _default_url, control_headers
from scaler.cli.deployments import render_table
from scaler.cli.exceptions_in_store import (
    create_in_store,
    end_in_store,
    is_no_exception_id,
    named_exceptions,
    read_in_store,
)
from scaler.cli.suspensions import _second, _suspension_end, resume_in_store, suspend_in_store
from scaler.cli.usage import epilog
from scaler.daemon.clock import iso
from scaler.policy import DesiredState
from scaler.settings import Settings

_TARGET_OPTIONS: list[Callable[[Any], Any]] = [
    click.argument("name_or_id", metavar="[NAME-OR-ID]", required=False),
    click.option("--policy", help="Every deployment this policy governs (and those that appear while it lasts)."),
    click.option("--all", "everything", is_flag=True, help="Every deployment (an incident-wide exception)."),
]
_END_OPTIONS: list[Callable[[Any], Any]] = [
    click.option("--for", "length", callback=positive_duration, metavar="DURATION", help="How long: 30m, 3h, 1d12h."),
    click.option(
        "--until", "until_text", metavar="DATETIME", help="Until when: 2026-12-24T18:00 (local time) or with an offset."
    ),
    click.option("--reason", required=True, help="Why, for the people who will wonder (shown in status and logs)."),
]
_WHERE_OPTIONS: list[Callable[[Any], Any]] = [
    click.option("--url", help="The daemon's address. Default: http://SCALER_HTTP_HOST:SCALER_HTTP_PORT."),
    click.option("--state-url", help="Write this existing state store directly instead (the daemon is down)."),
    click.option("--output", "-o", type=click.Choice(["text", "json"]), default="text", show_default=True),
]


def _options(*groups: list[Callable[[Any], Any]]) -> Callable[[Any], Any]:
    def apply(function: Any) -> Any:
        for group in reversed(groups):
            for option in reversed(group):
                function = option(function)
        return function

    return apply


# --- Talking to the daemon ----------------------------------------------------------------


def _request(settings: Settings, url: str | None, method: str, path: str, body: Any = None) -> Any:
    """Send one request to the control API; return its JSON answer, or exit 1 with the daemon's error."""
    target = (url or _default_url(settings)).rstrip("/")
    try:
        response = httpx.request(
            method, f"{target}{path}", json=body, headers=control_headers(settings), timeout=10.0
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach the daemon at {target}: {exc} (with the daemon down, use --state-url)")
    try:
        document = response.json()
    except ValueError:
        fail(f"{target}{path} answered HTTP {response.status_code} without JSON")
    if response.status_code >= 400:
        _refused(response.status_code, document)
    return document


def _refused(status: int, document: Any) -> NoReturn:
    message = document.get("error") if isinstance(document, dict) else None
    hint = {
        401: " (set SCALER_CONTROL_KEY_FILE or SCALER_CONTROL_KEY to a key of the daemon's keys file)",
        403: "",
    }.get(status, "")
    lines = [f"the daemon refused (HTTP {status}): {message or document}{hint}"]
    if isinstance(document, dict) and document.get("candidates"):
        lines[0] += ": " + ", ".join(f"{c['name']} ({c['id']})" for c in document["candidates"])
    fail(lines[0])


# --- Printing ------------------------------------------------------------------------------


def _when(text: str | None) -> str:
    if not text:
        return "-"
    instant = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return f"{instant.astimezone():%Y-%m-%d %H:%M %Z} ({_second(instant)})"


def _target_text(document: dict[str, Any]) -> str:
    target = document["target"]
    if "all" in target:
        return "all deployments"
    if "policy" in target:
        return f"policy {target['policy']}"
    return f"{target.get('name') or ''} ({target['deployment']})".strip()


def _state_text(state: Any) -> str:
    if isinstance(state, dict):
        return f"min={state['min_replicas']} max={state['max_replicas']}"
    return str(state)


def describe(document: dict[str, Any]) -> str:
    """The lines ``scaler suspend``/``override``/``resume`` print for an exception."""
    kind = "override to " + _state_text(document["state"]) if document["kind"] == "override" else "suspension"
    names = [f"{d['name'] or '?'} ({d['id']})" for d in document.get("deployments", [])]
    lines = [
        f"exception {document['id']}: {kind} of {_target_text(document)}",
        f"  deployments: {', '.join(names) if names else 'none listed yet (covered as they appear)'}",
        f"  until: {_when(document['until'])}",
        f"  by: {document['by']}: {document['reason']}",
    ]
    if document.get("ended_at"):
        lines.append(f"  ended: {_when(document['ended_at'])} by {document['ended_by']}")
    return "\n".join(lines)


def _print(document: dict[str, Any], output: str) -> None:
    click.echo(json.dumps(document, indent=2) if output == "json" else describe(document))


# --- Commands ------------------------------------------------------------------------------


def _target_body(name_or_id: str | None, policy: str | None, everything: bool) -> dict[str, Any]:
    given = [name_or_id is not None, policy is not None, everything]
    if sum(given) != 1:
        raise click.UsageError("name exactly one target: NAME-OR-ID, --policy NAME or --all")
    if everything:
        return {"all": True}
    return {"policy": policy} if policy is not None else {"deployment": name_or_id}


def _exception(
    kind: str,
    state: DesiredState | None,
    name_or_id: str | None,
    policy: str | None,
    everything: bool,
    length: timedelta | None,
    until_text: str | None,
    reason: str,
    url: str | None,
    state_url: str | None,
    output: str,
) -> None:
    target = _target_body(name_or_id, policy, everything)
    if not reason.strip():
        raise click.BadParameter("must not be empty", param_hint="--reason")
    now = datetime.now(UTC).replace(microsecond=0)
    until = _suspension_end(now, length, until_text)
    if state_url is not None and kind == "suspend" and name_or_id is not None:
        suspend_in_store(state_url, name_or_id, until, reason.strip(), now)  # one deployment: as it always was
        return
    if state_url is not None:
        document = create_in_store(
            quiet_settings(), state_url, kind=kind, name_or_id=name_or_id, policy=policy, everything=everything,
            state=state, until=until, reason=reason.strip(), now=now,
        )  # fmt: skip
    else:
        # --for goes as a duration: the daemon's clock starts it, whatever this machine's clock says.
        end: dict[str, str] = {"for": f"{int(length.total_seconds())}s"} if length is not None else {"until": iso(until)}
        body: dict[str, Any] = {"kind": kind, "target": target, **end, "reason": reason.strip()}
        if state is not None:
            body["state"] = state.describe() if state.kind != "bounds" else {
                "min_replicas": state.min_replicas, "max_replicas": state.max_replicas,
            }  # fmt: skip
        document = _request(quiet_settings(), url, "POST", "/api/v1/exceptions", body)
    _print(document, output)


_EXIT_CODES = {
    0: "recorded",
    1: "refused by the daemon (key, role, unknown or ambiguous target), the daemon or store cannot be reached",
    2: "bad usage (no target or two, --for/--until missing, in the past or beyond 30 days) or settings",
}


@click.command(
    "suspend",
    epilog=epilog(
        [
            "scaler suspend --policy dev-night --for 1h --reason 'load test'",
            "scaler suspend --all --for 30m --reason 'incident 4711'",
        ],
        _EXIT_CODES,
    ),
)
@_options(_TARGET_OPTIONS, _END_OPTIONS, _WHERE_OPTIONS)
def suspend(
    name_or_id: str | None, policy: str | None, everything: bool, length: timedelta | None,
    until_text: str | None, reason: str, url: str | None, state_url: str | None, output: str,
) -> None:  # fmt: skip
    """Take deployments out of automation for a while: one, a policy's, or all of them.

    Give --for or --until (at most 30 days). The daemon leaves them alone from the moment it
    answers; at the end it applies the schedule's desired state once.
    """
    _exception("suspend", None, name_or_id, policy, everything, length, until_text, reason, url, state_url, output)


@click.command(
    "override",
    epilog=epilog(
        [
            "scaler override llama-3-8b-chat --running --for 3h --reason 'eval tonight'",
            "scaler override llama-3-8b-chat --min 2 --max 4 --until 2026-12-24T18:00 --reason 'launch'",
        ],
        _EXIT_CODES,
    ),
)
@_options(_TARGET_OPTIONS)
@click.option("--running", "wanted", flag_value="running", help="Keep it running (started if stopped).")
@click.option("--stopped", "wanted", flag_value="stopped", help="Keep it stopped.")
@click.option("--min", "low", type=click.IntRange(min=0), help="Keep it running with at least this many replicas.")
@click.option("--max", "high", type=click.IntRange(min=1), help="... and at most this many.")
@_options(_END_OPTIONS, _WHERE_OPTIONS)
def override(
    name_or_id: str | None, policy: str | None, everything: bool, wanted: str | None, low: int | None,
    high: int | None, length: timedelta | None, until_text: str | None, reason: str, url: str | None,
    state_url: str | None, output: str,
) -> None:  # fmt: skip
    """Hold deployments in a state of your choosing for a while, whatever their schedule says.

    Give one of --running, --stopped or --min with --max. The scaler establishes and keeps that
    state (as with enforce: true) until the end, then applies the schedule's state once. A
    suspension beats an override; a restart rule still restarts an unhealthy deployment.
    """
    state = _wanted_state(wanted, low, high)
    _exception("override", state, name_or_id, policy, everything, length, until_text, reason, url, state_url, output)


def _wanted_state(wanted: str | None, low: int | None, high: int | None) -> DesiredState:
    bounds = low is not None or high is not None
    if (wanted is not None) == bounds:
        raise click.UsageError("give one of --running, --stopped, or --min with --max")
    if wanted is not None:
        return DesiredState.running() if wanted == "running" else DesiredState.stopped()
    if low is None or high is None:
        raise click.UsageError("--min and --max go together")
    try:
        return DesiredState.bounds(low, high)
    except ValueError as exc:
        raise click.UsageError(f"--min/--max: {str(exc).splitlines()[-1]}") from None


@click.command(
    "resume",
    epilog=epilog(
        [
            "scaler resume 3f9c2a7b10de",
            "scaler resume --all",
        ],
        {
            0: "ended",
            1: "nothing to end, refused by the daemon, the daemon or store cannot be reached",
            2: "bad usage or settings",
        },
    ),
)
@click.argument("what", metavar="[EXCEPTION-ID | NAME-OR-ID]", required=False)
@click.option("--policy", help="End the exceptions of this policy.")
@click.option("--all", "everything", is_flag=True, help="End the exceptions of all deployments.")
@_options(_WHERE_OPTIONS)
def resume(
    what: str | None, policy: str | None, everything: bool, url: str | None, state_url: str | None, output: str
) -> None:
    """End exceptions: one by its id, or those whose target is a deployment, a policy or all.

    The scaler then applies the schedule's desired state once, at once.
    """
    _target_body(what, policy, everything)
    settings = quiet_settings()
    if state_url is not None and what is not None and is_no_exception_id(state_url, what):
        resume_in_store(state_url, what)  # one deployment's suspension: as it always was
        return
    if state_url is not None:
        documents = end_in_store(settings, state_url, what, policy, everything)
    else:
        active = _request(settings, url, "GET", "/api/v1/exceptions")["exceptions"]
        chosen = named_exceptions(active, what, policy, everything)
        documents = [_request(settings, url, "DELETE", f"/api/v1/exceptions/{item['id']}") for item in chosen]
    for document in documents:
        _print(document, output)


@click.command(
    "exceptions",
    epilog=epilog(
        ["scaler exceptions", "scaler exceptions --all -o json"],
        {0: "listed", 1: "refused by the daemon, the daemon or store cannot be reached", 2: "bad usage or settings"},
    ),
)
@click.option("--all", "show_all", is_flag=True, help="Include exceptions that have ended.")
@_options(_WHERE_OPTIONS)
def exceptions(show_all: bool, url: str | None, state_url: str | None, output: str) -> None:
    """List people's exceptions in force (suspensions and overrides): target, until, by, why."""
    now = datetime.now(UTC)
    if state_url is not None:
        documents = read_in_store(state_url, show_all, now)
    else:
        path = "/api/v1/exceptions?all=true" if show_all else "/api/v1/exceptions"
        documents = _request(quiet_settings(), url, "GET", path)["exceptions"]
    if output == "json":
        click.echo(json.dumps({"exceptions": documents}, indent=2))
        return
    if not documents:
        click.echo("no exceptions")
        return
    rows = [
        (
            item["id"],
            item["kind"] + (f" {_state_text(item['state'])}" if item["state"] is not None else ""),
            _target_text(item),
            _when(item["until"]),
            item["by"],
            item["reason"],
            "active" if item["active"] else f"ended {_when(item['ended_at']) if item['ended_at'] else ''}".strip(),
        )
        for item in documents
    ]
    click.echo(render_table(("ID", "KIND", "TARGET", "UNTIL", "BY", "REASON", "STATE"), rows))

