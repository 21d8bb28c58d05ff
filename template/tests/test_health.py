"""GET /health says only whether this replica can serve and a stable reason code; the
detail (never the password) goes to the log. Its waits are bounded and its own."""

import json
import logging
import time
from pathlib import Path

import httpx
import pytest
from helpers import MakeClient

CODES = {
    "database_unreachable",
    "database_auth_failed",
    "database_tls_failed",
    "database_timeout",
    "schema_not_migrated",
    "schema_unknown_revision",
    "database_error",
}


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


def unhealthy(response: httpx.Response, reason: str) -> None:
    from app._defaults import SERVICE_NAME

    assert response.status_code == 503, response.text
    assert response.json() == {"status": "unhealthy", "service": SERVICE_NAME, "reason": reason}


@pytest.mark.inprocess
def test_reason_codes_are_the_published_ones() -> None:
    from typing import get_args

    from app.database import Reason

    assert set(get_args(Reason)) == CODES


@pytest.mark.inprocess
def test_unmigrated_database_is_not_ready(make_client: MakeClient, tmp_path: Path) -> None:
    client = make_client(DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}", RUN_MIGRATIONS="false")
    unhealthy(client.get("/health"), "schema_not_migrated")
    tasks = client.get("/tasks")
    assert tasks.status_code == 503
    assert tasks.json() == {"detail": "schema not ready: migrations pending"}


@pytest.mark.inprocess
def test_unreachable_database_says_only_the_code(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    # Port 1 on loopback refuses connections immediately
    url = "postgresql://tasks-user:s3cret-pw@127.0.0.1:1/tasks"
    client = make_client(DATABASE_URL=url, RUN_MIGRATIONS="false")
    with caplog.at_level(logging.WARNING, logger="app"):
        health = client.get("/health")
    unhealthy(health, "database_unreachable")
    for leak in ("s3cret-pw", "tasks-user", "127.0.0.1", "refused"):
        assert leak not in health.text
    # The log names the cause, without the password
    lines = [r.getMessage() for r in caplog.records if r.name == "app.health"]
    assert len(lines) == 1 and "database_unreachable" in lines[0], lines
    assert "Connection refused" in lines[0] and "s3cret-pw" not in caplog.text
    for response in (
        client.get("/tasks"),
        client.post("/tasks", json={"title": "while down"}),
        client.get("/tasks/1"),
    ):
        assert response.status_code == 503
        assert response.headers["retry-after"]
        assert response.json() == {"detail": "database unavailable, try again shortly"}
    assert "s3cret-pw" not in caplog.text
    # The same lines as LOG_FORMAT=json writes them: one object each, still without it
    from pythonjsonlogger.json import JsonFormatter

    from app.logs import log_config

    spec = dict(log_config("info", "json")["formatters"]["line"])
    formatter = JsonFormatter(**{k: v for k, v in spec.items() if k != "()"})
    lines = [formatter.format(r) for r in caplog.records if r.name.startswith("app")]
    assert len(lines) >= 4 and all("\n" not in line for line in lines)
    assert all(json.loads(line)["level"] == "WARNING" for line in lines)
    assert not [line for line in lines if "s3cret-pw" in line]


@pytest.mark.inprocess
def test_wrong_password_is_auth_failed(
    make_client: MakeClient, database_url: str, on_postgres: bool
) -> None:
    if not on_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has no password")
    from sqlalchemy.engine import make_url

    from app.config import normalise_database_url

    wrong = make_url(normalise_database_url(database_url)).set(password="Wrong-Pw-123")
    client = make_client(
        DATABASE_URL=wrong.render_as_string(hide_password=False), RUN_MIGRATIONS="false"
    )
    health = client.get("/health")
    unhealthy(health, "database_auth_failed")
    assert "Wrong-Pw-123" not in health.text


@pytest.mark.inprocess
def test_tls_required_by_the_client_is_tls_failed(
    make_client: MakeClient, database_url: str, on_postgres: bool
) -> None:
    if not on_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has no TLS")
    joiner = "&" if "?" in database_url else "?"
    cases = ("sslmode=require", "sslmode=verify-full&sslrootcert=/nonexistent/root.crt")
    for query in cases:
        client = make_client(DATABASE_URL=f"{database_url}{joiner}{query}", RUN_MIGRATIONS="false")
        response = client.get("/health")
        if response.status_code == 200:
            pytest.skip("the test server speaks TLS, so requiring it cannot fail")
        unhealthy(response, "database_tls_failed")


# libpq reports connection failures as text only; these are its words for each case
LIBPQ_FAILURES = {
    "database_unreachable": [
        'connection to server at "10.0.0.9", port 5432 failed: Connection refused',
        "failed to resolve host 'db.internal': [Errno -2] Name or service not known",
        'could not translate host name "db" to address: Temporary failure in name resolution',
        'connection to server at "10.0.0.9", port 5432 failed: timeout expired',
        "server closed the connection unexpectedly",
    ],
    "database_auth_failed": [
        'FATAL:  password authentication failed for user "app"',
        'FATAL:  role "app" does not exist',
        "fe_sendauth: no password supplied",
        'FATAL:  no pg_hba.conf entry for host "10.0.0.2", user "app", database "t", no encryption',
        'FATAL:  no pg_hba.conf entry for host "10.0.0.2", user "a", database "t", SSL encryption',
    ],
    "database_tls_failed": [
        "server does not support SSL, but SSL was required",
        'root certificate file "/home/app/.postgresql/root.crt" does not exist',
        "SSL error: certificate verify failed",
        'server certificate for "db.example" does not match host name "db"',
    ],
    "database_error": ['FATAL:  database "tasks" does not exist'],
}


@pytest.mark.inprocess
@pytest.mark.parametrize(
    ("message", "code"),
    [(message, code) for code, messages in LIBPQ_FAILURES.items() for message in messages],
)
def test_connection_failures_are_classified(message: str, code: str) -> None:
    import psycopg
    from sqlalchemy.exc import OperationalError

    from app.database import reason_code

    assert reason_code(OperationalError("connect", None, psycopg.OperationalError(message))) == code


@pytest.mark.inprocess
def test_pool_wait_exhausted_is_a_timeout() -> None:
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    from app.database import reason_code

    assert reason_code(PoolTimeoutError("QueuePool limit of size 20 overflow 0 reached")) == (
        "database_timeout"
    )


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
