"""Alembic environment: the database URL always comes from the app's settings."""

import logging.config

from alembic import context
from sqlalchemy import Connection
from sqlmodel import SQLModel

from app import models  # noqa: F401 - registers the tables on SQLModel.metadata
from app.config import Settings, SettingsError, get_settings
from app.database import build_migration_engine

config = context.config
target_metadata = SQLModel.metadata

# Only the alembic CLI passes an ini file; the app configures logging itself
if config.config_file_name is not None and config.get_section("loggers") is not None:
    logging.config.fileConfig(config.config_file_name, disable_existing_loggers=False)


def _settings_or_exit() -> Settings:
    try:
        return get_settings()
    except SettingsError as exc:
        # A one-line message beats a traceback for the alembic CLI too
        raise SystemExit(f"error: {exc}") from None


def _configure_and_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Emit SQL to stdout (`alembic upgrade head --sql`) without connecting."""
    context.configure(
        url=_settings_or_exit().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run against a live database, reusing the caller's connection when given one."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    engine = build_migration_engine(_settings_or_exit())
    try:
        with engine.connect() as new_connection:
            _configure_and_run(new_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
