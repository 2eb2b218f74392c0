"""The ``scaler`` command group; each command lives in a module of its own."""

from __future__ import annotations

import click

from scaler import __version__
from scaler.cli.daemon_commands import run, status
from scaler.cli.demo import demo
from scaler.cli.deployments import deployments
from scaler.cli.keys import keys
from scaler.cli.policy_commands import examples, plan, schema, validate
from scaler.cli.sim import sim
from scaler.cli.control import exceptions, override, resume, suspend
from scaler.cli.simulate import simulate
from scaler.cli.suspensions import suspensions
from scaler.cli.usage import WholeHelpGroup, examples_only


@click.group(
    cls=WholeHelpGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog=examples_only(["scaler validate policies/", "scaler plan --live --hours 24"]),
)
@click.version_option(__version__, prog_name="scaler", message="%(prog)s %(version)s")
def main() -> None:
    """Scheduled autoscaling and cost saving for Simplismart deployments."""


main.add_command(deployments)
main.add_command(sim)
main.add_command(validate)
main.add_command(plan)
main.add_command(simulate)
main.add_command(schema)
main.add_command(examples)
main.add_command(run)
main.add_command(demo)
main.add_command(status)
main.add_command(suspend)
main.add_command(resume)
main.add_command(suspensions)
main.add_command(override)
main.add_command(exceptions)
main.add_command(keys)
