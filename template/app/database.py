"""Database engine (created on first use) and request sessions."""

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlmodel import Session

from app.config import Settings, get_settings

_engine: Engine | None = None
_engine_lock = threading.Lock()


def build_engine(settings: Settings, **overrides: Any) -> Engine:
    """Create an engine for the configured database with sensible pool settings."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    if settings.is_postgres:
        options |= {"pool_size": settings.db_pool_size, "max_overflow": settings.db_max_overflow}
        # Fail fast when the host is unreachable, unless the URL sets its own timeout
        if "connect_timeout" not in make_url(settings.database_url).query:
            options["connect_args"] = {"connect_timeout": settings.db_connect_timeout}
    else:
        # Request handlers run in a thread pool, so SQLite connections cross threads
        options["connect_args"] = {"check_same_thread": False}
    options |= overrides
    if "poolclass" in overrides:
        options.pop("pool_size", None)
        options.pop("max_overflow", None)
    return create_engine(settings.database_url, **options)


def get_engine() -> Engine:
    """The process-wide engine, created lazily so importing the app needs no database."""
    global _engine
    if _engine is None:
        with _engine_lock:
            if _engine is None:
                _engine = build_engine(get_settings())
    return _engine


def reset_engine() -> None:
    """Dispose of the engine so the next use reads settings afresh (used by tests)."""
    global _engine
    with _engine_lock:
        if _engine is not None:
            _engine.dispose()
        _engine = None


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work, used inside an endpoint.

    The connection must go back to the pool before the endpoint returns: FastAPI then
    validates the response, and for sync endpoints that takes another thread-pool
    thread. A session held until a dependency's teardown deadlocks under load, with every
    thread waiting for a connection that only a waiting response would release.
    """
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
