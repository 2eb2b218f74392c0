"""Fixtures of the daemon tests: a harness factory that closes what it opened, default structlog."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from tests.daemon.harness import Harness


@pytest.fixture(autouse=True)
def _quiet_structlog() -> Iterator[None]:
    """Info and above reach capture_logs (and the output of a failing test); the client's debug lines do not."""
    structlog.reset_defaults()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.INFO))
    yield
    structlog.reset_defaults()


@pytest.fixture
async def make_harness(tmp_path: Path) -> AsyncIterator[Callable[..., Harness]]:
    """Build harnesses (each in its own directory) and close them after the test."""
    built: list[Harness] = []

    def build(policies: str | Path, **options: Any) -> Harness:
        directory = tmp_path / f"h{len(built)}"
        directory.mkdir()
        harness = Harness(directory, policies=policies, **options)
        built.append(harness)
        return harness

    yield build
    for harness in built:
        await harness.close()
