"""Reliability check: `docker stop` at many moments of start-up never waits for Docker's kill."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checks.outcome import Figures, expect
from harness.machine.engine import DOCKERD_LOG

if TYPE_CHECKING:
    from harness.lab.container import Container
    from harness.lab.subject import Subject

# gunicorn's arbiter logs this just after it installs its signal handlers: from then on a
# SIGTERM is a graceful stop that ends in exit 0
STARTED_LINE = "Listening at: "
# Stops spread from just after `docker run` returns to 1.3x the time the first 200 took
# (20 until session 7: the six rows' 120 start-up stops cost an estimated 6 min of the fresh run,
# which ran 41 min with the user-path checks; 8 still cover before, during and after start)
MOMENTS = 8
# Stops of a container that is already serving: the case issue 19 saw end in Docker's kill.
# STOPS_AFTER_SERVING=100 repeats it that many times, for a count worth quoting.
AFTER_SERVING = int(os.environ.get("STOPS_AFTER_SERVING", "3"))
DOCKER_GRACE_S = 10
# A stop still running this long will likely end in Docker's kill: look inside before it does
STUCK_AFTER_S = 7


def stops_during_startup(s: Subject) -> Figures:
    """`docker stop -t 10` at 11 moments of start-up, one fresh container each: AFTER_SERVING
    times once serving (after the first 200), then at MOMENTS delays spread from 0 s to 1.3x
    the first container's first 200.

    Expected: never exit 137 (Docker's SIGKILL after its 10 s grace) and never close to 10 s.
    A stop still running after STUCK_AFTER_S adds every process's stack to the failure.
    Once the container has logged STARTED_LINE, the exit code is 0. Before that the Python
    process has no handler yet, so tini (PID 1) passes the SIGTERM on and it ends the
    process at once: exit 143, or 0 if gunicorn's handlers came first. Both are quick.
    """
    results, first_200 = [], 0.0
    for _ in range(AFTER_SERVING):
        s.remove_containers()
        c = s.start_container("stops")
        took = c.wait_for_health_200()  # seconds from docker run
        first_200 = first_200 or took
        results.append(stop(s, c, took))
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
    pids = s.engine.docker("top", c.name, "-o", "pid", check=False).stdout.split()[1:]
    container_id = s.engine.docker("inspect", "--format", "{{.Id}}", c.name).stdout.strip()
    began = time.monotonic()
    args = ("stop", "--time", str(DOCKER_GRACE_S), c.name)
    stopper = threading.Thread(target=s.engine.docker, args=args, kwargs={"timeout": 30})
    stopper.start()
    stopper.join(STUCK_AFTER_S)
    stacks = "" if not stopper.is_alive() else process_stacks(pids) + frozen(container_id)
    stopper.join()
    if stacks:  # did the engine itself say why (signal not delivered, kill failed)?
        stacks += engine_lines(container_id)
    took = time.monotonic() - began
    code, logs = c.state()["ExitCode"], c.logs()
    c.remove()
    started = STARTED_LINE in logs
    where = f"stopped {delay:.2f} s after docker run ({'after' if started else 'before'} start)"
    expect(
        code != 137 and took < DOCKER_GRACE_S - 1,
        f"{where}: exit {code} after {took:.1f} s, Docker had to kill it:\n{logs[-1500:]}{stacks}",
    )
    expect(
        code == 0 if started else code in (0, 143),
        f"{where}: exit {code}, expected {'0' if started else '0 or 143'}:\n{logs[-1500:]}",
    )
    return code, started, took


def process_stacks(pids: list[str]) -> str:
    """What each process of a container that is not stopping is doing: its state, pending,
    blocked and caught signals, the system call it is in and its kernel stack (a process in
    the kernel cannot run its signal handler), and its Python stack if py-spy is at hand."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    found = []
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            wchan = Path(f"/proc/{pid}/wchan").read_text()
            syscall = Path(f"/proc/{pid}/syscall").read_text().split(" ")[0]
            kernel = " < ".join(line.split()[-1] for line in read_lines(f"/proc/{pid}/stack")[:4])
        except OSError:
            continue  # ended meanwhile
        shown = ", ".join(
            x for x in status if x.startswith(("State:", "ShdPnd:", "SigBlk:", "SigCgt:"))
        )
        try:
            out = subprocess.run(
                [spy, "dump", "--pid", pid], capture_output=True, text=True, timeout=10
            )
            stack = out.stdout or out.stderr.partition("\n")[0]  # tini has no Python stack
        except (OSError, subprocess.TimeoutExpired) as why:
            stack = f"(no Python stack: {why})"
        found.append(
            f"--- pid {pid}: {shown}, wchan {wchan}, syscall {syscall}, kernel {kernel}\n{stack}"
        )
    return f"\n[still running after {STUCK_AFTER_S} s of docker stop]\n" + "\n".join(found)


def read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except OSError:  # a kernel without the file, or not root
        return []


def frozen(container_id: str) -> str:
    """The container's freezer state: a frozen cgroup runs no handler and writes no log line,
    which is what issue 19's stuck stop looked like (cgroup v1 freezer, or v2 cgroup.events)."""
    places = [
        f"/sys/fs/cgroup/freezer/docker/{container_id}/freezer.state",
        f"/sys/fs/cgroup/system.slice/docker-{container_id}.scope/cgroup.events",
        f"/sys/fs/cgroup/docker/{container_id}/cgroup.events",
    ]
    states = [f"{path}: {' '.join(read_lines(path))}" for path in places if read_lines(path)]
    return "\n[freezer] " + ("; ".join(states) or "no freezer file found")


def engine_lines(container_id: str) -> str:
    """The engine's log lines about this container, when the harness started the engine."""
    try:
        lines = DOCKERD_LOG.read_text(errors="replace").splitlines()
    except OSError:
        return f"\n(no engine log at {DOCKERD_LOG})"
    about = [line for line in lines if container_id.strip() and container_id.strip() in line]
    return "\n[engine log]\n" + "\n".join(about[-10:])
