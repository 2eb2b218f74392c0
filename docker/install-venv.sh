#!/bin/sh
# Install simplismart-scaler from its source tree into a new virtual environment.
#
# The one list of install steps: the Dockerfile's build stage runs this script, and
# tests/deploy/test_image_install.py runs it too, so the image and the test that
# proves its install cannot drift apart.
#
# Usage: install-venv.sh VENV_DIR SOURCE_DIR
#   VENV_DIR    the virtual environment to create (must not exist yet)
#   SOURCE_DIR  a source tree holding pyproject.toml
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
"$python" -m pip --python "$venv_dir/bin/python" install \
    --no-cache-dir --no-input --disable-pip-version-check "$source_dir"

# The entry point must run in the environment just built.
"$venv_dir/bin/scaler" --version
