"""Pure ASGI middleware (no buffering, so streaming and the 413 middleware are untouched):
HEAD answered wherever GET is, and the headers every response carries."""

from starlette.types import ASGIApp, Message, Receive, Scope, Send

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

        async def send_without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_without_body)


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
