"""Reliability check: clients that never finish a request header cannot exhaust a worker's
memory or its connections (the spec's "Server limits"). Traffic to 127.0.0.1 only; every
attack is bounded in bytes, connections and time, and ends by itself."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checks.outcome import Figures, expect
from harness.lab.container import request

if TYPE_CHECKING:
    from harness.lab.container import Container
    from harness.lab.subject import Subject

# What the spec states (app/http_limits.py holds the same numbers)
MAX_HEADER_BYTES = 16 * 1024
HEADER_TIMEOUT_S = 10.0
# The attacks, as issue 19 made them
STREAMS, STREAM_BYTES, CHUNK = 4, 48 * 1024 * 1024, 64 * 1024
IDLE_CONNECTIONS = 400
MEMORY_PER_WORKER_MB = 32
# Generous margins on the promises: a normal answer within 1 s, idle ones closed by 10 s
NORMAL_ANSWER_S = 1.0
CLOSE_MARGIN_S = 5.0
PARTIAL = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


def hostile_clients(s: Subject) -> Figures:
    """On the row's running container: one oversized header, four 48 MB header streams and
    400 silent, partial or trickling connections; a normal client is served throughout."""
    c = s.main_container()
    return {**oversized_header(c.port), **streamed_headers(s, c), **idle_connections(c.port)}


def server_limits(s: Subject) -> Figures:
    """SC-19, as its commands show it: an oversized header gets 431 (or 400) and a close, and
    a connection that sends half a header is closed after HEADER_TIMEOUT_S, not much later,
    while a normal request is answered. The full attack is the hostile-clients check."""
    port = s.main_container().port
    figures = oversized_header(port)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        opened = time.monotonic()
        sock.sendall(PARTIAL)
        normal = [timed_health(port)]
        _, closed = read_until_closed(sock, deadline=opened + HEADER_TIMEOUT_S + CLOSE_MARGIN_S)
        took = time.monotonic() - opened
    check_normal(normal, "with a half-sent header open")
    expect(
        closed and took > HEADER_TIMEOUT_S - 1,
        f"a connection with half a header was {'closed' if closed else 'still open'} after"
        f" {took:.1f} s; the spec says it is closed after {HEADER_TIMEOUT_S:.0f} s",
    )
    return {**figures, "half_header_closed_s": round(took, 1)}


def oversized_header(port: int) -> Figures:
    """A 32 KiB header in one write: 431 (or 400), then the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(PARTIAL + b"a" * 2 * MAX_HEADER_BYTES + b"\r\n\r\n")
        answer, closed = read_until_closed(sock, deadline=time.monotonic() + 10)
    status = answer.split(b" ", 2)[1].decode() if answer.startswith(b"HTTP/") else "none"
    expect(
        status in ("431", "400") and closed,
        f"a {2 * MAX_HEADER_BYTES}-byte header got {answer[:200]!r} and the connection was"
        f" {'closed' if closed else 'left open'}: expected 431 or 400, then a close",
    )
    return {"oversized_header": status}


def read_until_closed(sock: socket.socket, deadline: float) -> tuple[bytes, bool]:
    """What the server sends until it closes, and whether it closed by the deadline."""
    received = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.1, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def streamed_headers(s: Subject, c: Container) -> Figures:
    """STREAMS connections each stream a header of up to STREAM_BYTES that never ends; the
    container's workers grow by less than MEMORY_PER_WORKER_MB each, measured meanwhile."""
    before = process_rss_mb(s, c)
    sent = [0] * STREAMS
    threads = [threading.Thread(target=stream, args=(c.port, sent, i)) for i in range(STREAMS)]
    for thread in threads:
        thread.start()
    peak, normal = dict(before), list[float]()
    while not normal or any(thread.is_alive() for thread in threads):
        for pid, mb in process_rss_mb(s, c).items():
            peak[pid] = max(peak.get(pid, 0.0), mb)
        normal.append(timed_health(c.port))
        time.sleep(0.2)
    for thread in threads:
        thread.join()
    growth = max(peak[pid] - before.get(pid, 0.0) for pid in peak)
    expect(
        growth < MEMORY_PER_WORKER_MB,
        f"a process grew by {growth:.1f} MB while {STREAMS} clients streamed headers"
        f" (bound {MEMORY_PER_WORKER_MB} MB per worker): {before} -> {peak}",
    )
    expect(
        max(sent) < STREAM_BYTES,
        f"the server took all {STREAM_BYTES} bytes of a header without closing",
    )
    check_normal(normal, "while headers streamed")
    return {"stream_growth_mb": round(growth, 1), "stream_sent_kb": max(sent) // 1024}


def stream(port: int, sent: list[int], i: int) -> None:
    """Send one endless header until the server closes, STREAM_BYTES are out or 30 s pass."""
    deadline = time.monotonic() + 30
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(PARTIAL)
            while sent[i] < STREAM_BYTES and time.monotonic() < deadline:
                sock.sendall(b"a" * CHUNK)
                sent[i] += CHUNK
        except OSError:
            return  # closed by the server: the expected end


def process_rss_mb(s: Subject, c: Container) -> dict[str, float]:
    """Resident memory of each process in the container, read from the host's /proc."""
    pids = s.engine.docker("top", c.name, "-o", "pid").stdout.split()[1:]
    found = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # ended meanwhile
        if match := re.search(r"VmRSS:\s+(\d+) kB", status):
            found[pid] = int(match.group(1)) / 1024
    return found


def timed_health(port: int) -> float:
    """Seconds a normal client waits for GET /health on a new connection."""
    began = time.monotonic()
    answer = request(port, "GET", "/health", timeout=10)
    took = time.monotonic() - began
    expect(answer.status == 200, f"a normal GET /health got {answer} under attack")
    return took


def check_normal(times: list[float], when: str) -> None:
    expect(
        bool(times) and max(times) < NORMAL_ANSWER_S,
        f"a normal GET /health {when} took up to {max(times, default=0):.2f} s"
        f" (bound {NORMAL_ANSWER_S} s): {[round(t, 2) for t in times]}",
    )


def idle_connections(port: int) -> Figures:
    """IDLE_CONNECTIONS connections: half send nothing, a quarter a partial header, a quarter
    trickle a byte a second. A normal client is served within NORMAL_ANSWER_S meanwhile, and
    the server closes every one of them by HEADER_TIMEOUT_S (plus a margin)."""
    opened = time.monotonic()
    address = ("127.0.0.1", port)
    socks = [socket.create_connection(address, timeout=10) for _ in range(IDLE_CONNECTIONS)]
    try:
        for sock in socks[IDLE_CONNECTIONS // 2 :]:
            sock.sendall(PARTIAL)
        trickling = socks[3 * IDLE_CONNECTIONS // 4 :]
        normal: list[float] = []
        closed_at: dict[socket.socket, float] = {}
        deadline = opened + HEADER_TIMEOUT_S + CLOSE_MARGIN_S
        while len(closed_at) < len(socks) and time.monotonic() < deadline:
            normal.append(timed_health(port))
            for sock in trickling:
                if sock not in closed_at:
                    try:
                        sock.send(b"a")
                    except OSError:
                        closed_at[sock] = time.monotonic() - opened
            for sock in socks:
                if sock not in closed_at and server_closed(sock):
                    closed_at[sock] = time.monotonic() - opened
            time.sleep(1.0)
    finally:
        for sock in socks:
            sock.close()
    check_normal(normal, f"with {IDLE_CONNECTIONS} idle connections open")
    expect(
        len(closed_at) == len(socks),
        f"{len(socks) - len(closed_at)} of {len(socks)} connections that never finished a"
        f" header were still open {HEADER_TIMEOUT_S + CLOSE_MARGIN_S:.0f} s after they opened",
    )
    return {
        "idle_closed": f"{len(closed_at)}/{len(socks)}",
        "idle_closed_by_s": round(max(closed_at.values()), 1),
        "normal_under_attack_s": round(max(normal), 3),
    }


def server_closed(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1024) == b""  # a 408 or the like would come first, then the close
    except BlockingIOError:
        return False
    except ConnectionError:
        return True
    finally:
        sock.setblocking(True)
