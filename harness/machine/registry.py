"""A throwaway container registry (Distribution) on 127.0.0.1."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
import urllib.error
from pathlib import Path
from typing import Self

import yaml

from harness.machine.engine import wait_until
from harness.machine.needs import apt_install, may_install
from harness.machine.net import LOCAL_OPENER, free_port
from harness.machine.service import LOOPBACK, START_TIMEOUT, Service, ServiceError


def find_registry_binary() -> str:
    found = shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if os.access("/usr/bin/docker-registry", os.X_OK) else None
    )
    if found is None and may_install():
        apt_install(["docker-registry"])
        found = shutil.which("docker-registry")
    if found is None:
        raise ServiceError(
            "The container registry is missing: install it"
            " (Debian: `apt-get install docker-registry`) and run again."
        )
    return found


def registry_config(root: Path, port: int) -> dict[str, object]:
    return {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"{LOOPBACK}:{port}"},
    }


class Registry(Service):
    """A private Distribution registry on 127.0.0.1 without auth (docker allows plain HTTP
    to localhost:PORT)."""

    def __init__(self) -> None:
        self.port = 0
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"localhost:{self.port}"

    @property
    def log_file(self) -> Path:
        assert self.workdir is not None, "Registry.start() has not been called"
        return self.workdir / "registry.log"

    def answers(self) -> bool:
        try:
            with LOCAL_OPENER.open(f"http://{LOOPBACK}:{self.port}/v2/", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> Self:
        if self.process is not None:
            return self
        binary = find_registry_binary()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="task-api-registry-"))
            atexit.register(self.close)
            self.port = free_port()
        config = self.workdir / "config.yml"
        config.write_text(yaml.safe_dump(registry_config(self.workdir, self.port)))
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [binary, "serve", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        process = self.process
        wait_until(lambda: self.answers() or process.poll() is not None, START_TIMEOUT)
        if not self.answers():
            self.stop()
            raise ServiceError(
                f"The registry did not answer on {LOOPBACK}:{self.port}: read {self.log_file},"
                " fix the cause and run again."
            )
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None
