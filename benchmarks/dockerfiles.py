"""Dockerfile text the bench builds: the naive baseline, and rewrites of the rendered one."""

from __future__ import annotations

import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAIVE_DOCKERFILE = HERE / "naive.Dockerfile"
STARTUP_BYTECODE_SCRIPT = HERE / "variants" / "compile_startup.py"
# A cache mount without its own id: BuildKit then keys it by its target path.
CACHE_MOUNT = re.compile(r"--mount=type=cache,((?:(?!\bid=)[^\s\\])*?)target=([^\s,\\]+)")


class VariantNotApplicable(ValueError):
    """The rendered Dockerfile no longer has the lines a proposed variant rewrites."""


def with_cache_ids(dockerfile: str, prefix: str) -> str:
    """Give every cache mount an id under prefix, so a build starts from empty caches
    that are the bench's own (and can be pruned without touching anyone else's)."""
    return CACHE_MOUNT.sub(
        lambda m: f"--mount=type=cache,{m.group(1)}id={prefix}{m.group(2)},target={m.group(2)}",
        dockerfile,
    )


def cache_targets(dockerfile: str) -> set[str]:
    return {
        m.group(1)
        for m in re.finditer(r"--mount=type=cache,[^\s\\]*?target=([^\s,\\]+)", dockerfile)
    }


def naive_dockerfile() -> str:
    return NAIVE_DOCKERFILE.read_text()


def replace_once(text: str, old: str, new: str, what: str) -> str:
    if text.count(old) != 1:
        raise VariantNotApplicable(
            f"the rendered Dockerfile has no single {old.strip()!r} to rewrite for {what}"
        )
    return text.replace(old, new)


def startup_bytecode_dockerfile(rendered: str) -> str:
    """The rendered Dockerfile with bytecode only for the modules a start imports.

    The venv layer keeps only sources (no --compile-bytecode); a stage of its own imports
    the app the way a start does and compiles just those modules into a separate tree,
    which becomes its own small layer above the untouched venv layer.
    """
    what = "startup-only bytecode"
    text = replace_once(rendered, "--compile-bytecode ", "", what)
    text = replace_once(
        text,
        "COPY app/ /app/app/\n",
        "COPY app/ /app/app/\nCOPY --from=startup-pyc /startup-pyc/ /\n",
        what,
    )
    runtime = "# " + "-" * 73 + " runtime\n"
    return replace_once(
        text,
        runtime,
        "FROM deps AS startup-pyc\n"
        "COPY gunicorn.conf.py /app/\n"
        "COPY app/ /app/app/\n"
        "# Bytecode only for the venv modules a start imports, kept apart from the venv layer\n"
        "RUN --mount=type=bind,source=docker/compile_startup.py,target=/tmp/compile_startup.py \\\n"
        "    cd /app && /opt/venv/bin/python /tmp/compile_startup.py /opt/venv /startup-pyc\n\n"
        + runtime,
        what,
    )
