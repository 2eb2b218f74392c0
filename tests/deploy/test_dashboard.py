"""The Grafana dashboard JSON, checked as a file: variables, panels, units, data sources."""

from __future__ import annotations

import re

import pytest

from tests.deploy.dashboard import (
    all_panels,
    dashboard_targets,
    load_dashboard,
    substitute_variables,
    variable_queries,
)
from tests.deploy.metric_names import exported_series_names, referenced_metric_names

DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
#: The panels the issue asks for, by title.
REQUIRED_PANELS = (
    "Actions per minute by action and result",
    "Errors by reason",
    "Health per deployment",
    "Status per deployment",
    "Running GPUs by accelerator",
    "Desired vs ready replicas",
    "GPU-hours saved today",
    "GPU-hours saved, 7 days",
    "Dollars saved today",
    "Dollars saved, 7 days",
    "Saving rate by accelerator",
    "Next transition per deployment",
    "Reconcile duration and age",
    "API latency by endpoint",
    "API error rate by endpoint",
    "Policy reloads and conflicts",
    "Wallet and API auth",
    "Scheduler events",
)


def _panels_by_title() -> dict[str, dict]:
    return {panel["title"]: panel for panel in all_panels(load_dashboard()) if panel["type"] != "row"}


def test_dashboard_has_a_prometheus_data_source_variable() -> None:
    """The first variable picks a Prometheus data source, so the dashboard imports anywhere."""
    first = load_dashboard()["templating"]["list"][0]
    assert ("datasource", "datasource", "prometheus") == (first["name"], first["type"], first["query"])


def test_dashboard_has_policy_and_deployment_variables() -> None:
    """The policy and deployment variables list label values, multi-select with an All of ".*"."""
    variables = {v["name"]: v for v in load_dashboard()["templating"]["list"]}
    queries = {name: (selector, label) for name, selector, label in variable_queries(load_dashboard())}
    assert {
        "policy": ("scaler_deployment_info", "policy"),
        "deployment": ('scaler_deployment_info{policy=~"$policy"}', "deployment"),
    } == queries
    for name in ("policy", "deployment"):
        assert (True, True, ".*", DATASOURCE) == (
            variables[name]["multi"], variables[name]["includeAll"], variables[name]["allValue"],
            variables[name]["datasource"],
        )


def test_dashboard_needs_no_import_inputs() -> None:
    """No __inputs or hard-wired data source: importing asks nothing, the variable chooses."""
    dashboard = load_dashboard()
    assert "__inputs" not in dashboard
    wired = [panel["title"] for panel in all_panels(dashboard)
             if panel["type"] != "row" and panel.get("datasource") != DATASOURCE]
    wired += [f"{panel['title']}/{target['refId']}" for panel, target in dashboard_targets(dashboard)
              if target.get("datasource") != DATASOURCE]
    assert [] == wired


@pytest.mark.parametrize("title", REQUIRED_PANELS)
def test_required_panel_exists_with_queries(title: str) -> None:
    """Each panel the issue lists exists and has at least one query."""
    assert _panels_by_title()[title]["targets"]


def test_panel_ids_are_unique() -> None:
    """Every panel has its own id (Grafana links and the API address panels by id)."""
    ids = [panel["id"] for panel in all_panels(load_dashboard())]
    assert len(ids) == len(set(ids))


def test_panels_do_not_overlap() -> None:
    """No two panels cover the same cell of Grafana's 24-column grid."""
    taken: dict[tuple[int, int], str] = {}
    overlaps = []
    for panel in all_panels(load_dashboard()):
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                if (x, y) in taken:
                    overlaps.append((taken[(x, y)], panel["title"]))
                taken[(x, y)] = panel["title"]
    assert [] == sorted(set(overlaps))


@pytest.mark.parametrize(
    ("title", "unit"),
    [
        ("GPU-hours saved today", "suffix: GPU-h"),
        ("GPU-hours saved, 7 days", "suffix: GPU-h"),
        ("Dollars saved today", "currencyUSD"),
        ("Dollars saved, 7 days", "currencyUSD"),
        ("Saving now", "currencyUSD"),
        ("Saved by deployment, 7 days", "currencyUSD"),
        ("Last reconcile", "s"),
        ("Reconcile duration and age", "s"),
        ("API latency by endpoint", "s"),
        ("API error rate by endpoint", "percentunit"),
        ("Actions per minute by action and result", "opm"),
    ],
)
def test_panel_unit(title: str, unit: str) -> None:
    """Panels show their values in a sensible unit: GPU-hours, dollars, seconds, ratios, per minute."""
    assert unit == _panels_by_title()[title]["fieldConfig"]["defaults"]["unit"]


def test_gpu_hour_panels_convert_gpu_seconds_to_hours() -> None:
    """Panels in GPU-hours divide the GPU-seconds counter by 3600."""
    for title in ("GPU-hours saved today", "GPU-hours saved, 7 days"):
        expr = _panels_by_title()[title]["targets"][0]["expr"]
        assert "scaler_gpu_seconds_saved_total" in expr and expr.endswith("/ 3600"), title


def test_today_panels_cover_today_so_far() -> None:
    """The "today" panels use the day so far (now/d) as their time range and $__range as the window."""
    for title in ("GPU-hours saved today", "Dollars saved today"):
        panel = _panels_by_title()[title]
        assert ("now/d", True) == (panel["timeFrom"], "[$__range]" in panel["targets"][0]["expr"]), title


def test_every_deployment_query_honours_the_policy_variable() -> None:
    """A query filtered by $deployment is filtered by $policy too: Deployment at All must not undo a policy pick.

    The deployment variable's All is ".*", so the policy can only narrow a panel through
    ``scaler_deployment_info{policy=~"$policy"}`` (the savings counters carry no policy).
    """
    unfiltered = [
        f"{panel['title']}/{target['refId']}"
        for panel, target in dashboard_targets(load_dashboard())
        if "$deployment" in target["expr"] and 'policy=~"$policy"' not in target["expr"]
    ]
    assert [] == unfiltered


def test_every_metric_in_the_dashboard_exists_in_the_daemon() -> None:
    """Every scaler_* name in any panel query or variable is a series the daemon exports."""
    dashboard = load_dashboard()
    text = " ".join(target["expr"] for _, target in dashboard_targets(dashboard))
    text += " ".join(selector for _, selector, _ in variable_queries(dashboard))
    assert set() == referenced_metric_names(text) - exported_series_names()


def test_substitution_leaves_no_variable() -> None:
    """After substitution no query still holds a $variable Prometheus would reject."""
    left = [
        target["expr"]
        for _, target in dashboard_targets(load_dashboard())
        if re.search(r"\$", substitute_variables(target["expr"], deployment=".*", policy=".*"))
    ]
    assert [] == left


def test_substitution_replaces_both_spellings() -> None:
    """$name and ${name} are both substituted, unknown variables are left for the check above to catch."""
    assert 'x{d=~"a"}[4s] $other' == substitute_variables(
        'x{d=~"${deployment}"}[$__rate_interval] $other', deployment="a", policy=".*"
    )
