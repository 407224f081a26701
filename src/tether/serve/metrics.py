"""Prometheus metrics of one server (prometheus-client, a registry per app).

    tether_serve_requests_total{endpoint, status}   answers by endpoint and HTTP status
    tether_serve_request_duration_seconds{endpoint} latency histogram
    tether_serve_model_swaps_total                  models swapped in by the follower
    tether_serve_model_load_failures_total          new versions refused (fetch, verify, load)
    tether_serve_model_info{artifact, version, md5} 1 for the version serving now

With ``--workers N`` each worker process counts its own requests.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from tether.serve.model import Served

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


def endpoint_of(path: str) -> str:
    """A bounded label for a request path (never the raw path: no label explosion)."""
    if path == "/invocations":
        return "invocations"
    if path.startswith("/v2/models/") and path.endswith("/infer"):
        return "v2_infer"
    if path.startswith("/v2"):
        return "v2_other"
    if path in ("/ping", "/health", "/version", "/metrics"):
        return path[1:]
    return "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tether_serve_requests",
            "Requests answered, by endpoint and HTTP status.",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "tether_serve_request_duration_seconds",
            "Time from a request's arrival to the end of its answer.",
            ["endpoint"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.swaps = Counter(
            "tether_serve_model_swaps", "Models swapped in by the follower.", registry=self.registry
        )
        self.load_failures = Counter(
            "tether_serve_model_load_failures",
            "New versions refused: not fetched, not verified or not loaded.",
            registry=self.registry,
        )
        self.info = Gauge(
            "tether_serve_model_info",
            "1 for the release serving now.",
            ["artifact", "version", "md5"],
            registry=self.registry,
        )

    def observe(self, endpoint: str, status: int, seconds: float) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)

    def serving(self, old: Served | None, new: Served) -> None:
        if old is not None:
            r = old.release
            self.info.remove(r.artifact, r.version, r.model_md5)
            self.swaps.inc()
        r = new.release
        self.info.labels(r.artifact, r.version, r.model_md5).set(1)

    def text(self) -> bytes:
        return generate_latest(self.registry)
