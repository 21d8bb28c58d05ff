"""Error responses: database failures as clear 503s, safe 422 bodies, truthful 405s."""

import logging
import math
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from fastapi import FastAPI, Request, status
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Receive, Scope, Send

from app.database import describe_db_error, reason_code
from app.metrics import count_db_error, route_label
from app.migrate import SCHEMA_NOT_READY, forget_schema
from app.tasks import MAX_BODY_BYTES

logger = logging.getLogger("app.errors")
T = TypeVar("T")


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse({"detail": detail}, 503, headers={"Retry-After": "5"})


async def database_error_handler(request: Request, exc: SQLAlchemyError) -> JSONResponse:
    """Map SQLAlchemy errors: schema missing or database down -> 503, anything else -> 500."""
    # the route's template, not the path sent: a log line is no place for 16 KiB of client text
    where = f"{request.method} {route_label(request.scope.get('route'))}"
    reason = reason_code(exc)
    count_db_error(reason)
    if reason == "schema_not_migrated":
        forget_schema(request.app)
        logger.warning("%s: %s: %s", where, reason, describe_db_error(exc))
        return _unavailable(SCHEMA_NOT_READY)
    invalidated = isinstance(exc, DBAPIError) and exc.connection_invalidated
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError) or invalidated:
        logger.warning("%s: %s: %s", where, reason, describe_db_error(exc))
        # Internal host names stay in the log; clients only learn it is temporary
        return _unavailable("database unavailable, try again shortly")
    logger.error("%s: unexpected database error", where, exc_info=exc)
    return JSONResponse({"detail": "internal server error"}, 500)


# Echoed input is cut to these bounds: enough to show what was sent, never what was nested.
# A fixed depth keeps the copy's own recursion shallow (input nested 500 deep overflowed
# jsonable_encoder into a 500); the budget keeps a 64 KiB body from echoing back megabytes.
ECHO_DEPTH, ECHO_BUDGET, ECHO_ERRORS = 4, 1000, 20
_ELIDED = "..."


def _echo(value: Any, depth: int, budget: list[int]) -> Any:
    """A bounded, always-renderable copy of echoed input: lone surrogates escaped,
    NaN/Infinity as text, containers cut at ECHO_DEPTH and after `budget` characters."""
    if budget[0] <= 0:
        return _ELIDED
    if isinstance(value, str):
        text = value[: budget[0]] + (_ELIDED if len(value) > budget[0] else "")
        budget[0] -= len(text)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, float) and not math.isfinite(value):
        # JSONResponse refuses NaN and Infinity, which Python's json parser accepts
        return str(value)
    if value is None or isinstance(value, bool | int | float):
        budget[0] -= 8
        return value
    if isinstance(value, dict | list | tuple):
        if depth >= ECHO_DEPTH:
            return _ELIDED
        budget[0] -= 2
        if isinstance(value, dict):
            return {
                _echo(str(key), depth + 1, budget): _echo(item, depth + 1, budget)
                for key, item in _while_budget(value.items(), budget)
            }
        return [_echo(item, depth + 1, budget) for item in _while_budget(value, budget)]
    return _echo(str(value), depth, budget)  # e.g. the exception a validator raised, in ctx


def _while_budget(items: Iterable[T], budget: list[int]) -> Iterator[T]:
    for item in items:
        if budget[0] <= 0:
            return
        yield item


def _safe_error(error: dict[str, Any]) -> dict[str, Any]:
    """One entry of FastAPI's 422 body with every client-sent part bounded."""
    budget = [ECHO_BUDGET]
    safe = {
        "type": str(error.get("type", "")),
        "loc": [
            part if isinstance(part, int) else _echo(str(part), 0, budget)
            for part in error.get("loc", ())
        ],
        "msg": _echo(str(error.get("msg", "")), 0, [ECHO_BUDGET]),
    }
    if "input" in error:
        safe["input"] = _echo(error["input"], 0, budget)
    if isinstance(ctx := error.get("ctx"), dict):
        safe["ctx"] = _echo(ctx, 0, [ECHO_BUDGET])
    return safe


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    """FastAPI's usual 422 body, bounded and safe for any input the client sent."""
    return JSONResponse({"detail": [_safe_error(e) for e in exc.errors()[:ECHO_ERRORS]]}, 422)


_HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _documented_methods(request: Request) -> list[str] | None:
    """Methods the OpenAPI schema lists for this path (Starlette reports one route's only)."""
    root_path = request.scope.get("root_path", "")
    path = request.scope["path"].removeprefix(root_path) or "/"
    for template, item in request.app.openapi().get("paths", {}).items():
        regex, _, _ = compile_path(template)
        if regex.match(path):
            return sorted(method.upper() for method in item if method in _HTTP_METHODS)
    return None


async def method_not_allowed_handler(request: Request, exc: StarletteHTTPException) -> Response:
    """405 with an Allow header that lists every method the path supports."""
    headers = dict(exc.headers or {})
    allowed = _documented_methods(request)
    if allowed is not None:  # routes left out of the schema keep Starlette's own answer
        headers["Allow"] = ", ".join(allowed)
    return await http_exception_handler(
        request, StarletteHTTPException(exc.status_code, exc.detail, headers=headers)
    )


# FastAPI's one message for every body it cannot decode; the cause tells us which problem it was
_BODY_PARSE_ERROR = "There was an error parsing the body"


def _body_problem(cause: BaseException | None) -> str:
    if isinstance(cause, UnicodeDecodeError):
        return "request body is not valid UTF-8 text"
    if isinstance(cause, RecursionError):
        return "request body JSON is nested too deeply"
    if isinstance(cause, ValueError) and "digits" in str(cause):
        return "request body JSON has a number with too many digits"
    return "request body could not be parsed as JSON"


async def bad_request_handler(request: Request, exc: StarletteHTTPException) -> Response:
    """400 with a reason a client can act on instead of FastAPI's generic parse message."""
    if exc.detail == _BODY_PARSE_ERROR:
        exc = StarletteHTTPException(400, _body_problem(exc.__cause__), headers=exc.headers)
    return await http_exception_handler(request, exc)


async def too_large_handler(request: Request, exc: StarletteHTTPException) -> Response:
    """FastAPI's own body limit (the /tasks router's max_body_size), in a sentence."""
    return _too_large()


def _too_large() -> JSONResponse:
    return JSONResponse({"detail": f"request body is larger than {MAX_BODY_BYTES} bytes"}, 413)


class DeclaredTooLarge:
    """Starlette's limit answers a too-large Content-Length in plain text from its own send
    wrapper, past every exception handler; this gives that case the same JSON 413 first."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = Headers(scope=scope).get("content-length", "") if scope["type"] == "http" else ""
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            await _too_large()(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    # Through the decorator, which takes each handler with its own exception type
    app.exception_handler(RequestValidationError)(validation_error_handler)
    app.exception_handler(status.HTTP_400_BAD_REQUEST)(bad_request_handler)
    app.exception_handler(status.HTTP_405_METHOD_NOT_ALLOWED)(method_not_allowed_handler)
    app.exception_handler(status.HTTP_413_CONTENT_TOO_LARGE)(too_large_handler)
    app.exception_handler(SQLAlchemyError)(database_error_handler)
    app.add_middleware(DeclaredTooLarge)
