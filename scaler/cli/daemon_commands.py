"""``scaler run`` (the daemon, or one cycle with ``--once``) and ``scaler status`` (a daemon's /status as a table)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime
from typing import Any

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
from scaler.daemon.reconciler import CycleSummary
from scaler.daemon.service import Daemon
from scaler.metrics import Metrics
from scaler.policy import PolicyError, PolicyLoadError, PolicyPathError, PolicySetEmpty
from scaler.settings import ENV_PREFIX, Settings
from scaler.simplismart.errors import SimplismartError
from scaler.store import StoreError

log = structlog.get_logger()


def build_daemon(settings: Settings, metrics: Metrics) -> Daemon:
    """Build the daemon and load its policies, or exit: 2 with one line per problem when it cannot start."""
    try:
        daemon = Daemon.from_settings(settings, metrics=metrics)
    except SimplismartError as exc:
        fail(str(exc), code=EXIT_USAGE)
    except StoreError as exc:
        fail(f"the state store cannot be used: {exc}", code=EXIT_USAGE)
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


def summary_lines(summary: CycleSummary) -> list[str]:
    """One line per action of a cycle, then a count by result (for ``scaler run --once``)."""
    lines = [
        f"{report.deployment_name} ({report.deployment_id}): {report.action} {report.result}"
        + (f": {report.message}" if report.message else "")
        for report in summary.reports
        if report.new
    ]
    counts = Counter(report.result for report in summary.reports if report.new)
    detail = ", ".join(f"{count} {result}" for result, count in sorted(counts.items()))
    total = sum(counts.values())
    lines.append(
        f"reconciled {summary.considered} deployments: {total} action{'' if total == 1 else 's'}"
        + (f" ({detail})" if detail else "")
    )
    return lines


@click.command("run")
@click.option(
    "--once", is_flag=True, help="Run one full reconcile, then exit (0: every action succeeded or was deferred)."
)
@click.option("--dry-run", is_flag=True, help="Decide, log and count every action, but send no mutating call.")
def run(once: bool, dry_run: bool) -> None:
    """Run the scaler daemon: apply the policies to the organization's deployments.

    Needs SCALER_API_TOKEN or SCALER_API_TOKEN_FILE, SCALER_ORG_ID and SCALER_POLICY_PATH.
    Serves /metrics, /healthz, /readyz and /status on SCALER_HTTP_HOST:SCALER_HTTP_PORT.
    SIGTERM or SIGINT stop it cleanly (exit 0); SIGHUP reloads the policy files.
    """
    settings = settings_or_exit(**({"dry_run": True} if dry_run else {}))
    log.info("settings", **settings.public_view())
    metrics = Metrics()
    daemon = build_daemon(settings, metrics)
    if once:
        summary = asyncio.run(_run_once(daemon))
        for line in summary_lines(summary):
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


def _when(at: str | None, now: datetime | None) -> str:
    """``2026-03-02 08:00Z (in 1h55m)`` from an ISO instant."""
    if not at:
        return "-"
    instant = datetime.fromisoformat(at.replace("Z", "+00:00"))
    text = f"{instant:%Y-%m-%d %H:%MZ}"
    if now is not None:
        seconds = int((instant - now).total_seconds())
        text += f" (in {_span(seconds)})" if seconds >= 0 else f" ({_span(-seconds)} ago)"
    return text


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{value}{unit}" for value, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if value]
    return "".join(parts[:2]) or f"{seconds}s"


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
        health = (item.get("health") or {}).get("value") or "-"
        rows.append(
            (
                item["deployment_name"],
                item.get("status_raw") or item.get("status"),
                health,
                item.get("policy") or ("conflict: " + ",".join(item["conflict"]) if item.get("conflict") else "-"),
                f"{desired.get('state', '-')} ({desired.get('source', '-')})" if desired else "-",
                f"{following['state']} at {_when(following.get('at'), now)}" if following else "-",
                f"until {_when(suspension['until'], now)}: {suspension['reason']}" if suspension else "-",
                f"{last['action']} {last['result']} {_when(last.get('at'), None)}" if last else "-",
            )
        )
    policies = daemon.get("policies", {})
    organization = daemon.get("organization", {})
    last_reconcile = daemon.get("last_reconcile") or {}
    last_reload = (policies.get("last_reload") or {}).get("result") or "-"
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
        + f", wallet: {'blocked' if (organization.get('wallet') or {}).get('blocked') else 'ok'}",
        f"last reconcile {_when(last_reconcile.get('at'), None)}"
        + (f": {last_reconcile['error']}" if last_reconcile.get("error") else ""),
        "",
    ]
    table = render_table(
        ("DEPLOYMENT", "STATUS", "HEALTH", "POLICY", "DESIRED (SOURCE)", "NEXT CHANGE", "SUSPENDED", "LAST ACTION"),
        rows,
    )
    return "\n".join(header) + "\n" + table


@click.command("status")
@click.option("--url", help="The daemon's address. Default: http://SCALER_HTTP_HOST:SCALER_HTTP_PORT.")
@click.option("--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True)
def status(url: str | None, output: str) -> None:
    """Show what a running daemon sees and does: its /status as a table."""
    target = (url or _default_url(quiet_settings())).rstrip("/")
    try:
        response = httpx.get(f"{target}/status", timeout=10.0)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the daemon at {target}: {exc}")
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
