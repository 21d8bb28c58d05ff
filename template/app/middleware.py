"""Pure ASGI middleware (no buffering, so streaming and the 413 middleware are untouched):
HEAD answered wherever GET is, the headers every response carries, and each request's id,
metrics and access log line."""

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app import metrics
from app.config import get_settings
from app.logs import REQUEST_ID, request_id_from

# Task data is per request and changes: no cache or proxy may keep it, no browser may sniff it
RESPONSE_HEADERS = [(b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff")]


class HeadAsGet:
    """RFC 9110 9.1: a server must answer HEAD wherever it answers GET. FastAPI routes GET
    only, so HEAD runs the GET route and the body is dropped; the headers stay GET's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        get_scope = {**scope, "method": "GET"}

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.start" and "route" in get_scope:
                # for RequestObserver, outside: the route the router matched, for its metrics
                scope["route"] = get_scope["route"]
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app(get_scope, receive, send_without_body)


class ResponseHeaders:
    """Adds RESPONSE_HEADERS to every response that does not set them itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, val) for name, val in RESPONSE_HEADERS if name not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


access_log = logging.getLogger("app.access")
error_log = logging.getLogger("app.errors")
_INTERNAL_ERROR = b'{"detail":"internal server error"}'
_ERROR_HEADERS = [(b"content-type", b"application/json"), (b"content-length", b"34")]


class RequestObserver:
    """Outermost: gives each request its id (a valid X-Request-ID, else a new one), echoes it,
    keeps it on every log line written meanwhile, counts the request and writes its access
    line. The count is made before the response's last byte goes out: a client that has its
    answer can rely on a scrape seeing it, even when the worker dies the next moment."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.record_metrics: bool | None = None  # settings are read at the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.record_metrics is None:
            self.record_metrics = get_settings().metrics_enabled
        start = time.perf_counter()
        request_id = request_id_from(scope["headers"])
        token = REQUEST_ID.set(request_id)
        echo = (b"x-request-id", request_id.encode("ascii"))
        method = metrics.method_label(scope["method"])
        seen: dict[str, float | int] = {"status": 500}
        if self.record_metrics:
            metrics.IN_FLIGHT.inc()

        def finish() -> None:
            if "seconds" in seen:
                return
            seen["seconds"] = seconds = time.perf_counter() - start
            if self.record_metrics:
                route = metrics.route_label(scope.get("route"))
                metrics.observe_request(method, route, int(seen["status"]), seconds)

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                seen["status"], seen["started"] = message["status"], 1
                message = {**message, "headers": [*message.get("headers", []), echo]}
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                finish()
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except Exception:
            # Logged here, while the request's id is still set; answered when nothing was yet
            route = metrics.route_label(scope.get("route"))
            error_log.exception("%s %s: unhandled error", method, route)
            if "started" in seen:
                raise
            start_message = {"type": "http.response.start", "status": 500}
            await send_observed({**start_message, "headers": _ERROR_HEADERS})
            await send_observed({"type": "http.response.body", "body": _INTERNAL_ERROR})
        finally:
            finish()  # when no response was completed (the client left, an error)
            if self.record_metrics:
                metrics.IN_FLIGHT.dec()
            route, ms = metrics.route_label(scope.get("route")), round(seen["seconds"] * 1000, 2)
            status = int(seen["status"])
            access_log.info(
                "%s %s %d %.1fms", method, route, status, ms,
                extra={"method": method, "route": route, "status": status, "duration_ms": ms},
            )  # fmt: skip
            REQUEST_ID.reset(token)
