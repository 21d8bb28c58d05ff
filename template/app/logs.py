"""Log lines: one format for gunicorn, uvicorn, the app and Alembic, as text (LOG_FORMAT=text,
for people) or one JSON object per line (LOG_FORMAT=json, for collectors); each line written
while a request runs carries that request's id."""

import logging
import re
import uuid
from contextvars import ContextVar
from typing import Any

# A client's X-Request-ID is taken when it is this short and made of these characters (a UUID,
# a W3C trace id, Cloud Trace's "trace/span;o=1"): anything else could forge or flood a log line
REQUEST_ID_PATTERN = re.compile(rb"[A-Za-z0-9._:;=/+-]{1,128}")
# Outside a request (start-up, the migration thread) the field still exists, as "-"
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")

# gunicorn's own line format plus the request id and the logger's name
TEXT_FORMAT = "%(asctime)s [%(process)d] [%(levelname)s] [%(request_id)s] %(name)s: %(message)s"
# python-json-logger adds the record's `extra` fields (the access line's method, route, ...)
_JSON_FIELDS = ["levelname", "name", "message", "process", "request_id"]
_JSON_NAMES = {"levelname": "level", "name": "logger", "process": "pid"}


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's X-Request-ID when it is valid, else a new one (32 hex characters)."""
    for name, value in headers:
        if name == b"x-request-id":
            if REQUEST_ID_PATTERN.fullmatch(value):
                return value.decode("ascii")
            break  # only the first is looked at: a list of them is not an id
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    """Puts the running request's id on every record a handler writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def log_config(level: str, log_format: str) -> dict[str, Any]:
    """logging.config.dictConfig's input: app.* at `level`, the access line on stdout, the
    rest on stderr, every line with its request id."""
    line: dict[str, Any] = {"format": TEXT_FORMAT}
    if log_format == "json":
        # a kept formatter (python-json-logger): it escapes what a message holds (newlines,
        # quotes, lone surrogates) so each record stays one line of valid JSON
        line = {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": _JSON_FIELDS,
            "rename_fields": _JSON_NAMES,
            "timestamp": True,
        }
    stream = {
        "class": "logging.StreamHandler",
        "formatter": "line",
        "filters": ["request_id"],
        "stream": "ext://sys.stderr",
    }
    alone = {"handlers": ["stderr"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"line": line},
        "handlers": {"stderr": stream, "access": {**stream, "stream": "ext://sys.stdout"}},
        "root": {"level": "WARNING", "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {**alone, "level": level.upper()},
            "app": {"level": level.upper()},
            # one line per request, written by app.middleware.RequestObserver
            "app.access": {"handlers": ["access"], "propagate": False, "level": "INFO"},
            # Alembic's start-up chatter stays quiet; its "Running upgrade" lines are worth keeping
            "alembic": {"level": "WARNING"},
            "alembic.runtime.migration": {"level": "INFO"},
        },
    }
