"""One logging setup for gunicorn, uvicorn, the app and Alembic: the same format everywhere."""

import logging.config
from typing import Any

# gunicorn's own line format, with the logger name so app lines say where they come from
LINE_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] %(name)s: %(message)s"


def build_logging_config(level: str) -> dict[str, Any]:
    """Errors and app lines to stderr, the access log to stdout (as gunicorn does)."""
    stream = {"class": "logging.StreamHandler", "formatter": "line"}
    quiet = {"propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"line": {"format": LINE_FORMAT}, "bare": {"format": "%(message)s"}},
        "handlers": {
            "stderr": {**stream, "stream": "ext://sys.stderr"},
            "access": {**stream, "formatter": "bare", "stream": "ext://sys.stdout"},
        },
        "root": {"level": "WARNING", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["stderr"], **quiet},
            "gunicorn.access": {"level": "INFO", "handlers": ["access"], **quiet},
            "app": {"level": level.upper()},
            # Alembic's start-up chatter stays quiet; its "Running upgrade" lines are worth keeping
            "alembic": {"level": "WARNING"},
            "alembic.runtime.migration": {"level": "INFO"},
        },
    }


def configure_logging(level: str) -> None:
    logging.config.dictConfig(build_logging_config(level))
