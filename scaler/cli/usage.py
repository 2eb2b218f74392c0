"""How the commands describe themselves: examples and exit statuses in each ``--help``, whole one-line
descriptions in a group's list of commands, and the exit status of an interrupted command."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

import click

#: Exit status of a command stopped by Ctrl-C (SIGINT), as shells report it (128 + 2).
EXIT_INTERRUPTED = 130

#: What every command's help says about Ctrl-C.
INTERRUPTED = "interrupted (Ctrl-C)"


def epilog(examples: Sequence[str], exits: Mapping[int, str]) -> str:
    """Return a command's help epilog: its examples, then its exit statuses (130 for Ctrl-C added).

    The ``\\b`` markers keep click from rewrapping the lines.
    """
    statuses = {**exits, EXIT_INTERRUPTED: exits.get(EXIT_INTERRUPTED, INTERRUPTED)}
    lines = ["\b", "Examples:", *(f"  {example}" for example in examples), "", "\b", "Exit status:"]
    lines.extend(f"  {code:<4}{meaning}" for code, meaning in sorted(statuses.items()))
    return "\n".join(lines)


def examples_only(examples: Sequence[str]) -> str:
    """Return a group's help epilog: its examples."""
    return "\n".join(["\b", "Examples:", *(f"  {example}" for example in examples)])


class WholeHelpGroup(click.Group):
    """A group whose list of commands shows each command's first sentence whole, never cut with ``...``.

    Ctrl-C in any of its commands ends the command with :data:`EXIT_INTERRUPTED` and one
    line on stderr, not click's ``Aborted!`` with status 1 or a traceback.
    """

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Write the commands with their whole first sentence (click cuts it to fit one line)."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=sys.maxsize)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; Ctrl-C (also at a prompt) exits with :data:`EXIT_INTERRUPTED`."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()
        except click.Abort as abort:
            if isinstance(abort.__context__, KeyboardInterrupt):
                interrupted()
            raise


def interrupted() -> None:
    """Say the command was interrupted and exit with :data:`EXIT_INTERRUPTED`."""
    click.echo("\ninterrupted", err=True)
    raise SystemExit(EXIT_INTERRUPTED)
