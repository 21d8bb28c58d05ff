"""Every wait on the database is bounded: the session timeouts each connection carries,
and a locked table (a migration, a long transaction) that cuts reads short with a 503
while /health, on its own pool and threads, keeps answering. PostgreSQL only."""

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from helpers import MakeClient, NewTask
from sqlalchemy import Connection

pytestmark = pytest.mark.inprocess

# The promise (spec): with the task table locked, every read ends within this, with a 503
READ_BOUND_S = 10.0
HEALTH_BOUND_S = 2.0
READERS = 60


@pytest.fixture
def postgres_only(on_postgres: bool) -> None:
    if not on_postgres:
        pytest.skip("needs PostgreSQL (TEST_DATABASE_URL): SQLite has no session timeouts")


def show(connection: Connection, name: str) -> str:
    from sqlalchemy import text

    return str(connection.execute(text(f"SHOW {name}")).scalar_one())


def test_app_connections_carry_the_timeouts(client: httpx.Client, postgres_only: None) -> None:
    from app._defaults import SERVICE_NAME
    from app.database import get_engine, get_health_engine

    with get_engine().connect() as connection:
        assert show(connection, "statement_timeout") == "5s"
        assert show(connection, "lock_timeout") == "2s"
        assert show(connection, "idle_in_transaction_session_timeout") == "30s"
        assert show(connection, "application_name") == SERVICE_NAME
    with get_health_engine().connect() as connection:
        assert show(connection, "statement_timeout") == "1s"
        assert show(connection, "lock_timeout") == "1s"
    assert get_engine().pool.timeout() == 3.0  # type: ignore[attr-defined]


def test_timeouts_are_configurable_and_url_options_kept(
    make_client: MakeClient, database_url: str, postgres_only: None
) -> None:
    from app.database import get_engine

    joiner = "&" if "?" in database_url else "?"
    make_client(
        DATABASE_URL=f"{database_url}{joiner}options=-c%20work_mem%3D7MB",
        DB_STATEMENT_TIMEOUT="2.5",
        DB_LOCK_TIMEOUT="0",
        DB_IDLE_IN_TRANSACTION_TIMEOUT="60",
        DB_APPLICATION_NAME="tasks-reporting",
        RUN_MIGRATIONS="false",
    )
    with get_engine().connect() as connection:
        assert show(connection, "statement_timeout") == "2500ms"
        assert show(connection, "lock_timeout") == "0"
        assert show(connection, "idle_in_transaction_session_timeout") == "1min"
        assert show(connection, "application_name") == "tasks-reporting"
        assert show(connection, "work_mem") == "7MB"


def test_zero_limits_send_no_options(monkeypatch: pytest.MonkeyPatch) -> None:
    # PgBouncer refuses the `options` startup parameter: all limits at 0 send none
    from app.config import load_settings
    from app.database import connect_args

    monkeypatch.setenv("DATABASE_URL", "postgresql://app:pw@127.0.0.1:1/tasks")
    assert "statement_timeout=5000" in connect_args(load_settings())["options"]
    for name in ("DB_STATEMENT_TIMEOUT", "DB_LOCK_TIMEOUT", "DB_IDLE_IN_TRANSACTION_TIMEOUT"):
        monkeypatch.setenv(name, "0")
    assert "options" not in connect_args(load_settings())
    # ...while a migration still turns a server-wide statement timeout off
    assert connect_args(load_settings(), statement_timeout=0)["options"] == "-c statement_timeout=0"


@pytest.fixture
def locked_table(database_url: str) -> Iterator[threading.Event]:
    """Hold ACCESS EXCLUSIVE on the task table, as a migration does, until the test is done."""
    from sqlalchemy import create_engine, text

    from app.config import normalise_database_url

    engine = create_engine(normalise_database_url(database_url))
    release, locked = threading.Event(), threading.Event()

    def hold() -> None:
        with engine.connect() as connection:
            connection.execute(text("LOCK TABLE task IN ACCESS EXCLUSIVE MODE"))
            locked.set()
            release.wait(60)
            connection.rollback()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(10), "could not lock the task table"
    yield release
    release.set()
    holder.join(30)
    engine.dispose()


def timed(client: httpx.Client, path: str) -> tuple[float, httpx.Response]:
    started = time.monotonic()
    response = client.get(path)
    return time.monotonic() - started, response


def test_locked_table_cuts_reads_short_and_health_answers(
    client: httpx.Client, new_task: NewTask, postgres_only: None, request: pytest.FixtureRequest
) -> None:
    task = new_task()
    release = request.getfixturevalue("locked_table")
    paths = ["/tasks", f"/tasks/{task['id']}"] * (READERS // 2)
    with ThreadPoolExecutor(READERS) as pool:
        reads = [pool.submit(timed, client, path) for path in paths]
        time.sleep(0.5)  # every read is waiting on the lock or the pool now
        probes = [timed(client, "/health") for _ in range(3)]
        results = [read.result() for read in reads]
    release.set()
    for seconds, response in probes:
        assert response.status_code == 200, response.text
        assert seconds < HEALTH_BOUND_S, f"/health took {seconds:.1f} s behind a locked table"
    slowest = max(seconds for seconds, _ in results)
    assert slowest < READ_BOUND_S, f"the slowest read took {slowest:.1f} s"
    for _, response in results:
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"]
        assert response.json() == {"detail": "database unavailable, try again shortly"}
    assert client.get(f"/tasks/{task['id']}").status_code == 200
