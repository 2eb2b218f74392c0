#!/bin/sh
# Install simplismart-scaler from its source tree into a new virtual environment.
#
# The one list of install steps: the Dockerfile's build stage runs this script, and
# tests/deploy/test_image_install.py runs it too, so the image and the test that
# proves its install cannot drift apart.
#
# Usage: install-venv.sh VENV_DIR SOURCE_DIR
#   VENV_DIR    the virtual environment to create (must not exist yet)
#   SOURCE_DIR  a source tree holding pyproject.toml and requirements.lock
# Environment: PYTHON, the interpreter that creates the environment (default python3).
set -eu

if [ "$#" -ne 2 ]; then
    echo "usage: $0 VENV_DIR SOURCE_DIR" >&2
    exit 2
fi
venv_dir=$1
source_dir=$2
python=${PYTHON:-python3}

# No pip inside the environment: the base interpreter's pip installs into it, so the
# final image carries neither pip nor its cache.
"$python" -m venv --without-pip "$venv_dir"
pip() {
    "$python" -m pip --python "$venv_dir/bin/python" "$@"
}

# Every dependency at the version requirements.lock pins, each file checked against the
# hashes the lock records (a file that differs is refused), as wheels only: nothing is
# compiled. `make lock` writes the lock from pyproject.toml.
pip install --no-cache-dir --no-input --disable-pip-version-check \
    --require-hashes --only-binary :all: --no-deps --requirement "$source_dir/requirements.lock"
# Then the project itself, alone: its dependencies are all there already.
pip install --no-cache-dir --no-input --disable-pip-version-check --no-deps "$source_dir"
# The lock must satisfy what the project declares: a stale lock fails the build here.
pip check --disable-pip-version-check

# The entry point must run in the environment just built.
"$venv_dir/bin/scaler" --version
