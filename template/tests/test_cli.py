"""`python -m app` and `python -m app.healthcheck` as the container runs them."""

import logging
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import MakeClient

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


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://app:Xy#9@Qz7@127.0.0.1/tasks",  # the shape that once reached the log
        "postgresql://app:Pw3Rd/Zq8Lk@127.0.0.1/tasks",
        "postgresql://app@127.0.0.1/tasks?password=Pw3Rd@Zq8Lk",
    ],
)
@pytest.mark.parametrize("command", [[], ["migrate"]])
def test_unencoded_password_is_refused_in_one_line(
    tmp_path: Path, url: str, command: list[str]
) -> None:
    result = run_module(["app", *command], tmp_path, DATABASE_URL=url)
    line = assert_one_line_error(result)
    assert "percent-encode" in line
    output = result.stdout + result.stderr
    assert not any(piece in output for piece in ("Xy", "Qz7", "Pw3Rd", "Zq8Lk")), output


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


def test_migrate_to_a_revision_nobody_wrote(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    line = one_error_line(run_module(["app", "migrate", "9999"], tmp_path, DATABASE_URL=url))
    assert "'9999'" in line


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


# A newer image's revisions, as files its app/migrations/versions would hold
EXPAND_REVISION = '''"""Add task.priority, nullable: an expand step, so older images run on it."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column("task", sa.Column("priority", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("task", "priority")
'''
CONTRACT_REVISION = '''"""Drop task.description: a contract step, no older image runs on it."""

from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("task") as batch:
        batch.drop_column("description")
'''


def newer_image(tmp_path: Path, *revisions: str) -> Path:
    """This project's app with revisions it does not have yet: the image after this one."""
    root = tmp_path / "newer"
    shutil.copytree(
        PROJECT_ROOT / "app", root / "app", ignore=shutil.ignore_patterns("__pycache__")
    )
    for number, source in enumerate(revisions, start=2):
        (root / "app" / "migrations" / "versions" / f"{number:04d}_newer.py").write_text(source)
    return root


def migrate_with(image: Path, url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return run_module(["app", "migrate"], image, DATABASE_URL=url, PYTHONPATH=str(image), **env)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """`migrate` logs where it connects, then ends with one error line; never a traceback."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0]), result.stderr
    return errors[0]


def test_older_image_serves_on_a_schema_one_expand_step_newer(
    fresh_database_url: str,
    make_client: MakeClient,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    newer = newer_image(tmp_path, EXPAND_REVISION)
    result = migrate_with(newer, fresh_database_url)
    assert result.returncode == 0 and "revision 0002" in result.stderr, result.stderr
    # This image's migrate cannot touch a revision it has no script for: it says so, once
    line = one_error_line(run_module(["app", "migrate"], tmp_path, DATABASE_URL=fresh_database_url))
    assert "schema_unknown_revision" in line and "revision 0002" in line
    assert "`migrate 0001`" in line
    # ...but the app serves on it, because the newer revision only added a nullable column
    client = make_client(DATABASE_URL=fresh_database_url, RUN_MIGRATIONS="false")
    assert client.get("/health").status_code == 200
    created = client.post("/tasks", json={"title": "written by the older image"})
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    assert client.patch(f"/tasks/{task_id}", json={"status": "done"}).status_code == 200
    assert client.get(f"/tasks/{task_id}").json()["status"] == "done"
    # Started with RUN_MIGRATIONS=true it says so in one line and does not retry
    with caplog.at_level(logging.INFO, logger="app.migrations"):
        client = make_client(DATABASE_URL=fresh_database_url, RUN_MIGRATIONS="true")
        time.sleep(2.5)  # the first retry would have come after 1 s
    lines = [r.getMessage() for r in caplog.records if r.name == "app.migrations"]
    assert len(lines) == 1 and "not retrying" in lines[0] and "0002" in lines[0], lines
    assert client.get("/health").status_code == 200
    # The way back that line names: the newer image takes the schema down to this one's head
    back = run_module(
        ["app", "migrate", "0001"], newer, DATABASE_URL=fresh_database_url, PYTHONPATH=str(newer)
    )
    assert back.returncode == 0 and "revision 0001" in back.stderr, back.stderr
    again = run_module(["app", "migrate"], tmp_path, DATABASE_URL=fresh_database_url)
    assert again.returncode == 0 and "revision 0001" in again.stderr, again.stderr


def test_older_image_refuses_a_schema_after_a_contract_step(
    fresh_database_url: str, make_client: MakeClient, tmp_path: Path
) -> None:
    from app._defaults import SERVICE_NAME

    newer = newer_image(tmp_path, EXPAND_REVISION, CONTRACT_REVISION)
    assert migrate_with(newer, fresh_database_url).returncode == 0
    line = one_error_line(run_module(["app", "migrate"], tmp_path, DATABASE_URL=fresh_database_url))
    assert "revision 0003" in line
    client = make_client(DATABASE_URL=fresh_database_url, RUN_MIGRATIONS="false")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json() == {
        "status": "unhealthy",
        "service": SERVICE_NAME,
        "reason": "schema_unknown_revision",
    }
    assert client.get("/tasks").status_code == 503


@pytest.mark.parametrize(
    "holder",
    [
        "LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE",  # a long transaction
        "SELECT pg_advisory_lock(4872310569118004211)",  # another migration (ADVISORY_LOCK)
    ],
)
def test_migrate_gives_up_on_a_held_lock(
    fresh_database_url: str, on_postgres: bool, tmp_path: Path, holder: str
) -> None:
    if not on_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has no lock timeout")
    from sqlalchemy import create_engine, text

    from app.config import normalise_database_url

    assert run_module(["app", "migrate"], tmp_path, DATABASE_URL=fresh_database_url).returncode == 0
    engine = create_engine(normalise_database_url(fresh_database_url))
    with engine.connect() as connection:
        connection.execute(text(holder))
        started = time.monotonic()
        result = run_module(
            ["app", "migrate"],
            tmp_path,
            DATABASE_URL=fresh_database_url,
            MIGRATION_LOCK_TIMEOUT="1",
        )
        took = time.monotonic() - started
        connection.rollback()
    engine.dispose()
    line = one_error_line(result)
    assert "database_timeout" in line and "run migrate again" in line
    # three attempts of 1 s each, 2 s apart, before it gives up
    assert result.stderr.count("trying again") == 2, result.stderr
    assert took < 20, f"migrate waited {took:.1f} s for a lock with MIGRATION_LOCK_TIMEOUT=1"
