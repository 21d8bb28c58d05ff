"""Fast tier: the rendered project's own test suite passes, in process, against SQLite
and against a real PostgreSQL server, and its entry point fails clearly on bad config."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from harness.matrix.project_env import project_python
from harness.matrix.render import Project, render_project


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return render_project({"port": 18123}, tmp_path_factory.mktemp("project") / "task-api")


@pytest.fixture(scope="module")
def python() -> Path:
    return project_python()


@pytest.fixture(scope="module")
def postgres():
    from harness.machine.postgres import Postgres
    from harness.machine.service import ServiceError

    try:
        server = Postgres(password="project-tests")
        server.start()
    except ServiceError as why:
        pytest.skip(str(why))
    yield server
    server.stop()


def run_suite(python: Path, project: Project, **env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "DATABASE_URL"))}
    out = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=project.path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else out.stderr[-500:]
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " passed" in summary and "failed" not in summary, summary
    return summary


def test_project_suite_passes_on_sqlite(python: Path, project: Project) -> None:
    run_suite(python, project)


def test_project_suite_passes_on_postgres(python: Path, project: Project, postgres) -> None:
    summary = run_suite(python, project, TEST_DATABASE_URL=postgres.url)
    assert "skipped" not in summary or "live" in summary, summary


def test_missing_database_url_stops_with_one_line(python: Path, project: Project) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    out = subprocess.run(
        [str(python), "-m", "app"],
        cwd=project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "DATABASE_URL" in lines[0], out.stderr
    assert "Traceback" not in out.stderr
