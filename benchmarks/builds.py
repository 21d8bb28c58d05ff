"""Timed BuildKit builds, and what their logs and layers prove about the cache."""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.images.build import BuildError
from harness.machine.engine import Engine

STEP_HEADER = re.compile(r"^#(\d+) \[[^\]]+\] (.*)$", re.MULTILINE)
STEP_CACHED = re.compile(r"^#(\d+) CACHED$", re.MULTILINE)
# History entries that carry a layer of their own (the rest only change the config).
LAYER_MAKERS = ("RUN ", "COPY ", "ADD ", "WORKDIR ", "/bin/sh -c ", "bash ")


@dataclass(frozen=True)
class Built:
    tag: str
    image_id: str
    size_bytes: int
    seconds: float
    log: str


def build(
    engine: Engine,
    context: Path,
    dockerfile: str,
    tag: str,
    *,
    build_args: dict[str, str],
    ca_bundle: Path | None,
    no_cache: bool = False,
) -> Built:
    """docker build (BuildKit, host network, plain progress) of dockerfile text over context."""
    with tempfile.TemporaryDirectory(prefix="bench-dockerfile-") as tmp:
        path = Path(tmp) / "Dockerfile"
        path.write_text(dockerfile)
        args = ["build", "--network", "host", "--progress", "plain", "-f", str(path), "-t", tag]
        if no_cache:
            args.append("--no-cache")
        for key, value in build_args.items():
            args += ["--build-arg", f"{key}={value}"]
        if ca_bundle:
            args += ["--secret", f"id=ca,src={ca_bundle}"]
        started = time.monotonic()
        result = engine.docker(*args, str(context), check=False, timeout=900)
        seconds = time.monotonic() - started
    log = result.stdout + result.stderr
    if result.returncode != 0:
        raise BuildError(
            f"bench build of {tag} failed (exit {result.returncode}):\n"
            + "\n".join(log.splitlines()[-25:])
        )
    image_id, size = engine.docker(
        "image", "inspect", "--format", "{{.Id}} {{.Size}}", tag
    ).stdout.split()
    return Built(tag, image_id, int(size), seconds, log)


def install_step_cached(log: str) -> bool | None:
    """Whether the step that installs requirements.txt was CACHED (None: no such step)."""
    steps = {
        num: text
        for num, text in STEP_HEADER.findall(log)
        if "requirements.txt" in text and " install" in text
    }
    if not steps:
        return None
    cached = set(STEP_CACHED.findall(log))
    return all(num in cached for num in steps)


def layer_holding(engine: Engine, image: str, marker: str) -> str | None:
    """The diff id of the layer made by the history entry containing marker, if the
    history maps onto the layers unambiguously."""
    layers = json.loads(
        engine.docker("image", "inspect", "--format", "{{json .RootFS.Layers}}", image).stdout
    )
    out = engine.docker("history", "--no-trunc", "--format", "{{json .}}", image).stdout
    history = [json.loads(line) for line in reversed(out.splitlines()) if line.strip()]
    makers = [entry for entry in history if makes_layer(entry)]
    if len(makers) != len(layers):
        return None
    for entry, layer in zip(makers, layers, strict=True):
        if marker in entry.get("CreatedBy", ""):
            return str(layer)
    return None


def makes_layer(entry: dict[str, str]) -> bool:
    created_by = entry.get("CreatedBy", "")
    return (
        entry.get("Size", "0B") != "0B" or created_by == "" or created_by.startswith(LAYER_MAKERS)
    )


def cache_mounts(engine: Engine) -> list[dict[str, str]]:
    """BuildKit's cache-mount records (`docker system df -v`)."""
    out = engine.docker("system", "df", "-v", "--format", "{{json .BuildCache}}").stdout.strip()
    return [r for r in json.loads(out or "[]") or [] if r.get("CacheType") == "exec.cachemount"]


def prune_own_cache_mounts(
    engine: Engine, before: set[str], since: dt.datetime, targets: set[str]
) -> int:
    """Remove the cache mounts our builds created (new since `before`, made after `since`,
    for one of our targets), one by id: never the daemon's whole cache."""
    removed = 0
    for record in cache_mounts(engine):
        created = parse_time(record.get("CreatedAt", ""))
        target = record.get("Description", "").removeprefix("cached mount ").split(" ", 1)[0]
        if record["ID"] in before or created is None or created < since or target not in targets:
            continue
        engine.docker("builder", "prune", "--force", "--filter", f"id={record['ID']}", check=False)
        removed += 1
    return removed


def parse_time(text: str) -> dt.datetime | None:
    """`2026-11-29 05:40:31.348148509 +0000 UTC` as an aware datetime."""
    match = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)(?:\.(\d+))? ([+-]\d{4})", text)
    if not match:
        return None
    stamp = f"{match.group(1)}.{(match.group(2) or '0')[:6]:0<6}{match.group(3)}"
    return dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f%z")
