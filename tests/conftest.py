"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os

import pytest

REQUIRE_INTEGRATION = os.environ.get("SCALER_REQUIRE_INTEGRATION") == "1"

# A real PostgreSQL server on loopback: fixtures postgres_server and postgres_url.
pytest_plugins = ["tests.pg"]


def skip_or_fail(reason: str) -> None:
    """Skip an integration test for ``reason``, or fail it when CI requires integration."""
    if REQUIRE_INTEGRATION:
        pytest.fail(f"{reason} (SCALER_REQUIRE_INTEGRATION=1 forbids skipping)")
    pytest.skip(reason)
