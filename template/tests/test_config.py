"""Settings: DATABASE_URL normalisation and validation, redaction, clear error lines."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.inprocess

NEON = "postgresql://u:p@ep-x.aws.neon.tech/neondb?sslmode=require"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No settings in the environment and no developer .env in the working directory."""
    for name in ("DATABASE_URL", "PORT", "LOG_LEVEL", "RUN_MIGRATIONS", "HOST", "WEB_CONCURRENCY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        ("postgresql://u:p@db/app", "postgresql+psycopg://u:p@db/app"),
        ("POSTGRESQL://u:p@db/app", "postgresql+psycopg://u:p@db/app"),
        ("postgresql+psycopg://u:p@db/app", "postgresql+psycopg://u:p@db/app"),
        (NEON, "postgresql+psycopg://u:p@ep-x.aws.neon.tech/neondb?sslmode=require"),
        (
            "postgres://u:p@h/db?sslmode=verify-full&options=-c%20search_path%3Dapp",
            "postgresql+psycopg://u:p@h/db?sslmode=verify-full&options=-c%20search_path%3Dapp",
        ),
        (
            "postgresql:///app?host=/var/run/postgresql",
            "postgresql+psycopg:///app?host=/var/run/postgresql",
        ),
        ("sqlite:///./local.db", "sqlite:///./local.db"),
        ("  postgres://u:p@db/app\n", "postgresql+psycopg://u:p@db/app"),
    ],
)
def test_database_url_is_normalised(given: str, expected: str) -> None:
    from app.config import normalise_database_url

    assert normalise_database_url(given) == expected


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("mysql://u:p@db/app", "unsupported scheme 'mysql://'"),
        ("postgresql+psycopg2://u:p@db/app", "unsupported scheme"),
        ("db.example.com:5432/app", "is not a URL"),
        ("postgresql://u:p@db:notaport/app", "is malformed"),
        ("postgresql://", "has no host"),
    ],
)
def test_bad_database_url_names_the_variable(
    clean_env: pytest.MonkeyPatch, given: str, fragment: str
) -> None:
    from app.config import SettingsError, load_settings

    clean_env.setenv("DATABASE_URL", given)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("DATABASE_URL ")
    assert fragment in message
    assert "\n" not in message
    assert ":p@" not in message


def test_missing_database_url_message(clean_env: pytest.MonkeyPatch) -> None:
    from app.config import SettingsError, load_settings

    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("DATABASE_URL is not set: pass it at run time")
    assert "docker run -e DATABASE_URL=" in str(caught.value)


def test_empty_database_url_counts_as_missing(clean_env: pytest.MonkeyPatch) -> None:
    from app.config import SettingsError, load_settings

    clean_env.setenv("DATABASE_URL", "")
    with pytest.raises(SettingsError, match="DATABASE_URL is not set"):
        load_settings()


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    from app._defaults import DEFAULT_PORT
    from app.config import load_settings

    clean_env.setenv("DATABASE_URL", NEON)
    settings = load_settings()
    assert settings.port == DEFAULT_PORT
    assert settings.host == "0.0.0.0"
    assert settings.log_level == "info"
    assert settings.run_migrations is True
    assert settings.web_concurrency is None  # one worker per available CPU, see gunicorn.conf.py
    assert (settings.db_pool_size, settings.db_max_overflow) == (20, 0)
    assert settings.forwarded_allow_ips == "127.0.0.1"
    assert settings.is_postgres


def test_environment_overrides(clean_env: pytest.MonkeyPatch) -> None:
    from app.config import load_settings

    clean_env.setenv("DATABASE_URL", "sqlite:///./x.db")
    clean_env.setenv("PORT", "9090")
    clean_env.setenv("LOG_LEVEL", "WARNING")
    clean_env.setenv("RUN_MIGRATIONS", "false")
    settings = load_settings()
    assert (settings.port, settings.log_level, settings.run_migrations) == (9090, "warning", False)
    assert not settings.is_postgres


@pytest.mark.parametrize("port", ["abc", "0", "65536", "-5", "80.5"])
def test_bad_port(clean_env: pytest.MonkeyPatch, port: str) -> None:
    from app.config import SettingsError, load_settings

    clean_env.setenv("DATABASE_URL", NEON)
    clean_env.setenv("PORT", port)
    with pytest.raises(SettingsError, match="PORT must be a number from 1 to 65535"):
        load_settings()


def test_bad_log_level(clean_env: pytest.MonkeyPatch) -> None:
    from app.config import SettingsError, load_settings

    clean_env.setenv("DATABASE_URL", NEON)
    clean_env.setenv("LOG_LEVEL", "loud")
    with pytest.raises(SettingsError, match="LOG_LEVEL must be one of"):
        load_settings()


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("postgresql+psycopg://app:hunter2@db:5432/tasks?sslmode=require", "hunter2"),
        ("postgres://app:p%40ss@db/tasks", "p%40ss"),
        ("postgresql://app@db/tasks?password=hunter2", "hunter2"),
        ("postgresql://app:hunter2@db:bad/tasks", "hunter2"),
    ],
)
def test_redaction(url: str, secret: str) -> None:
    from app.config import redact_url

    redacted = redact_url(url)
    assert secret not in redacted
    assert "***" in redacted
    assert "app" in redacted


def test_redaction_keeps_the_useful_parts() -> None:
    from app.config import redact_url

    assert redact_url("postgresql+psycopg://u:pw@ep-x.aws.neon.tech/neondb?sslmode=require") == (
        "postgresql+psycopg://u:***@ep-x.aws.neon.tech/neondb?sslmode=require"
    )


def test_safe_database_url(clean_env: pytest.MonkeyPatch) -> None:
    from app.config import load_settings

    clean_env.setenv("DATABASE_URL", "postgres://app:topsecret@db/tasks")
    assert load_settings().safe_database_url == "postgresql+psycopg://app:***@db/tasks"


# Each password below holds a reserved character unencoded; neither piece may ever be printed
PIECES = ("Pw3Rd", "Zq8Lk")
UNENCODED = [
    "postgresql://app:Pw3Rd#Zq8Lk@db/tasks",
    "postgresql://app:Pw3Rd@Zq8Lk@db/tasks",
    "postgresql://app:Pw3Rd/Zq8Lk@db/tasks",
    "postgresql://app:Pw3Rd?Zq8Lk@db/tasks",
    "postgresql://app:Pw3Rd[Zq8Lk@db/tasks",
    "postgres://app:Pw3Rd@Zq8Lk:5432@db:5432/tasks",
    "postgresql://app@db/tasks?password=Pw3Rd#Zq8Lk",
    "postgresql://app@db/tasks?password=Pw3Rd@Zq8Lk",
]
MALFORMED = [
    "postgresql://app:Pw3RdZq8Lk@/tasks",  # no host
    "postgresql://app:Pw3RdZq8Lk@db:Pw3Rd/tasks",  # port not a number
    "postgresql://app:Pw3RdZq8Lk@db:99999/tasks",  # port out of range
    "postgresql://app:Pw3Rd:Zq8Lk",  # no @ at all: user and password read as host and port
]


@pytest.mark.parametrize("url", UNENCODED)
def test_unencoded_reserved_characters_are_refused(clean_env: pytest.MonkeyPatch, url: str) -> None:
    from app.config import SettingsError, load_settings

    clean_env.setenv("DATABASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith("DATABASE_URL cannot be read as a URL: percent-encode")
    assert "%40" in message and "\n" not in message
    assert not any(piece in message for piece in PIECES), message


@pytest.mark.parametrize("url", MALFORMED)
def test_malformed_urls_never_echo_the_password(clean_env: pytest.MonkeyPatch, url: str) -> None:
    from app.config import SettingsError, load_settings

    clean_env.setenv("DATABASE_URL", url)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("DATABASE_URL ")
    assert not any(piece in str(caught.value) for piece in PIECES), caught.value


def test_colon_in_the_password_is_read_as_part_of_it(clean_env: pytest.MonkeyPatch) -> None:
    from sqlalchemy.engine import make_url

    from app.config import load_settings

    clean_env.setenv("DATABASE_URL", "postgresql://app:Pw3Rd:Zq8Lk@db/tasks")
    settings = load_settings()
    assert make_url(settings.database_url).password == "Pw3Rd:Zq8Lk"
    assert not any(piece in settings.safe_database_url for piece in PIECES)


def probe_timeouts() -> list[int]:
    """Seconds each probe of /health this project ships waits: Docker, Compose, Kubernetes."""
    root = Path(__file__).resolve().parents[1]
    files = [root / "Dockerfile", root / "compose.yaml", root / "deploy/kubernetes/deployment.yaml"]
    text = "\n".join(path.read_text() for path in files if path.exists())
    found = re.findall(r"--timeout=(\d+)s|timeout: (\d+)s|timeoutSeconds: (\d+)", text)
    timeouts = [int(next(group for group in match if group)) for match in found]
    assert timeouts, "no probe timeout found in the Dockerfile"
    return timeouts


def test_timeout_defaults_and_bounds(clean_env: pytest.MonkeyPatch) -> None:
    from app.config import SettingsError, load_settings

    clean_env.setenv("DATABASE_URL", NEON)
    settings = load_settings()
    assert (settings.db_statement_timeout, settings.db_lock_timeout) == (5.0, 2.0)
    assert (settings.db_pool_timeout, settings.db_idle_in_transaction_timeout) == (3.0, 30.0)
    assert settings.migration_lock_timeout == 5.0
    # A request's wait for a pooled connection ends before any probe of /health gives up
    for timeout in probe_timeouts():
        assert settings.db_pool_timeout < timeout
    clean_env.setenv("DB_POOL_TIMEOUT", "0")
    with pytest.raises(SettingsError, match="DB_POOL_TIMEOUT"):
        load_settings()
