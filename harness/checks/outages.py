"""Reliability checks where the database goes away: at start, and under write load.

Each takes the Subject, raises CheckFailed with what it saw and returns figures for the
matrix report; PostgreSQL is the lab's own throwaway server on 127.0.0.1.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from harness.checks.api import crud_round_trip
from harness.checks.outcome import Figures, expect
from harness.lab.container import request

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
        expect(
            "database unreachable" in str(down.body.get("reason")),
            f"/health with the database down: {down}",
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
