"""What the benchmark asks over HTTP: the simulator's control API (latency, request log, deployments)
and a few of the daemon's metrics (a restricted scrape, cheap for the daemon)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families


@dataclass(frozen=True)
class Arrival:
    """One platform request the simulator answered."""

    endpoint: str
    deployment_id: str | None
    at: float
    """When the simulator handled it (``time.time()`` seconds): after any injected latency."""
    status: int | None
    body: Any


class SimulatorControl:
    """The simulator's control API under ``/_sim/``."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=f"{url}/_sim", timeout=120.0)

    def close(self) -> None:
        self._http.close()

    def _ok(self, response: httpx.Response) -> Any:
        response.raise_for_status()
        return response.json()

    def set_latency(self, milliseconds: float) -> None:
        """Hold every platform request ``milliseconds`` before answering it (0: no latency)."""
        self._ok(self._http.put("/faults/latency", json={"fixed_ms": milliseconds}))

    def deployments(self) -> list[dict[str, Any]]:
        """Every deployment's simulated state."""
        return self._ok(self._http.get("/deployments"))

    def requests(self, endpoint: str | None = None) -> tuple[int, list[Arrival]]:
        """The total number of requests logged since the last clear, and the kept ones (for ``endpoint``)."""
        params = {"endpoint": endpoint} if endpoint else {}
        answer = self._ok(self._http.get("/requests", params=params))
        arrivals = [
            Arrival(
                endpoint=entry["endpoint"],
                deployment_id=entry["deployment_id"],
                at=datetime.fromisoformat(entry["timestamp"]).timestamp(),
                status=entry["status"],
                body=entry["body"],
            )
            for entry in answer["requests"]
        ]
        if answer["dropped"]:
            raise RuntimeError(f"the simulator's request log dropped {answer['dropped']} requests: raise its limit")
        return answer["total"], arrivals

    def clear_requests(self) -> None:
        """Forget every logged request."""
        self._ok(self._http.delete("/requests"))


#: The daemon metrics the benchmark follows.
FOLLOWED = (
    "scaler_health_poll_duration_seconds_count",
    "scaler_health_poll_duration_seconds_sum",
    "scaler_last_health_poll_timestamp_seconds",
    "scaler_reconcile_duration_seconds_count",
    "scaler_reconcile_duration_seconds_sum",
    "scaler_last_reconcile_timestamp_seconds",
    "scaler_api_request_duration_seconds_count",
)


class DaemonMetrics:
    """Scrapes only :data:`FOLLOWED` from the daemon's ``/metrics`` (prometheus_client's ``name[]`` filter)."""

    def __init__(self, url: str) -> None:
        self._http = httpx.Client(base_url=url, timeout=30.0)

    def close(self) -> None:
        self._http.close()

    def scrape(self) -> dict[str, float]:
        """Return ``{sample: value}``; the request counts are summed by endpoint as ``requests:<endpoint>``."""
        response = self._http.get("/metrics", params=[("name[]", name) for name in FOLLOWED])
        response.raise_for_status()
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name == "scaler_api_request_duration_seconds_count":
                    key = f"requests:{sample.labels.get('endpoint')}"
                    values[key] = values.get(key, 0.0) + sample.value
                else:
                    values[sample.name] = sample.value
        return values
