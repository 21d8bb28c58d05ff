"""What every stand-in base must do once built: run its Python with the modules the app loads,
and have a shell with apt, or no shell at all (distroless), on its own platform."""

from __future__ import annotations

from harness.images.recipes import Recipe
from harness.machine.emulation import is_emulated
from harness.machine.engine import DockerCommandError, Engine, EngineError

# The standard modules the template's app and tools load; each needs a shared library.
MODULES = "sys, ssl, sqlite3, ctypes, uuid, lzma, bz2, zlib, decimal, json"
PYTHON_CHECK = f"import {MODULES}; print('%d.%d' % sys.version_info[:2])"


class BaseImageError(EngineError):
    """A stand-in base image could not be built; the message says what to do."""


def timeout_for(recipe: Recipe) -> float:
    # Under qemu on a busy 2-core machine a Python start can take tens of seconds.
    return 600.0 if is_emulated(f"linux/{recipe.arch}") else 120.0


def run_in(engine: Engine, recipe: Recipe, entrypoint: str, *argv: str) -> str:
    image = recipe.image
    run = ("run", "--rm", *host_platform(recipe), "--entrypoint", entrypoint, image, *argv)
    try:
        return engine.docker(*run, timeout=timeout_for(recipe)).stdout
    except DockerCommandError as exc:
        remedy = f"fix its recipe, or remove it (`docker rmi {image}`) and run again"
        failed = f"The stand-in {image} fails its check"
        raise BaseImageError(f"{failed}: {remedy}.\n{exc.stderr_tail}") from exc


def verify(engine: Engine, recipe: Recipe) -> None:
    """The promises of the recipe's header: its Python, and a shell with apt or no shell at all."""
    image = recipe.image
    if recipe.python:
        # python3 on the image's PATH: /usr/bin (Debian) or /usr/local/bin (python.org builds)
        found = run_in(engine, recipe, "python3", "-c", PYTHON_CHECK).strip()
        if found != recipe.python:
            wrong = f"The stand-in {image} runs Python {found}, not {recipe.python}"
            raise BaseImageError(f"{wrong}: fix its recipe.")
    if recipe.shell:
        # Dockerfiles on these bases run apt-get, and on Python bases a venv with pip: the venv
        # module works and ensurepip has its pip wheel. (Installing that wheel took minutes
        # under qemu on a busy machine, and the row's own build installs it anyway.)
        script = "command -v apt-get"
        if recipe.python:
            venv = "python3 -m venv --without-pip /tmp/venv && /tmp/venv/bin/python -c pass"
            script += f" && {venv} && python3 -m ensurepip --version"
        run_in(engine, recipe, "/bin/sh", "-c", script)
        return
    shell = ("run", "--rm", *host_platform(recipe), "--entrypoint", "/bin/sh", image, "-c", "true")
    if engine.docker(*shell, check=False, timeout=timeout_for(recipe)).returncode == 0:
        wrong = f"The stand-in {image} has a shell, unlike {recipe.official}"
        raise BaseImageError(f"{wrong}: fix its recipe.")


def host_platform(recipe: Recipe) -> tuple[str, ...]:
    return ("--network", "host", "--platform", f"linux/{recipe.arch}")
