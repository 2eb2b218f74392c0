"""The example policy files and the policy JSON Schema that ship inside the package.

Both are package data of ``scaler.policy`` (``examples/*.yaml`` and ``schema.json``),
read with :mod:`importlib.resources`, so ``scaler demo``, ``scaler examples`` and
``scaler schema`` work from an installed wheel as from a checkout. The repository's
``policies/examples`` and ``policies/schema.json`` are links to these same files.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import as_file, files
from importlib.resources.abc import Traversable
from pathlib import Path

_PACKAGE = "scaler.policy"
#: Suffix of the example policy files.
EXAMPLE_SUFFIX = ".yaml"


def _examples() -> Traversable:
    return files(_PACKAGE) / "examples"


def schema_text() -> str:
    """Return the policy JSON Schema as shipped (``scaler/policy/schema.json``)."""
    return (files(_PACKAGE) / "schema.json").read_text(encoding="utf-8")


def example_texts() -> dict[str, str]:
    """Return every shipped example policy file, file name -> text, in name order."""
    found = {item.name: item for item in _examples().iterdir() if item.name.endswith(EXAMPLE_SUFFIX)}
    return {name: found[name].read_text(encoding="utf-8") for name in sorted(found)}


@contextmanager
def examples_directory() -> Iterator[Path]:
    """Yield a directory on the file system holding the shipped example policy files.

    An installed package is a directory already; ``as_file`` extracts the files for a
    package loaded from an archive, and removes them on exit.
    """
    with as_file(_examples()) as path:
        yield Path(path)
