"""The benchmark's figures: the table printed, and the JSON written (with the machine and the command)."""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import Any

#: The targets of the scale table in docs/performance.md (Scale: 10,000 deployments).
TARGETS = {
    "health_poll_ratio": 1.25,
    "cpu_ms_per_deployment": 0.5,
    "peak_rss_mib": 250.0,
    "boundary_p99_seconds": 1.0,
}


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:  # not Linux: the platform module's guess
        lines = []
    for line in lines:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def machine() -> dict[str, Any]:
    """The machine the figures were measured on."""
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _met(value: float | None, target: float) -> bool | None:
    return None if value is None else value <= target


def figures(cycles: dict, boundaries: dict) -> dict[str, Any]:
    """The six figures of docs/performance.md's scale table, each with its target where it has one."""
    health = cycles.get("health") or {}
    reconcile = cycles.get("reconcile") or {}
    steady = boundaries["steady_state"]
    peak = max(cycles["peak_rss_mib"], boundaries["peak_rss_mib"])
    health_cpu = health.get("cpu_ms_per_deployment")
    reconcile_cpu = reconcile.get("cpu_ms_per_deployment")
    return {
        "health_poll": {
            "deployments_polled": health.get("requests"),
            "wall_seconds": health.get("wall_seconds"),
            "ideal_seconds": health.get("ideal_seconds"),
            "ratio": health.get("ratio"),
            "ratio_worst": health.get("ratio_worst"),
            "target": TARGETS["health_poll_ratio"],
            "met": _met(health.get("ratio"), TARGETS["health_poll_ratio"]),
            "simulator_cpu_share": health.get("simulator_cpu_share"),
            "simulator_cpu_share_worst": health.get("simulator_cpu_share_worst"),
        },
        "cpu_per_deployment": {
            "reconcile_ms": reconcile_cpu,
            "reconcile_ms_worst": reconcile.get("cpu_ms_per_deployment_worst"),
            "health_ms": health_cpu,
            "health_ms_worst": health.get("cpu_ms_per_deployment_worst"),
            "target_ms": TARGETS["cpu_ms_per_deployment"],
            "met": None
            if health_cpu is None or reconcile_cpu is None
            else max(health_cpu, reconcile_cpu) <= TARGETS["cpu_ms_per_deployment"],
        },
        "peak_rss": {
            "mib": peak,
            "cycles_run_mib": cycles["peak_rss_mib"],
            "boundaries_run_mib": boundaries["peak_rss_mib"],
            "target_mib": TARGETS["peak_rss_mib"],
            "met": _met(peak, TARGETS["peak_rss_mib"]),
        },
        "boundary_batch": boundaries["batch"],
        "boundary_precision": {
            **boundaries["edges"],
            "target_p99_seconds": TARGETS["boundary_p99_seconds"],
            "met": _met(boundaries["edges"].get("p99_seconds"), TARGETS["boundary_p99_seconds"]),
        },
        "requests_per_hour": steady,
    }


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    return f"{value:.{digits}f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "MISSED", None: "-"}[met]


def table(result: dict[str, Any]) -> str:
    """The figures as a fixed-width table."""
    f = result["figures"]
    health, cpu, rss = f["health_poll"], f["cpu_per_deployment"], f["peak_rss"]
    batch, edges, steady = f["boundary_batch"], f["boundary_precision"], f["requests_per_hour"]
    rows = [
        (
            "(1) health poll: wall / ideal",
            f"{_number(health['ratio'])} ({_number(health['wall_seconds'], 2)} s"
            f" / {_number(health['ideal_seconds'], 2)} s for {_number(health['deployments_polled'])})",
            f"<= {health['target']}",
            _verdict(health["met"]),
        ),
        ("(2) CPU per deployment, reconcile", f"{_number(cpu['reconcile_ms'], 4)} ms", f"<= {cpu['target_ms']} ms",
         _verdict(_met(cpu["reconcile_ms"], cpu["target_ms"]))),
        ("(2) CPU per deployment, health", f"{_number(cpu['health_ms'], 4)} ms", f"<= {cpu['target_ms']} ms",
         _verdict(_met(cpu["health_ms"], cpu["target_ms"]))),
        ("(3) peak RSS of the daemon", f"{_number(rss['mib'], 1)} MiB", f"<= {rss['target_mib']:g} MiB",
         _verdict(rss["met"])),
        (
            f"(4) {batch['deployments']:,} calls at one boundary: last",
            f"{_number(batch.get('last_call_seconds'))} s (ideal {_number(batch['ideal_seconds'])} s,"
            f" {batch['calls_arrived']:,} arrived)",
            "-",
            "-",
        ),
        (
            f"(5) {edges['boundaries']} boundaries: p50 / p99",
            f"{_number(edges.get('p50_seconds'))} s / {_number(edges.get('p99_seconds'))} s"
            f" (max {_number(edges.get('max_seconds'))} s, {edges['calls_arrived']} arrived)",
            f"p99 <= {edges['target_p99_seconds']:g} s",
            _verdict(edges["met"]),
        ),
        (
            "(6) API requests per hour",
            f"{steady['requests_per_hour']:,} (naive {steady['naive_per_hour']:,}: {steady['share_of_naive']:.1%})",
            "-",
            "-",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    header = ("figure", "measured", "target", "")
    lines = ["  ".join(text.ljust(width) for text, width in zip(header, widths)).rstrip()]
    lines.append("  ".join("-" * width for width in widths))
    lines += ["  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def command_line() -> str:
    """How this run was started."""
    return " ".join([Path(sys.executable).name, *sys.argv])
