"""The series names the daemon exports, and the ``scaler_*`` names a text refers to.

Names come from a fresh ``scaler.metrics.Metrics()`` registry, expanded by metric type
the way the exposition format writes them: counters as ``_total`` (and ``_created``),
histograms as ``_bucket``, ``_sum`` and ``_count``, infos as ``_info``.
"""

from __future__ import annotations

import re

from scaler.metrics import Metrics

_SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
    "gauge": ("",),
    "stateset": ("",),
    "enum": ("",),
    "unknown": ("",),
}
_METRIC_NAME = re.compile(r"\bscaler_[a-z0-9_]*[a-z0-9]\b")


def exported_series_names() -> set[str]:
    """Return every series name a ``Metrics()`` registry can expose."""
    names = set()
    for family in Metrics().registry.collect():
        for suffix in _SERIES_SUFFIXES[family.type]:
            names.add(family.name + suffix)
    return names


def referenced_metric_names(text: str) -> set[str]:
    """Return the ``scaler_*`` metric names that appear in ``text``."""
    return set(_METRIC_NAME.findall(text))
