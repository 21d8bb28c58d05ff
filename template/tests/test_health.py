"""GET /health reports the database and schema state, and never lies about either."""

import time
from pathlib import Path

import httpx
import pytest
from helpers import MakeClient


def test_healthy(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert isinstance(body["service"], str) and body["service"]


@pytest.mark.inprocess
def test_service_name_is_the_project_slug(client: httpx.Client) -> None:
    from app._defaults import SERVICE_NAME

    assert client.get("/health").json() == {"status": "healthy", "service": SERVICE_NAME}


@pytest.mark.inprocess
def test_unmigrated_database_is_not_ready(make_client: MakeClient, tmp_path: Path) -> None:
    client = make_client(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}", RUN_MIGRATIONS="false")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["reason"] == "schema not ready: migrations pending"
    assert health.json()["status"] == "unhealthy"
    tasks = client.get("/tasks")
    assert tasks.status_code == 503
    assert tasks.json() == {"detail": "schema not ready: migrations pending"}


@pytest.mark.inprocess
def test_unreachable_database_is_503_without_password(make_client: MakeClient) -> None:
    # Port 1 on loopback refuses connections immediately
    url = "postgresql://app:s3cret-pw@127.0.0.1:1/tasks"
    client = make_client(DATABASE_URL=url, RUN_MIGRATIONS="false")
    health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["reason"].startswith("database unreachable: ")
    assert "s3cret-pw" not in health.text
    for response in (
        client.get("/tasks"),
        client.post("/tasks", json={"title": "while down"}),
        client.get("/tasks/1"),
    ):
        assert response.status_code == 503
        assert "s3cret-pw" not in response.text
        assert "detail" in response.json()


def wait_until_healthy(client: httpx.Client, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while (response := client.get("/health")).status_code != 200:
        assert time.monotonic() < deadline, response.text
        time.sleep(0.1)


@pytest.mark.inprocess
def test_startup_migrations_make_it_healthy(make_client: MakeClient, tmp_path: Path) -> None:
    client = make_client(DATABASE_URL=f"sqlite:///{tmp_path / 'fresh.db'}", RUN_MIGRATIONS="true")
    wait_until_healthy(client)
    assert client.post("/tasks", json={"title": "after migration"}).status_code == 201


@pytest.mark.inprocess
def test_dropped_table_is_503_not_500(make_client: MakeClient, tmp_path: Path) -> None:
    from sqlalchemy import create_engine, text

    url = f"sqlite:///{tmp_path / 'dropped.db'}"
    client = make_client(DATABASE_URL=url, RUN_MIGRATIONS="true")
    wait_until_healthy(client)
    assert client.get("/tasks").status_code == 200
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE task"))
    engine.dispose()
    response = client.get("/tasks")
    assert response.status_code == 503
    assert response.json() == {"detail": "schema not ready: migrations pending"}
