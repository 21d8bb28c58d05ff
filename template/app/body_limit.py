"""Refuse request bodies over the size limit with a JSON 413, before reading a byte of them."""

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

# Far above the largest valid task body, small enough that nobody can make us buffer megabytes
MAX_BODY_BYTES = 64 * 1024
TOO_LARGE = f"request body is larger than {MAX_BODY_BYTES} bytes"


class ContentLengthLimit:
    """Checks the declared Content-Length; chunked bodies are counted by the routes' own limit.

    Starlette's limit answers a too-large Content-Length in plain text, so this runs first.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = Headers(scope=scope).get("content-length", "")
            if declared.isascii() and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                response = JSONResponse({"detail": TOO_LARGE}, status_code=413)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
