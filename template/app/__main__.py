"""Command line: `python -m app [serve|migrate]` (serve is the default)."""

import errno
import importlib.util
import logging
import signal
import socket
import sys
from collections.abc import Callable
from typing import NoReturn

from app.config import Settings, SettingsError, load_settings

USAGE = "usage: python -m app [serve|migrate]"
GRACEFUL_SHUTDOWN_SECONDS = 10
# uvicorn's own exit code for an app whose start-up failed
STARTUP_FAILED = 3


def fail(message: str, code: int = 2) -> NoReturn:
    """Print one line for humans and exit; no traceback for configuration mistakes."""
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc))


def check_port_free(host: str, port: int) -> None:
    """Try the bind ourselves first, so a taken port gives one clear line, not a traceback."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        fail(f"HOST {host!r} cannot be resolved ({exc.strerror}): set HOST to an address")
    with socket.socket(family, kind, proto) as probe:
        # Same option uvicorn uses, so sockets lingering in TIME_WAIT do not count as taken
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
    import uvicorn  # imported here so `migrate` and config errors stay fast

    from app.logging_config import build_logging_config
    from app.workers import Supervisor, WorkerServer, default_workers, exit_cleanly, listen

    check_port_free(settings.host, settings.port)
    # Without this, `docker stop` would end in exit code 143 even after a graceful shutdown
    signal.signal(signal.SIGTERM, exit_cleanly)
    signal.signal(signal.SIGINT, exit_cleanly)
    workers = settings.web_concurrency or default_workers()
    has_uvloop = importlib.util.find_spec("uvloop") is not None
    has_httptools = importlib.util.find_spec("httptools") is not None
    config = uvicorn.Config(
        "app.main:app",
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop" if has_uvloop else "auto",
        http="httptools" if has_httptools else "auto",
        # Trust X-Forwarded-* only from the proxies listed in FORWARDED_ALLOW_IPS
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        log_level=settings.log_level,
        log_config=build_logging_config(settings.log_level),
        # On SIGTERM, let in-flight requests finish, then exit well before Docker's 10 s kill
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        server_header=False,
    )
    if workers == 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            raise SystemExit(STARTUP_FAILED)
        return
    # Import the app (which brings the migrations) and the database driver once, before
    # forking, so no worker imports them again (creating an engine loads the driver only)
    config.load()
    main_module = importlib.import_module("app.main")
    importlib.import_module("app.database").build_engine(settings).dispose()
    sock = listen(settings.host, settings.port)
    logging.getLogger("app.workers").info(
        "starting %d workers on %s:%d", workers, settings.host, settings.port
    )

    def settled() -> bool:
        return not settings.run_migrations or getattr(main_module.app.state, "schema_ready", False)

    def run_worker(ready: Callable[[], None]) -> int:
        server = WorkerServer(config, ready, settled)
        server.run(sockets=[sock])
        return 0 if server.started else STARTUP_FAILED

    raise SystemExit(Supervisor(workers, run_worker).run())


def migrate(settings: Settings) -> None:
    from sqlalchemy.exc import SQLAlchemyError

    from app.database import describe_db_error
    from app.logging_config import configure_logging
    from app.migrate import run_migrations

    configure_logging(settings.log_level)
    logger = logging.getLogger("app.migrations")
    logger.info("applying migrations to %s", settings.safe_database_url)
    try:
        revision = run_migrations(settings)
    except SQLAlchemyError as exc:
        fail(f"migrations failed on {settings.safe_database_url}: {describe_db_error(exc)}", 1)
    logger.info("database schema is at revision %s", revision)


def main(argv: list[str]) -> None:
    command = argv[0] if argv else "serve"
    if command in {"-h", "--help", "help"}:
        print(USAGE)
        return
    if command not in {"serve", "migrate"} or len(argv) > 1:
        fail(f"unknown arguments {' '.join(argv)!r}; {USAGE}")
    settings = settings_or_exit()
    if command == "migrate":
        migrate(settings)
    else:
        serve(settings)


if __name__ == "__main__":
    main(sys.argv[1:])
