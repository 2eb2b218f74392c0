"""Reading the Grafana dashboard as the tests need it: panels, queries, variables, annotations.

Grafana substitutes the dashboard's variables before a query reaches Prometheus;
:func:`substitute_variables` does the same for the tests, with values fitting the
test servers' one-second scrape interval. The installation variables default to what
Grafana picks on the test servers: their one job, and no cluster or namespace label
(an empty value, which matches series without that label).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tests.deploy.conftest import DASHBOARD
from tests.deploy.prometheus_harness import JOB

#: $__rate_interval as Grafana computes it for a 1 s scrape interval: 4 x scrape interval.
RATE_INTERVAL = "4s"
#: $__interval: one step per scrape.
INTERVAL = "1s"
#: $__range: longer than the test servers have been running, so it covers all their data.
RANGE = "5m"

#: The variables that pick one installation, and the matchers every series selector carries for them.
INSTALLATION_VARIABLES = ("cluster", "job", "namespace")
INSTALLATION_MATCHERS = ('job="$job"', 'namespace="$namespace"', 'cluster="$cluster"')

_LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$", re.DOTALL)


def load_dashboard() -> dict[str, Any]:
    """Return files/dashboard.json, parsed."""
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield every panel, those inside collapsed rows included (rows themselves too)."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_targets(dashboard: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Yield (panel, target) for every Prometheus query of every panel."""
    for panel in all_panels(dashboard):
        for target in panel.get("targets", []):
            yield panel, target


def dashboard_annotations(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Yield every annotation of the dashboard that queries Prometheus."""
    for annotation in dashboard["annotations"]["list"]:
        if "expr" in annotation:
            yield annotation


def substitute_variables(
    expr: str, *, deployment: str, policy: str, job: str = JOB, namespace: str = "", cluster: str = ""
) -> str:
    """Replace Grafana's variables in ``expr`` as Grafana would before querying Prometheus."""
    values = {
        "__rate_interval": RATE_INTERVAL,
        "__interval": INTERVAL,
        "__range": RANGE,
        "deployment": deployment,
        "policy": policy,
        "job": job,
        "namespace": namespace,
        "cluster": cluster,
    }

    def replace(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        return values.get(name, match.group(0))

    return re.sub(r"\$\{(?P<braced>\w+)\}|\$(?P<plain>\w+)", replace, expr)


def variable_queries(dashboard: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """Yield (variable name, series selector, label) for every label_values() variable."""
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
        match = _LABEL_VALUES.match(query.strip())
        if match is None:
            raise ValueError(f"variable {variable['name']}: not a label_values() query: {query}")
        yield variable["name"], match.group("selector"), match.group("label")


_SERIES_SELECTOR = re.compile(r"\b(?P<name>scaler_[a-z0-9_]*[a-z0-9]|up)\b(?P<braces>\{[^}]*\})?(?!\s*\()")


def selectors_missing_installation(expr: str) -> list[str]:
    """Return each series selector of ``expr`` (``scaler_*`` or ``up``) that lacks an installation matcher."""
    missing = []
    for match in _SERIES_SELECTOR.finditer(expr):
        braces = match.group("braces") or ""
        if not all(matcher in braces for matcher in INSTALLATION_MATCHERS):
            missing.append(match.group(0))
    return missing
