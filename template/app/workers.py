"""Several worker processes on one port, forked from a parent that has already imported the app.

uvicorn's own `--workers` starts each worker with multiprocessing's "spawn": every worker
imports FastAPI, SQLAlchemy and the app again, so the first answer comes later and each
worker holds its own copy of all that code. Forking after the import gives workers that
are ready at once and share the parent's memory pages until they write to them.
"""

import asyncio
import gc
import logging
import math
import os
import select
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import uvicorn

logger = logging.getLogger("app.workers")

# The default pool is DB_POOL_SIZE + DB_MAX_OVERFLOW connections per worker; four workers
# keep one replica well inside PostgreSQL's default max_connections of 100.
MAX_DEFAULT_WORKERS = 4
# A worker that dies this soon after it started is failing, not crashing now and then
QUICK_DEATH_SECONDS = 5.0
QUICK_DEATHS_ALLOWED = 5
# At start a worker is forked only once the one before is serving (or after this long)
READY_WAIT_SECONDS = 10.0
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
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    quota = cpu_quota(cpu_max)
    if quota is not None:
        cpus = min(cpus, quota)
    return max(1, min(cpus, MAX_DEFAULT_WORKERS))


class WorkerServer(uvicorn.Server):
    """uvicorn's server, telling the supervisor once it serves and its start-up work is done.

    `settled` says whether the app still works on its start (the migrations thread); the
    next worker is forked only after that, so it does not compete for the CPUs with it.
    """

    def __init__(
        self, config: uvicorn.Config, ready: Callable[[], None], settled: Callable[[], bool]
    ) -> None:
        super().__init__(config)
        self.ready = ready
        self.settled = settled
        self.waiting: asyncio.Task[None] | None = None  # held: the loop keeps only a weak one

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.waiting = asyncio.create_task(self._tell_when_settled())

    async def _tell_when_settled(self) -> None:
        deadline = time.monotonic() + READY_WAIT_SECONDS
        while not self.settled() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self.ready()


class Supervisor:
    """Keep `count` forked workers serving; on SIGTERM or SIGINT, stop them gracefully."""

    def __init__(self, count: int, serve: Callable[[Callable[[], None]], int]) -> None:
        self.count = count
        # Runs in a worker and returns its exit code; calls its argument once it accepts requests
        self.serve = serve
        self.children: dict[int, float] = {}  # pid -> when it started
        self.stopping = False
        self.quick_deaths = 0

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        # Objects that exist now are never collected in a worker, so the collector does not
        # touch (and copy) the memory pages the workers share with this process
        gc.freeze()
        # One after another: the first worker gets the CPUs to itself and answers sooner
        for _ in range(self.count):
            if self.stopping:
                break
            self._fork(wait_until_ready=True)
        failed = False
        while self.children:
            pid, status = os.wait()
            started = self.children.pop(pid, None)
            if started is None or self.stopping:
                continue
            code = os.waitstatus_to_exitcode(status)
            lived = time.monotonic() - started
            self.quick_deaths = self.quick_deaths + 1 if lived < QUICK_DEATH_SECONDS else 0
            if self.quick_deaths >= QUICK_DEATHS_ALLOWED:
                logger.error(
                    "workers keep exiting at start (last code %d); stopping: see the log above",
                    code,
                )
                failed = True
                self._stop(signal.SIGTERM, None)
                continue
            logger.warning(
                "worker %d exited with code %d after %.1f s; starting another", pid, code, lived
            )
            self._fork()
        return 1 if failed else 0

    def _fork(self, wait_until_ready: bool = False) -> None:
        ready_r, ready_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the worker: never return into the parent's code
            os.close(ready_r)
            code = 1
            try:
                signal.signal(signal.SIGTERM, exit_cleanly)
                signal.signal(signal.SIGINT, exit_cleanly)
                code = self.serve(lambda: _tell_ready(ready_w))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
            except BaseException:
                logger.exception("worker %d failed", os.getpid())
            finally:
                logging.shutdown()
                os._exit(code)
        os.close(ready_w)
        self.children[pid] = time.monotonic()
        try:
            if wait_until_ready:
                # A byte when the worker is ready; end of file if it died first
                select.select([ready_r], [], [], READY_WAIT_SECONDS)
        finally:
            os.close(ready_r)

    def _stop(self, signum: int, frame: FrameType | None) -> None:
        """Pass the stop on to every worker once; each drains its requests and exits."""
        if self.stopping:
            return
        self.stopping = True
        for pid in list(self.children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass


def _tell_ready(fd: int) -> None:
    try:
        os.write(fd, b"r")
        os.close(fd)
    except OSError:
        pass  # told already, or the parent is gone


def exit_cleanly(signum: int, frame: FrameType | None) -> None:
    """uvicorn re-raises the stop signal once it has drained; a requested stop is success."""
    raise SystemExit(0)


def listen(host: str, port: int) -> socket.socket:
    """The one listening socket every worker accepts on."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(address)
    sock.set_inheritable(True)
    return sock
