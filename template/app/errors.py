"""Turn database failures into clear 503s instead of 500s."""

import logging
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from app.database import describe_db_error
from app.readiness import SCHEMA_NOT_READY

logger = logging.getLogger("app.errors")

_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeoutError)


def _is_missing_table(exc: SQLAlchemyError) -> bool:
    # 42P01 is PostgreSQL's undefined_table; SQLite only says so in the message
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) == "42P01":
        return True
    return "no such table" in str(original or "")


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse(
        {"detail": detail},
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        headers={"Retry-After": "5"},
    )


async def database_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """Map SQLAlchemy errors: schema missing or database down -> 503, anything else -> 500."""
    if not isinstance(exc, SQLAlchemyError):  # registered for SQLAlchemyError only
        raise exc
    where = f"{request.method} {request.url.path}"
    if _is_missing_table(exc):
        # Someone dropped or never created the schema: re-check on the next request
        request.app.state.schema_ready = False
        logger.warning("%s: %s", where, SCHEMA_NOT_READY)
        return _unavailable(SCHEMA_NOT_READY)
    invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
    if isinstance(exc, _UNAVAILABLE) or invalidated:
        logger.warning("%s: database unavailable: %s", where, describe_db_error(exc))
        # Internal host names stay in the log; clients only learn it is temporary
        return _unavailable("database unavailable, try again shortly")
    logger.error("%s: unexpected database error", where, exc_info=exc)
    return JSONResponse(
        {"detail": "internal server error"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR
    )


def _utf8_safe(value: Any) -> Any:
    """Escape lone surrogates so echoing bad input back cannot itself crash the response."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {key: _utf8_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_utf8_safe(item) for item in value]
    return value


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's usual 422 body, made safe for any input the client sent."""
    if not isinstance(exc, RequestValidationError):  # registered for validation errors only
        raise exc
    return JSONResponse(
        {"detail": _utf8_safe(jsonable_encoder(exc.errors()))},
        status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(SQLAlchemyError, database_error_handler)
