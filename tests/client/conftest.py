"""Fixtures of the client tests: fake time, fresh metrics, default structlog configuration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import structlog
from prometheus_client import CollectorRegistry

from scaler.metrics import Metrics
from tests.client.fakes import FakeTime


@pytest.fixture(autouse=True)
def _default_structlog() -> Iterator[None]:
    """Every level reaches capture_logs, whatever another test configured before."""
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(CollectorRegistry())
