"""The one migration design: an Alembic upgrade under a PostgreSQL advisory lock, run by
`python -m app migrate` or (RUN_MIGRATIONS=true) by a thread that retries until the
database answers; and the schema state that /health and the data routes read.

Expand/contract: a revision only adds to the schema, so the previous image keeps serving on
it (during a rolling update, or after a rollback); removals come in a later revision."""

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
from sqlalchemy import Connection, inspect, text
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import SQLModel

from app import models  # noqa: F401 - registers the tables on SQLModel.metadata
from app.config import Settings
from app.database import (
    Reason,
    UnknownRevisionError,
    build_migration_engine,
    describe_db_error,
    get_engine,
    reason_code,
)

logger = logging.getLogger("app.migrations")

# Any fixed 64-bit number works; every replica must use the same one to serialise upgrades
ADVISORY_LOCK = {"key": 4_872_310_569_118_004_211}
SCHEMA_NOT_READY = "schema not ready: migrations pending"
SCHEMA_UNKNOWN = "schema not ready: the database was migrated by a newer version"
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


@lru_cache(maxsize=1)
def known_revisions() -> frozenset[str]:
    """Every revision this image has a script for."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return frozenset(script.revision for script in scripts.walk_revisions())


def database_revisions(connection: Connection) -> tuple[str, ...]:
    """The revisions recorded in the database, or none before the first migration."""
    return tuple(MigrationContext.configure(connection).get_current_heads())


def refuse_unknown_revision(revisions: tuple[str, ...]) -> None:
    """Alembic can neither upgrade nor downgrade from a revision it has no script for."""
    for revision in revisions:
        if revision not in known_revisions():
            raise UnknownRevisionError(revision, head_revision())


def past_revisions(revisions: tuple[str, ...]) -> set[str]:
    """The revisions the database passed through on its way to these."""
    scripts = ScriptDirectory.from_config(alembic_config())
    return {
        script.revision
        for current in revisions
        for script in scripts.iterate_revisions(current, "base")
        if script is not None
    } - set(revisions)


def run_migrations(settings: Settings, target: str = "head") -> str | None:
    """Bring the database to `target` (head: upgrade) and return the resulting revision;
    safe to repeat. An older revision downgrades: the way back before a rollback."""
    with build_migration_engine(settings).connect() as connection:
        if settings.is_postgres:
            # Session-level lock: other replicas wait here (MIGRATION_LOCK_TIMEOUT at most)
            connection.execute(text("SELECT pg_advisory_lock(:key)"), ADVISORY_LOCK)
            connection.commit()
        try:
            revisions = database_revisions(connection)
            refuse_unknown_revision(revisions)
            config = alembic_config()
            config.attributes["connection"] = connection
            if target != "head" and target in past_revisions(revisions):
                command.downgrade(config, target)
            else:
                command.upgrade(config, target)
            connection.commit()
            return MigrationContext.configure(connection).get_current_revision()
        finally:
            # If the unlock fails the connection is gone, and the lock went with it
            with suppress(SQLAlchemyError):
                if settings.is_postgres:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), ADVISORY_LOCK)
                    connection.commit()


def schema_compatible(connection: Connection) -> bool:
    """Every column this image uses exists, and every column it does not know can be left
    out of an INSERT (nullable or with a default): what an expand-only revision leaves."""
    inspector = inspect(connection)
    for table in SQLModel.metadata.sorted_tables:
        if not inspector.has_table(table.name):
            return False
        columns = {column["name"]: column for column in inspector.get_columns(table.name)}
        if not set(table.columns.keys()) <= columns.keys():
            return False
        extra = (column for name, column in columns.items() if name not in table.columns)
        if any(not c["nullable"] and c.get("default") is None for c in extra):
            return False
    return True


def schema_problem(connection: Connection) -> Reason | None:
    """None when this image can serve on the database's schema, else why not."""
    revisions = database_revisions(connection)
    if revisions == (head_revision(),):
        return None
    if all(revision in known_revisions() for revision in revisions):
        return "schema_not_migrated"  # none yet, or an older one: migrations pending
    # A newer image migrated it: serve while that revision only added to the schema
    return None if schema_compatible(connection) else "schema_unknown_revision"


def schema_state(app: FastAPI, connection: Connection | None = None) -> Reason | None:
    """None once the schema serves; remembered, so later requests skip the check."""
    if getattr(app.state, "schema_ready", False):
        return None
    if connection is None:
        return getattr(app.state, "schema_reason", "schema_not_migrated")
    reason = schema_problem(connection)
    app.state.schema_ready, app.state.schema_reason = reason is None, reason
    return reason


def schema_ready(app: FastAPI, connection: Connection | None = None) -> bool:
    """True once the schema serves (see schema_state)."""
    return schema_state(app, connection) is None


def forget_schema(app: FastAPI) -> None:
    """The schema was dropped under us: ask the database again on the next request."""
    app.state.schema_ready = False


async def require_schema(request: Request) -> None:
    """503, not a failure on missing tables; async, so a known-ready schema costs no thread."""
    if schema_ready(request.app):
        return
    if (reason := await run_in_threadpool(_check, request.app)) is None:
        return
    detail = SCHEMA_NOT_READY if reason == "schema_not_migrated" else SCHEMA_UNKNOWN
    raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, detail, {"Retry-After": "5"})


def _check(app: FastAPI) -> Reason | None:
    with get_engine().connect() as connection:
        return schema_state(app, connection)


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
            except UnknownRevisionError as exc:
                # Not transient: retrying cannot help, and /health says whether we can serve
                advice = unknown_revision_advice(exc)
                logger.error("migrations not applied, not retrying: %s", advice)
                return
            except Exception as exc:  # noqa: BLE001 - any other failure means "try again later"
                reason = f"{reason_code(exc)}: {describe_db_error(exc)}"
                logger.warning("migrations not applied (attempt %d): %s", attempt, reason)
            if stop.wait(delay):
                return
            attempt, delay = attempt + 1, min(delay * 2, MAX_RETRY_DELAY)
        logger.info("database schema is at revision %s", revision)
        app.state.schema_ready = True

    # Daemon: a stuck connection attempt must never keep the process alive at shutdown
    threading.Thread(target=run, name="migrations", daemon=True).start()
    return stop


def unknown_revision_advice(exc: UnknownRevisionError) -> str:
    """One line: which revision, and what to do about it."""
    return (
        f"the database is at revision {exc.revision}, which this image does not know (it knows"
        f" up to {exc.head}): a newer image migrated it. This image still serves while that"
        " revision only added to the schema (expand/contract); to take the schema back, run"
        f" the newer image's `migrate {exc.head}` first, or deploy that image again"
    )
