"""The series names the daemon exports, and the ``scaler_*`` names a text refers to.

Names come from a fresh ``scaler.metrics.Metrics()`` registry of each deployment detail, expanded by metric type
the way the exposition format writes them: counters as ``_total`` (and ``_created``),
histograms as ``_bucket``, ``_sum`` and ``_count``, infos as ``_info``.
"""

from __future__ import annotations

import re

from scaler.metrics import DEPLOYMENT_DETAILS, DEPLOYMENT_FAMILIES, Metrics

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
    """Return every series name a ``Metrics()`` registry can expose, in any deployment detail."""
    names = set()
    for detail in DEPLOYMENT_DETAILS:
        for family in Metrics(deployment_detail=detail).registry.collect():  # type: ignore[arg-type]
            for suffix in _SERIES_SUFFIXES[family.type]:
                names.add(family.name + suffix)
    return names


#: The names of the series labelled by deployment (absent with SCALER_METRICS_DEPLOYMENT_DETAIL=off).
PER_DEPLOYMENT_NAMES = frozenset(name for name, *_ in DEPLOYMENT_FAMILIES)
#: The names of the per-deployment series only full detail shows.
FULL_ONLY_NAMES = frozenset(name for name, _kind, _help, _full, compact in DEPLOYMENT_FAMILIES if compact is None)


def referenced_metric_names(text: str) -> set[str]:
    """Return the ``scaler_*`` metric names that appear in ``text``."""
    return set(_METRIC_NAME.findall(text))
