"""Run an image as a container on the host network and talk to it over HTTP."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from harness.machine.engine import Engine
from harness.machine.net import LOCAL_OPENER


@dataclass
class Response:
    status: int
    body: Any  # parsed JSON where the answer is JSON, else text
    headers: dict[str, str] = field(default_factory=dict)  # names in lower case

    def __str__(self) -> str:
        shown = self.body[:300] if isinstance(self.body, str) else json.dumps(self.body)
        return f"{self.status} {shown}"


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    timeout: float = 10.0,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One HTTP request to 127.0.0.1:port; errors with a status are answers, not exceptions."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    hdrs.update(headers or {})
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=hdrs
    )
    try:
        with LOCAL_OPENER.open(req, timeout=timeout) as resp:
            status, payload, got = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as err:
        status, payload, got = err.code, err.read(), err.headers
    text = payload.decode(errors="replace")
    headers = {name.lower(): val for name, val in got.items()}
    try:
        return Response(status, json.loads(text) if text else None, headers)
    except json.JSONDecodeError:
        return Response(status, text, headers)


@dataclass
class Container:
    engine: Engine
    name: str
    port: int
    started: float = field(default_factory=time.monotonic)

    def http(self, method: str, path: str, body: Any = None, **kw: Any) -> Response:
        return request(self.port, method, path, body, **kw)

    def state(self) -> dict[str, Any]:
        out = self.engine.docker("inspect", "--format", "{{json .State}}", self.name).stdout
        state: dict[str, Any] = json.loads(out)
        return state

    def wait_for_health_200(self, timeout: float = 60.0) -> float:
        """Seconds from `docker run` until /health first answers 200."""
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            try:
                resp = self.http("GET", "/health", timeout=2.0)
                if resp.status == 200:
                    return time.monotonic() - self.started
                last = str(resp)
            except OSError as err:
                last = str(err)
            if not self.state().get("Running"):
                raise ContainerError(
                    f"{self.name} exited before /health answered 200: {self.logs()[-1500:]}"
                )
            time.sleep(0.1)
        raise ContainerError(
            f"{self.name}: /health did not answer 200 within {timeout:.0f} s "
            f"(last: {last}); logs: {self.logs()[-1500:]}"
        )

    def wait_for_health_status(self, status: int, timeout: float = 60.0) -> Response:
        """Wait until /health answers with this status (e.g. 503 with no database)."""
        deadline = time.monotonic() + timeout
        last: object = "no answer"
        while time.monotonic() < deadline:
            try:
                resp = self.http("GET", "/health", timeout=2.0)
                if resp.status == status:
                    return resp
                last = resp
            except OSError as err:
                last = err
            time.sleep(0.2)
        raise ContainerError(f"{self.name}: /health never answered {status} (last: {last})")

    def wait_for_docker_health(self, want: str = "healthy", timeout: float = 60.0) -> float:
        """Seconds from `docker run` until Docker's own HEALTHCHECK reports `want`."""
        deadline = time.monotonic() + timeout
        status = "unknown"
        while time.monotonic() < deadline:
            state = self.state()
            status = (state.get("Health") or {}).get("Status", "none")
            if status == want:
                return time.monotonic() - self.started
            if not state.get("Running"):
                break
            time.sleep(0.2)
        raise ContainerError(
            f"{self.name}: Docker health is {status!r}, not {want!r}, after "
            f"{timeout:.0f} s; probe log: {self.state().get('Health')}"
        )

    def logs(self) -> str:
        out = self.engine.docker("logs", self.name, check=False)
        return out.stdout + out.stderr

    def exec(self, *args: str) -> str:
        return self.engine.docker("exec", self.name, *args).stdout

    def restart(self) -> None:
        self.engine.docker("restart", "--time", "20", self.name)
        self.started = time.monotonic()

    def remove(self) -> None:
        self.engine.docker("rm", "--force", self.name, check=False)


class ContainerError(RuntimeError):
    pass


def host_run_args(name: str, env: dict[str, str]) -> list[str]:
    """`docker run -d` on the host network (the app listens on 127.0.0.1 only), with env."""
    args = ["run", "-d", "--name", name, "--network", "host"]
    for key, value in env.items():
        args += ["-e", f"{key}={value}"]
    return args


def run_container(
    engine: Engine,
    image: str,
    *,
    name: str,
    port: int,
    env: dict[str, str],
    extra: tuple[str, ...] = (),
    command: tuple[str, ...] = (),
    health_start_period: str = "30s",
) -> Container:
    """docker run -d on the host network, listening on 127.0.0.1:port only.

    The health interval is shortened so tests see Docker's verdict in seconds; the
    probe itself is the image's own HEALTHCHECK command.
    """
    engine.docker("rm", "--force", name, check=False)
    args = host_run_args(name, {"HOST": "127.0.0.1", "PORT": str(port), **env})
    args += ["--health-interval", "1s", "--health-start-period", health_start_period]
    container = Container(engine, name, port)
    engine.docker(*args, *extra, image, *command)
    return container
