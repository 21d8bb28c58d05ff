"""Reliability checks where the database goes away (at start, under write load) or
stalls (a locked table).

Each takes the Subject, raises CheckFailed with what it saw and returns figures for the
matrix report; PostgreSQL is the lab's own throwaway server on 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from harness.checks.api import crud_round_trip
from harness.checks.outcome import Figures, expect
from harness.lab.container import request
from harness.machine.net import LOCAL_OPENER

if TYPE_CHECKING:
    from harness.lab.subject import Subject


def database_outage(s: Subject) -> Figures:
    """Started with PostgreSQL down: stays up, says 503 and why, recovers without a restart."""
    pg = s.lab.postgres
    s.remove_containers()
    pg.stop()
    try:
        c = s.start_container("outage")
        down = c.wait_for_health_status(503, timeout=30)
        want = {"status": "unhealthy", "service": s.project.answers["project_slug"]}
        expect(
            down.body == {**want, "reason": "database_unreachable"},
            f"/health with the database down answered {down}, expected only its reason code",
        )
        write = c.http("POST", "/tasks", {"title": "while down"})
        expect(write.status == 503, f"a write with the database down answered {write}, not 503")
        time.sleep(2)
        expect(c.state()["Running"], "the container exited while the database was down")
    finally:
        pg.start()
    started = time.monotonic()
    c.wait_for_health_200(timeout=60)
    recovery = time.monotonic() - started
    crud_round_trip(c.port, "after the outage")
    state = c.state()
    logs = c.logs()
    c.remove()
    expect(
        state.get("Restarting") is False and "Traceback" not in logs,
        f"unexpected restart or traceback: {logs[-800:]}",
    )
    expect(
        s.sentinels["database password"] not in logs,
        "the database password is in the logs of a failing connection",
    )
    return {"recovery_s": round(recovery, 2)}


def writes_across_restart(s: Subject, seconds: float = 8.0, writers: int = 4) -> Figures:
    """A steady write load through a database restart: failures only while it is down,
    and every write that was acknowledged is in the database afterwards."""
    pg = s.lab.postgres
    s.remove_containers()
    c = s.start_container("writes")
    c.wait_for_health_200()
    results: list[tuple[float, int, int | None]] = []  # (time, status, id)
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def write(n: int) -> None:
        i = 0
        while time.monotonic() < deadline:
            i += 1
            try:
                r = request(c.port, "POST", "/tasks", {"title": f"w{n}-{i}"}, timeout=10)
                row = (time.monotonic(), r.status, r.body.get("id") if r.status == 201 else None)
            except OSError:
                row = (time.monotonic(), 0, None)
            with lock:
                results.append(row)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    time.sleep(seconds / 4)
    down_at = time.monotonic()
    pg.stop()
    time.sleep(seconds / 4)
    pg.start()
    up_at = time.monotonic()
    for t in threads:
        t.join(30)
    c.remove()
    acked = [r[2] for r in results if r[1] == 201]
    failed = [r for r in results if r[1] != 201]
    expect(
        all(status in (0, 503) for _, status, _ in failed),
        f"writes failed with {sorted({r[1] for r in failed})}, expected only 503 during the outage",
    )
    stray = [r for r in failed if not down_at - 0.5 <= r[0] <= up_at + 5]
    expect(not stray, f"{len(stray)} writes failed outside the outage window")
    expect(len(acked) > 0, "no write succeeded at all")
    stored = s.psql(f"SELECT count(*) FROM task WHERE id IN ({','.join(map(str, acked))})")
    expect(
        int(stored) == len(acked),
        f"{len(acked)} writes were acknowledged but {stored} are in the database",
    )
    return {"acked": len(acked), "refused": len(failed), "lost": 0}


# The spec's promise with the task table locked: every read ends within this, with a 503
READ_BOUND_S = 10.0
HEALTH_BOUND_S = 2.0
LOCK_READERS = 60
# Who holds the lock: psql's session, found by its lock and cancelled once the reads are in
_HOLDER = (
    "SELECT pid FROM pg_locks WHERE relation = 'task'::regclass"
    " AND mode = 'AccessExclusiveLock' AND granted"
)


def timed_get(port: int, path: str, timeout: float = 30.0) -> tuple[float, int, str | None]:
    """Seconds, status and Retry-After of one GET (Response does not keep headers)."""
    started = time.monotonic()
    try:
        with LOCAL_OPENER.open(f"http://127.0.0.1:{port}{path}", timeout=timeout) as resp:
            resp.read()
            status, retry = resp.status, resp.headers.get("Retry-After")
    except urllib.error.HTTPError as err:
        status, retry = err.code, err.headers.get("Retry-After")
    except OSError:
        status, retry = 0, None
    return time.monotonic() - started, status, retry


def locked_table(s: Subject) -> Figures:
    """The task table locked, as a migration or a long transaction does, under 60 reads:
    each ends with 503 and Retry-After within READ_BOUND_S, and /health answers meanwhile.
    The lock is held only until the last read has ended (the statement timeout + margin)."""
    c = s.main_container()
    created = c.http("POST", "/tasks", {"title": "under a locked table"})
    expect(created.status == 201, f"creating a task answered {created}")
    paths = ["/tasks", f"/tasks/{created.body['id']}"] * (LOCK_READERS // 2)
    sql = "BEGIN; LOCK TABLE task IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(%d); COMMIT;"
    locker = s.lab.postgres.psql_async(sql % (READ_BOUND_S + 10), database=s.database)
    try:
        deadline = time.monotonic() + 10
        while not s.psql(_HOLDER) and time.monotonic() < deadline:
            time.sleep(0.05)
        expect(bool(s.psql(_HOLDER)), "psql did not get the lock on the task table in 10 s")
        with ThreadPoolExecutor(LOCK_READERS) as pool:
            reads = [pool.submit(timed_get, c.port, path) for path in paths]
            time.sleep(0.5)  # every read is waiting on the lock or for a connection now
            probes = [timed_get(c.port, "/health", timeout=10) for _ in range(3)]
            results = [read.result() for read in reads]
    finally:
        s.psql(f"SELECT pg_cancel_backend(pid) FROM ({_HOLDER}) AS holder")
        locker.wait(30)
    slowest = max(seconds for seconds, _, _ in results)
    health_s = max(seconds for seconds, _, _ in probes)
    expect(
        all(status == 200 for _, status, _ in probes) and health_s < HEALTH_BOUND_S,
        f"/health behind a locked table: {[(round(t, 2), st) for t, st, _ in probes]}",
    )
    wrong = [(round(t, 2), st, retry) for t, st, retry in results if st != 503 or not retry]
    expect(not wrong, f"{len(wrong)} reads did not end with 503 + Retry-After: {wrong[:5]}")
    expect(slowest < READ_BOUND_S, f"the slowest read under a locked table took {slowest:.1f} s")
    after = c.http("GET", "/tasks")
    expect(after.status == 200, f"after the lock /tasks answered {after}")
    return {"locked_read_max_s": round(slowest, 2), "locked_health_s": round(health_s, 2)}
