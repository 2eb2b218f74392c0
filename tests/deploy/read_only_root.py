"""A command run with every filesystem read-only but one directory: a container's read-only root, without an engine.

:func:`read_only_command` wraps a command in ``unshare --user --map-root-user --mount``:
a private mount namespace, which needs no privilege where unprivileged user namespaces
are allowed. Inside it this file runs as a script (:func:`main`): it bind-mounts the
writable directory onto itself, so that it becomes a mount of its own, then remounts
every other mount read-only (a bind remount: outside the namespace nothing changes),
except ``/proc`` and ``/sys``, which are kernel interfaces, not storage. Then it
execs the command. A file the command tries to create anywhere else fails with EROFS,
so a command that succeeds there has written nothing outside the writable directory:
what Kubernetes' ``readOnlyRootFilesystem`` and ``docker run --read-only`` enforce.

The command runs as root of the new user namespace (the only user mapped in it); the
read-only mounts bind root as much as anyone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

HELPER = Path(__file__).resolve()
UNSHARE = ("unshare", "--user", "--map-root-user", "--mount", "--propagation", "private")
#: Mounts left as they are: kernel interfaces, nothing a program stores files in.
KERNEL_INTERFACES = ("/proc", "/sys")
#: Per-mount flags a user namespace may not clear: a remount must repeat them.
LOCKED_FLAGS = ("nosuid", "nodev", "noexec", "noatime", "nodiratime", "relatime", "strictatime")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


def read_only_command(command: Sequence[str], *, writable: Path) -> list[str]:
    """Return ``command`` wrapped so that it runs with only ``writable`` writable."""
    return [*UNSHARE, sys.executable, "-S", str(HELPER), str(writable), "--", *command]


def namespaces_available() -> str | None:
    """Return None when read-only sandboxes can be made here, else why not."""
    if shutil.which("unshare") is None:
        return "no unshare binary (util-linux)"
    result = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        return f"unshare cannot create user and mount namespaces here: {result.stderr.strip()}"
    return None


def _unescape(field: str) -> str:
    """Decode the octal escapes of /proc/self/mountinfo (\\040 for a space, ...)."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1 : i + 4].isdigit():
            out.append(chr(int(field[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def mounts() -> list[tuple[str, list[str]]]:
    """Return (mount point, per-mount options) of every mount of this namespace, in mount order."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        found.append((_unescape(fields[4]), fields[5].split(",")))
    return found


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def make_read_only(writable: Path) -> None:
    """Bind ``writable`` onto itself, then remount every other mount read-only.

    Raises ``subprocess.CalledProcessError`` when a mount cannot be changed: a partly
    read-only sandbox would prove nothing.
    """
    mount = shutil.which("mount", path=SYSTEM_PATH) or "mount"
    keep = str(writable)
    subprocess.run([mount, "--bind", keep, keep], check=True)
    for point, options in mounts():
        if point == keep or "ro" in options or any(_under(point, top) for top in KERNEL_INTERFACES):
            continue
        flags = ",".join(["remount", "bind", "ro", *(flag for flag in options if flag in LOCKED_FLAGS)])
        subprocess.run([mount, "-o", flags, point], check=True)


def main(argv: Sequence[str]) -> None:
    """``read_only_root.py WRITABLE -- COMMAND...``: make the namespace read-only, then exec COMMAND."""
    if len(argv) < 3 or argv[1] != "--":
        raise SystemExit("usage: read_only_root.py WRITABLE -- COMMAND...")
    make_read_only(Path(argv[0]).resolve())
    command = list(argv[2:])
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
