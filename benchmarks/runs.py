"""Containers of a built image on 127.0.0.1: time to the first 200, idle memory, sizes."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from harness.lab.container import host_run_args, request
from harness.machine.engine import Engine

POLL_SECONDS = 0.01  # the first 200 is seen within 10 ms; a coarser poll blurs the start figure
START_TIMEOUT = 60.0

# Run inside the image with its own python3: where the dependencies live and their size.
DEPS_SIZE_SCRIPT = """
import json, os, fastapi
root = os.path.dirname(os.path.dirname(fastapi.__file__))
total = pyc = 0
for folder, _, files in os.walk(root):
    for name in files:
        size = os.lstat(os.path.join(folder, name)).st_size
        total += size
        pyc += size if name.endswith(".pyc") else 0
print(json.dumps({"path": root, "bytes": total, "pyc_bytes": pyc}))
"""

# Run inside the image: which of the modules named on stdin have no valid .pyc (missing,
# or stale by Python's own rule), so importing them compiles them again.
UNCOMPILED_SCRIPT = """
import importlib.util, json, os, sys
sys.path.insert(0, "/app")

def fresh(source):
    try:
        with open(importlib.util.cache_from_source(source), "rb") as pyc:
            head = pyc.read(16)
    except OSError:
        return False
    flags = int.from_bytes(head[4:8], "little")
    if head[:4] != importlib.util.MAGIC_NUMBER:
        return False
    if flags & 1:
        if not flags & 2:
            return True
        with open(source, "rb") as src:
            return head[8:16] == importlib.util.source_hash(src.read())
    st = os.stat(source)
    return (int.from_bytes(head[8:12], "little") == int(st.st_mtime) & 0xFFFFFFFF
            and int.from_bytes(head[12:16], "little") == st.st_size & 0xFFFFFFFF)

missing = []
for name in sys.stdin.read().split():
    try:
        spec = importlib.util.find_spec(name)
    except Exception:
        continue
    origin = getattr(spec, "origin", None) or ""
    if origin.endswith(".py") and not fresh(origin):
        missing.append(name)
print(json.dumps(missing))
"""


@dataclass(frozen=True)
class RunSpec:
    """How a contender's image is started: its environment and command ({port} filled in)."""

    env: dict[str, str]
    command: tuple[str, ...] = ()
    entrypoint: str = ""  # "": the image's own
    mounts: tuple[tuple[str, str], ...] = ()  # (host path, container path), read-only

    def argv(
        self, image: str, name: str, port: int, database_url: str, extra_env: dict[str, str]
    ) -> list[str]:
        env = {k: v.format(port=port) for k, v in {**self.env, **extra_env}.items()}
        args = host_run_args(name, {"DATABASE_URL": database_url, **env})
        args += ["--entrypoint", self.entrypoint] if self.entrypoint else []
        for source, target in self.mounts:
            args += ["--volume", f"{source}:{target}:ro"]
        return [*args, image, *(part.format(port=port) for part in self.command)]


class StartFailed(RuntimeError):
    pass


def start(
    engine: Engine,
    spec: RunSpec,
    image: str,
    name: str,
    port: int,
    database_url: str,
    extra_env: dict[str, str] | None = None,
) -> float:
    """docker run, then poll /health: seconds from the run command to the first 200."""
    engine.docker("rm", "--force", name, check=False)
    started = time.monotonic()
    engine.docker(*spec.argv(image, name, port, database_url, extra_env or {}))
    deadline = started + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/health", timeout=2.0).status == 200:
                return time.monotonic() - started
        except OSError:
            pass
        time.sleep(POLL_SECONDS)
    logs = engine.docker("logs", name, check=False)
    state = engine.docker(
        "inspect", "--format", "{{json .State}}", name, check=False
    ).stdout.strip()
    raise StartFailed(
        f"{name}: /health did not answer 200 within {START_TIMEOUT:.0f} s; state {state}; "
        f"logs: {(logs.stdout + logs.stderr)[-1500:] or '(none)'}"
    )


def still_running(engine: Engine, name: str) -> None:
    """Raise StartFailed, with the exit code and the logs, if the container has stopped."""
    state = engine.docker(
        "inspect", "--format", "{{json .State}}", name, check=False
    ).stdout.strip()
    if state and json.loads(state).get("Running"):
        return
    logs = engine.docker("logs", name, check=False)
    raise StartFailed(
        f"{name} stopped after answering 200; state {state or '(gone)'}; "
        f"logs: {(logs.stdout + logs.stderr)[-1500:] or '(none)'}"
    )


def remove(engine: Engine, name: str) -> None:
    engine.docker("rm", "--force", name, check=False)


def memory_bytes(engine: Engine, name: str) -> dict[str, int]:
    """Resident memory of every process in the container, read from the host's /proc.

    "rss" adds up each process's resident pages, so pages that forked workers share with
    their parent count once per process; "pss" splits every shared page among the
    processes that map it, so the sum is what the container really holds. PSS needs
    permission to read the processes' smaps (root here); without it only "rss" is given.
    """
    out = engine.docker("top", name, "-eo", "pid").stdout.split()
    totals = {"rss": 0, "pss": 0}
    for pid in (p for p in out if p.isdigit()):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue  # exited between `docker top` and now
        totals["rss"] += kib_field(status, "VmRSS:")
        try:
            totals["pss"] += kib_field(Path(f"/proc/{pid}/smaps_rollup").read_text(), "Pss:")
        except OSError:
            totals.pop("pss", None)
    return totals


def kib_field(text: str, name: str) -> int:
    """A `Name:  1234 kB` line of a /proc file, in bytes (0 when absent)."""
    line = next((row for row in text.splitlines() if row.startswith(name)), f"{name} 0 kB")
    return int(line.split()[1]) * 1024


class DepsSize(TypedDict):
    path: str  # the site-packages that holds fastapi
    bytes: int
    pyc_bytes: int


def deps_size(engine: Engine, image: str) -> DepsSize:
    """The installed runtime dependencies (the site-packages that holds fastapi)."""
    out = offline_python(engine, image, "-c", DEPS_SIZE_SCRIPT).stdout
    size: DepsSize = json.loads(out.strip().splitlines()[-1])
    return size


# Run inside the image: seconds to import the app module, in-process (the start floor).
IMPORT_TIME_SCRIPT = """
import sys, time
sys.path.insert(0, ".")
began = time.perf_counter()
import app.main
print(time.perf_counter() - began)
"""


def offline_python(
    engine: Engine, image: str, *args: str, check: bool = True, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """The image's python3 with args, in a throwaway container with no network."""
    run = ("run", "--rm", "--network", "none", "--entrypoint", "python3", image)
    return engine.docker(*run, *args, check=check, timeout=timeout)


def import_seconds(engine: Engine, image: str) -> float:
    """How long `import app.main` takes inside the image, interpreter start not counted."""
    out = offline_python(engine, image, "-c", IMPORT_TIME_SCRIPT).stdout
    return float(out.strip().splitlines()[-1])


def imported_at_start(logs: str) -> list[str]:
    """Module names from PYTHONPROFILEIMPORTTIME output (`import time: self | cum | name`)."""
    names = []
    for line in logs.splitlines():
        if line.startswith("import time:") and "|" in line and "imported package" not in line:
            names.append(line.rsplit("|", 1)[1].strip())
    return names


def uncompiled_at_start(
    engine: Engine, spec: RunSpec, image: str, name: str, port: int, database_url: str
) -> list[str]:
    """Modules a start (plus one CRUD round trip) imports that have no bytecode in the
    image, so every fresh container compiles them again."""
    start(engine, spec, image, name, port, database_url, {"PYTHONPROFILEIMPORTTIME": "1"})
    created = request(port, "POST", "/tasks", {"title": "import census"})
    if created.status == 201:
        request(port, "GET", f"/tasks/{created.body['id']}")
        request(port, "PATCH", f"/tasks/{created.body['id']}", {"status": "done"})
    logs = engine.docker("logs", name, check=False)
    remove(engine, name)
    modules = sorted(set(imported_at_start(logs.stderr + logs.stdout)))
    # PYTHONDONTWRITEBYTECODE: the census must not write the bytecode it is looking for
    out = engine.docker(
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        "-e",
        "PYTHONDONTWRITEBYTECODE=1",
        "--entrypoint",
        "python3",
        image,
        "-c",
        UNCOMPILED_SCRIPT,
        input="\n".join(modules),
    ).stdout
    uncompiled: list[str] = json.loads(out.strip().splitlines()[-1])
    return uncompiled
