"""The one migration design: an Alembic upgrade under a PostgreSQL advisory lock, run by
`python -m app migrate` or (RUN_MIGRATIONS=true) by a thread that retries until the
database answers; and the schema-ready state that /health and the data routes read."""

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

from app.config import Settings
from app.database import build_engine, describe_db_error, get_engine

logger = logging.getLogger("app.migrations")

# Any fixed 64-bit number works; every replica must use the same one to serialise upgrades
ADVISORY_LOCK = {"key": 4_872_310_569_118_004_211}
SCHEMA_NOT_READY = "schema not ready: migrations pending"
FIRST_RETRY_DELAY, MAX_RETRY_DELAY = 1.0, 10.0


def alembic_config() -> Config:
    """Alembic configuration built in code, so the app needs no alembic.ini at run time."""
    config = Config()
    # ConfigParser treats % as interpolation, so escape it in the path
    migrations = Path(__file__).resolve().parent / "migrations"
    config.set_main_option("script_location", str(migrations).replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def run_migrations(settings: Settings) -> str | None:
    """Upgrade the database to head and return the resulting revision; safe to repeat."""
    # NullPool: closing the connection really ends the session, releasing the advisory lock
    with build_engine(settings, poolclass=NullPool).connect() as connection:
        if settings.is_postgres:
            # Session-level lock: other replicas wait here until this upgrade is done
            connection.execute(text("SELECT pg_advisory_lock(:key)"), ADVISORY_LOCK)
            connection.commit()
        try:
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
            return MigrationContext.configure(connection).get_current_revision()
        finally:
            # If the unlock fails the connection is gone, and the lock went with it
            with suppress(SQLAlchemyError):
                if settings.is_postgres:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), ADVISORY_LOCK)
                    connection.commit()


def schema_ready(app: FastAPI, connection: Connection | None = None) -> bool:
    """True once the database is at head; remembered so later requests skip the check."""
    if not getattr(app.state, "schema_ready", False) and connection is not None:
        revision = MigrationContext.configure(connection).get_current_revision()
        app.state.schema_ready = revision == head_revision()
    return getattr(app.state, "schema_ready", False)


def forget_schema(app: FastAPI) -> None:
    """The schema was dropped under us: ask the database again on the next request."""
    app.state.schema_ready = False


async def require_schema(request: Request) -> None:
    """503, not a failure on missing tables; async, so a known-ready schema costs no thread."""
    if not schema_ready(request.app) and not await run_in_threadpool(_check, request.app):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, SCHEMA_NOT_READY, {"Retry-After": "5"}
        )


def _check(app: FastAPI) -> bool:
    with get_engine().connect() as connection:
        return schema_ready(app, connection)


def migrate_in_background(app: FastAPI, settings: Settings) -> threading.Event:
    """Migrate in a thread, so /health answers (503, with the reason) meanwhile, retrying a
    database that is down until it answers; set the returned event to give up. A hand loop,
    not tenacity: Event.wait ends the wait the moment the app stops, in one line."""
    stop = threading.Event()

    def run() -> None:
        delay, attempt = FIRST_RETRY_DELAY, 1
        while True:
            try:
                revision = run_migrations(settings)
                break
            except Exception as exc:  # noqa: BLE001 - any failure means "try again later"
                reason = describe_db_error(exc)
                logger.warning("migrations not applied (attempt %d): %s", attempt, reason)
            if stop.wait(delay):
                return
            attempt, delay = attempt + 1, min(delay * 2, MAX_RETRY_DELAY)
        logger.info("database schema is at revision %s", revision)
        app.state.schema_ready = True

    # Daemon: a stuck connection attempt must never keep the process alive at shutdown
    threading.Thread(target=run, name="migrations", daemon=True).start()
    return stop
