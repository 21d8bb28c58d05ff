"""Fast tier: the rendered project passes its own type check, mypy --strict, as its CI runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from harness.checks.deployment.workflow import WORKFLOW
from harness.matrix.project_env import project_python
from harness.matrix.render import render_project


def test_rendered_project_passes_mypy_strict(tmp_path: Path) -> None:
    project = render_project({"ci": "github"}, tmp_path / "task-api")
    steps = yaml.safe_load((project.path / WORKFLOW).read_text())["jobs"]["tests"]["steps"]
    assert "mypy" in [step.get("run") for step in steps], "the CI workflow runs no type check"
    cache = ("--cache-dir", str(tmp_path / "mypy-cache"))
    out = subprocess.run(
        [str(project_python()), "-m", "mypy", *cache],
        cwd=project.path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert "Success: no issues found" in out.stdout
