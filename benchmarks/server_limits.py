"""Side by side, one image, one run: the HTTP protocol each uvicorn worker serves with.

    python3 -m benchmarks.server_limits IMAGE [ROUNDS] [CANDIDATE ...]

IMAGE is a built render (its /app/gunicorn.conf.py is replaced by a variant per candidate,
mounted read-only). Candidates, alternated in every round:
  httptools  uvicorn's default protocol, no header bounds (the template before issue 19)
  bounded    app/http_limits.py: httptools plus a header size bound and a header-read timer
  h11        uvicorn's h11 protocol with h11_max_incomplete_event_size=16384 (no timer)
  asgi       gunicorn 27's own ASGI worker (its limit_request_* defaults, no uvicorn)
Per round and candidate: start to first 200, idle PSS, a wrk CRUD mix (throughput, p99),
and what a 32 KiB header gets. Writes the raw samples as JSON to stdout; every load is
bounded in time and all traffic goes to 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness.checks.hostile_clients import oversized_header
from harness.checks.outcome import CheckFailed
from harness.checks.wrk import run_crud_mix, seed_tasks
from harness.lab.container import request
from harness.machine.net import free_port
from harness.machine.postgres import Postgres

LOAD_SECONDS, CONNECTIONS = 8, 32
FIGURES = ("start_s", "idle_pss_mb", "rps", "p99_ms")
STOCK = '"http": BoundedHttpToolsProtocol,\n        "limit_concurrency": MAX_CONNECTIONS,'
# Each candidate: (text of the image's gunicorn.conf.py, what replaces it)
CANDIDATES = {
    "httptools": (STOCK, '"http": "httptools",'),
    "bounded": (STOCK, STOCK),
    "h11": (STOCK, '"http": "h11", "h11_max_incomplete_event_size": 16384,'),
    "asgi": ("\nworker_class = Worker\n", '\nworker_class = "asgi"\n'),
}


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def conf_variants(image: str, workdir: Path) -> dict[str, Path]:
    """The image's own gunicorn.conf.py with only the protocol settings swapped."""
    source = docker("run", "--rm", "--entrypoint", "cat", image, "/app/gunicorn.conf.py")
    if STOCK not in source:
        raise SystemExit("the image's gunicorn.conf.py does not hold the bounded protocol")
    paths = {}
    for name, (old, new) in CANDIDATES.items():
        paths[name] = workdir / f"{name}.conf.py"
        paths[name].write_text(source.replace(old, new))
    return paths


def pss_mb(container: str) -> float:
    pids = docker("top", container, "-o", "pid").split()[1:]
    rollups = [Path(f"/proc/{pid}/smaps_rollup").read_text() for pid in pids]
    return (
        sum(int(n) for text in rollups for n in re.findall(r"^Pss:\s+(\d+) kB", text, re.M)) / 1024
    )


def healthy(port: int) -> bool:
    try:
        return request(port, "GET", "/health", timeout=2).status == 200
    except OSError:
        return False


def one_sample(image: str, conf: Path, database_url: str) -> dict[str, object]:
    port, name = free_port(), "server-bench-limits"
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    docker(
        *("run", "-d", "--name", name, "--network", "host", "--no-healthcheck"),
        *("-e", "HOST=127.0.0.1", "-e", f"PORT={port}", "-e", "WEB_CONCURRENCY=2"),
        *("-e", f"DATABASE_URL={database_url}", "-v", f"{conf}:/app/gunicorn.conf.py:ro"),
        image,
    )
    began = time.monotonic()
    while not healthy(port):
        if time.monotonic() - began > 60:
            raise SystemExit(docker("logs", name))
        time.sleep(0.01)
    start_s = time.monotonic() - began
    time.sleep(2)
    idle = pss_mb(name)
    try:
        header = oversized_header(port)["oversized_header"]
    except CheckFailed as why:
        header = str(why).split(" got ", 1)[1][:40]
    result = run_crud_mix(port, seed_tasks(port), seconds=LOAD_SECONDS, connections=CONNECTIONS)
    subprocess.run(["docker", "rm", "-f", name], capture_output=True)
    return {
        "start_s": round(start_s, 3),
        "idle_pss_mb": round(idle, 1),
        "rps": round(result.rps, 1),
        "p99_ms": result.p99_ms,
        "errors": result.errors,
        "header_32k": header,
    }


def main(image: str, rounds: int, only: list[str]) -> None:
    samples: dict[str, list[dict[str, object]]] = {name: [] for name in only}
    with tempfile.TemporaryDirectory(prefix="server-limits-") as tmp, Postgres() as pg:
        confs = {k: v for k, v in conf_variants(image, Path(tmp)).items() if k in only}
        for conf in confs.values():
            conf.chmod(0o644)
        for round_ in range(rounds):
            for name, conf in confs.items():
                samples[name].append(one_sample(image, conf, pg.url))
                print(round_, name, samples[name][-1], file=sys.stderr, flush=True)
    medians = {
        name: {key: statistics.median(float(str(s[key])) for s in runs) for key in FIGURES}
        for name, runs in samples.items()
    }
    print(json.dumps({"samples": samples, "medians": medians}, indent=1))


if __name__ == "__main__":
    main(
        sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5, sys.argv[3:] or list(CANDIDATES)
    )
