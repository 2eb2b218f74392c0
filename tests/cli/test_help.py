"""What every command's ``--help`` promises: examples, exit statuses, full descriptions, shared metavars."""

from __future__ import annotations

from collections.abc import Iterator

import click
import pytest
from click.testing import CliRunner

from scaler.cli.common import positive_duration
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


def help_of(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(main, [*path, "--help"], terminal_width=80)
    assert 0 == result.exit_code, result.output
    return result.stdout


def test_the_walk_finds_every_command() -> None:
    """The walk below sees the twenty-one commands (so the checks that follow cover them all)."""
    names = {" ".join(path) for path, _ in LEAVES}
    assert {
        "deployments list",
        "deployments health",
        "deployments scale",
        "deployments start",
        "deployments stop",
        "deployments delete",
        "sim",
        "override",
        "exceptions",
        "keys new",
        "validate",
        "plan",
        "schema",
        "examples",
        "run",
        "demo",
        "status",
        "suspend",
        "resume",
        "suspensions",
        "simulate",
    } == names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=lambda value: " ".join(value) if isinstance(value, tuple) else "")
def test_every_output_option_has_the_short_form_o(path: tuple[str, ...], command: click.Command) -> None:
    """`-o` is the short form of `--output` wherever `--output` exists."""
    for parameter in command.params:
        if "--output" in parameter.opts:
            assert "-o" in parameter.opts, f"scaler {' '.join(path)}: --output has no -o"


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda path: " ".join(path) or "scaler")
def test_every_help_shows_one_or_two_examples(path: tuple[str, ...]) -> None:
    """Each --help ends with an Examples section of one or two `scaler ...` command lines."""
    text = help_of(path)
    assert "Examples:" in text, text
    section = text.split("Examples:", 1)[1].split("\n\n", 1)[0]
    examples = [line.strip() for line in section.splitlines() if line.strip()]
    assert 1 <= len(examples) <= 2, examples
    for example in examples:
        assert example.startswith("scaler " + " ".join(path)), example


@pytest.mark.parametrize("path", [path for path, _ in LEAVES], ids=lambda path: " ".join(path))
def test_every_command_help_lists_its_exit_statuses(path: tuple[str, ...]) -> None:
    """Each command's --help has an `Exit status:` section naming 0 and the Ctrl-C status 130."""
    text = help_of(path)
    assert "Exit status:" in text, text
    section = text.split("Exit status:", 1)[1]
    codes = [line.split()[0] for line in section.splitlines() if line.strip()]
    assert "0" in codes and "130" in codes, section


def test_the_top_level_help_shows_whole_descriptions() -> None:
    """Nothing is cut with `...`: each command's first sentence appears whole in `scaler --help`."""
    for width in (80, 200):
        text = CliRunner().invoke(main, ["--help"], terminal_width=width).stdout
        commands = " ".join(text.split("Commands:", 1)[1].split())
        assert "..." not in commands
        for name in main.list_commands(click.Context(main)):
            command = main.get_command(click.Context(main), name)
            assert command is not None and command.help is not None
            first_sentence = " ".join(command.help.split("\n\n")[0].split()).split(". ")[0].rstrip(".")
            assert first_sentence in commands, (name, first_sentence)


def test_the_deployments_group_help_shows_whole_descriptions() -> None:
    """`scaler deployments --help` cuts nothing either."""
    text = help_of(("deployments",))
    assert "..." not in text.split("Commands:", 1)[1]


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=lambda value: " ".join(value) if isinstance(value, tuple) else "")
def test_duration_options_share_the_metavar_duration(path: tuple[str, ...], command: click.Command) -> None:
    """Every option read as a duration shows DURATION in the help."""
    for parameter in command.params:
        if isinstance(parameter, click.Option) and parameter.callback is positive_duration:
            assert "DURATION" == parameter.metavar, f"scaler {' '.join(path)} {parameter.opts[0]}"
            assert f"{parameter.opts[0]} DURATION" in help_of(path)
