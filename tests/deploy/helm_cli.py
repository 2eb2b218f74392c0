"""The real ``helm`` binary run on the chart, isolated from the user's Helm directories and clusters.

Helm's cache, config and data directories and its kubeconfig point into a directory of
the test's own, so no call reads or writes a real one; nothing is applied to a cluster.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.conftest import CHART

#: The release name and namespace the chart is rendered with.
RELEASE = "scaler"
NAMESPACE = "platform"


class Helm:
    """The ``helm`` binary run on the chart, isolated from the user's Helm directories and clusters."""

    def __init__(self, binary: str, home: Path) -> None:
        self.binary = binary
        self.home = home
        self.env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(home),
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
            "KUBECONFIG": str(home / "no-kubeconfig"),
        }

    def values_file(self, name: str, values: Mapping[str, Any]) -> Path:
        """Write ``values`` to a values file named after ``name``; return its path."""
        path = self.home / f"{name}-values.yaml"
        path.write_text(yaml.safe_dump(dict(values)))
        return path

    def run(
        self, *args: str, values: Mapping[str, Any] | None = None, cwd: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run ``helm ARGS`` (with ``values`` as a values file) in ``cwd``; return the finished process."""
        command = [self.binary, *args]
        if values is not None:
            command += ["--values", str(self.values_file("run", values))]
        return subprocess.run(command, capture_output=True, text=True, env=self.env, cwd=cwd, timeout=60,
                              check=False)

    def template(self, values: Mapping[str, Any]) -> subprocess.CompletedProcess[str]:
        """Run ``helm template`` of the chart as release RELEASE in NAMESPACE."""
        return self.run("template", RELEASE, str(CHART), "--namespace", NAMESPACE, values=values)

    def render(self, values: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Return the manifests ``helm template`` renders for ``values``; raise if it fails."""
        result = self.template(values)
        assert 0 == result.returncode, result.stderr
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc is not None]

    def notes(self, values: Mapping[str, Any]) -> str:
        """Return the release notes ``helm install --dry-run=client`` prints for ``values``."""
        result = self.run("install", RELEASE, str(CHART), "--namespace", NAMESPACE, "--dry-run=client",
                          values=values)
        assert 0 == result.returncode, result.stderr
        return result.stdout.split("\nNOTES:\n", 1)[1]

    def prometheus_rules(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Return the spec of the PrometheusRule rendered for ``values``: a Prometheus rule file's document."""
        rules = [m for m in self.render(values) if m["kind"] == "PrometheusRule"]
        assert 1 == len(rules), f"{len(rules)} PrometheusRule objects"
        return rules[0]["spec"]
