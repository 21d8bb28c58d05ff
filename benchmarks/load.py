"""A bounded mixed-CRUD load with wrk against one running container on 127.0.0.1."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.container import request
from harness.reliability import WRK_SCRIPT

SEED_TASKS = 200
# wrk prints durations with these units (and "-nanus"-like text when it has no samples).
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class LoadResult:
    rps: float
    p50_ms: float | None  # None: not one answer came back (a stalled server)
    p99_ms: float | None
    requests: int
    errors: int  # non-2xx/3xx answers, socket errors and timeouts


class LoadError(RuntimeError):
    pass


def find_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise LoadError("wrk is not installed: `apt-get install wrk` and run again")
    return wrk


def seed(port: int, count: int = SEED_TASKS) -> list[int]:
    """Existing tasks for the load to read and patch, so it is not one hot row."""
    ids = []
    for i in range(count):
        created = request(port, "POST", "/tasks", {"title": f"seed {i}"})
        if created.status != 201:
            raise LoadError(f"seeding task {i} answered {created}")
        ids.append(created.body["id"])
    return ids


def run_wrk(port: int, ids: list[int], script_dir: Path, *, seconds: float, connections: int) -> LoadResult:
    """wrk -c connections for a bounded time: POST, list, GET by id and PATCH in equal parts."""
    script = script_dir / "crud-mix.lua"
    script.write_text(WRK_SCRIPT % ",".join(map(str, ids)))
    argv = [find_wrk(), "-t2", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "10s", "--latency",
            "-s", str(script), f"http://127.0.0.1:{port}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise LoadError(f"wrk failed: {out.stderr or out.stdout}")
    return parse_wrk(out.stdout)


def parse_wrk(text: str) -> LoadResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    if not rps or not total:
        raise LoadError(f"unreadable wrk output:\n{text}")
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = int(bad.group(1)) if bad else 0
    errors += sum(int(n) for n in sockets.groups()) if sockets else 0
    return LoadResult(float(rps.group(1)), percentile_ms(text, "50%"), percentile_ms(text, "99%"),
                      int(total.group(1)), errors)


def percentile_ms(text: str, pct: str) -> float | None:
    """A latency percentile in ms; None when wrk had no answer to measure."""
    # wrk pads one-letter units with a trailing space ("1.26s ")
    match = re.search(rf"^\s+{re.escape(pct)}\s+([\d.]+)(us|ms|s|m|h) ?$", text, re.MULTILINE)
    return round(float(match.group(1)) * UNITS_MS[match.group(2)], 1) if match else None
