"""Reliability checks (beyond the spec's criteria): hardened runtime, clean stop,
hostile input, load and bad configuration; database outages are in harness/checks/outages.py.

Like the criteria checks, each takes the Subject, raises CheckFailed with what it saw,
and returns figures for the matrix report. All traffic stays on 127.0.0.1, and every
loop is bounded in count and time.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.checks.api import crud_round_trip
from harness.checks.hostile_clients import hostile_clients
from harness.checks.outages import database_outage, locked_table, writes_across_restart
from harness.checks.outcome import CheckFailed, Figures, expect
from harness.checks.stops import stops_during_startup
from harness.checks.wrk import WrkError, run_crud_mix, seed_tasks
from harness.lab.container import ContainerError, request
from harness.machine.net import free_port

if TYPE_CHECKING:
    from harness.lab.subject import Subject

# 15 s at 64 connections is some 7,000 requests, every connection of every worker busy
LOAD_SECONDS = int(os.environ.get("LOAD_SECONDS", "15"))
LOAD_CONNECTIONS = int(os.environ.get("LOAD_CONNECTIONS", "64"))
# examples per operation in a round, each round with a seed of its own so a failure can be
# replayed. The requests a round sends vary run to run and row to row (the stateful phase
# follows the answers: 1,489-3,406 per row seen at 300), so rounds go on, each with the next
# seed, until FUZZ_FLOOR requests have gone out: a fixed count with margin sent twice as many
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))
FUZZ_FLOOR = 1000
FUZZ_ROUNDS = 4


def hardened_runtime(s: Subject) -> Figures:
    """Read-only root, no capabilities, no privilege escalation, an arbitrary UID in group 0."""
    s.remove_containers()
    c = s.start_container(
        "hardened",
        extra=(
            "--read-only",
            "--tmpfs",
            "/tmp",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--user",
            "1000650000:0",
        ),
    )
    c.wait_for_health_200()
    crud_round_trip(c.port, "hardened")
    status = c.exec("python", "-c", "print(open('/proc/1/status').read())")
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    expect(uid == "1000650000", f"PID 1 runs as UID {uid}, not the assigned 1000650000")
    c.remove()
    return {"hardened": "ok"}


def clean_stop(s: Subject) -> Figures:
    """docker stop lets an in-flight request finish and the process exit by itself."""
    s.remove_containers()
    # the write below waits out a 3 s table lock: past the app's default 2 s lock_timeout
    c = s.start_container("stop", extra=("-e", "DB_LOCK_TIMEOUT=10"))
    c.wait_for_health_200()
    c.http("POST", "/tasks", {"title": "table exists"})
    # hold the table lock so the next write is in flight when the stop arrives
    locker = s.lab.postgres.psql_async(
        "BEGIN; LOCK TABLE task IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;",
        database=s.database,
    )
    time.sleep(0.5)
    answer: dict[str, Any] = {}
    writer = threading.Thread(
        target=lambda: answer.update(
            r=request(c.port, "POST", "/tasks", {"title": "in flight at stop"}, timeout=30)
        )
    )
    writer.start()
    time.sleep(0.7)
    started = time.monotonic()
    s.engine.docker("stop", "--time", "10", c.name)
    stop_s = time.monotonic() - started
    writer.join(30)
    locker.wait(30)
    state = c.state()
    c.remove()
    expect(
        "r" in answer and answer["r"].status == 201, f"the in-flight request got {answer.get('r')}"
    )
    expect(
        stop_s < 9.5,
        f"docker stop took {stop_s:.1f} s of its 10 s grace period: the app was killed",
    )
    # gunicorn treats SIGTERM as a requested stop: exit 0, not the signal's 143
    expect(
        state["ExitCode"] == 0 and not state.get("OOMKilled"),
        f"the container exited with {state['ExitCode']}",
    )
    return {"stop_s": round(stop_s, 2), "exit_code": state["ExitCode"]}


def hostile_input(s: Subject) -> Figures:
    """Schemathesis against the running container's own OpenAPI schema, every check on,
    in rounds until FUZZ_FLOOR requests have been sent; no answer may be a 5xx."""
    c = s.main_container()
    # only what the fuzzing causes: at start the health probe may see 503 (migrations pending)
    before = len(c.logs().splitlines())
    first_seed, count, seeds = zlib.crc32(s.variant.name.encode()), 0, list[int]()
    while count < FUZZ_FLOOR and len(seeds) < FUZZ_ROUNDS:
        seeds.append(first_seed + len(seeds))
        count += fuzz_round(s, c.port, seeds[-1])
    expect(
        count >= FUZZ_FLOOR,
        f"schemathesis generated only {count} requests in {len(seeds)} rounds, fewer than"
        f" {FUZZ_FLOOR:,}",
    )
    # the access log's status field, not any "5xx"-looking number in a fuzzed URL
    lines = c.logs().splitlines()[before:]
    # (app.middleware's line: "app.access: GET /tasks/{task_id} 200 1.2ms", the route, no raw path)
    access = re.compile(r"app\.access: \S+ \S+ 5\d\d ")
    server_errors = [i for i, line in enumerate(lines) if access.search(line)]
    context = "\n".join(line for i in server_errors[:3] for line in lines[max(0, i - 2) : i + 1])
    expect(
        not server_errors,
        f"the container answered {len(server_errors)} requests with 5xx:\n{context}",
    )
    return {"fuzz_requests": count, "fuzz_seeds": " ".join(map(str, seeds))}


def fuzz_round(s: Subject, port: int, seed: int) -> int:
    """One schemathesis run; the number of requests it generated.

    One worker: with several, schemathesis on Python 3.11 now and then stops with its own
    "AST constructor recursion depth mismatch" runtime error (a threading bug of 3.11).
    """
    st = shutil.which("st") or str(Path(sys.executable).parent / "st")
    out = subprocess.run(
        [
            st,
            "run",
            f"http://127.0.0.1:{port}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(FUZZ_EXAMPLES),
            "--seed",
            str(seed),
            "--no-color",
            "--request-timeout",
            "10",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=s.lab.workdir,
    )  # schemathesis leaves its run data in the working directory
    expect(out.returncode == 0, f"schemathesis (seed {seed}) found problems:\n{out.stdout[-3000:]}")
    generated = re.search(r"(\d+) generated", out.stdout)
    return int(generated.group(1)) if generated else 0


def load(s: Subject) -> Figures:
    """wrk against 127.0.0.1 for a bounded time: zero errors; requests/s and latency."""
    c = s.main_container()
    try:
        result = run_crud_mix(
            c.port, seed_tasks(c.port), seconds=LOAD_SECONDS, connections=LOAD_CONNECTIONS
        )
    except WrkError as why:
        raise CheckFailed(str(why)) from None
    expect(result.errors == 0, f"errors under load: {result}")
    return {
        "rps": round(result.rps),
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "load": f"{LOAD_CONNECTIONS} conns {LOAD_SECONDS}s",
    }


def bad_configuration(s: Subject) -> Figures:
    """Each configuration mistake: one clear line, a non-zero exit, no traceback."""
    sentinel = s.sentinels["database password"]
    cases = {
        "missing DATABASE_URL": ({}, "DATABASE_URL"),
        "malformed DATABASE_URL": (
            {"DATABASE_URL": f"mysql://app:{sentinel}@127.0.0.1/tasks"},
            "DATABASE_URL",
        ),
        # an unencoded # and @ split the password: no piece of it may reach the log
        "password not percent-encoded": (
            {"DATABASE_URL": f"postgresql://app:{sentinel[:6]}#@{sentinel[6:]}@127.0.0.1/tasks"},
            "percent-encode",
        ),
        "PORT not a number": ({"DATABASE_URL": s.database_url, "PORT": "eighty"}, "PORT"),
        "PORT taken": ({"DATABASE_URL": s.database_url}, "taken"),
    }
    s.remove_containers()
    for case, (env, word) in cases.items():
        port = free_port()
        blocker = socket.socket()
        if case == "PORT taken":
            blocker.bind(("127.0.0.1", port))
            blocker.listen()
        name = f"tat-{s.variant.name}-badconfig"
        args = [
            "run",
            "-d",
            "--name",
            name,
            "--network",
            "host",
            "-e",
            "HOST=127.0.0.1",
            "-e",
            f"PORT={port}",
        ]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        s.engine.docker("rm", "--force", name, check=False)
        try:
            s.engine.docker(*args, s.image.tag)
            exit_code = wait_for_exit(s, name)
            logs = s.engine.docker("logs", name).stderr + s.engine.docker("logs", name).stdout
        finally:
            s.engine.docker("rm", "--force", name, check=False)
            blocker.close()
        lines = [line for line in logs.splitlines() if line.strip()]
        expect(exit_code not in (None, 0), f"{case}: the container exited with {exit_code}")
        expect(
            len(lines) == 1 and word in lines[0],
            f"{case}: expected one line naming {word}, got:\n{logs[-800:]}",
        )
        pieces = (sentinel, sentinel[:6], sentinel[6:])
        expect(
            "Traceback" not in logs and not any(piece in logs for piece in pieces),
            f"{case}: a traceback or (part of) the password in:\n{logs}",
        )
    return {"bad_config": f"{len(cases)}/{len(cases)}"}


def wait_for_exit(s: Subject, name: str, timeout: float = 30.0) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = s.engine.docker(
            "inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", name
        ).stdout.split()
        if state[0] == "false":
            return int(state[1])
        time.sleep(0.2)
    raise ContainerError(f"{name} kept running with a bad configuration for {timeout:.0f} s")


RELIABILITY: dict[str, Callable[[Subject], Figures]] = {
    "hardened-runtime": hardened_runtime,
    "clean-stop": clean_stop,
    "database-outage": database_outage,
    "writes-across-restart": writes_across_restart,
    "hostile-input": hostile_input,
    "load": load,
    "locked-table": locked_table,
    "bad-configuration": bad_configuration,
    "stops-during-startup": stops_during_startup,
    "hostile-clients": hostile_clients,
}
