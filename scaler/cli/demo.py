"""``scaler demo``: the daemon at work on the built-in simulator, in one process, with nothing to set up.

The simulator serves the default seed on a free loopback port; the daemon runs against it
with the example policies shipped in the package (``scaler examples`` writes them out), a fresh temporary SQLite state and short intervals (reconcile
every 10 s, health every 5 s), so that things visibly happen within a minute or two, and
logs every action as a readable line. ``embeddings-bge-large`` turns Degraded 20 s after
the start; its health rule (``for: 1m``) shrinks it at about 80 s and restores it once it
has been Healthy for a minute (about 7.5 minutes in). With ``--for`` the demo stops by
itself and exits 0.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

import click

from scaler.cli.common import EXIT_USAGE, fail, fail_lines, positive_duration
from scaler.cli.simulator import Simulator, open_simulator, port_option
from scaler.cli.usage import epilog
from scaler.daemon.http import BackgroundServer
from scaler.daemon.service import Daemon
from scaler.logs import configure_logging
from scaler.metrics import Metrics
from scaler.policy import PolicyError
from scaler.policy.shipped import examples_directory
from scaler.settings import SettingsError, load_settings
from scaler.sim.app import create_app
from scaler.sim.seed import DEFAULT_SEED_PATH, load_seed

#: Seconds between reconcile cycles in the demo (the daemon's default is 60).
DEMO_RECONCILE_SECONDS = 10.0
#: Seconds between health polls in the demo (the daemon's default is 30).
DEMO_HEALTH_SECONDS = 5.0


@click.command(
    "demo",
    epilog=epilog(
        ["scaler demo", "scaler demo --for 5m --port 0"],
        {0: "finished after --for", 2: "could not start: a setting is wrong or the port is taken"},
    ),
)
@click.option(
    "--for", "length", callback=positive_duration, metavar="DURATION", help="Stop by itself after this long (20s, 5m)."
)
@port_option(9464, "The daemon's HTTP port (0: a free one); the simulator takes another free port.")
def demo(length: timedelta | None, port: int) -> None:
    """Watch the scaler work on a simulated Simplismart organization (no token, no network)."""
    configure_logging(log_format="console", log_level="info")
    with examples_directory() as policies:
        code = asyncio.run(_demo(policies, port, length))
    raise SystemExit(code)


async def _demo(policies: Path, port: int, length: timedelta | None) -> int:
    simulator = open_simulator(load_seed(DEFAULT_SEED_PATH), "127.0.0.1", 0)
    server = BackgroundServer(create_app(simulator.state), simulator.listener)
    server.start()
    with tempfile.TemporaryDirectory(prefix="scaler-demo-") as directory:
        state_path = Path(directory) / "state.db"
        try:
            settings = load_settings(
                **simulator.scaler_settings(),
                api_token_file=None,
                policy_path=policies,
                state_url=f"sqlite:///{state_path}",
                reconcile_interval_seconds=DEMO_RECONCILE_SECONDS,
                health_interval_seconds=DEMO_HEALTH_SECONDS,
                health_idle_interval_seconds=30.0,
                http_host="127.0.0.1",
                http_port=port,
                dry_run=False,
                allow_delete=False,
                log_format="console",
            )
        except SettingsError as exc:
            await server.stop()
            fail_lines(str(exc).splitlines(), code=EXIT_USAGE)
        metrics = Metrics()
        daemon = Daemon.from_settings(settings, metrics=metrics)
        try:
            policy_set = daemon.load_policies()
        except PolicyError as exc:
            await daemon.aclose()
            await server.stop()
            fail(str(exc), code=EXIT_USAGE)

        def ready(url: str) -> None:
            click.echo(_welcome(simulator, url, f"{policies} ({policy_set.summary()})", state_path, length))
            sys.stdout.flush()

        stopper = None
        if length is not None:
            stopper = asyncio.get_running_loop().call_later(length.total_seconds(), daemon.request_stop)
        try:
            code = await daemon.run(on_ready=ready)
        except OSError as exc:
            await daemon.aclose()
            await server.stop()
            fail(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc} (try --port 0)", code=EXIT_USAGE)
        finally:
            if stopper is not None:
                stopper.cancel()
        await server.stop()
    click.echo(_summary(metrics, length))
    return code


def _welcome(simulator: Simulator, url: str, policies: str, state_path: Path, length: timedelta | None) -> str:
    """What the demo prints once the daemon answers at ``url``: where everything is, what to look at."""
    lines = [
        "",
        "simplismart-scaler demo: the daemon against a simulated Simplismart organization",
        f"  simulator:  {simulator.url}  ({len(simulator.state.deployments)} deployments, control API /_sim/)",
        f"  daemon:     {url}  (the web console at /, /status, /metrics, /healthz, /readyz)",
        f"  policies:   {policies}",
        f"  state:      {state_path} (temporary)",
        "Look at:",
        f"  {url}/ in a browser (read-only: the demo configures no keys)",
        f"  scaler status --url {url}",
        f"  curl -s {url}/metrics | grep scaler_actions_total",
        f"  curl -s {simulator.url}/_sim/requests",
        "embeddings-bge-large turns Degraded in 20 s: its health rule shrinks it after a minute,",
        "and restores it about 7.5 minutes in, once it has been Healthy for a minute.",
        f"Every action is logged below. {'Stops after ' + _text(length) if length else 'Stop with Ctrl-C'}.",
        "",
    ]
    return "\n".join(lines)


def _text(length: timedelta | None) -> str:
    seconds = int(length.total_seconds()) if length else 0
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def _summary(metrics: Metrics, length: timedelta | None) -> str:
    """One line: how many actions the demo took, by result."""
    counts: dict[str, float] = {}
    for family in metrics.registry.collect():
        if family.name != "scaler_actions":
            continue
        for sample in family.samples:
            if sample.name == "scaler_actions_total" and sample.value:
                counts[sample.labels["result"]] = counts.get(sample.labels["result"], 0) + sample.value
    detail = ", ".join(f"{int(count)} {result}" for result, count in sorted(counts.items()))
    total = int(sum(counts.values()))
    ran = f" after {_text(length)}" if length else ""
    return f"demo finished{ran}: {total} actions" + (f" ({detail})" if detail else "")
