"""The one migration design: an advisory-locked Alembic upgrade, run by `python -m app migrate`
or, with RUN_MIGRATIONS=true, by a thread that retries until the database answers; and the
schema-ready state that /health and the data routes read."""

import logging
import threading
from contextlib import suppress
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import FastAPI, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from app.config import Settings, get_settings
from app.database import build_engine, describe_db_error, get_engine

logger = logging.getLogger("app.migrations")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number works; every replica must use the same one to serialise upgrades
ADVISORY_LOCK_KEY = 4_872_310_569_118_004_211
SCHEMA_NOT_READY = "schema not ready: migrations pending"
FIRST_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 10.0


def alembic_config() -> Config:
    """Alembic configuration built in code, so the app needs no alembic.ini at run time."""
    config = Config()
    # ConfigParser treats % as interpolation, so escape it in the path
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def run_migrations(settings: Settings | None = None) -> str | None:
    """Upgrade the database to head and return the resulting revision; safe to repeat."""
    settings = settings or get_settings()
    # NullPool: closing the connection really ends the session, releasing the advisory lock
    engine = build_engine(settings, poolclass=NullPool)
    lock = {"key": ADVISORY_LOCK_KEY}
    try:
        with engine.connect() as connection:
            if settings.is_postgres:
                # Session-level lock: other replicas wait here until this upgrade is done
                connection.execute(text("SELECT pg_advisory_lock(:key)"), lock)
                connection.commit()
            try:
                config = alembic_config()
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
                connection.commit()
                return current_revision(connection)
            finally:
                if settings.is_postgres:
                    # If this fails the connection is gone, and the lock went with it
                    with suppress(SQLAlchemyError):
                        connection.execute(text("SELECT pg_advisory_unlock(:key)"), lock)
                        connection.commit()
    finally:
        engine.dispose()


def schema_ready(app: FastAPI, connection: Connection | None = None) -> bool:
    """True once the database is at head; remembered so later requests skip the check."""
    if not getattr(app.state, "schema_ready", False) and connection is not None:
        app.state.schema_ready = current_revision(connection) == head_revision()
    return getattr(app.state, "schema_ready", False)


def forget_schema(app: FastAPI) -> None:
    """Someone dropped the schema under us: check the database again on the next request."""
    app.state.schema_ready = False


async def require_schema(request: Request) -> None:
    """Dependency for data routes: 503 rather than fail on missing tables.

    Async, so the usual case (schema known to be ready) costs no thread-pool hop.
    """
    if schema_ready(request.app):
        return
    if not await run_in_threadpool(_check_schema, request.app):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, SCHEMA_NOT_READY, headers={"Retry-After": "5"}
        )


def _check_schema(app: FastAPI) -> bool:
    with get_engine().connect() as connection:
        return schema_ready(app, connection)


class StartupMigrator:
    """Migrate in a thread, so the server answers /health (503, with the reason) meanwhile,
    and a database that is down at start is retried until it answers.

    A hand loop rather than tenacity: the wait must end the moment the app stops, which
    Event.wait gives in one line and tenacity only through a custom sleep and stop.
    """

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self._app = app
        self._settings = settings
        self._stop = threading.Event()
        # Daemon: a stuck connection attempt must never keep the process alive at shutdown
        self._thread = threading.Thread(target=self._run, name="migrations", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = FIRST_RETRY_DELAY
        attempt = 1
        while True:
            try:
                revision = run_migrations(self._settings)
                break
            except Exception as exc:  # noqa: BLE001 - any failure means "try again later"
                logger.warning(
                    "migrations not applied (attempt %d, database %s): %s; retrying in %.0fs",
                    attempt,
                    self._settings.safe_database_url,
                    describe_db_error(exc),
                    delay,
                )
            if self._stop.wait(delay):
                return
            attempt, delay = attempt + 1, min(delay * 2, MAX_RETRY_DELAY)
        logger.info("database schema is at revision %s", revision)
        self._app.state.schema_ready = True
