"""Database engine (created on first use) and request sessions."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.config import Settings, get_settings


def build_engine(settings: Settings, **overrides: Any) -> Engine:
    options: dict[str, Any] = {"pool_pre_ping": True, **overrides}
    if settings.is_postgres and "poolclass" not in overrides:
        options |= {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
    if settings.is_postgres and "connect_timeout" not in make_url(settings.database_url).query:
        # Fail fast when the host is unreachable, unless the URL sets its own timeout
        options["connect_args"] = {"connect_timeout": settings.db_connect_timeout}
    elif not settings.is_postgres:
        # Request handlers run in a thread pool, so SQLite connections cross threads
        options["connect_args"] = {"check_same_thread": False}
    return create_engine(settings.database_url, **options)


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine, created lazily so importing the app needs no database."""
    return build_engine(get_settings())


def reset_engine() -> None:
    """Dispose of the engine so the next use reads settings afresh (used by tests)."""
    if get_engine.cache_info().currsize:
        get_engine().dispose()
    get_engine.cache_clear()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work inside an endpoint, not a dependency: held until a dependency's
    teardown, the connection waits for the response to be validated on another pool thread,
    and under load every thread waits for a connection only a waiting response releases."""
    # Keep loaded attributes after commit and close: a re-read could race a concurrent DELETE
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


def describe_db_error(exc: BaseException, limit: int = 200) -> str:
    """A short single-line reason for a database failure, without SQL, params or passwords."""
    original = getattr(exc, "orig", None) or exc
    message = " ".join(str(original).split()) or type(original).__name__
    # libpq never echoes passwords, but scrub URL-shaped credentials just in case
    message = re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", message)
    message = re.sub(r"(password=)\S+", r"\1***", message, flags=re.IGNORECASE)
    return message if len(message) <= limit else message[: limit - 3] + "..."
