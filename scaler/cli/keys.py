"""``scaler keys new``: make a key for the daemon's control API (printed once) and its keys-file line."""

from __future__ import annotations

import click

from scaler.cli.usage import WholeHelpGroup, epilog, examples_only
from scaler.daemon.api.keys import KeyEntry, key_file_line, new_key


@click.group("keys", cls=WholeHelpGroup, epilog=examples_only(["scaler keys new alice --role operator"]))
def keys() -> None:
    """Keys of the daemon's control API (SCALER_API_KEYS_FILE)."""


@keys.command(
    "new",
    epilog=epilog(
        ["scaler keys new alice --role operator", "scaler keys new grafana --role viewer"],
        {0: "a key was made", 2: "bad usage (name or role)"},
    ),
)
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(["viewer", "operator"]),
    required=True,
    help="viewer may read; operator may also create and end exceptions.",
)
def new(name: str, role: str) -> None:
    """Make a new key: print it once (give it to its holder) and the line for the keys file.

    The keys file holds only the key's SHA-256, so it reveals no key; the key itself is
    shown here and nowhere else.
    """
    if not _valid_name(name):
        raise click.BadParameter("letters, digits and . _ @ - (starting with a letter or digit)", param_hint="NAME")
    key = new_key()
    click.echo(f"key (shown once; give it to {name}, e.g. in SCALER_CONTROL_KEY_FILE): {key}")
    click.echo("line for the keys file (SCALER_API_KEYS_FILE):")
    click.echo(key_file_line(name, role, key))  # type: ignore[arg-type]


def _valid_name(name: str) -> bool:
    try:
        KeyEntry(name=name, role="viewer", sha256="0" * 64)
    except ValueError:
        return False
    return True
