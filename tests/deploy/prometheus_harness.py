"""A real Prometheus server on loopback for the tests: config, process, HTTP API.

``PrometheusServer`` writes a scrape config (1 s interval, storage in a temporary
directory; targets alone or in groups carrying labels of their own, as the Prometheus
Operator gives each target its ``namespace``), starts the ``prometheus`` binary on a
free 127.0.0.1 port, and answers instant and range queries through the HTTP API.
``ServedProcess`` runs a process that serves HTTP on a loopback port (the daemon, the simulator, the stand-in scrape target)
and waits until it answers. The environment, the waits (polling with a deadline; nothing
sleeps for a fixed time) and the ending of processes are the suites' shared harness
(:mod:`tests.processes`).
"""

from __future__ import annotations

import functools
import json
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests import processes
from tests.processes import HarnessError, free_port, stop

JOB = "simplismart-scaler"
SCRAPE_INTERVAL = "1s"
POLL_SECONDS = 0.1

#: Waits for Prometheus and the processes it scrapes look every 0.1 s: a look is an HTTP query.
wait_for = functools.partial(processes.wait_for, every=POLL_SECONDS)


def find_binary(name: str) -> str | None:
    """Return the path of ``name`` on PATH, or None."""
    return shutil.which(name)


def http_get(url: str, *, timeout: float = 5.0) -> tuple[int, bytes]:
    """GET ``url``; return (status, body), with HTTP error statuses returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def http_post(url: str, *, timeout: float = 5.0) -> tuple[int, bytes]:
    """POST an empty body to ``url``; return (status, body), with HTTP error statuses returned, not raised."""
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _answers(url: str) -> bool:
    try:
        status, _ = http_get(url, timeout=1.0)
    except OSError:
        return False
    return status == 200


@dataclass
class ServedProcess:
    """A process serving HTTP on 127.0.0.1:``port``; started once ``ready_path`` answers 200."""

    command: Sequence[str]
    port: int
    cwd: Path
    log_path: Path
    env: Mapping[str, str] | None = None
    ready_path: str = "/metrics"
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    @property
    def metrics_url(self) -> str:
        return f"{self.url}/metrics"

    def start(self, *, timeout: float = 30.0) -> None:
        """Start the process and wait until ``ready_path`` answers 200.

        Raises :class:`HarnessError` with the end of the process's output when it exits
        first or does not get ready in ``timeout`` seconds.
        """
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            list(self.command), cwd=self.cwd, env=None if self.env is None else dict(self.env),
            stdout=log, stderr=subprocess.STDOUT,
        )
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise HarnessError(f"{' '.join(self.command)} exited with {process.returncode}: {self.output()}")
            return _answers(self.url + self.ready_path)

        try:
            wait_for(f"{self.url}{self.ready_path} to answer 200", ready, timeout=timeout)
        except HarnessError as error:
            raise HarnessError(f"{error}\n{self.output()}") from None

    def output(self, last_chars: int = 2000) -> str:
        """Return the end of what the process wrote to stdout and stderr."""
        return self.log_path.read_text(errors="replace")[-last_chars:]

    def get(self, path: str) -> tuple[int, bytes]:
        """GET ``path`` of the process; return (status, body)."""
        return http_get(self.url + path)

    def scrape(self) -> bytes:
        """Return one scrape of ``/metrics``."""
        status, body = http_get(self.metrics_url)
        if status != 200:
            raise HarnessError(f"{self.metrics_url} answered {status}")
        return body

    def stop(self) -> int | None:
        """Stop the process (SIGTERM, then SIGKILL after 10 s); return its exit status."""
        if self.process is None:
            return None
        stop(self.process)
        return self.process.returncode


@dataclass(frozen=True)
class TargetGroup:
    """Targets scraped with the same extra labels (one ``static_configs`` entry)."""

    targets: Sequence[str]
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass
class PrometheusServer:
    """A Prometheus server scraping ``targets`` and the targets of ``groups`` as job ``job``."""

    binary: str
    workdir: Path
    targets: Sequence[str] = ()
    rule_files: Sequence[Path] = ()
    groups: Sequence[TargetGroup] = ()
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    job: str = JOB

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        """Write prometheus.yml: 1 s scrapes and rule evaluations, the targets, the rules."""
        static_configs: list[dict[str, Any]] = [{"targets": list(self.targets)}] if self.targets else []
        static_configs += [{"targets": list(group.targets), "labels": dict(group.labels)} for group in self.groups]
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "scrape_timeout": SCRAPE_INTERVAL,
                       "evaluation_interval": SCRAPE_INTERVAL},
            "rule_files": [str(path) for path in self.rule_files],
            "scrape_configs": [{"job_name": self.job, "static_configs": static_configs}],
        }
        path = self.workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def start(self, *, timeout: float = 30.0) -> None:
        """Start Prometheus and wait until it reports ready."""
        config = self.write_config()
        log = (self.workdir / "prometheus.log").open("wb")
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            cwd=self.workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                raise HarnessError(f"prometheus exited with {process.returncode}: {self.log()[-2000:]}")
            return _answers(f"{self.url}/-/ready")

        wait_for("prometheus to be ready", ready, timeout=timeout)

    def log(self) -> str:
        return (self.workdir / "prometheus.log").read_text(errors="replace")

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)

    def api(self, path: str, **params: str) -> dict[str, Any]:
        """Call ``/api/v1/<path>``; return the decoded body (status "success" or "error")."""
        query = urllib.parse.urlencode(params)
        _status, body = http_get(f"{self.url}/api/v1/{path}?{query}")
        return json.loads(body)

    def query(self, expr: str, **params: str) -> dict[str, Any]:
        """Evaluate ``expr`` at the current instant (or ``time=...``); return the API's answer."""
        return self.api("query", query=expr, **params)

    def query_range(self, expr: str, *, start: float, end: float, step: str = SCRAPE_INTERVAL) -> dict[str, Any]:
        """Evaluate ``expr`` over [``start``, ``end``] (Unix seconds) as a graph panel does; return the answer."""
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}", step=step)

    def vector(self, expr: str) -> list[dict[str, Any]]:
        """Evaluate ``expr`` and return its result, raising if Prometheus rejected it."""
        answer = self.query(expr)
        if answer.get("status") != "success":
            raise HarnessError(f"{expr!r}: {answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]["result"]

    def wait_for_samples(self, target: str, count: int, *, timeout: float = 30.0) -> None:
        """Wait until ``count`` successful scrapes of ``target`` are stored."""
        expr = f'sum_over_time(up{{job="{self.job}", instance="{target}"}}[1m])'

        def enough() -> bool:
            result = self.vector(expr)
            return bool(result) and float(result[0]["value"][1]) >= count

        wait_for(f"{count} scrapes of {target}", enough, timeout=timeout)


def promtool_test_rules(
    promtool: str,
    directory: Path,
    rules: dict[str, Any],
    input_series: Mapping[str, str],
    expected: Sequence[tuple[str, str, Sequence[Mapping[str, str]]]],
    *,
    interval: str,
) -> tuple[int, str]:
    """Run ``promtool test rules`` on the rule file ``rules`` (a parsed document), annotations dropped.

    ``input_series`` maps a series selector to its values in promtool's notation, one value
    per ``interval``; ``expected`` lists (eval_time, alertname, labels of each alert firing
    then). The files are written in ``directory``. Return promtool's exit status and output.
    Annotations are dropped because they are templates whose rendering ``promtool check
    rules`` already checks, and the unit tests compare labels.
    """
    document = json.loads(json.dumps(rules))
    for group in document["groups"]:
        for rule in group["rules"]:
            rule.pop("annotations", None)
    (directory / "rules.yaml").write_text(yaml.safe_dump(document, sort_keys=False))
    tests = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": interval,
        "tests": [{
            "interval": interval,
            "input_series": [{"series": series, "values": values} for series, values in input_series.items()],
            "alert_rule_test": [
                {"eval_time": at, "alertname": alert, "exp_alerts": [{"exp_labels": dict(labels)} for labels in firing]}
                for at, alert, firing in expected
            ],
        }],
    }
    path = directory / "tests.yaml"
    path.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = subprocess.run([promtool, "test", "rules", str(path)], capture_output=True, timeout=60, check=False)
    return result.returncode, (result.stdout + result.stderr).decode()
