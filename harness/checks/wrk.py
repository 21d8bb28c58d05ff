"""A bounded mixed-CRUD load with wrk against one app on 127.0.0.1, read from the JSON line
that crud_mix.lua's done() hook prints (never from wrk's text report)."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.lab.container import request

CRUD_MIX = Path(__file__).with_name("crud_mix.lua")
SEED_TASKS = 200


class WrkError(RuntimeError):
    """wrk could not run or said nothing readable; the message says what it printed."""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float | None  # None: not one answer came back (a stalled server)
    p99_ms: float | None
    error_answers: int  # answers with a status of 400 or above
    socket_errors: int  # connect, read and write errors, and timeouts

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.error_answers + self.socket_errors


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise WrkError("wrk is not installed: `apt-get install wrk` and run again")
    return wrk


def seed_tasks(port: int, count: int = SEED_TASKS) -> list[int]:
    """Existing tasks for the load to read and patch, so it is not one hot row."""
    ids = []
    for i in range(count):
        created = request(port, "POST", "/tasks", {"title": f"seed {i}"})
        if created.status != 201:
            raise WrkError(f"seeding task {i} answered {created}")
        ids.append(created.body["id"])
    return ids


def run_crud_mix(port: int, ids: list[int], *, seconds: float, connections: int) -> WrkResult:
    """wrk -c connections for a bounded time: POST, list, GET by id and PATCH in equal parts."""
    target = f"http://127.0.0.1:{port}"
    argv = [find_wrk(), "-t2", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s"]
    argv += ["-s", str(CRUD_MIX), target, "--", ",".join(map(str, ids))]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise WrkError(f"wrk failed: {out.stderr or out.stdout}")
    return read_figures(out.stdout)


def read_figures(stdout: str) -> WrkResult:
    """The JSON line done() prints, which wrk writes after its own text report."""
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    try:
        figures = json.loads(last)
    except json.JSONDecodeError:
        raise WrkError(f"wrk printed no figures line:\n{stdout[-2000:]}") from None
    p50, p99 = figures["p50_ms"], figures["p99_ms"]
    return WrkResult(
        requests=figures["requests"],
        seconds=figures["seconds"],
        p50_ms=None if p50 is None else round(p50, 1),
        p99_ms=None if p99 is None else round(p99, 1),
        error_answers=figures["error_answers"],
        socket_errors=sum(figures["socket_errors"].values()),
    )
