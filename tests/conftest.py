"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import structlog

REQUIRE_INTEGRATION = os.environ.get("SCALERTEST_REQUIRE_INTEGRATION") == "1"

# A real PostgreSQL server on loopback: fixtures postgres_server and postgres_url.
pytest_plugins = ["tests.pg"]


def skip_or_fail(reason: str) -> None:
    """Skip an integration test for ``reason``, or fail it when CI requires integration."""
    if REQUIRE_INTEGRATION:
        pytest.fail(f"{reason} (SCALERTEST_REQUIRE_INTEGRATION=1 forbids skipping)")
    pytest.skip(reason)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Undo the logging configuration a command or test installs (root handlers, level, structlog)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:], root.level = handlers, level
    structlog.reset_defaults()
