"""Many stops of a serving container, counted by exit code (issue 19, item 8).

    python3 -m benchmarks.serving_stops IMAGE [STOPS] [LANE]

Each stop: `docker run` on the host network (health probe every second, as the matrix runs
it) against a private PostgreSQL on 127.0.0.1, wait for the first 200 on /health, then
`docker stop -t 10`. A stop still running after 7 s prints every process's stack first
(harness/checks/stops.py). Run several LANEs at once (distinct names) to load the machine.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections import Counter

from harness.checks.stops import STUCK_AFTER_S, process_stacks
from harness.lab.container import request
from harness.machine.net import free_port
from harness.machine.postgres import Postgres


def docker(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60)


def serving(port: int) -> bool:
    try:
        return request(port, "GET", "/health", timeout=2).status == 200
    except OSError:
        return False


def one_stop(image: str, name: str, database_url: str) -> tuple[str, float, str]:
    """(exit code, seconds docker stop took, what the container said if it was slow)."""
    port = free_port()
    docker("rm", "-f", name)
    run = ("run", "-d", "--name", name, "--network", "host", "--health-interval", "1s")
    env = ("-e", "HOST=127.0.0.1", "-e", f"PORT={port}", "-e", f"DATABASE_URL={database_url}")
    docker(*run, *env, image).check_returncode()
    deadline = time.monotonic() + 90
    while not serving(port) and time.monotonic() < deadline:
        time.sleep(0.02)
    pids = docker("top", name, "-o", "pid").stdout.split()[1:]
    began = time.monotonic()
    stopper = threading.Thread(target=docker, args=("stop", "--time", "10", name))
    stopper.start()
    stopper.join(STUCK_AFTER_S)
    stacks = process_stacks(pids) if stopper.is_alive() else ""
    stopper.join()
    took = time.monotonic() - began
    code = docker("inspect", "--format", "{{.State.ExitCode}}", name).stdout.strip()
    said = docker("logs", name).stderr[-3000:] + stacks if took > 3 or code != "0" else ""
    docker("rm", "-f", name)
    return code, took, said


def main(image: str, stops: int, lane: str) -> None:
    exits: Counter[str] = Counter()
    slowest = 0.0
    with Postgres() as pg:
        for i in range(stops):
            code, took, said = one_stop(image, f"server-stops-{lane}", pg.url)
            exits[code] += 1
            slowest = max(slowest, took)
            print(f"{i} exit {code} after {took:.2f} s", flush=True)
            if said:
                print(said, flush=True)
    print(f"{image}: {stops} stops, exits {dict(exits)}, slowest {slowest:.2f} s", flush=True)


if __name__ == "__main__":
    lane = sys.argv[3] if len(sys.argv) > 3 else "a"
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 100, lane)
