"""app/http_limits.py in a real uvicorn server on 127.0.0.1: oversized headers get 431 and a
close, a header not sent in time closes the connection, normal requests are untouched."""

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from app import http_limits
from app.http_limits import MAX_HEADER_BYTES, BoundedHttpToolsProtocol

pytestmark = pytest.mark.inprocess

PARTIAL = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: "


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"5")]}
    )
    await send({"type": "http.response.body", "body": b"hello"})


@pytest.fixture
def port(monkeypatch: pytest.MonkeyPatch) -> Iterator[int]:
    """A real uvicorn server with the bounded protocol; the header timeout shortened to 1 s."""
    monkeypatch.setattr(http_limits, "HEADER_TIMEOUT_S", 1.0)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free = probe.getsockname()[1]
    config = uvicorn.Config(
        hello, host="127.0.0.1", port=free, http=BoundedHttpToolsProtocol, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    yield free
    server.should_exit = True
    thread.join(10)


def read_all(sock: socket.socket, timeout: float = 5.0) -> tuple[bytes, bool]:
    """What the server sends, and whether it closed the connection within timeout."""
    received, deadline = b"", time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            return received, False
        except ConnectionError:
            return received, True
        if not chunk:
            return received, True
        received += chunk
    return received, False


def test_a_normal_request_is_served_on_a_kept_alive_connection(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for _ in range(2):
            sock.sendall(
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: " + b"a" * 8000 + b"\r\n\r\n"
            )
            answer = b""
            # The head and the body may come in separate reads: read until the body is in
            while not answer.endswith(b"hello") and (chunk := sock.recv(65536)):
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200") and answer.endswith(b"hello")


@pytest.mark.parametrize("split", [False, True])
def test_an_oversized_header_gets_431_and_a_close(port: int, split: bool) -> None:
    header = PARTIAL + b"a" * (MAX_HEADER_BYTES + 1) + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        if split:  # the bound holds however the bytes arrive
            for i in range(0, len(header), 1000):
                sock.sendall(header[i : i + 1000])
        else:
            sock.sendall(header)
        answer, closed = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431"), answer[:100]
    assert f"larger than {MAX_HEADER_BYTES} bytes".encode() in answer
    assert closed


def test_an_endless_header_is_cut_off_near_the_bound(port: int) -> None:
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
        with pytest.raises(OSError):
            sock.sendall(PARTIAL)
            while sent < 64 * 1024 * 1024:
                sock.sendall(b"a" * 4096)
                sent += 4096
    # Kernel buffers on both sides hold a few MB; the server read far less than 64 MB
    assert sent < 16 * 1024 * 1024


@pytest.mark.parametrize("opening", [b"", PARTIAL])
def test_a_header_not_sent_in_time_closes_the_connection(port: int, opening: bytes) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        began = time.monotonic()
        sock.sendall(opening)
        answer, closed = read_all(sock, timeout=5)
        took = time.monotonic() - began
    assert closed and answer == b""
    assert 0.8 < took < 4, took


def test_a_trickled_header_is_timed_from_the_connection(port: int) -> None:
    closed = False
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        began = time.monotonic()
        sock.sendall(PARTIAL)
        while not closed and time.monotonic() - began < 4:
            time.sleep(0.1)
            try:
                sock.sendall(b"a")
                closed = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
            except BlockingIOError:
                continue  # nothing from the server yet
            except OSError:
                closed = True
        took = time.monotonic() - began
    assert closed and took < 3, took


def test_the_stated_limits() -> None:
    # The README and the spec state these numbers; a change must change them too
    assert MAX_HEADER_BYTES == 16 * 1024
    assert http_limits.HEADER_TIMEOUT_S == 10.0
