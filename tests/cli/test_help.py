"""What every command's ``--help`` promises: examples, exit statuses, full descriptions, shared metavars."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from scaler.cli.main import main

pytestmark = pytest.mark.usefixtures("restore_logging")


def every_command(group: click.Group = main, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Yield (words after `scaler`, command) for every group and command, depth first."""
    yield path, group
    for name in group.list_commands(click.Context(group)):
        command = group.get_command(click.Context(group), name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from every_command(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(every_command())
LEAVES = [(path, command) for path, command in COMMANDS if not isinstance(command, click.Group)]


def test_the_walk_finds_every_command() -> None:
    """The walk below sees the fifteen commands (so the checks that follow cover them all)."""
    names = {" ".join(path) for path, _ in LEAVES}
    assert {
        "deployments list",
        "deployments health",
        "deployments scale",
        "deployments start",
        "deployments stop",
        "deployments delete",
        "sim",
        "validate",
        "plan",
        "run",
        "demo",
        "status",
        "suspend",
        "resume",
        "suspensions",
    } == names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=lambda value: " ".join(value) if isinstance(value, tuple) else "")
def test_every_output_option_has_the_short_form_o(path: tuple[str, ...], command: click.Command) -> None:
    """`-o` is the short form of `--output` wherever `--output` exists."""
    for parameter in command.params:
        if "--output" in parameter.opts:
            assert "-o" in parameter.opts, f"scaler {' '.join(path)}: --output has no -o"
