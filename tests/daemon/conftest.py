"""Fixtures of the daemon tests: a harness factory that closes what it opened, default structlog."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from tests.daemon.harness import Harness


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    """Every level reaches capture_logs, whatever another test configured before."""
    structlog.reset_defaults()
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
