"""Database engines (created on first use), request sessions, and why a database call failed."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.pool import NullPool
from sqlmodel import Session

from app.config import Settings, get_settings
from app.metrics import watch_pool

# What /health, the data routes' logs and `migrate` say went wrong: stable codes to alert on
Reason = Literal[
    "database_unreachable",
    "database_auth_failed",
    "database_tls_failed",
    "database_timeout",
    "schema_not_migrated",
    "schema_unknown_revision",
    "database_error",
]
# /health's own bounds: well inside the probe's 5 s, whatever the data requests are waiting on
HEALTH_TIMEOUT = 1.0
HEALTH_CONNECT_TIMEOUT = 2  # libpq's smallest (it reads 1 as 2)


class UnknownRevisionError(Exception):
    """The database is at a revision this image does not know: a newer image migrated it."""

    def __init__(self, revision: str, head: str | None) -> None:
        super().__init__(f"database at revision {revision}, this image knows up to {head}")
        self.revision, self.head = revision, head


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _limit(setting: float, given: float | None) -> float | None:
    # A setting of 0 is not sent, so the server's own applies; a 0 a caller gives is sent
    return (setting or None) if given is None else given


def connect_args(
    settings: Settings,
    *,
    statement_timeout: float | None = None,
    lock_timeout: float | None = None,
    connect_timeout: int | None = None,
) -> dict[str, Any]:
    """libpq parameters that bound every wait of a connection, set once when it opens: the
    settings' unless given here. With every setting at 0 no `options` go out, for a
    PgBouncer that refuses that startup parameter."""
    if not settings.is_postgres:
        # Request handlers run in a thread pool, so SQLite connections cross threads
        return {"check_same_thread": False}
    query = make_url(settings.database_url).query
    limits = {
        "statement_timeout": _limit(settings.db_statement_timeout, statement_timeout),
        "lock_timeout": _limit(settings.db_lock_timeout, lock_timeout),
        "idle_in_transaction_session_timeout": _limit(
            settings.db_idle_in_transaction_timeout, None
        ),
    }
    ours = " ".join(
        f"-c {name}={_ms(value)}" for name, value in limits.items() if value is not None
    )
    given = query.get("options", "")
    # Options given in the URL come last, so they win over ours
    options = " ".join(filter(None, [ours, *([given] if isinstance(given, str) else given)]))
    args: dict[str, Any] = {"options": options} if options else {}
    if "application_name" not in query:
        args["application_name"] = settings.db_application_name
    if "connect_timeout" not in query:
        # Fail fast when the host is unreachable, unless the URL sets its own timeout
        args["connect_timeout"] = connect_timeout or settings.db_connect_timeout
    return args


def build_engine(
    settings: Settings,
    *,
    statement_timeout: float | None = None,
    lock_timeout: float | None = None,
    connect_timeout: int | None = None,
    **overrides: Any,
) -> Engine:
    """An engine whose connections carry the settings' timeouts, unless given others."""
    options: dict[str, Any] = {"pool_pre_ping": True, **overrides}
    if not settings.is_postgres:
        # SQLite (local tests) keeps the pool SQLAlchemy picks for it: in memory, one per thread
        for name in ("pool_size", "max_overflow", "pool_timeout"):
            options.pop(name, None)
    elif "poolclass" not in overrides:
        options.setdefault("pool_size", settings.db_pool_size)
        options.setdefault("max_overflow", settings.db_max_overflow)
        options.setdefault("pool_timeout", settings.db_pool_timeout)
    options["connect_args"] = connect_args(
        settings,
        statement_timeout=statement_timeout,
        lock_timeout=lock_timeout,
        connect_timeout=connect_timeout,
    )
    return create_engine(settings.database_url, **options)


def build_migration_engine(settings: Settings) -> Engine:
    """No statement timeout (an index build may take long), but a bounded wait for locks.
    NullPool: closing the connection really ends the session, releasing the advisory lock."""
    return build_engine(
        settings,
        poolclass=NullPool,
        statement_timeout=0,
        lock_timeout=settings.migration_lock_timeout,
    )


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine, created lazily so importing the app needs no database."""
    engine = build_engine(get_settings())
    watch_pool(engine, "data")
    return engine


@lru_cache(maxsize=1)
def get_health_engine() -> Engine:
    """/health's own pool: it never queues behind data requests, and two connections per
    worker bound what a flood of probes can take from the database's max_connections."""
    engine = build_engine(
        get_settings(),
        statement_timeout=HEALTH_TIMEOUT,
        lock_timeout=HEALTH_TIMEOUT,
        connect_timeout=HEALTH_CONNECT_TIMEOUT,
        pool_size=1,
        max_overflow=1,
        pool_timeout=HEALTH_TIMEOUT,
    )
    watch_pool(engine, "health")
    return engine


def reset_engine() -> None:
    """Dispose of the engines so the next use reads settings afresh (used by tests)."""
    for cached in (get_engine, get_health_engine):
        if cached.cache_info().currsize:
            cached().dispose()
        cached.cache_clear()


@contextmanager
def session_scope() -> Iterator[Session]:
    """One unit of work inside an endpoint, not a dependency: held until a dependency's
    teardown, the connection waits for the response to be validated on another pool thread,
    and under load every thread waits for a connection only a waiting response releases."""
    # Keep loaded attributes after commit and close: a re-read could race a concurrent DELETE
    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


def describe_db_error(exc: BaseException, limit: int = 300) -> str:
    """A short single-line reason for a database failure, without SQL, params or passwords."""
    original = getattr(exc, "orig", None) or exc
    message = " ".join(str(original).split()) or type(original).__name__
    # libpq never echoes passwords, but scrub URL-shaped credentials just in case
    message = re.sub(r"(://[^:/@\s]*):[^@\s]*@", r"\1:***@", message)
    message = re.sub(r"(password=)\S+", r"\1***", message, flags=re.IGNORECASE)
    return message if len(message) <= limit else message[: limit - 3] + "..."


# libpq reports connection failures in text only (no SQLSTATE): these phrases tell them apart.
# Authentication first: pg_hba's refusal names the encryption ("no encryption", "SSL encryption")
_AUTH = re.compile(
    r"password authentication failed|authentication failed|pg_hba\.conf|no password supplied"
    r"|role \S+ does not exist|permission denied for database|too many connections for role",
    re.IGNORECASE,
)
_TLS = re.compile(
    r"SSL|TLS|certificate|does not match host name|sslrootcert|sslmode", re.IGNORECASE
)
_UNREACHABLE = re.compile(
    r"connection refused|failed to resolve host|could not translate host name|name or service"
    r"|timeout expired|timed out|no route to host|network is unreachable|server closed the"
    r" connection|connection is (?:closed|lost)|the database system is (?:starting|shutting)"
    r"|terminating connection|could not connect|consuming input failed|no such file or directory",
    re.IGNORECASE,
)
# query_canceled (statement_timeout), lock_not_available, idle_in_transaction_session_timeout
_TIMEOUT_STATES = {"57014", "55P03", "25P03"}
_UNREACHABLE_STATES = {"57P01", "57P02", "57P03", "08000", "08001", "08003", "08004", "08006"}


def reason_code(exc: BaseException) -> Reason:
    """The stable code for why a database call (or a migration) failed."""
    if isinstance(exc, UnknownRevisionError):
        return "schema_unknown_revision"
    if isinstance(exc, PoolTimeoutError):
        return "database_timeout"
    original = getattr(exc, "orig", None) or exc
    state = getattr(original, "sqlstate", None)
    text = str(original)
    if state in _TIMEOUT_STATES:
        return "database_timeout"
    # 42P01 is PostgreSQL's undefined_table; SQLite only says so in the message
    if state == "42P01" or "no such table" in text:
        return "schema_not_migrated"
    if state is not None and state.startswith("28"):
        return "database_auth_failed"
    if _AUTH.search(text):
        return "database_auth_failed"
    if _TLS.search(text):
        return "database_tls_failed"
    if state in _UNREACHABLE_STATES or _UNREACHABLE.search(text):
        return "database_unreachable"
    return "database_error"
