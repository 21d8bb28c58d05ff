"""Runtime settings, read from environment variables (and a local `.env` for development only)."""

import re
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_core import ErrorDetails
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url

from app._defaults import DEFAULT_PORT, METRICS, SERVICE_NAME

# The driver SQLAlchemy should use for PostgreSQL; hosts hand out plain postgres:// URLs.
PG_DRIVER_SCHEME = "postgresql+psycopg"
_PG_SCHEMES = {"postgres", "postgresql", "postgresql+psycopg"}
_SQLITE_SCHEMES = {"sqlite", "sqlite+pysqlite"}

DATABASE_URL_EXAMPLE = "postgresql://user:pass@host:5432/db"
EXAMPLE_ENV = f"DATABASE_URL={DATABASE_URL_EXAMPLE}"


# Userinfo may not hold @ / ? # [ ] unencoded (RFC 3986); nor may what follows the host hold @
_PG_URL_SHAPE = re.compile(r"(?:[^:@/?#\[\]]*(?::[^@/?#\[\]]*)?@)?[^@/?#]*(?:[/?][^@#]*)?")
URL_NEEDS_ENCODING = (
    "cannot be read as a URL: percent-encode reserved characters in the user name and password"
    " (@ as %40, # as %23, / as %2F, ? as %3F, [ ] as %5B %5D; Python's"
    " urllib.parse.quote(password, safe='') does it)"
)


class SettingsError(Exception):
    """Configuration problem, carrying one human-readable line."""


def normalise_database_url(raw: str) -> str:
    """Return a SQLAlchemy URL using psycopg 3; keep everything after the scheme as given."""
    value = raw.strip()
    if not value:
        raise ValueError(f"is not set: pass it at run time, e.g. docker run -e {EXAMPLE_ENV} ...")
    scheme, sep, rest = value.partition("://")
    if not sep:
        raise ValueError(f"is not a URL; expected e.g. {DATABASE_URL_EXAMPLE}")
    scheme = scheme.lower()
    if scheme in _PG_SCHEMES:
        # An unencoded @ or # in a password moves the host into it: refuse before any part of
        # the URL reaches a log line, the driver or an error message
        if not _PG_URL_SHAPE.fullmatch(rest):
            raise ValueError(URL_NEEDS_ENCODING)
        normalised = f"{PG_DRIVER_SCHEME}://{rest}"
    elif scheme in _SQLITE_SCHEMES:
        normalised = f"sqlite://{rest}"
    else:
        raise ValueError(
            f"has unsupported scheme '{scheme}://'; use postgresql:// (or postgres://), "
            "or sqlite:/// for local tests"
        )
    try:
        parsed = make_url(normalised)
    except (ValueError, TypeError):
        # e.g. a non-numeric port; the parser's own message may quote a piece of the password
        raise ValueError(
            f"is malformed (is the port a number?); expected e.g. {DATABASE_URL_EXAMPLE}"
        ) from None
    if parsed.port is not None and not 1 <= parsed.port <= 65535:
        raise ValueError("has a port outside 1 to 65535")
    if parsed.drivername == PG_DRIVER_SCHEME and not (parsed.host or parsed.query.get("host")):
        raise ValueError(f"has no host; expected e.g. {DATABASE_URL_EXAMPLE}")
    return normalised


def redact_url(url: str | URL) -> str:
    """A database URL with any password replaced by ***, safe for logs and responses."""
    try:
        rendered = make_url(url).render_as_string(hide_password=True)
    except (ValueError, TypeError):  # unparseable: blank out what sits between user: and @
        return re.sub(r"(://[^:/@]*):[^/]*@", r"\1:***@", str(url))
    # libpq also accepts the password as a query parameter
    return re.sub(r"([?&]password=)[^&]*", r"\1***", rendered, flags=re.IGNORECASE)


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    # Empty variables count as unset, so `-e PORT=` falls back to the default
    model_config = SettingsConfigDict(env_file=".env", env_ignore_empty=True, extra="ignore")

    # A default (validated) rather than a required field, so "not set" gets our own sentence
    database_url: str = Field("", validate_default=True)
    host: str = "0.0.0.0"  # noqa: S104 - a container must listen on all interfaces to be reachable
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # text for people at a terminal; json (one object per line) for a log collector
    log_format: Literal["text", "json"] = "text"
    # GET /metrics in Prometheus' text format (the `metrics` answer chose the default)
    metrics_enabled: bool = METRICS
    run_migrations: bool = True
    # Unset: one worker per CPU the container may use (see gunicorn.conf.py)
    web_concurrency: int | None = Field(None, ge=1)
    forwarded_allow_ips: str = "127.0.0.1"
    # Per worker, kept open for up to 40 request threads: reopening overflow connections under
    # load cut throughput by a third and raised p99 latency 2.5x (measured with wrk, 2 CPUs)
    db_pool_size: int = Field(20, ge=1)
    db_max_overflow: int = Field(0, ge=0)
    db_connect_timeout: int = Field(5, ge=1)
    # Every wait on the database is bounded, in seconds (0: the server's own setting applies);
    # the wait for a pooled connection stays below the probes' 5 s timeout
    db_pool_timeout: float = Field(3.0, gt=0)
    db_statement_timeout: float = Field(5.0, ge=0)
    db_lock_timeout: float = Field(2.0, ge=0)
    db_idle_in_transaction_timeout: float = Field(30.0, ge=0)
    db_application_name: str = SERVICE_NAME
    # A migration gives up on a lock held this long (a long transaction), and is retried;
    # it has no statement timeout, since building an index on a big table takes what it takes
    migration_lock_timeout: float = Field(5.0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        return normalise_database_url(value)

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _lower_log_level(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(PG_DRIVER_SCHEME)

    @property
    def safe_database_url(self) -> str:
        return redact_url(self.database_url)


def _describe(error: ErrorDetails) -> str:
    """Turn one pydantic error into a sentence naming the environment variable."""
    field = str(error["loc"][0]) if error["loc"] else "settings"
    if field == "database_url":  # never echo the URL itself: it may hold a password
        return f"DATABASE_URL {str(error['msg']).removeprefix('Value error, ')}"
    if field == "port":
        return f"PORT must be a number from 1 to 65535, got {error['input']!r}"
    if field == "log_level":
        return f"LOG_LEVEL must be one of debug, info, warning, error, got {error['input']!r}"
    if field == "log_format":
        return f"LOG_FORMAT must be text or json, got {error['input']!r}"
    return f"{field.upper()} is invalid ({error['msg']}), got {error['input']!r}"


def load_settings() -> Settings:
    """Read settings from the environment, raising SettingsError with one clear line."""
    try:
        return Settings()
    except ValidationError as exc:
        raise SettingsError("; ".join(_describe(e) for e in exc.errors())) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load_settings()
