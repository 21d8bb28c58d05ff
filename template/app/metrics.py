"""GET /metrics in Prometheus' text format, and the metrics the app records.

Under gunicorn every worker counts on its own, so prometheus-client's multiprocess mode is
on (gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a fresh folder under /tmp before the
app is imported): each worker writes its values to files there, and a scrape of any worker
sums every worker's, those of workers that died included. The gauges of a dead worker drop
out (gunicorn.conf.py's child_exit). Without that variable (pytest, a plain `uvicorn`) the
values live in this process, next to prometheus-client's own process and Python metrics.

Every label value comes from a small fixed set: the route's template (`/tasks/{task_id}`,
never the path a client sent), a method from HTTP's own list, a status code, a reason code.
"""

import os
import time
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Literal

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event
from starlette.requests import Request
from starlette.responses import Response

from app._defaults import SERVICE_NAME

VERSION = "0.1.0"
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
# The label of every request that matched no route: 10,000 made-up paths are one series
UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "http_requests", "Requests answered, by method, route template and status",
    ["method", "route", "status"],
)  # fmt: skip
DURATION = Histogram(
    "http_request_duration_seconds",
    "Time from the request's arrival to the last byte of its response",
    ["method", "route"],
)
# livesum: the sum over the workers alive now; a killed worker's share drops out with it
IN_FLIGHT = Gauge(
    "http_requests_in_flight", "Requests being served now", multiprocess_mode="livesum"
)
POOL_IN_USE = Gauge(
    "db_pool_connections_in_use", "Database connections checked out of the pool now",
    ["pool"], multiprocess_mode="livesum",
)  # fmt: skip
POOL_CAPACITY = Gauge(
    "db_pool_connections_max", "Connections the pool may hold (size + overflow)",
    ["pool"], multiprocess_mode="livesum",
)  # fmt: skip
DB_ERRORS = Counter(
    "db_errors", "Failed database calls, by the reason code /health and the log use", ["reason"]
)
# The process_* metrics prometheus-client gives one process, per worker (label pid)
_PROCESS_REFRESH_S = 5.0


def route_label(route: object) -> str:
    """The matched route's template, or UNMATCHED."""
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


def method_label(method: str) -> str:
    return method if method in METHODS else "other"


@cache  # bounded: methods x routes x statuses are each a small fixed set
def _request_children(method: str, route: str, status: int) -> tuple[Counter, Histogram]:
    return REQUESTS.labels(method, route, str(status)), DURATION.labels(method, route)


def observe_request(method: str, route: str, status: int, seconds: float) -> None:
    count, duration = _request_children(method, route, status)
    count.inc()
    duration.observe(seconds)
    refresh_process_metrics()


def count_db_error(reason: str) -> None:
    DB_ERRORS.labels(reason).inc()


def watch_pool(engine: Engine, pool: Literal["data", "health"]) -> None:
    """Keep POOL_IN_USE and POOL_CAPACITY of this engine's pool current."""
    in_use = POOL_IN_USE.labels(pool)
    size = getattr(engine.pool, "size", lambda: 0)()
    overflow = max(getattr(engine.pool, "_max_overflow", 0), 0)
    POOL_CAPACITY.labels(pool).set(size + overflow)
    event.listen(engine, "checkout", lambda *_: in_use.inc())
    event.listen(engine, "checkin", lambda *_: in_use.dec())


class _BuildInfo(Collector):
    def collect(self) -> Iterable[Metric]:
        info = GaugeMetricFamily(
            "app_build_info", "This build: always 1", labels=["service", "version"]
        )
        info.add_metric([SERVICE_NAME, VERSION], 1)
        yield info


# Made in the worker on first use, never in gunicorn's arbiter (which serves nothing)
_PROCESS_GAUGES: dict[str, Gauge] = {}
_next_refresh = [0.0]


def refresh_process_metrics() -> None:
    """Copy this worker's process_* figures (read by prometheus-client's ProcessCollector from
    /proc) into gauges every worker can read; at most every few seconds, as requests pass."""
    if not MULTIPROCESS or time.monotonic() < _next_refresh[0]:
        return
    _next_refresh[0] = time.monotonic() + _PROCESS_REFRESH_S
    gauges = _PROCESS_GAUGES
    for family in ProcessCollector(registry=None).collect():
        for sample in family.samples:
            if sample.name not in gauges:
                gauges[sample.name] = Gauge(
                    sample.name, family.documentation, registry=None, multiprocess_mode="liveall"
                )
            gauges[sample.name].set(sample.value)


@lru_cache(maxsize=1)
def scrape_registry() -> CollectorRegistry:
    if not MULTIPROCESS:
        REGISTRY.register(_BuildInfo())
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped there
    PlatformCollector(registry=registry)
    registry.register(_BuildInfo())
    return registry


async def metrics(request: Request) -> Response:
    """GET /metrics: every worker's values, summed (reading a few small files on tmpfs)."""
    refresh_process_metrics()
    return Response(generate_latest(scrape_registry()), media_type=CONTENT_TYPE_LATEST)
