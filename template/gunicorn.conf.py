"""gunicorn's settings: `python -m app` (the image's command) serves with this file, and so
does a plain `gunicorn app.main:app` started in this folder. Values come from app.config."""

import gc
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from uvicorn_worker import UvicornWorker

from app._defaults import SERVICE_NAME
from app.config import get_settings
from app.http_limits import KEEPALIVE_S, MAX_CONNECTIONS, BoundedHttpToolsProtocol
from app.logs import log_config

# The pool is DB_POOL_SIZE + DB_MAX_OVERFLOW connections per worker; four workers keep one
# replica well inside PostgreSQL's default max_connections of 100
MAX_DEFAULT_WORKERS = 4
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")


def cpu_quota(cpu_max: Path = CGROUP_CPU_MAX) -> int | None:
    """CPUs a cgroup v2 quota allows (`docker run --cpus`, a Kubernetes CPU limit), rounded up."""
    try:
        quota, period = cpu_max.read_text().split()[:2]
    except (OSError, ValueError):
        return None
    if quota == "max":
        return None
    return max(1, math.ceil(int(quota) / int(period)))


def default_workers(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """One worker per CPU this container may use, at most MAX_DEFAULT_WORKERS."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    quota = cpu_quota(cpu_max)
    return max(1, min(cpus or 1, quota or MAX_DEFAULT_WORKERS, MAX_DEFAULT_WORKERS))


class Worker(UvicornWorker):
    """uvicorn in each worker, with the header bounds of app/http_limits.py, a connection cap,
    and no `server: uvicorn` header that names the stack."""

    CONFIG_KWARGS = {
        **UvicornWorker.CONFIG_KWARGS,
        "http": BoundedHttpToolsProtocol,
        "limit_concurrency": MAX_CONNECTIONS,
        "server_header": False,
        # app.middleware.RequestObserver writes the access line, with the route and request id
        "access_log": False,
    }


def when_ready(server: object) -> None:
    """After the preload and before the first fork: objects alive now are never collected,
    so workers do not copy the pages they share with the arbiter (measured under load: memory
    about a fifth lower than without it)."""
    gc.freeze()


def metrics_dir() -> None:
    """Point prometheus-client's multiprocess mode at an empty folder before the app (and so
    prometheus-client) is imported: under /tmp, the tmpfs or emptyDir a read-only container
    mounts, made by whatever UID runs this. Values left by an earlier start are removed
    first, or counters would carry on from them. A folder given in PROMETHEUS_MULTIPROC_DIR
    is used as it is (it must be empty at start), and a reload (SIGHUP) keeps the folder."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return
    folder = Path(tempfile.gettempdir()) / f"{SERVICE_NAME}-metrics"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def child_exit(server: object, worker: Any) -> None:
    """A worker ended (SIGKILL included): its counts stay in the folder, its gauges go."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)


settings = get_settings()
if settings.metrics_enabled:
    metrics_dir()
# Import the app once, then fork: workers start at once and share those memory pages
preload_app = True
worker_class = Worker
workers = settings.web_concurrency or default_workers()
host = f"[{settings.host}]" if ":" in settings.host else settings.host
bind = [f"{host}:{settings.port}"]
# On SIGTERM in-flight requests get this long: well inside Docker's 10 s before its SIGKILL
graceful_timeout = 5
# uvicorn-worker hands this to uvicorn as its keep-alive timeout
keepalive = KEEPALIVE_S
# Trust X-Forwarded-* only from the proxies listed in FORWARDED_ALLOW_IPS
forwarded_allow_ips = settings.forwarded_allow_ips
loglevel = settings.log_level
# A runtime control socket nobody uses in a container; it would need a writable home too
control_socket_disable = True
# One format for gunicorn, uvicorn, the app and Alembic (app/logs.py), text or JSON
logconfig_dict = log_config(settings.log_level, settings.log_format)
