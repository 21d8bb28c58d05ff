"""Fast tier: this repo keeps the rules it holds renders to, and stays easy to walk."""

from __future__ import annotations

import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from harness.matrix.variants import ROOT

# A module over this many lines may hold two ideas (CONTRIBUTING.md): a hint, not a rule;
# where code goes is decided by the layers of pyproject.toml's import contracts
MAX_MODULE_LINES = 300
# copier.yml is read by people choosing answers: logic lives in the Jinja extension
MAX_COPIER_LINE = 200


def tool(name: str) -> str:
    """A tool of .venv (requirements-dev.txt), also when pytest runs without .venv on PATH."""
    return shutil.which(name) or str(Path(sys.executable).parent / name)


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("ruff"), *args, "--no-cache", "."], cwd=ROOT, capture_output=True, text=True
    )


def test_repo_passes_ruff_check() -> None:
    out = ruff("check")
    assert out.returncode == 0, out.stdout + out.stderr


def test_repo_is_ruff_formatted() -> None:
    out = ruff("format", "--check")
    assert out.returncode == 0, out.stdout + out.stderr


def test_repo_passes_mypy_strict() -> None:
    """harness/, benchmarks/, extensions/, migrations/ and tasks.py ([tool.mypy] in pyproject)."""
    out = subprocess.run([tool("mypy")], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_catches_a_string_given_as_the_package_list(tmp_path: Path) -> None:
    """The bug mypy came for: apt_install("postgresql") would ask apt for p, o, s, t, ..."""
    probe = tmp_path / "probe.py"
    probe.write_text('from harness.machine.needs import apt_install\n\napt_install("postgresql")\n')
    cache = ("--cache-dir", str(tmp_path / "cache"))
    out = subprocess.run(
        [tool("mypy"), "--strict", *cache, str(probe)], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 1 and '"str"; expected "list[str]"  [arg-type]' in out.stdout, (
        out.stdout
    )


def test_imports_keep_to_the_layers_and_have_no_cycles() -> None:
    """pyproject.toml's [tool.importlinter] contracts, TYPE_CHECKING imports included."""
    out = subprocess.run(
        [tool("lint-imports"), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stdout[out.stdout.find("Broken contracts") :] + out.stderr
    assert " 0 broken" in out.stdout


@pytest.mark.parametrize("folder", ["harness", "benchmarks"])
def test_long_modules_are_named(folder: str) -> None:
    """Only a warning: a long module is worth a look, but its layer decides where code goes."""
    sizes = {p: len(p.read_text().splitlines()) for p in (ROOT / folder).rglob("*.py")}
    for path, lines in sizes.items():
        if lines > MAX_MODULE_LINES:
            warnings.warn(
                f"{path.relative_to(ROOT)} has {lines} lines: does it hold two ideas?", stacklevel=1
            )
    assert sizes, f"no modules found under {folder}/"


def test_copier_yml_reads_like_documentation() -> None:
    lines = (ROOT / "copier.yml").read_text().splitlines()
    long = [n for n, line in enumerate(lines, 1) if len(line) > MAX_COPIER_LINE]
    assert not long, f"copier.yml lines over {MAX_COPIER_LINE} characters: {long}"
