"""Find (or, as root on Debian, install and start) a Docker engine and a BuildKit-capable client."""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.machine.needs import MachineError, apt_install, may_install

logger = logging.getLogger("harness")
DOCKERD_LOG = Path(tempfile.gettempdir()) / "task-api-template-dockerd.log"
DEBIAN_CLIENT = "/usr/bin/docker"
START_TIMEOUT = 60.0
# A build with no base and no output image: proves BuildKit works, offline, leaving nothing
PROBE_DOCKERFILE = "FROM scratch\nLABEL dev.task-api-template.probe=1\n"


class EngineError(RuntimeError):
    """The Docker engine or client cannot be used; the message says what to do."""


class DockerCommandError(EngineError):
    """A docker command failed; carries its arguments, exit code and the end of its stderr."""

    def __init__(self, args: tuple[str, ...], returncode: int, stderr_tail: str) -> None:
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        shown = " ".join(args[:6]) + (" ..." if len(args) > 6 else "")
        super().__init__(
            f"`docker {shown}` failed with exit code {returncode}: fix the cause shown below"
            f" and run again.\n{stderr_tail}"
        )


@dataclass(frozen=True)
class Engine:
    client: str
    env: dict[str, str] = field(default_factory=dict)
    buildkit: str = ""

    def argv(self, *args: str) -> list[str]:
        """The command line for a docker call, for callers that need to stream (Popen)."""
        return [self.client, *args]

    def environ(self) -> dict[str, str]:
        """The process environment for a docker call: ours plus the client's extra settings."""
        return {**os.environ, **self.env}

    def docker(
        self,
        *args: str,
        check: bool = True,
        timeout: float | None = None,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(
                self.argv(*args),
                check=False,
                env=self.environ(),
                input=input,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            if not check:
                return subprocess.CompletedProcess(
                    exc.cmd, 124, _text(exc.stdout), _text(exc.stderr)
                )
            raise DockerCommandError(args, 124, f"timed out after {timeout} s") from exc
        if check and result.returncode != 0:
            raise DockerCommandError(args, result.returncode, tail(result.stderr or result.stdout))
        return result


def tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def _text(data: str | bytes | None) -> str:
    if isinstance(data, bytes):
        return data.decode(errors="replace")
    return data or ""


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def list_clients() -> list[str]:
    """Every docker client on PATH, then Debian's, each once (by real path)."""
    found: list[str] = []
    seen: set[str] = set()
    dirs = os.environ.get("PATH", "").split(os.pathsep) + [os.path.dirname(DEBIAN_CLIENT)]
    for directory in dirs:
        candidate = os.path.join(directory or ".", "docker")
        if not (os.path.isfile(candidate) and os.access(candidate, os.X_OK)):
            continue
        real = os.path.realpath(candidate)
        if real not in seen:
            seen.add(real)
            found.append(candidate)
    return found


def run_quietly(
    argv: list[str],
    env: dict[str, str] | None = None,
    timeout: float = 20,
    input: str | None = None,
) -> subprocess.CompletedProcess[str] | None:
    """Run a probe; None when it could not even start or hung."""
    try:
        return subprocess.run(
            argv, check=False, env=env, input=input, capture_output=True, text=True, timeout=timeout
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def ask_engine(client: str) -> subprocess.CompletedProcess[str] | None:
    return run_quietly([client, "info", "--format", "{{.ServerVersion}}"])


def find_answering_client() -> str | None:
    for client in list_clients():
        result = ask_engine(client)
        if result is not None and result.returncode == 0:
            return client
    return None


def explain_refusal() -> None:
    """Turn a permission problem on the socket into its own instruction."""
    for client in list_clients():
        result = ask_engine(client)
        if result is not None and "permission denied" in result.stderr.lower():
            raise EngineError(
                "The Docker engine refuses this user: add it to the `docker` group (or run as"
                " root) and run again."
            )


def find_dockerd() -> str | None:
    return (
        shutil.which("dockerd")
        or ("/usr/sbin/dockerd" if os.access("/usr/sbin/dockerd", os.X_OK) else None)
        or ("/usr/bin/dockerd" if os.access("/usr/bin/dockerd", os.X_OK) else None)
    )


def install_docker() -> None:
    try:
        apt_install(["docker.io"], logger.info)
    except MachineError as exc:
        raise EngineError(str(exc)) from None


def start_dockerd(dockerd: str) -> None:
    logger.info("starting %s (log: %s)", dockerd, DOCKERD_LOG)
    with open(DOCKERD_LOG, "ab") as log:
        # setsid: the daemon outlives this process and ignores our terminal's signals.
        subprocess.Popen(
            ["setsid", dockerd],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
    if not wait_until(lambda: find_answering_client() is not None, START_TIMEOUT, 0.5):
        raise EngineError(
            f"dockerd was started but did not answer within {START_TIMEOUT:.0f} s: read"
            f" {DOCKERD_LOG}, fix the cause and run again."
        )


def bring_up_engine(install: bool | None) -> str:
    client = find_answering_client()
    if client is not None:
        return client
    explain_refusal()
    if not (install is True or (install is None and may_install())):
        raise EngineError(
            "No Docker engine is running: start Docker (for example `sudo systemctl start"
            " docker`) and run again."
        )
    dockerd = find_dockerd()
    if dockerd is None:
        install_docker()
        dockerd = find_dockerd()
        if dockerd is None:
            raise EngineError(
                "Installing docker.io did not provide dockerd: install Docker Engine yourself"
                " and run again."
            )
    start_dockerd(dockerd)
    client = find_answering_client()
    if client is None:
        raise EngineError(
            f"dockerd stopped answering right after it started: read {DOCKERD_LOG}, fix the"
            " cause and run again."
        )
    return client


def client_version(client: str) -> str:
    result = run_quietly([client, "version", "--format", "{{.Client.Version}}"])
    return (
        result.stdout.strip()
        if result is not None and result.returncode == 0
        else "(unknown version)"
    )


def can_build_with_buildkit(client: str, env: dict[str, str]) -> bool:
    with tempfile.TemporaryDirectory(prefix="buildkit-probe-") as out:
        result = run_quietly(
            [client, "build", "-q", "--output", f"type=local,dest={out}", "-"],
            env={**os.environ, **env},
            input=PROBE_DOCKERFILE,
            timeout=60,
        )
    return result is not None and result.returncode == 0


def pick_buildkit_client(answering: str) -> Engine:
    clients = [answering] + [c for c in list_clients() if c != answering]
    # DOCKER_BUILDKIT=1 also makes pre-23 clients that have buildx use BuildKit for `docker build`
    env = {"DOCKER_BUILDKIT": "1"}
    for client in clients:
        buildx = run_quietly([client, "buildx", "version"])
        if buildx is not None and buildx.returncode == 0 and can_build_with_buildkit(client, env):
            plugin = buildx.stdout.strip().splitlines()[0] if buildx.stdout.strip() else "buildx"
            return Engine(
                client,
                env,
                f"BuildKit via the buildx plugin ({plugin}) with {client} {client_version(client)}",
            )
    for client in clients:
        if can_build_with_buildkit(client, env):
            return Engine(
                client,
                env,
                f"BuildKit via DOCKER_BUILDKIT=1 with {client} {client_version(client)}",
            )
    raise EngineError(
        "No BuildKit-capable docker client: install the buildx plugin (or Debian's docker.io"
        " client) and run again."
    )


@functools.cache
def ensure_engine(install: bool | None = None) -> Engine:
    return pick_buildkit_client(bring_up_engine(install))
