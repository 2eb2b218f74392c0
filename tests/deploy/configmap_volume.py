"""A directory laid out as the kubelet lays out a ConfigMap volume, and updated the way it updates one.

What the chart mounts at ``/etc/scaler/policies`` looks like this::

    ..2026_11_28_23_50_25.000000001/    the files of one version of the ConfigMap
        office-hours.yaml
    ..data -> ..2026_11_28_23_50_25.000000001
    office-hours.yaml -> ..data/office-hours.yaml      one symlink per key

An update (the kubelet's AtomicWriter) writes the new version into a new timestamped
directory, points a ``..data_tmp`` symlink at it and renames that over ``..data`` (one
atomic step), then adds the symlinks of new keys, removes those of deleted keys and
removes the old version's directory.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DATA = "..data"


def _version_dir(directory: Path, version: str) -> Path:
    path = directory / f"..{version}"
    path.mkdir()
    return path


def write_configmap_volume(directory: Path, files: Mapping[str, str], *, version: str) -> None:
    """Lay ``files`` (key -> text) out in ``directory`` as a ConfigMap volume at ``version`` (e.g. a timestamp)."""
    directory.mkdir(parents=True, exist_ok=True)
    current = _version_dir(directory, version)
    for key, text in files.items():
        (current / key).write_text(text)
    (directory / DATA).symlink_to(current.name)
    for key in files:
        (directory / key).symlink_to(f"{DATA}/{key}")


def update_configmap_volume(directory: Path, files: Mapping[str, str], *, version: str) -> None:
    """Replace the volume's content by ``files`` as the kubelet does (see the module docstring)."""
    previous = directory / os.readlink(directory / DATA)
    old_keys = {path.name for path in previous.iterdir()}
    current = _version_dir(directory, version)
    for key, text in files.items():
        (current / key).write_text(text)
    temporary = directory / f"{DATA}_tmp"
    temporary.symlink_to(current.name)
    temporary.replace(directory / DATA)
    for key in files.keys() - old_keys:
        (directory / key).symlink_to(f"{DATA}/{key}")
    for key in old_keys - files.keys():
        (directory / key).unlink()
    for path in previous.iterdir():
        path.unlink()
    previous.rmdir()
