"""Build a rendered project's image with BuildKit, passing bases and secrets in."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.machine.engine import Engine


@dataclass(frozen=True)
class BuildSecrets:
    """Build-time secrets, handed to BuildKit as files that are never part of the context."""

    ca_bundle: Path | None = None
    index_url: str | None = None


@dataclass(frozen=True)
class Image:
    tag: str
    id: str
    size_bytes: int
    build_seconds: float


class BuildError(RuntimeError):
    pass


def build_image(
    engine: Engine,
    project_dir: Path,
    tag: str,
    *,
    build_args: dict[str, str],
    secrets: BuildSecrets,
    log_path: Path,
    target: str | None = None,
    platform: str | None = None,
) -> Image:
    """docker build with host networking; the full build log goes to log_path."""
    with tempfile.TemporaryDirectory(prefix="build-secrets-") as tmp:
        args = ["build", "--network", "host", "--progress", "plain", "-t", tag]
        for key, value in build_args.items():
            args += ["--build-arg", f"{key}={value}"]
        if secrets.ca_bundle:
            args += ["--secret", f"id=ca,src={secrets.ca_bundle}"]
        if secrets.index_url:
            # a file only this user can read, removed with the temp dir after the build
            index_file = Path(tmp) / "index_url"
            index_file.write_text(secrets.index_url)
            os.chmod(index_file, 0o600)
            args += ["--secret", f"id=index_url,src={index_file}"]
        if target:
            args += ["--target", target]
        if platform:  # another architecture, built under emulation
            args += ["--platform", platform]
        started = time.monotonic()
        result = engine.docker(*args, str(project_dir), check=False)
        seconds = time.monotonic() - started
    log_path.write_text(result.stdout + result.stderr)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).splitlines()[-25:])
        raise BuildError(
            f"docker build of {tag} failed (exit {result.returncode}); "
            f"full log in {log_path}:\n{tail}"
        )
    return inspect_image(engine, tag, build_seconds=seconds)


def inspect_image(engine: Engine, tag: str, build_seconds: float = 0.0) -> Image:
    out = engine.docker("image", "inspect", "--format", "{{.Id}} {{.Size}}", tag).stdout.split()
    return Image(tag=tag, id=out[0], size_bytes=int(out[1]), build_seconds=build_seconds)
