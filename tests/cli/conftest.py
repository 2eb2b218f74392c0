"""Fixtures the command tests share with the daemon's tests."""

from tests.daemon.conftest import make_harness as make_harness
