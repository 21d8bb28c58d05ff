"""`python -m app` and `python -m app.healthcheck` as the container runs them."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.inprocess

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def run_module(module_args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # Only the variables given, so nothing from the developer's shell or .env leaks in
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", *module_args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_missing_database_url(tmp_path: Path) -> None:
    line = assert_one_line_error(run_module(["app"], tmp_path))
    assert line.startswith("error: DATABASE_URL is not set: pass it at run time")


def test_malformed_database_url(tmp_path: Path) -> None:
    result = run_module(["app"], tmp_path, DATABASE_URL="mysql://root:pw@db/app")
    assert "DATABASE_URL" in assert_one_line_error(result)


def test_bad_port(tmp_path: Path) -> None:
    result = run_module(["app"], tmp_path, DATABASE_URL="sqlite:///x.db", PORT="eighty")
    assert "PORT must be a number from 1 to 65535" in assert_one_line_error(result)


def test_port_taken(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        result = run_module(
            ["app"], tmp_path, DATABASE_URL="sqlite:///x.db", HOST="127.0.0.1", PORT=str(port)
        )
    line = assert_one_line_error(result)
    assert line == f"error: port {port} on 127.0.0.1 is taken: stop what uses it or set PORT"


def test_unknown_command(tmp_path: Path) -> None:
    assert "usage" in assert_one_line_error(run_module(["app", "frobnicate"], tmp_path))


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for _ in range(2):
        result = run_module(["app", "migrate"], tmp_path, DATABASE_URL=url)
        assert result.returncode == 0, result.stderr
        assert "revision 0001" in result.stderr


def test_migrate_with_database_down(tmp_path: Path) -> None:
    result = run_module(
        ["app", "migrate"], tmp_path, DATABASE_URL="postgresql://app:pw-x@127.0.0.1:1/tasks"
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "pw-x" not in result.stderr
    assert "error: migrations failed" in result.stderr


def test_healthcheck_fails_when_nothing_listens(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = run_module(["app.healthcheck"], tmp_path, PORT=str(port))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_healthcheck_does_not_load_the_web_stack(tmp_path: Path) -> None:
    code = (
        "import sys, app.healthcheck; "
        "heavy = ('fastapi', 'sqlmodel', 'sqlalchemy', 'pydantic'); "
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert result.stdout.strip() == "[]"
