"""The image's install steps, followed outside a container engine.

No container engine runs here, so :func:`follow_build_stage` does what the build stage
does, step by step, read from the Dockerfile itself: the COPY lines (through
.dockerignore) into a scratch root, then the RUN line, which runs
docker/install-venv.sh, the same script the image runs. Paths of the image are mapped
under the scratch root. The interpreter is this one (the image's is the base image's
Python 3.12; both satisfy requires-python).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

from tests.deploy.conftest import REPO
from tests.deploy.dockerfile import in_build_context, stages


def inside(root: Path, image_path: str) -> Path:
    """Return where the image's absolute ``image_path`` lies under the scratch ``root``."""
    return root / PurePosixPath(image_path).relative_to("/")


def _copy(source: Path, destination: Path) -> None:
    if source.is_dir():
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(REPO).as_posix()
            if path.is_file() and in_build_context(relative):
                target = destination / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    else:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def follow_build_stage(root: Path) -> Path:
    """Run the build stage's WORKDIR/COPY/RUN under ``root``; return the environment it installs.

    Raises ``AssertionError`` for an instruction it cannot follow, a source the build
    context leaves out, or a RUN that fails (with the end of its output).
    """
    workdir = "/"
    venv = None
    for instruction in stages()[0][1:]:
        if instruction.keyword == "WORKDIR":
            workdir = instruction.argument
            inside(root, workdir).mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "COPY":
            *sources, destination = instruction.argument.split()
            target = PurePosixPath(workdir) / destination
            for source in sources:
                assert in_build_context(source), f"{source} is left out by .dockerignore"
                into = inside(root, str(target))
                if destination.endswith("/"):
                    into = into / Path(source).name
                _copy(REPO / source, into)
        elif instruction.keyword == "RUN":
            command = instruction.exec_form()
            assert command is not None, "the build stage's RUN is in exec form"
            mapped = [str(inside(root, arg)) if arg.startswith("/") else arg for arg in command]
            env = {**os.environ, "PYTHON": sys.executable, "PIP_NO_CACHE_DIR": "1"}
            result = subprocess.run(mapped, cwd=inside(root, workdir), env=env, capture_output=True, timeout=300,
                                    check=False)
            assert 0 == result.returncode, (result.stdout + result.stderr).decode()[-4000:]
            venv = command[2]
        else:
            raise AssertionError(f"line {instruction.line}: the test does not know how to follow {instruction.keyword}")
    assert venv is not None
    return inside(root, venv)


def image_environment(venv: Path, **extra: str) -> dict[str, str]:
    """The environment the image gives ``scaler`` (its PATH first, no bytecode written), plus ``extra``."""
    return {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1", **extra}
