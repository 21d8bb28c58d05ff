"""A package index on 127.0.0.1 that demands HTTP basic auth: the build secret that must
never land in an image."""

from __future__ import annotations

import base64
import hmac
import os
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

from harness.machine.service import LOOPBACK, Service

DEFAULT_CA = "/etc/ssl/certs/ca-certificates.crt"


def ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or DEFAULT_CA)


def make_index_handler(index: PackageIndex) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{index.user}:{index.password}".encode()).decode()

    class IndexHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            # Test output stays quiet; answered requests are counted instead.
            return

        def do_GET(self) -> None:
            if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
                self.reply(
                    401,
                    b"authentication required\n",
                    "text/plain",
                    {"WWW-Authenticate": 'Basic realm="task-api-test-index"'},
                )
                return
            path = urllib.parse.urlsplit(self.path).path
            if not path.startswith("/simple/"):
                self.reply(404, b"only /simple/ is served here\n", "text/plain")
                return
            status, body, content_type = index.fetch_upstream(
                path[len("/simple/") :], self.headers.get("Accept")
            )
            if status == 200:
                index.count_hit()
            self.reply(status, body, content_type)

        def reply(
            self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None
        ) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return IndexHandler


class PackageIndex(Service):
    """A PyPI simple-API mirror on 127.0.0.1 that demands HTTP basic auth."""

    def __init__(
        self,
        user: str = "builder",
        password: str = "index-password",
        upstream: str = "https://pypi.org/simple/",
    ) -> None:
        self.user = user
        self.password = password
        self.upstream = upstream.rstrip("/") + "/"
        self.hits = 0
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.context = ssl_context()

    @property
    def port(self) -> int:
        assert self.server is not None, "PackageIndex.start() has not been called"
        return self.server.server_address[1]

    @property
    def url(self) -> str:
        user = urllib.parse.quote(self.user, safe="")
        password = urllib.parse.quote(self.password, safe="")
        return f"http://{user}:{password}@{LOOPBACK}:{self.port}/simple/"

    def count_hit(self) -> None:
        with self.lock:
            self.hits += 1

    def fetch_upstream(self, rest: str, accept: str | None) -> tuple[int, bytes, str]:
        # Forwarding Accept lets pip and uv get the PEP 691 JSON form or HTML, as they ask.
        request = urllib.request.Request(
            self.upstream + rest,
            headers={"Accept": accept or "text/html", "User-Agent": "task-api-test-index"},
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
                return (
                    response.status,
                    response.read(),
                    response.headers.get("Content-Type", "text/html"),
                )
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("Content-Type", "text/plain")
        except (urllib.error.URLError, OSError) as exc:
            return 502, f"upstream {self.upstream} unreachable: {exc}\n".encode(), "text/plain"

    def start(self) -> Self:
        if self.server is not None:
            return self
        self.server = ThreadingHTTPServer((LOOPBACK, 0), make_index_handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="package-index", daemon=True
        )
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.server is None:
            return
        self.server.shutdown()
        self.server.server_close()
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.server = None
        self.thread = None
