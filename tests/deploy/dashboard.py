"""Reading the Grafana dashboard as the tests need it: panels, queries, variables.

Grafana substitutes the dashboard's variables before a query reaches Prometheus;
:func:`substitute_variables` does the same for the tests, with values fitting the
test servers' one-second scrape interval.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from tests.deploy.conftest import DASHBOARD

#: $__rate_interval as Grafana computes it for a 1 s scrape interval: 4 x scrape interval.
RATE_INTERVAL = "4s"
#: $__interval: one step per scrape.
INTERVAL = "1s"
#: $__range: longer than the test servers have been running, so it covers all their data.
RANGE = "5m"

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


def substitute_variables(expr: str, *, deployment: str, policy: str) -> str:
    """Replace Grafana's variables in ``expr`` as Grafana would before querying Prometheus."""
    values = {
        "__rate_interval": RATE_INTERVAL,
        "__interval": INTERVAL,
        "__range": RANGE,
        "deployment": deployment,
        "policy": policy,
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
