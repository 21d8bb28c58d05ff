"""How the naive and peer recipes get pip on a base that has none, the way its users do.

- The base has pip (python:*-slim): the recipes as written.
- A Debian base without Python (debian:*-slim): each recipe first installs python3 and
  python3-pip from Debian's packages, and lets pip install into that system Python, which
  PEP 668 marks as externally managed (PIP_BREAK_SYSTEM_PACKAGES=1, as such Dockerfiles do).
- No shell at all (distroless): no single-stage recipe can run there. The baseline is
  distroless's own example (a venv built on Debian, copied in); the peers are not measured.
"""

from __future__ import annotations

import dataclasses
import re

from benchmarks.contenders import NAIVE, RENDERED, Contender
from benchmarks.dockerfiles import HERE
from benchmarks.runs import RunSpec, offline_python
from harness.machine.engine import Engine

BASE_PIP, APT_PIP, NO_SHELL = "base", "apt", "no shell"
FIRST_FROM = re.compile(r"^FROM \$\{BASE_IMAGE\}( AS [\w-]+)?\n", re.MULTILINE)
APT_PIP_STEP = """\
# The base has no pip: Python and pip from Debian's packages, as this base's users install them
RUN apt-get update \\
    && apt-get install -y --no-install-recommends python3 python3-pip \\
    && rm -rf /var/lib/apt/lists/*
ENV PIP_BREAK_SYSTEM_PACKAGES=1
"""
DISTROLESS_NAIVE = Contender(
    NAIVE,
    "naive for distroless (its own example: a venv built on Debian, copied in)",
    RunSpec(
        {},
        ("-m", "uvicorn", "app.main:app", "--host", "127.0.0.1", "--port", "{port}"),
        entrypoint="/venv/bin/python3",
    ),
    (HERE / "peers" / "distroless-example.Dockerfile").read_text(),
    deps_marker="/venv /venv",
    peer=True,  # the recipe distroless's users follow: the one to beat on this base
)


def pip_route(engine: Engine, image: str) -> str:
    """BASE_PIP, APT_PIP or NO_SHELL: how a recipe on this base gets pip."""
    if offline_python(engine, image, "-m", "pip", "--version", check=False, timeout=120).returncode:
        probe = ("run", "--rm", "--network", "none", "--entrypoint", "/bin/sh", image, "-c")
        has_apt = engine.docker(*probe, "command -v apt-get", check=False, timeout=120)
        return APT_PIP if has_apt.returncode == 0 else NO_SHELL
    return BASE_PIP


def with_apt_pip(contender: Contender) -> Contender:
    """The recipe with Debian's python3 and pip installed right after its FROM."""
    if contender.key == RENDERED or not contender.dockerfile:
        return contender
    dockerfile, found = FIRST_FROM.subn(
        lambda m: m.group(0) + APT_PIP_STEP, contender.dockerfile, count=1
    )
    if not found:
        raise ValueError(f"{contender.key}: no `FROM ${{BASE_IMAGE}}` line to add pip after")
    return dataclasses.replace(
        contender, dockerfile=dockerfile, label=f"{contender.label}, pip from apt"
    )


def contenders_for(route: str, contenders: list[Contender]) -> tuple[list[Contender], list[str]]:
    """The contenders a base with this route can build, and notes on what changed."""
    if route == BASE_PIP:
        return contenders, []
    if route == APT_PIP:
        note = "the base has no pip: each recipe but the rendered one first installs Debian's"
        note += " python3 and python3-pip (benchmarks/pip_routes.py)"
        return [with_apt_pip(c) for c in contenders], [note]
    kept = [c for c in contenders if not c.peer and c.key != NAIVE]
    note = "no shell or pip in the base: the naive baseline is distroless's own example"
    note += " (benchmarks/peers/distroless-example.Dockerfile); the peer recipes run pip in"
    note += " their only stage, so none applies, and they are not measured"
    return [kept[0], DISTROLESS_NAIVE, *kept[1:]], [note]
