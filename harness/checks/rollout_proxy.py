"""Debian's haproxy on 127.0.0.1 in front of the replicas, as a Service would be: one server
slot per possible pod, each out of rotation until its pod is ready, and haproxy's own health
checks on the readiness probe's path, at its period, timeout and failure threshold.

haproxy retries nothing here (`retries 0`): a Service does not retry a request that a
stopping pod dropped, so neither may the proxy that stands in for it.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

from harness.checks.rollout_plan import Probe
from harness.machine.net import free_port

BACKEND = "pods"


class ProxyError(RuntimeError):
    pass


def config(port: int, slots: list[int], readiness: Probe, admin: Path) -> str:
    servers = "\n".join(
        f"    server s{i} 127.0.0.1:{slot} check disabled" for i, slot in enumerate(slots)
    )
    return f"""global
    stats socket {admin} mode 600 level admin
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout check {readiness.timeout_s:g}s
    retries 0

frontend api
    bind 127.0.0.1:{port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk
    http-check send meth GET uri {readiness.path}
    http-check expect status 200
    default-server inter {readiness.period_s:g}s fall {readiness.failures} rise 1
{servers}
"""


class Proxy:
    """haproxy in the foreground, with its runtime API on a private socket."""

    def __init__(self, slots: list[int], readiness: Probe) -> None:
        self.slots = slots
        self.readiness = readiness
        self.port = free_port(set(slots))
        self.dir = Path(tempfile.mkdtemp(prefix="tat-haproxy-"))
        self.admin = self.dir / "admin.sock"
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> Self:
        haproxy = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/sbin")
        if haproxy is None:
            raise ProxyError("haproxy is not installed: `apt-get install haproxy`")
        cfg = self.dir / "haproxy.cfg"
        cfg.write_text(config(self.port, self.slots, self.readiness, self.admin))
        log = (self.dir / "haproxy.log").open("w")
        self.process = subprocess.Popen(
            [haproxy, "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT, text=True
        )
        deadline = time.monotonic() + 10
        while not self.admin.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise ProxyError(f"haproxy did not start: {(self.dir / 'haproxy.log').read_text()}")
            time.sleep(0.05)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.dir, ignore_errors=True)

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.admin))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def join(self, slot: int) -> None:
        """Into rotation: the pod's readiness probe has passed (an endpoint is added)."""
        self.command(f"enable server {BACKEND}/s{slot}")
        self.command(f"set server {BACKEND}/s{slot} health up")

    def leave(self, slot: int) -> None:
        """Out of rotation (the endpoint is removed): no new request goes there."""
        self.command(f"disable server {BACKEND}/s{slot}")

    def serving(self) -> list[int]:
        """The slots haproxy routes to now (operational state 2: up)."""
        lines = self.command(f"show servers state {BACKEND}").splitlines()[2:]
        return [
            int(f[3][1:]) for f in (line.split() for line in lines) if len(f) > 5 and f[5] == "2"
        ]
