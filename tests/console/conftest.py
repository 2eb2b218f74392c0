"""The console's tests use the daemon tests' harness factory and logging set-up."""

from tests.daemon.conftest import _quiet_structlog, make_harness

__all__ = ["_quiet_structlog", "make_harness"]
