"""Whether the schema is migrated, and the background thread that gets it there."""

import logging
import threading
from collections.abc import Callable

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import Connection

from app.config import Settings
from app.database import describe_db_error, get_engine
from app.migrate import run_migrations, schema_is_current

logger = logging.getLogger("app.migrations")

SCHEMA_NOT_READY = "schema not ready: migrations pending"
FIRST_RETRY_DELAY = 1.0
MAX_RETRY_DELAY = 10.0


def schema_ready(app: FastAPI, connection: Connection) -> bool:
    """True once the database is at head; remembered so later requests skip the check."""
    if not getattr(app.state, "schema_ready", False):
        app.state.schema_ready = schema_is_current(connection)
    return app.state.schema_ready


async def require_schema(request: Request) -> None:
    """Dependency for data endpoints: answer 503 rather than fail on missing tables.

    Async, so the usual case (schema known to be ready) costs no thread-pool hop; only
    the check against the database goes to a thread.
    """
    if getattr(request.app.state, "schema_ready", False):
        return
    if not await run_in_threadpool(_check_schema, request.app):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail=SCHEMA_NOT_READY,
            headers={"Retry-After": "5"},
        )


def _check_schema(app: FastAPI) -> bool:
    with get_engine().connect() as connection:
        return schema_ready(app, connection)


class BackgroundMigrator:
    """Apply migrations off the event loop, retrying until the database answers."""

    def __init__(self, settings: Settings, on_success: Callable[[], None]) -> None:
        self._settings = settings
        self._on_success = on_success
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
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            try:
                revision = run_migrations(self._settings)
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
                delay = min(delay * 2, MAX_RETRY_DELAY)
                continue
            logger.info("database schema is at revision %s", revision)
            self._on_success()
            return
