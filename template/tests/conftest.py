"""Test modes, chosen by environment variables:

- default: the app in this process (FastAPI TestClient) on a fresh SQLite file, migrated;
- TEST_DATABASE_URL=postgresql://...: the same in-process tests against that PostgreSQL;
- TEST_BASE_URL=http://127.0.0.1:8000: plain HTTP against a running deployment. The app is
  never imported in this mode and tests marked `inprocess` are skipped.
"""

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from helpers import MakeClient, NewTask, UniqueTitle

BASE_URL = os.environ.get("TEST_BASE_URL", "").strip().rstrip("/")
LIVE = bool(BASE_URL)
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def pytest_report_header(config: pytest.Config) -> str:
    if LIVE:
        return f"mode: live HTTP against {BASE_URL} (inprocess tests skipped)"
    target = "TEST_DATABASE_URL" if os.environ.get("TEST_DATABASE_URL") else "a fresh SQLite file"
    return f"mode: in-process app against {target}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not LIVE:
        return
    skip = pytest.mark.skip(reason=f"needs the in-process app; TEST_BASE_URL={BASE_URL} is live")
    for item in items:
        if "inprocess" in item.keywords:
            item.add_marker(skip)


def _reset_app_caches() -> None:
    # Settings and the engine are cached per process; tests that change the env must drop them
    from app.config import get_settings
    from app.database import reset_engine

    get_settings.cache_clear()
    reset_engine()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    explicit = os.environ.get("TEST_DATABASE_URL", "").strip()
    if explicit:
        return explicit
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def on_postgres(database_url: str) -> bool:
    return database_url.startswith(("postgres://", "postgresql"))


@pytest.fixture
def fresh_database_url(database_url: str, on_postgres: bool, tmp_path: Path) -> Iterator[str]:
    """An empty database of the kind under test: a SQLite file, or a PostgreSQL schema of
    its own (chosen through libpq's options, which the app merges with its own)."""
    if not on_postgres:
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    from sqlalchemy import create_engine, text

    from app.config import normalise_database_url

    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_database_url(database_url))
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    joiner = "&" if "?" in database_url else "?"
    yield f"{database_url}{joiner}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(scope="session")
def migrated_app(database_url: str) -> Iterator[Any]:
    """One app for the session, its database migrated up front."""
    patcher = pytest.MonkeyPatch()
    patcher.setenv("DATABASE_URL", database_url)
    # Migrated synchronously here, so the start-up thread is not needed
    patcher.setenv("RUN_MIGRATIONS", "false")
    _reset_app_caches()
    from app.config import get_settings
    from app.main import create_app
    from app.migrate import run_migrations

    run_migrations(get_settings())
    yield create_app()
    patcher.undo()
    _reset_app_caches()


@pytest.fixture
def client(request: pytest.FixtureRequest) -> Iterator[httpx.Client]:
    """An HTTP client for the API: in-process TestClient, or httpx against TEST_BASE_URL."""
    if LIVE:
        with httpx.Client(base_url=BASE_URL, timeout=10.0) as live_client:
            yield live_client
        return
    app = request.getfixturevalue("migrated_app")
    from fastapi.testclient import TestClient
    from sqlalchemy import text

    from app.database import get_engine

    # Each in-process test starts from an empty table
    with get_engine().begin() as connection:
        connection.execute(text("DELETE FROM task"))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def make_client(monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeClient]:
    """Build an in-process client for an app started with extra environment variables."""
    from fastapi.testclient import TestClient

    from app.main import create_app

    stack = contextlib.ExitStack()

    def factory(**env: str) -> httpx.Client:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        _reset_app_caches()
        return stack.enter_context(TestClient(create_app()))

    yield factory
    stack.close()
    _reset_app_caches()


@pytest.fixture
def unique_title() -> UniqueTitle:
    """Titles that cannot clash with data already in a live deployment."""

    def title(prefix: str = "task") -> str:
        return f"{prefix} {uuid.uuid4().hex[:12]}"

    return title


@pytest.fixture
def new_task(client: httpx.Client, unique_title: UniqueTitle) -> NewTask:
    """Create a task through the API and return its JSON."""

    def create(**fields: Any) -> dict[str, Any]:
        body = {"title": unique_title("test"), **fields}
        response = client.post("/tasks", json=body)
        assert response.status_code == 201, response.text
        task: dict[str, Any] = response.json()
        return task

    return create
