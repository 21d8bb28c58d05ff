"""Fast tier: this repo keeps the rules it holds renders to, and stays easy to walk."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from harness.matrix.variants import ROOT

# A module over this many lines usually holds two ideas (docs/design.md)
MAX_MODULE_LINES = 300
# copier.yml is read by people choosing answers: logic lives in the Jinja extension
MAX_COPIER_LINE = 200


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return subprocess.run(
        [found, *args, "--no-cache", "."], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_repo_passes_ruff_check() -> None:
    out = ruff("check")
    assert out.returncode == 0, out.stdout + out.stderr


def test_repo_is_ruff_formatted() -> None:
    out = ruff("format", "--check")
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.parametrize("folder", ["harness", "benchmarks"])
def test_modules_hold_one_idea(folder: str) -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT / folder).rglob("*.py")}
    too_big = {name: lines for name, lines in sizes.items() if lines > MAX_MODULE_LINES}
    assert not too_big, f"split these by idea (over {MAX_MODULE_LINES} lines): {too_big}"


def test_copier_yml_reads_like_documentation() -> None:
    lines = (ROOT / "copier.yml").read_text().splitlines()
    long = [n for n, line in enumerate(lines, 1) if len(line) > MAX_COPIER_LINE]
    assert not long, f"copier.yml lines over {MAX_COPIER_LINE} characters: {long}"
