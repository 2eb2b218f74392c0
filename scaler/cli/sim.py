"""``scaler sim``: serve the platform simulator with uvicorn until SIGTERM (exit 0) or SIGINT (exit 130)."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from uuid import UUID

import click
import uvicorn
from click.core import ParameterSource

from scaler.cli.common import EXIT_USAGE, fail
from scaler.cli.simulator import Simulator, open_simulator, port_option
from scaler.cli.usage import EXIT_INTERRUPTED, epilog
from scaler.logs import configure_logging
from scaler.sim import DEFAULT_ORG_ID, DEFAULT_TOKEN
from scaler.sim.app import DroppedConnection, create_app
from scaler.sim.model import SeedDocument
from scaler.sim.requestlog import DEFAULT_REQUEST_LOG_LIMIT
from scaler.sim.seed import DEFAULT_SEED_PATH, SeedError, generate_seed, load_seed


@click.command(
    "sim",
    epilog=epilog(
        ["scaler sim", "scaler sim --port 0 --generate 5000"],
        {
            0: "stopped by SIGTERM",
            2: "bad usage, an invalid seed or the port is taken",
            130: "stopped by Ctrl-C (SIGINT)",
        },
    ),
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@port_option(8600, "Port to listen on; 0 picks a free one (printed at start).")
@click.option(
    "--seed",
    "seed_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Seed file (YAML or JSON) describing the organization. Default: the built-in seed.",
)
@click.option(
    "--generate", type=click.IntRange(min=0), help="Serve N generated deployments instead of a seed (for benchmarks)."
)
@click.option(
    "--token",
    default=DEFAULT_TOKEN,
    show_default=True,
    help="The only bearer token accepted (when not given: the seed's token, else the default).",
)
@click.option(
    "--org-id",
    help=f"Organization UUID that startstop requires as `org`. Default: the seed's, else {DEFAULT_ORG_ID}.",
)
@click.option(
    "--request-log-limit", default=DEFAULT_REQUEST_LOG_LIMIT, show_default=True, type=click.IntRange(min=1),
    help="Platform requests kept in the request log (older ones are dropped).",
)  # fmt: skip
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Lowest level of the server's own log lines (stderr).",
)
@click.pass_context
def sim(
    ctx: click.Context, host: str, port: int, seed_path: Path | None, generate: int | None, token: str,
    org_id: str | None, request_log_limit: int, log_level: str,
) -> None:  # fmt: skip
    """Serve a simulated Simplismart platform (the Deployment Lifecycle API plus a control API under /_sim/)."""
    seed, org_id = _seed_and_org_id(seed_path, generate, org_id)
    token_given = ctx.get_parameter_source("token") is not ParameterSource.DEFAULT
    configure_logging(log_format="console" if sys.stderr.isatty() else "json", log_level=log_level)
    logging.getLogger("uvicorn.error").addFilter(_hide_dropped_connections)
    simulator = open_simulator(
        seed, host, port, token=token if token_given else None, org_id=org_id, request_log_limit=request_log_limit
    )
    _print_start(simulator, seed.source)
    _serve(simulator, log_level)


def _seed_and_org_id(
    seed_path: Path | None, generate: int | None, org_id: str | None
) -> tuple[SeedDocument, str | None]:
    """The seed to serve (--seed, --generate or the built-in one) and --org-id as a UUID; exit 2 when one is wrong."""
    if seed_path is not None and generate is not None:
        fail("--seed and --generate exclude each other", code=EXIT_USAGE)
    if org_id is not None:
        try:
            org_id = str(UUID(org_id))
        except ValueError:
            fail(f"--org-id: {org_id!r} is not a UUID", code=EXIT_USAGE)
    try:
        seed = generate_seed(generate) if generate is not None else load_seed(seed_path or DEFAULT_SEED_PATH)
    except SeedError as exc:
        fail(str(exc), code=EXIT_USAGE)
    return seed, org_id


def _print_start(simulator: Simulator, source: str) -> None:
    """Where the simulator listens, what it serves, and how to point the scaler at it."""
    state, url = simulator.state, simulator.url
    click.echo(f"Simplismart simulator listening on {url}")
    click.echo(f"  deployments: {len(state.deployments)} from {source}")
    click.echo(f"  token:       {state.token}")
    click.echo(f"  org id:      {state.org_id}")
    click.echo(f"  control API: {url}/_sim/")
    click.echo("Point the scaler at it:")
    for name, value in simulator.scaler_settings().items():
        click.echo(f"  export SCALER_{name.upper()}={value}")
    sys.stdout.flush()


def _serve(simulator: Simulator, log_level: str) -> None:
    """Serve until SIGTERM or SIGINT, then exit after a graceful shutdown: 0 after SIGTERM, 130 after SIGINT."""
    # uvicorn handles the signal itself, shuts down gracefully and then raises it again
    # so that earlier handlers run: these make that last step a clean exit.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    signal.signal(signal.SIGINT, _exit_interrupted)
    config = uvicorn.Config(
        create_app(simulator.state),
        log_level=log_level,
        log_config=None,
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run(sockets=[simulator.listener])


def _exit_cleanly(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _exit_interrupted(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(EXIT_INTERRUPTED)


def _hide_dropped_connections(record: logging.LogRecord) -> bool:
    """Keep uvicorn from logging a traceback for every connection dropped on purpose."""
    return not (record.exc_info and isinstance(record.exc_info[1], DroppedConnection))
