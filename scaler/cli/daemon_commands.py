"""``scaler run`` (the daemon, or one cycle with ``--once``) and ``scaler status`` (a daemon's /status as a table)."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

import click
import httpx
import structlog

from scaler.cli.common import (
    EXIT_FAILURE,
    EXIT_USAGE,
    describe_policy_path_error,
    fail,
    fail_lines,
    policy_path_label,
    quiet_settings,
    settings_or_exit,
)
from scaler.cli.deployments import render_table
from scaler.cli.usage import epilog
from scaler.daemon.api.keys import KeysFileError
from scaler.daemon.journal import ActionReport
from scaler.daemon.board import CycleSummary
from scaler.daemon.service import Daemon
from scaler.daemon.status import DeploymentView
from scaler.metrics import Metrics
from scaler.policy import PolicyError, PolicyLoadError, PolicyPathError, PolicySetEmpty
from scaler.policy.zones import zone
from scaler.settings import ENV_PREFIX, Settings
from scaler.simplismart.errors import SimplismartError
from scaler.store import StoreError

log = structlog.get_logger()


def control_headers(settings: Settings) -> dict[str, str]:
    """The Authorization header with the control key (SCALER_CONTROL_KEY_FILE, else SCALER_CONTROL_KEY),
    when one is set; exit 2 when the file cannot be read."""
    key: str | None = None
    if settings.control_key_file is not None:
        try:
            key = settings.control_key_file.read_text().strip() or None
        except OSError as exc:
            fail(f"SCALER_CONTROL_KEY_FILE: {settings.control_key_file} cannot be read: {exc.strerror}", code=EXIT_USAGE)
    elif settings.control_key is not None:
        key = settings.control_key.get_secret_value().strip() or None
    return {"Authorization": f"Bearer {key}"} if key else {}


def build_daemon(settings: Settings, metrics: Metrics) -> Daemon:
    """Build the daemon and load its policies, or exit: 2 with one line per problem when it cannot start."""
    try:
        daemon = Daemon.from_settings(settings, metrics=metrics)
    except SimplismartError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except StoreError as exc:
        fail(f"the state store cannot be used: {exc}", code=EXIT_USAGE)
    except KeysFileError as exc:
        fail(f"SCALER_API_KEYS_FILE: {exc}", code=EXIT_USAGE)
    try:
        daemon.load_policies()
    except PolicyError as exc:
        asyncio.run(daemon.aclose())
        labels = {settings.policy_path: policy_path_label(settings)}
        if isinstance(exc, PolicyPathError):
            fail(describe_policy_path_error(exc, labels), code=EXIT_USAGE)
        if isinstance(exc, PolicySetEmpty):
            on_purpose = f"set {ENV_PREFIX}ALLOW_EMPTY_POLICIES=true to run with no policy on purpose"
            fail_lines([exc.describe(labels), on_purpose], code=EXIT_USAGE)
        issues = [str(issue) for issue in exc.issues] if isinstance(exc, PolicyLoadError) else [str(exc)]
        fail_lines(issues, code=EXIT_USAGE)
    return daemon


def _action_text(report: ActionReport, view: DeploymentView | None) -> str:
    """``update_replicas min=1 max=2 (window:peak)``: the step as decided, with the source that asked for it."""
    plans = view.decision.plans if view is not None and view.decision is not None else ()
    for plan in plans:
        for step in plan.steps:
            if step.action == report.action and plan.policy == report.policy:
                return f"{step.describe()} ({plan.source})"
    return f"{report.action} ({report.rule or report.reason})"


def skip_reason(skip: str) -> str:
    """A decision's reason to skip without its particulars (an end, a detail after a colon), for counting."""
    return re.split(r" until |: ", skip, maxsplit=1)[0]


def summary_lines(summary: CycleSummary, views: Mapping[UUID, DeploymentView]) -> list[str]:
    """One line per action of a cycle (its values, reason and result), then a count of actions by
    result and of skipped deployments by reason (for ``scaler run --once``)."""
    lines = [
        f"{report.deployment_name} ({report.deployment_id}): "
        f"{_action_text(report, views.get(report.deployment_id))} {report.result}"
        + (f": {report.message}" if report.message else "")
        for report in summary.reports
        if report.new
    ]
    counts = Counter(report.result for report in summary.reports if report.new)
    detail = ", ".join(f"{count} {result}" for result, count in sorted(counts.items()))
    total = sum(counts.values())
    skipped = Counter(
        skip_reason(view.decision.skip)
        for view in views.values()
        if view.considered_at == summary.at and view.decision is not None and view.decision.skip
    )
    by_count = sorted(skipped.items(), key=lambda item: (-item[1], item[0]))
    skipped_detail = ", ".join(f"{count} {reason}" for reason, count in by_count)
    lines.append(
        f"reconciled {summary.considered} deployments: {total} action{'' if total == 1 else 's'}"
        + (f" ({detail})" if detail else "")
        + (f"; {sum(skipped.values())} skipped ({skipped_detail})" if skipped else "")
    )
    return lines


@click.command(
    "run",
    epilog=epilog(
        ["scaler run", "scaler run --once --dry-run"],
        {
            0: "stopped by SIGTERM; with --once: every action succeeded, was deferred or is a dry run",
            1: "with --once: an action failed, or the deployments could not be listed",
            2: "could not start: settings, policies, state store or HTTP port",
            130: "stopped by Ctrl-C (SIGINT), cleanly",
        },
    ),
)
@click.option(
    "--once", is_flag=True, help="Run one full reconcile, then exit (0: every action succeeded or was deferred)."
)
@click.option("--dry-run", is_flag=True, help="Decide, log and count every action, but send no mutating call.")
def run(once: bool, dry_run: bool) -> None:
    """Run the scaler daemon: apply the policies to the organization's deployments.

    Needs SCALER_API_TOKEN or SCALER_API_TOKEN_FILE, SCALER_ORG_ID and SCALER_POLICY_PATH.
    Serves /metrics, /healthz, /readyz and /status on SCALER_HTTP_HOST:SCALER_HTTP_PORT.
    SIGTERM (exit 0) or SIGINT (Ctrl-C, exit 130) stop it cleanly; SIGHUP reloads the policy files.
    """
    settings = settings_or_exit(**({"dry_run": True} if dry_run else {}))
    log.info("settings", **settings.public_view())
    metrics = Metrics(deployment_detail=settings.metrics_deployment_detail)
    daemon = build_daemon(settings, metrics)
    if once:
        summary = asyncio.run(_run_once(daemon))
        if summary.error is None or summary.considered or summary.reports:
            for line in summary_lines(summary, daemon.board.views):
                click.echo(line)
        if not summary.acting:
            click.echo("standby: another instance holds the leader lock, so this run sent nothing", err=True)
        if summary.error is not None:
            fail(summary.error)
        raise SystemExit(0 if summary.ok else EXIT_FAILURE)
    try:
        code = asyncio.run(daemon.run())
    except OSError as exc:
        fail(f"cannot listen on {settings.http_host}:{settings.http_port}: {exc.strerror or exc}", code=EXIT_USAGE)
    raise SystemExit(code)


async def _run_once(daemon: Daemon) -> CycleSummary:
    try:
        return await daemon.run_once()
    finally:
        await daemon.aclose()


# --- scaler status ---------------------------------------------------------------------


def _default_url(settings: Settings) -> str:
    host = settings.http_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{settings.http_port}"


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _when(at: str | None, now: datetime | None, zone_name: str | None = None) -> str:
    """``2026-03-02 08:00Z (in 1h55m)`` from an ISO instant; in a policy's zone other than UTC,
    the local time beside the UTC one, as ``scaler plan`` shows it: ``2026-03-02 09:00 CET / 08:00Z``."""
    if not at:
        return "-"
    instant = _instant(at)
    text = f"{instant:%Y-%m-%d %H:%MZ}"
    local_zone = _zone_or_none(zone_name)
    if local_zone is not None:
        local = instant.astimezone(local_zone)
        utc = f"{instant:%H:%MZ}" if local.date() == instant.date() else text
        text = f"{local:%Y-%m-%d %H:%M %Z} / {utc}"
    if now is not None:
        seconds = int((instant - now).total_seconds())
        text += f" (in {_span(seconds)})" if seconds >= 0 else f" ({_span(-seconds)} ago)"
    return text


def _zone_or_none(name: str | None) -> tzinfo | None:
    """The zone called ``name``, or ``None`` for UTC, no zone or a zone this machine does not know."""
    if not name or name == "UTC":
        return None
    try:
        return zone(name)
    except ValueError:
        return None


def _health_text(item: dict[str, Any], now: datetime | None) -> str:
    """The health value and how long ago it was observed; SCALED_DOWN for a scaled-down deployment
    (the platform reports no other health for it), never the value it had while it ran."""
    if item.get("status") == "SCALED_DOWN":
        return "SCALED_DOWN"
    health = item.get("health") or {}
    value = health.get("value")
    if not value:
        return "-"
    observed = health.get("last_observed")
    if now is None or not observed:
        return value
    return f"{value} ({_span(max(0, int((now - _instant(observed)).total_seconds())))} ago)"


def _status_text(item: dict[str, Any]) -> str:
    text = item.get("status_raw") or item.get("status") or "-"
    return f"{text} (drift)" if item.get("drift") else text


def _reload_text(policies: dict[str, Any]) -> str:
    """``ok``-like result of the last reload, or ``error: <the first line of the first problem>``."""
    last = policies.get("last_reload") or {}
    result = last.get("result") or "-"
    errors = last.get("errors") or []
    if result == "error" and errors:
        first = str(errors[0]).splitlines()[0] if str(errors[0]) else "?"
        more = f" (+{len(errors) - 1} more)" if len(errors) > 1 else ""
        return f"error: {first}{more}"
    return result


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if value]
    return "".join(parts[:2]) or f"{seconds}s"


def _exception_text(item: dict[str, Any], suspension: dict[str, Any] | None, now: datetime | None, local: str | None) -> str:
    """Each exception in force (kind, state, until, by, why), joined by ``; ``; ``-`` when there is none.

    A document without ``exceptions`` (a daemon older than the control API) shows its suspension."""
    exceptions = item.get("exceptions")
    if exceptions is None:
        return f"suspend until {_when(suspension['until'], now, local)}: {suspension['reason']}" if suspension else "-"
    shown = []
    for exception in exceptions:
        state = exception.get("state")
        if isinstance(state, dict):
            state = f"min={state['min_replicas']} max={state['max_replicas']}"
        kind = exception["kind"] + (f" {state}" if state else "")
        shown.append(f"{kind} until {_when(exception['until'], now, local)} by {exception['by']}: {exception['reason']}")
    return "; ".join(shown) or "-"


def status_table(document: dict[str, Any]) -> str:
    """Render a /status document as a header and one row per deployment."""
    daemon = document.get("daemon", {})
    now_text = daemon.get("now")
    now = datetime.fromisoformat(now_text.replace("Z", "+00:00")) if now_text else None
    rows = []
    for item in document.get("deployments", []):
        desired = item.get("desired") or {}
        following = item.get("next_transition") or {}
        suspension = item.get("suspension")
        last = item.get("last_action")
        local = item.get("timezone")
        rows.append(
            (
                item["deployment_name"],
                _status_text(item),
                _health_text(item, now),
                item.get("policy") or ("conflict: " + ",".join(item["conflict"]) if item.get("conflict") else "-"),
                f"{desired.get('state', '-')} ({desired.get('source', '-')})" if desired else "-",
                f"{following['state']} at {_when(following.get('at'), now, local)}" if following else "-",
                _exception_text(item, suspension, now, local),
                f"{last['action']} {last['result']} {_when(last.get('at'), None, local)}" if last else "-",
            )
        )
    policies = daemon.get("policies", {})
    organization = daemon.get("organization", {})
    last_reconcile = daemon.get("last_reconcile") or {}
    last_reload = _reload_text(policies)
    leadership = daemon.get("leadership") or {}
    role = leadership.get("role")
    header = [
        f"scaler {daemon.get('version', '?')}"
        + (" (dry run)" if daemon.get("dry_run") else "")
        + (f", role: {role}" if role else "")
        + (f" (leader: {leadership['leader']})" if role == "standby" and leadership.get("leader") else "")
        + f", ready: {'yes' if daemon.get('ready') else 'no'}"
        + f", policies: {len(policies.get('policies', []))} (last reload {last_reload})"
        + f", token: {'refused' if (organization.get('auth') or {}).get('ok') is False else 'accepted'}"
        + f", wallet: {'blocked' if (organization.get('wallet') or {}).get('blocked') else 'ok'}"
        + (", SCALER_ORG_ID: refused (starts and stops paused)" if (organization.get("org_id") or {}).get("refused") else ""),
        f"last reconcile {_when(last_reconcile.get('at'), None)}"
        + (f": {last_reconcile['error']}" if last_reconcile.get("error") else ""),
        "",
    ]
    table = render_table(
        ("DEPLOYMENT", "STATUS", "HEALTH", "POLICY", "DESIRED (SOURCE)", "NEXT CHANGE", "EXCEPTION", "LAST ACTION"),
        rows,
    )
    return "\n".join(header) + "\n" + table


@click.command(
    "status",
    epilog=epilog(
        ["scaler status", "scaler status --url http://scaler.example:9464 -o json"],
        {0: "shown", 1: "the daemon could not be reached or did not answer its /status", 2: "unusable settings"},
    ),
)
@click.option("--url", help="The daemon's address. Default: http://SCALER_HTTP_HOST:SCALER_HTTP_PORT.")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status(url: str | None, output: str) -> None:
    """Show what a running daemon sees and does: its /status as a table."""
    settings = quiet_settings()
    target = (url or _default_url(settings)).rstrip("/")
    try:
        response = httpx.get(f"{target}/status", timeout=10.0, headers=control_headers(settings))
    except httpx.HTTPError as exc:
        fail(f"cannot reach the daemon at {target}: {exc}")
    if response.status_code == 401:
        fail(f"{target}/status needs a key: set SCALER_CONTROL_KEY_FILE or SCALER_CONTROL_KEY to a viewer key")
    if response.status_code != 200:
        fail(f"{target}/status answered HTTP {response.status_code}")
    try:
        document = response.json()
    except ValueError:
        fail(f"{target}/status did not answer JSON")
    if output == "json":
        click.echo(json.dumps(document, indent=2))
        return
    click.echo(status_table(document))
