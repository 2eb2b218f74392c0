"""Fixtures shared by the whole suite."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
import structlog

from scaler.settings import unknown_variables
from scaler.sim.app import create_app
from scaler.sim.clock import ManualClock
from scaler.sim.seed import DEFAULT_SEED_PATH, load_seed
from scaler.sim.state import SimState
from tests.client.serving import LoopbackServer

#: The name CI environments have long used for the integration switch. It is taken as the suite's own
#: SCALERTEST_REQUIRE_INTEGRATION and removed, so that no command the tests run sees a SCALER_*
#: variable that is no setting (the product refuses those, as it must).
LEGACY_REQUIRE_INTEGRATION = "SCALER_REQUIRE_INTEGRATION"
if LEGACY_REQUIRE_INTEGRATION in os.environ:
    os.environ.setdefault("SCALERTEST_REQUIRE_INTEGRATION", os.environ.pop(LEGACY_REQUIRE_INTEGRATION))

REQUIRE_INTEGRATION = os.environ.get("SCALERTEST_REQUIRE_INTEGRATION") == "1"

# A real PostgreSQL server on loopback: fixtures postgres_server and postgres_url.
pytest_plugins = ["tests.pg"]


def pytest_configure(config: pytest.Config) -> None:
    """Refuse to start with a SCALER_* variable that is no setting: every command run by the tests
    would refuse it too. The suite's own switches start with SCALERTEST_."""
    problems = unknown_variables(os.environ)
    if problems:
        raise pytest.UsageError(
            "\n".join(problems) + "\n(the test suite's own variables start with SCALERTEST_, "
            "e.g. SCALERTEST_REQUIRE_INTEGRATION=1)"
        )


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


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    """The URL of the simulator, with its default seed and a still clock, served on a loopback port
    for the tests of one module (the commands that list deployments through the API run against it)."""
    state = SimState.from_seed(load_seed(DEFAULT_SEED_PATH), clock=ManualClock())
    with LoopbackServer(create_app(state)) as server:
        yield server.url
