"""Base images for the template's Dockerfiles: the real ones when available, else stand-ins built from Debian packages."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from harness.engine import (
    DockerCommandError,
    Engine,
    EngineError,
    apt_install,
    may_install,
    tail,
)

logger = logging.getLogger("harness")

MIRROR = "http://deb.debian.org/debian"
STANDIN_REPO = "task-api-standin"
LABEL_FOR = "dev.task-api-template.stand-in-for"
LABEL_RECIPE = "dev.task-api-template.recipe"
PULL_TIMEOUT = 30.0
BUILD_TIMEOUT = 900.0
# Bump to rebuild every stand-in and every cached rootfs.
RECIPE_FORMAT = "1"

OFFICIAL_BASES = (
    "python:3.13-slim-trixie",
    "python:3.12-slim-trixie",
    "python:3.13-alpine3.22",
    "python:3.12-alpine3.22",
    "debian:trixie-slim",
    "debian:bookworm-slim",
    "gcr.io/distroless/python3-debian12",
)

NO_PYTHON_312 = (
    "{ref} cannot be pulled here and Debian has no Python 3.12 "
    "(bookworm has 3.11, trixie 3.13) to build a stand-in from"
)
NO_ALPINE = "{ref} cannot be pulled and Alpine cannot be built here: no apk repository is reachable"
SKIP_REASONS = {
    "python:3.12-slim-trixie": NO_PYTHON_312,
    "python:3.12-alpine3.22": NO_ALPINE,
    "python:3.13-alpine3.22": NO_ALPINE,
}


class BaseImageError(EngineError):
    """A stand-in base image could not be built; the message says what to do."""


@dataclass(frozen=True)
class BaseImage:
    requested: str
    image: str | None
    kind: str  # "real" | "stand-in" | "skipped"
    reason: str


@dataclass(frozen=True)
class Recipe:
    official: str
    image: str
    parent: str | None  # official ref of the stand-in this one is built from (None: debootstrap)
    suite: str
    script: str  # what builds the tree: debootstrap settings, or a bash script run in the parent
    changes: tuple[str, ...]  # Dockerfile instructions applied on import/commit
    note: str  # how the stand-in differs from the official image, one clause
    build: Callable[[Engine, Recipe, str, list[str]], None]  # (engine, recipe, tag, LABEL changes)
    verify: Callable[[Engine, str], None]


def cache_dir() -> Path:
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = root / "task-api-template"
    path.mkdir(parents=True, exist_ok=True)
    return path


def short_hash(*parts: str) -> str:
    return hashlib.sha256("\0".join((RECIPE_FORMAT, *parts)).encode()).hexdigest()[:12]


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Serialise builds of one stand-in across processes (pytest-xdist workers, parallel runs)."""
    lock_dir = cache_dir() / "locks"
    lock_dir.mkdir(exist_ok=True)
    with open(lock_dir / f"{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_host(argv: list[str], what: str, timeout: float = BUILD_TIMEOUT) -> None:
    """Run a host command of a stand-in build; a failure names the step."""
    try:
        result = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise BaseImageError(
            f"{what} took longer than {timeout:.0f} s: check the network to deb.debian.org and run again."
        ) from exc
    if result.returncode != 0:
        raise BaseImageError(
            f"{what} failed: fix the cause shown below (often the network to deb.debian.org) and run again.\n"
            + tail(result.stderr or result.stdout)
        )


# ---- slim minbase rootfs (debootstrap on the host, cached as a tarball per suite) ----

# Same intent as the official slim images: keep copyright files, drop docs, manuals and translations.
DPKG_SLIM = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
"""

# Keep apt from leaving caches and translations in image layers.
APT_SLIM = """\
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
Acquire::GzipIndexes "true";
Acquire::CompressionTypes::Order:: "gz";
"""

SOURCES = """\
Types: deb
URIs: {mirror}
Suites: {suite} {suite}-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: {mirror}-security
Suites: {suite}-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
"""

MINBASE_SPEC = f"debootstrap --variant=minbase {MIRROR}\n{DPKG_SLIM}\n{APT_SLIM}\n{SOURCES}"
SLIM_TRIM = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/groff",
    "usr/share/lintian",
    "usr/share/linda",
    "usr/share/locale",
    "var/cache/apt",
    "var/lib/apt/lists",
    "var/log",
    "dev",
)


def require_debootstrap() -> str:
    found = shutil.which("debootstrap") or shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if found is None and may_install():
        apt_install("debootstrap")
        found = shutil.which("debootstrap", path="/usr/sbin:/sbin")
    if found is None or os.geteuid() != 0:
        raise BaseImageError(
            "Building stand-in base images needs debootstrap run as root: install it (`apt-get install debootstrap`) and run as root."
        )
    return found


def empty_dir_keeping(path: Path, keep: Callable[[Path], bool] = lambda _: False) -> None:
    """Delete a directory's contents, except files selected by keep (and the dirs holding them)."""
    if not path.is_dir() or path.is_symlink():
        return
    for entry in path.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            empty_dir_keeping(entry, keep)
            if not any(entry.iterdir()) and not keep(entry):
                entry.rmdir()
        elif not keep(entry):
            entry.unlink()


def is_copyright(path: Path) -> bool:
    return path.name == "copyright"


def is_apt_skeleton(path: Path) -> bool:
    # apt expects these (empty) directories and lock files to exist.
    return path.name in {"partial", "archives", "lock"}


def slim_rootfs(root: Path, suite: str) -> None:
    (root / "etc/dpkg/dpkg.cfg.d/slim-image").write_text(DPKG_SLIM)
    (root / "etc/apt/apt.conf.d/slim-image").write_text(APT_SLIM)
    (root / "etc/apt/sources.list").unlink(missing_ok=True)
    (root / "etc/apt/sources.list.d/debian.sources").write_text(SOURCES.format(mirror=MIRROR, suite=suite))
    for relative in SLIM_TRIM:
        keep = is_copyright if relative == "usr/share/doc" else is_apt_skeleton
        empty_dir_keeping(root / relative, keep)
    # The engine provides these at run time; the build host's values must not ship.
    for relative in ("etc/resolv.conf", "etc/hostname", "etc/hosts"):
        (root / relative).unlink(missing_ok=True)
    for leftover in [*root.glob("var/cache/debconf/*-old"), *root.glob("var/lib/dpkg/*-old")]:
        leftover.unlink()


def minbase_tarball(suite: str) -> Path:
    """A slimmed debootstrap minbase tree of a suite, cached across runs."""
    key = short_hash(MINBASE_SPEC, suite)
    folder = cache_dir() / "rootfs"
    folder.mkdir(exist_ok=True)
    target = folder / f"{suite}-minbase-{key}.tar"
    with locked(f"rootfs-{suite}"):
        if target.exists():
            return target
        debootstrap = require_debootstrap()
        with tempfile.TemporaryDirectory(prefix=f"standin-{suite}-") as scratch:
            root = Path(scratch) / "rootfs"
            run_host(
                [debootstrap, "--variant=minbase", suite, str(root), MIRROR],
                f"debootstrap of Debian {suite}",
            )
            slim_rootfs(root, suite)
            partial = target.with_suffix(".partial")
            run_host(
                ["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], f"packing the {suite} rootfs"
            )
            partial.rename(target)
        for stale in folder.glob(f"{suite}-minbase-*.tar"):
            if stale != target:
                stale.unlink()
    return target


# ---- recipes ----


def label_changes(recipe: Recipe, recipe_hash: str) -> list[str]:
    description = f"Stand-in for {recipe.official}, built here from Debian packages"
    return [
        f'LABEL org.opencontainers.image.description="{description}"',
        f'LABEL {LABEL_FOR}="{recipe.official}"',
        f'LABEL {LABEL_RECIPE}="{recipe_hash}"',
    ]


def change_flags(changes: list[str]) -> list[str]:
    return [flag for change in changes for flag in ("--change", change)]


STANDARD_PATH = "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEBIAN_CHANGES = (STANDARD_PATH, 'CMD ["bash"]')


def build_debian(engine: Engine, recipe: Recipe, tag: str, labels: list[str]) -> None:
    tarball = minbase_tarball(recipe.suite)
    engine.docker("import", *change_flags([*recipe.changes, *labels]), str(tarball), tag, timeout=BUILD_TIMEOUT)


def verify_debian(engine: Engine, image: str) -> None:
    out = run_in(engine, image, "bash", "-c", "cat /etc/debian_version && command -v apt-get")
    if "apt-get" not in out:
        raise BaseImageError(f"The stand-in {image} has no apt-get: remove it (`docker rmi {image}`) and run again.")


PYTHON_PACKAGES = ("python3", "python3-venv", "python3-pip", "python-is-python3", "ca-certificates")
PYTHON_SCRIPT = """\
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends {packages} >/dev/null
# python:*-slim lets pip install into the system Python; Debian's marker forbids it.
rm -f /usr/lib/python3*/EXTERNALLY-MANAGED
# python:*-slim keeps its interpreter in /usr/local/bin; Dockerfiles may use those paths.
for name in python python3 python{minor} pip pip3 pip{minor}; do
  source=/usr/bin/$name
  [ -e "$source" ] || source=/usr/bin/${{name%%[0-9.]*}}3
  if [ -e "$source" ] && [ ! -e "/usr/local/bin/$name" ]; then ln -s "$source" "/usr/local/bin/$name"; fi
done
apt-get clean
rm -rf /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old /var/lib/dpkg/*-old
python3 -c 'import sys; assert sys.version_info[:2] == ({major}, {minor_only}), sys.version'
"""
PYTHON_CHANGES = (STANDARD_PATH, "ENV LANG=C.UTF-8", 'CMD ["python3"]')


def python_script(version: tuple[int, int]) -> str:
    return PYTHON_SCRIPT.format(
        packages=" ".join(PYTHON_PACKAGES),
        minor=f"{version[0]}.{version[1]}",
        major=version[0],
        minor_only=version[1],
    )


def build_python(engine: Engine, recipe: Recipe, tag: str, labels: list[str]) -> None:
    parent = ensure_standin(engine, recipe.parent or "")
    container = f"standin-build-{uuid.uuid4().hex[:8]}"
    try:
        engine.docker(
            "run",
            "--network",
            "host",
            "--name",
            container,
            parent,
            "bash",
            "-euc",
            recipe.script,
            timeout=BUILD_TIMEOUT,
        )
        engine.docker("commit", *change_flags([*recipe.changes, *labels]), container, tag)
    finally:
        engine.docker("rm", "-f", container, check=False)


def verify_python(engine: Engine, image: str, version: tuple[int, int]) -> None:
    out = run_in(
        engine,
        image,
        "bash",
        "-c",
        "python3 --version && python --version && python3 -m venv /tmp/venv && /tmp/venv/bin/python -m pip --version"
        " && python3 -c 'import ssl, sqlite3, ctypes, uuid; print(ssl.get_default_verify_paths().cafile)'",
    )
    if f"Python {version[0]}.{version[1]}." not in out:
        raise BaseImageError(
            f"The stand-in {image} does not run Python {version[0]}.{version[1]}: remove it (`docker rmi {image}`) and run again."
        )


# Debian 12's python3.11 and the shared libraries its stdlib loads (libnsl2/libtirpc3 only serve the
# deprecated nis module), plus what distroless/cc ships; bookworm's Python bundles libmpdec.
DISTROLESS_PACKAGES = (
    "python3.11-minimal",
    "libpython3.11-minimal",
    "libpython3.11-stdlib",
    "base-files",
    "netbase",
    "tzdata",
    "media-types",
    "libc6",
    "libgcc-s1",
    "libstdc++6",
    "libssl3",
    "zlib1g",
    "libexpat1",
    "libffi8",
    "libbz2-1.0",
    "liblzma5",
    "libsqlite3-0",
    "libuuid1",
    "libcrypt1",
    "libncursesw6",
    "libtinfo6",
    "libreadline8",
    "libdb5.3",
)
DISTROLESS_SCRIPT = r"""
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq --no-install-recommends {packages} ca-certificates >&2
out=/distroless
mkdir -p "$out"
# Only the packages' own files, mapped onto /usr because the tree below is merged-/usr;
# files that dpkg's slim excludes kept out of the builder are skipped.
for package in {packages}; do dpkg -L "$package"; done | grep '^/' | grep -vx '/\.' \
  | sed -E 's#^/(bin|sbin|lib|lib64)(/|$)#/usr/\1\2#' | sort -u \
  | while read -r path; do if [ -e "$path" ] || [ -L "$path" ]; then echo "$path"; fi; done > /tmp/files
tar -C / --no-recursion -cf - -T /tmp/files | tar -C "$out" -xf -
for link in bin sbin lib lib64; do mkdir -p "$out/usr/$link"; ln -s "usr/$link" "$out/$link"; done
mkdir -p "$out/etc/ssl/certs"
cp /etc/ssl/certs/ca-certificates.crt "$out/etc/ssl/certs/"
ln -sf /usr/share/zoneinfo/Etc/UTC "$out/etc/localtime"
echo Etc/UTC > "$out/etc/timezone"
ln -s python3.11 "$out/usr/bin/python3"
ln -s python3.11 "$out/usr/bin/python"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n' > "$out/etc/passwd"
printf 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' >> "$out/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\ntty:x:5:\nstaff:x:50:\nnonroot:x:65532:\n' > "$out/etc/group"
printf 'hosts: files dns\nnetworks: files\npasswd: files\ngroup: files\nshadow: files\n' > "$out/etc/nsswitch.conf"
install -d -m 0700 "$out/root"
install -d -m 0700 -o 65532 -g 65532 "$out/home/nonroot"
install -d -m 1777 "$out/tmp"
install -d -m 0755 "$out/var/tmp" "$out/proc" "$out/sys" "$out/dev" "$out/etc"
# A distroless image has no shell and no package manager.
for forbidden in bin/sh bin/bash bin/dash bin/dpkg bin/apt-get; do
  if [ -e "$out/usr/$forbidden" ]; then echo "unexpected /usr/$forbidden" >&2; exit 1; fi
done
tar --numeric-owner -C "$out" -cf - .
"""
DISTROLESS_CHANGES = (
    STANDARD_PATH,
    "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
    "ENV LANG=C.UTF-8",
    'ENTRYPOINT ["/usr/bin/python3.11"]',
)


def build_distroless(engine: Engine, recipe: Recipe, tag: str, labels: list[str]) -> None:
    parent = ensure_standin(engine, recipe.parent or "")
    with tempfile.TemporaryDirectory(prefix="standin-distroless-") as scratch:
        tarball = Path(scratch) / "rootfs.tar"
        with open(tarball, "wb") as sink:
            result = subprocess.run(
                engine.argv("run", "--rm", "--network", "host", parent, "bash", "-euc", recipe.script),
                check=False,
                env=engine.environ(),
                stdout=sink,
                stderr=subprocess.PIPE,
                timeout=BUILD_TIMEOUT,
            )
        if result.returncode != 0:
            raise BaseImageError(
                "Assembling the distroless stand-in failed: fix the cause shown below "
                "(often the network to deb.debian.org) and run again.\n"
                + tail(result.stderr.decode(errors="replace"))
            )
        engine.docker("import", *change_flags([*recipe.changes, *labels]), str(tarball), tag, timeout=BUILD_TIMEOUT)


def verify_distroless(engine: Engine, image: str) -> None:
    out = run_in(
        engine, image, "-c", "import ssl, sqlite3, ctypes, uuid, lzma, bz2, zlib, decimal, readline, json; print(1)"
    )
    if out.strip() != "1":
        raise BaseImageError(
            f"The stand-in {image} cannot import Python's standard modules: remove it (`docker rmi {image}`) and run again."
        )
    shell = engine.docker(
        "run", "--rm", "--network", "host", "--entrypoint", "/bin/sh", image, "-c", "true", check=False, timeout=120
    )
    if shell.returncode == 0:
        raise BaseImageError(
            f"The stand-in {image} has a shell, unlike distroless: remove it (`docker rmi {image}`) and run again."
        )


def run_in(engine: Engine, image: str, *argv: str) -> str:
    try:
        return engine.docker("run", "--rm", "--network", "host", image, *argv, timeout=120).stdout
    except DockerCommandError as exc:
        raise BaseImageError(
            f"The stand-in {image} fails its check: remove it (`docker rmi {image}`) and run again.\n{exc.stderr_tail}"
        ) from exc


def make_recipes() -> dict[str, Recipe]:
    recipes = [
        Recipe(
            "debian:trixie-slim",
            f"{STANDIN_REPO}/debian:trixie-slim",
            None,
            "trixie",
            MINBASE_SPEC,
            DEBIAN_CHANGES,
            "a debootstrap minbase tree slimmed like the official image",
            build_debian,
            verify_debian,
        ),
        Recipe(
            "debian:bookworm-slim",
            f"{STANDIN_REPO}/debian:bookworm-slim",
            None,
            "bookworm",
            MINBASE_SPEC,
            DEBIAN_CHANGES,
            "a debootstrap minbase tree slimmed like the official image",
            build_debian,
            verify_debian,
        ),
        Recipe(
            "python:3.13-slim-trixie",
            f"{STANDIN_REPO}/python:3.13-slim-trixie",
            "debian:trixie-slim",
            "trixie",
            python_script((3, 13)),
            PYTHON_CHANGES,
            "Debian trixie's python3 3.13 in /usr/bin (linked from /usr/local/bin) instead of python.org's build",
            build_python,
            lambda engine, image: verify_python(engine, image, (3, 13)),
        ),
        Recipe(
            "gcr.io/distroless/python3-debian12",
            f"{STANDIN_REPO}/distroless-python3-debian12:latest",
            "debian:bookworm-slim",
            "bookworm",
            DISTROLESS_SCRIPT.format(packages=" ".join(DISTROLESS_PACKAGES)),
            DISTROLESS_CHANGES,
            "a shell-less tree of Debian 12's python3.11 and its libraries, like distroless",
            build_distroless,
            verify_distroless,
        ),
    ]
    return {recipe.official: recipe for recipe in recipes}


RECIPES = make_recipes()


def standin_recipes() -> dict[str, Recipe]:
    """Official base reference -> recipe of its stand-in, for every stand-in that can be built here."""
    return dict(RECIPES)


def recipe_hash(ref: str) -> str:
    recipe = RECIPES[ref]
    parent = recipe_hash(recipe.parent) if recipe.parent else ""
    return short_hash(recipe.official, recipe.suite, recipe.script, *recipe.changes, parent)


def image_labels(engine: Engine, image: str) -> dict[str, str] | None:
    result = engine.docker("image", "inspect", "--format", "{{json .Config.Labels}}", image, check=False)
    if result.returncode != 0:
        return None
    return json.loads(result.stdout or "null") or {}


def image_id(engine: Engine, image: str) -> str | None:
    result = engine.docker("image", "inspect", "--format", "{{.Id}}", image, check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def image_size_mb(engine: Engine, image: str) -> float:
    size = engine.docker("image", "inspect", "--format", "{{.Size}}", image).stdout.strip()
    return int(size) / 1e6


def ensure_standin(engine: Engine, ref: str) -> str:
    """The stand-in image for ref, reused when its recipe label matches, else (re)built and checked."""
    recipe = RECIPES[ref]
    wanted = recipe_hash(ref)
    with locked(recipe.image.replace("/", "_").replace(":", "_")):
        labels = image_labels(engine, recipe.image)
        if labels is not None and labels.get(LABEL_RECIPE) == wanted:
            return recipe.image
        old_id = image_id(engine, recipe.image)
        logger.info("stand-in %s (for %s, recipe %s): building ...", recipe.image, ref, wanted)
        started = time.monotonic()
        try:
            recipe.build(engine, recipe, recipe.image, label_changes(recipe, wanted))
        except DockerCommandError as exc:
            raise BaseImageError(
                f"Building the stand-in for {ref} failed: fix the cause shown below "
                "(often the network to deb.debian.org) and run again.\n"
                f"{exc.stderr_tail}"
            ) from exc
        recipe.verify(engine, recipe.image)
        elapsed = time.monotonic() - started
        logger.info("stand-in %s: built in %.1f s, %.1f MB", recipe.image, elapsed, image_size_mb(engine, recipe.image))
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
    if labels is None and engine.docker("pull", "-q", ref, check=False, timeout=PULL_TIMEOUT).returncode == 0:
        return "pulled"
    return None


_resolved: dict[str, BaseImage] = {}


def resolve_base(engine: Engine, ref: str) -> BaseImage:
    """The image to build FROM for an official base reference, and why it was chosen."""
    if ref in _resolved:
        return _resolved[ref]
    how = find_real(engine, ref)
    if how is not None:
        verb = "is present locally" if how == "present" else "was pulled"
        result = BaseImage(ref, ref, "real", f"{ref} {verb}, so the official image is used")
    elif ref in RECIPES:
        recipe = RECIPES[ref]
        image = ensure_standin(engine, ref)
        result = BaseImage(ref, image, "stand-in", f"{ref} cannot be pulled here, so {image} is used: {recipe.note}")
    else:
        template = SKIP_REASONS.get(
            ref, "{ref} cannot be pulled here and there is no recipe to build a stand-in for it"
        )
        result = BaseImage(ref, None, "skipped", template.format(ref=ref))
    _resolved[ref] = result
    return result
