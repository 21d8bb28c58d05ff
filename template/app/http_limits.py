"""The HTTP/1.1 protocol each worker serves with: uvicorn's httptools protocol plus the two
bounds it lacks, on the size of a request header and on the time to send one.

No kept option covers both: gunicorn's limit_request_* never reach uvicorn workers, uvicorn
times no header read (its keep-alive timer starts only after a response), and its h11
protocol bounds the size alone, at a cost measured in docs/serving.md ("Server limits")."""

import asyncio
from typing import Any

import httptools
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

# The request line and every header together; nginx's default buffers hold 8 KiB (x4)
MAX_HEADER_BYTES = 16 * 1024
# From connection (or a kept-alive request's first byte) until the header is complete
HEADER_TIMEOUT_S = 10.0
# An idle kept-alive connection is closed after this; load balancers should idle out first
KEEPALIVE_S = 5
# Per worker; past it uvicorn answers new requests 503 instead of queueing them
MAX_CONNECTIONS = 1000


class HeaderTooLarge(httptools.HttpParserError):
    """Raised from a parser callback, so uvicorn stops parsing and answers the client."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """One per connection; refuses an oversized header with 431 and closes a connection that
    has not sent its header in HEADER_TIMEOUT_S."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Started here: uvicorn makes the protocol as it accepts the connection
        self._header_timer: asyncio.TimerHandle | None = None
        self._start_header_clock()
        self._in_header = True
        self._header_bytes = 0
        self._too_large = False

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_header:
            self._header_bytes += len(data)
        super().data_received(data)
        # httptools keeps an unfinished header in memory: refuse it once it passes the bound
        if self._in_header and self._header_bytes > MAX_HEADER_BYTES:
            self._refuse_header()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_header = True
        if self._header_timer is None:  # the next request on a kept-alive connection
            self._start_header_clock()

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        self._in_header = False
        self._header_bytes = 0
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > MAX_HEADER_BYTES:
            self._too_large = True
            raise HeaderTooLarge(f"request header of {size} bytes")
        super().on_headers_complete()

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse_header()
        else:
            super().send_400_response(msg)

    def _refuse_header(self) -> None:
        if self.transport.is_closing():
            return
        body = f"request header is larger than {MAX_HEADER_BYTES} bytes".encode()
        head = [STATUS_LINE[431]]
        defaults = self.server_state.default_headers
        head += [name + b": " + value + b"\r\n" for name, value in defaults]
        head += [
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
        ]
        self.transport.write(b"".join(head) + body)
        self.transport.close()

    def _start_header_clock(self) -> None:
        self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._header_timed_out)

    def _stop_header_clock(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
