"""Tests that run the daemon for a simulated day render only the log lines at or above a level."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import structlog


@contextmanager
def structlog_level(level: int = logging.ERROR) -> Iterator[None]:
    """Within the block, structlog drops events below ``level``; its defaults come back afterwards."""
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))
    try:
        yield
    finally:
        structlog.reset_defaults()
