"""A host virtualenv with the rendered project's pinned dependencies, for its own tests."""

from __future__ import annotations

import fcntl
import hashlib
import logging
import subprocess
import sys
import venv
from pathlib import Path

from harness.matrix.variants import ROOT

log = logging.getLogger("harness")
LOCKS = [ROOT / "template" / "requirements.txt", ROOT / "template" / "requirements-dev.txt"]


def project_python() -> Path:
    """Python of a venv with exactly the template's pinned requirements (cached by their hash)."""
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in LOCKS)).hexdigest()[:12]
    home = ROOT / ".cache" / f"project-venv-{digest}"
    python = home / "bin" / "python"
    home.parent.mkdir(parents=True, exist_ok=True)
    # the lanes of a test run ask for it at once: one makes it, the others wait for it
    with open(home.parent / f"{home.name}.lock", "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        if (home / ".complete").exists():
            return python
        log.info("creating the project's test virtualenv in %s", home)
        venv.EnvBuilder(with_pip=True, clear=True).create(home)
        args = [str(python), "-m", "pip", "install", "-q", "--require-hashes", "--no-deps"]
        for lock in LOCKS:
            args += ["-r", str(lock)]
        out = subprocess.run(args, capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(
                f"installing the project's requirements failed:\n{out.stderr[-2000:]}"
            )
        (home / ".complete").touch()
    return python


if __name__ == "__main__":
    print(project_python(), file=sys.stderr)
