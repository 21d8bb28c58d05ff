"""Apply Alembic migrations safely, even when several replicas start at the same moment."""

from contextlib import suppress
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from app.config import Settings, get_settings
from app.database import build_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Any fixed 64-bit number works; every replica must use the same one to serialise upgrades
ADVISORY_LOCK_KEY = 4_872_310_569_118_004_211


def alembic_config() -> Config:
    """Alembic configuration built in code, so the app needs no alembic.ini at run time."""
    config = Config()
    # ConfigParser treats % as interpolation, so escape it in the path
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str | None:
    """The newest revision shipped with this code."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(connection: Connection) -> str | None:
    """The revision the database is at (None before the first migration)."""
    return MigrationContext.configure(connection).get_current_revision()


def schema_is_current(connection: Connection) -> bool:
    return current_revision(connection) == head_revision()


def run_migrations(settings: Settings | None = None) -> str | None:
    """Upgrade the database to head and return the resulting revision; safe to repeat."""
    settings = settings or get_settings()
    # NullPool: closing the connection really ends the session, releasing the advisory lock
    engine = build_engine(settings, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            if settings.is_postgres:
                # Session-level lock: other replicas wait here until this upgrade is done
                connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
                )
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
                        connection.execute(
                            text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
                        )
                        connection.commit()
    finally:
        engine.dispose()
