"""The scoring server's Prometheus metrics, in prometheus-client's multiprocess mode.

Every worker and the supervisor write their own files under PROMETHEUS_MULTIPROC_DIR (set
before this module is imported); `/metrics`, answered by any worker, sums them all. Imports
nothing of housing_core: workers load it by path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

ROUTES = frozenset(("/invocations", "/ping", "/health", "/version", "/model", "/metrics"))
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0
)  # fmt: skip


class RequestMetrics:
    """What each worker counts: requests by route and status, latency, rows scored."""

    def __init__(self, state_file: Path | None = None) -> None:
        self.state_file = state_file
        self.requests = Counter(
            "housing_serving_requests", "HTTP requests answered", ["route", "status"]
        )
        self.latency = Histogram(
            "housing_serving_request_duration_seconds",
            "time from request to the last byte of the answer",
            ["route"],
            buckets=LATENCY_BUCKETS,
        )
        self.rows = Counter("housing_serving_rows_scored", "rows priced by /invocations")

    def observe(self, route: str, status: int, seconds: float, rows: int) -> None:
        label = route if route in ROUTES else "other"
        self.requests.labels(label, str(status)).inc()
        self.latency.labels(label).observe(seconds)
        if rows:
            self.rows.inc(rows)

    def exposition(self) -> tuple[bytes, bytes]:
        """Every process's metrics, summed, as Prometheus text."""
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        if self.state_file is not None:
            registry.register(SwapCollector(self.state_file))
        return generate_latest(registry), CONTENT_TYPE_LATEST.encode()


class SwapCollector:
    """The supervisor's record (its state file): the version served, swaps done and refused."""

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file

    def collect(self) -> Iterator[Metric]:
        try:
            state = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return
        served = GaugeMetricFamily(
            "housing_serving_model_version", "the registered version being served", labels=["name"]
        )
        served.add_metric([str(state.get("name", ""))], float(state.get("version") or 0))
        yield served
        yield CounterMetricFamily(
            "housing_serving_swaps", "new versions swapped in", value=state.get("swaps", 0)
        )
        yield CounterMetricFamily(
            "housing_serving_swap_failures",
            "versions that failed to load or their smoke test, and were never served",
            value=state.get("failed_swaps", 0),
        )
