"""`python -m app [serve | migrate [REVISION]]`: check the settings first, so a mistake ends
in one line on stderr instead of a traceback; then serve (gunicorn, with gunicorn.conf.py)
or migrate (to head, or up or down to the revision given)."""

import errno
import logging
import logging.config
import runpy
import socket
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from app.config import Settings, SettingsError, load_settings
from app.logs import log_config

if TYPE_CHECKING:  # imported when serving only: the other commands start without FastAPI
    from fastapi import FastAPI

USAGE = "usage: python -m app [serve | migrate [REVISION]]"
GUNICORN_CONF = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def check_port_free(host: str, port: int) -> None:
    """Try the bind ourselves first, so a taken port gives one clear line, not a traceback."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        fail(f"HOST {host!r} cannot be resolved ({exc.strerror}): set HOST to an address")
    with socket.socket(family, kind, proto) as probe:
        # Same option gunicorn uses, so sockets lingering in TIME_WAIT do not count as taken
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                fail(f"port {port} on {host} is taken: stop what uses it or set PORT")
            if exc.errno == errno.EACCES:
                fail(f"port {port} on {host} needs privileges: use a port above 1023 via PORT")
            fail(f"cannot listen on {host}:{port} ({exc.strerror}): check HOST and PORT")


def serve(settings: Settings) -> None:
    from gunicorn.app.base import BaseApplication

    check_port_free(settings.host, settings.port)

    class Server(BaseApplication):  # gunicorn's documented way to run it from Python
        def load_config(self) -> None:
            for name, value in runpy.run_path(str(GUNICORN_CONF)).items():
                if name in self.cfg.settings:
                    self.cfg.set(name, value)

        def load(self) -> "FastAPI":
            from app.main import app

            return app

    Server().run()


# What to do about each reason `migrate` can fail for; the detail says which part failed
MIGRATE_ADVICE = {
    "database_unreachable": "check the host and port in DATABASE_URL, and that the database runs",
    "database_auth_failed": "check the user and password in DATABASE_URL, and pg_hba.conf",
    "database_tls_failed": "check sslmode and the certificates in DATABASE_URL",
    "database_timeout": "a lock was held longer than MIGRATION_LOCK_TIMEOUT: run migrate again",
}
# A lock held by a long transaction is often gone a moment later: try a few times first
LOCK_ATTEMPTS, LOCK_RETRY_DELAY = 3, 2.0


def migrate(settings: Settings, target: str) -> None:
    from alembic.util import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from app.database import UnknownRevisionError, describe_db_error, reason_code
    from app.migrate import run_migrations, unknown_revision_advice

    logging.config.dictConfig(log_config(settings.log_level, settings.log_format))
    logger = logging.getLogger("app.migrations")
    logger.info("applying migrations to %s", settings.safe_database_url)
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            revision = run_migrations(settings, target)
            break
        except UnknownRevisionError as exc:
            advice = unknown_revision_advice(exc)
            fail(f"migrations not applied (schema_unknown_revision): {advice}", 1)
        except (SQLAlchemyError, CommandError) as exc:
            reason, detail = reason_code(exc), describe_db_error(exc)
            if reason == "database_timeout" and attempt < LOCK_ATTEMPTS:
                logger.warning("attempt %d: %s: %s; trying again", attempt, reason, detail)
                time.sleep(LOCK_RETRY_DELAY)
                continue
            advice = MIGRATE_ADVICE.get(reason, "see the detail")
            where = settings.safe_database_url
            fail(f"migrations failed on {where} ({reason}: {advice}): {detail}", 1)
    logger.info("database schema is at revision %s", revision)


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "serve"
    if command in {"-h", "--help", "help"}:
        print(USAGE)
        return
    if command not in {"serve", "migrate"} or len(argv) > (2 if command == "migrate" else 1):
        fail(f"unknown arguments {' '.join(argv)!r}; {USAGE}")
    try:
        settings = load_settings()
    except SettingsError as exc:
        fail(str(exc))
    if command == "migrate":
        migrate(settings, argv[1] if len(argv) > 1 else "head")
    else:
        serve(settings)


if __name__ == "__main__":
    main(sys.argv[1:])
