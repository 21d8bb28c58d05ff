"""Reliability check: `docker stop` at many moments of start-up never waits for Docker's kill."""

from __future__ import annotations

import time
from collections import Counter
from typing import TYPE_CHECKING

from harness.checks.outcome import Figures, expect

if TYPE_CHECKING:
    from harness.lab.container import Container
    from harness.lab.subject import Subject

# gunicorn's arbiter logs this just after it installs its signal handlers: from then on a
# SIGTERM is a graceful stop that ends in exit 0
STARTED_LINE = "Listening at: "
# Stops spread from just after `docker run` returns to 1.3x the time the first 200 took
MOMENTS = 20
DOCKER_GRACE_S = 10


def stops_during_startup(s: Subject) -> Figures:
    """`docker stop -t 10` at 21 moments of start-up, one fresh container each: once serving
    (after the first 200), then at MOMENTS delays spread from 0 s to 1.3x that first 200.

    Expected: never exit 137 (Docker's SIGKILL after its 10 s grace) and never close to 10 s.
    Once the container has logged STARTED_LINE, the exit code is 0. Before that the Python
    process has no handler yet, so tini (PID 1) passes the SIGTERM on and it ends the
    process at once: exit 143, or 0 if gunicorn's handlers came first. Both are quick.
    """
    s.remove_containers()
    c = s.start_container("stops")
    first_200 = c.wait_for_health_200()  # seconds from docker run
    results = [stop(s, c, first_200)]
    for i in range(MOMENTS):
        s.remove_containers()
        c = s.start_container("stops")
        delay = 1.3 * first_200 * i / (MOMENTS - 1)
        time.sleep(delay)
        results.append(stop(s, c, delay))
    exits = Counter(code for code, _, _ in results)
    histogram = " ".join(f"{code}x{count}" for code, count in sorted(exits.items()))
    return {
        "stops": len(results),
        "stop_exits": histogram,
        "stops_first_200_s": round(first_200, 2),
        "stops_after_start": sum(started for _, started, _ in results),
        "slowest_stop_s": round(max(took for _, _, took in results), 2),
    }


def stop(s: Subject, c: Container, delay: float) -> tuple[int, bool, float]:
    """docker stop, timed; checks the exit code against what the log says had happened."""
    began = time.monotonic()
    s.engine.docker("stop", "--time", str(DOCKER_GRACE_S), c.name, timeout=DOCKER_GRACE_S + 20)
    took = time.monotonic() - began
    code, logs = c.state()["ExitCode"], c.logs()
    c.remove()
    started = STARTED_LINE in logs
    where = f"stopped {delay:.2f} s after docker run ({'after' if started else 'before'} start)"
    expect(
        code != 137 and took < DOCKER_GRACE_S - 1,
        f"{where}: exit {code} after {took:.1f} s, Docker had to kill it:\n{logs[-1500:]}",
    )
    expect(
        code == 0 if started else code in (0, 143),
        f"{where}: exit {code}, expected {'0' if started else '0 or 143'}:\n{logs[-1500:]}",
    )
    return code, started, took
