"""Throwaway services on 127.0.0.1 for tests: PostgreSQL, a container registry, an authenticated package index."""

from __future__ import annotations

import atexit
import base64
import glob
import hmac
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

import yaml

from harness.engine import apt_install, may_install, tail, wait_until
from harness.net import LOCAL_OPENER, free_port

LOOPBACK = "127.0.0.1"
DEFAULT_CA = "/etc/ssl/certs/ca-certificates.crt"
START_TIMEOUT = 30.0


class ServiceError(RuntimeError):
    """A test service could not be started or used; the message says what to do."""


def port_is_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((LOOPBACK, port)) == 0


class Service:
    """Context-manager plumbing shared by the services: start on enter, clean up on exit."""

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self.stop()


# ---- PostgreSQL ----


def newest_postgres_bin() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def find_postgres_bin() -> Path:
    """The bin directory of the newest PostgreSQL server (Debian keeps it off PATH)."""
    found = newest_postgres_bin()
    if found is None and may_install():
        apt_install("postgresql")
        found = newest_postgres_bin()
    if found is None:
        raise ServiceError(
            "PostgreSQL server binaries are missing: install them (Debian: `apt-get install postgresql`) and run again."
        )
    return found


def postgres_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError(
            "There is no `postgres` user to run PostgreSQL as: install the postgresql package and run again."
        ) from None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


class Postgres(Service):
    """A private PostgreSQL cluster on 127.0.0.1 with one password-protected role and database."""

    def __init__(self, user: str = "app", password: str = "app-password", database: str = "tasks") -> None:
        self.user = user
        self.password = password
        self.database = database
        self.port = 0
        self.workdir: Path | None = None
        self.running = False

    @property
    def url(self) -> str:
        user = urllib.parse.quote(self.user, safe="")
        password = urllib.parse.quote(self.password, safe="")
        return f"postgresql://{user}:{password}@{LOOPBACK}:{self.port}/{self.database}"

    @property
    def data_dir(self) -> Path:
        assert self.workdir is not None, "Postgres.start() has not been called"
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        assert self.workdir is not None, "Postgres.start() has not been called"
        return self.workdir / "postgres.log"

    def as_owner(self, argv: list[str]) -> list[str]:
        # PostgreSQL refuses to run as root: root runs it as the `postgres` user.
        return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv

    def run(self, argv: list[str], what: str, input: str | None = None) -> str:
        result = subprocess.run(
            self.as_owner(argv), check=False, input=input, capture_output=True, text=True, timeout=120
        )
        if result.returncode != 0:
            log = f" (server log: {self.log_file})" if self.workdir else ""
            raise ServiceError(
                f"PostgreSQL {what} failed{log}: fix the cause shown below and run again.\n"
                + tail(result.stderr or result.stdout)
            )
        return result.stdout

    def pg_ctl(self, bindir: Path, *args: str) -> list[str]:
        return [str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), *args]

    def start(self) -> Self:
        if self.running:
            return self
        bindir = find_postgres_bin()
        first = self.workdir is None
        if first:
            self.create_cluster(bindir)
        self.run(self.pg_ctl(bindir, "-w", "-t", str(int(START_TIMEOUT)), "start"), "start")
        self.running = True
        if first:
            self.psql(
                f"CREATE ROLE {quote_ident(self.user)} LOGIN PASSWORD {quote_literal(self.password)};"
                f"CREATE DATABASE {quote_ident(self.database)} OWNER {quote_ident(self.user)};",
                database="postgres",
            )
        return self

    def create_cluster(self, bindir: Path) -> None:
        owner = postgres_account() if os.geteuid() == 0 else None
        self.workdir = Path(tempfile.mkdtemp(prefix="task-api-pg-"))
        atexit.register(self.close)
        if owner is not None:
            os.chown(self.workdir, owner.pw_uid, owner.pw_gid)
        self.port = free_port()
        initdb = [str(bindir / "initdb"), "-D", str(self.data_dir), "-U", "postgres", "-E", "UTF8", "--locale=C"]
        # Trust only on the private socket (superuser psql); TCP logins need the password.
        self.run([*initdb, "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"], "initdb")
        # Appended settings survive stop()/start(), so a restart keeps its port and socket.
        settings = (
            f"\nlisten_addresses = '{LOOPBACK}'\nport = {self.port}\nunix_socket_directories = '{self.workdir}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        )
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(settings)

    def psql_argv(self, database: str | None = None) -> list[str]:
        """psql as the superuser over the private socket, reading SQL from stdin."""
        bindir = find_postgres_bin()
        return [
            str(bindir / "psql"),
            "-X",
            "-At",
            "-v",
            "ON_ERROR_STOP=1",
            "-h",
            str(self.workdir),
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            database or self.database,
            "-f",
            "-",
        ]

    def psql(self, sql: str, database: str | None = None) -> str:
        """Run SQL as the superuser; returns unaligned, tuples-only output."""
        return self.run(self.psql_argv(database), "query", input=sql).strip()

    def psql_async(self, sql: str, database: str | None = None) -> subprocess.Popen[str]:
        """Start SQL that runs on its own (e.g. holding a lock) and return at once."""
        proc = subprocess.Popen(self.as_owner(self.psql_argv(database)), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, text=True)
        assert proc.stdin is not None
        proc.stdin.write(sql)
        proc.stdin.close()
        return proc

    def stop(self) -> None:
        if not self.running:
            return
        bindir = find_postgres_bin()
        self.run(self.pg_ctl(bindir, "-m", "fast", "-w", "stop"), "stop")
        self.running = False

    def close(self) -> None:
        if self.workdir is None:
            return
        try:
            self.stop()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


# ---- container registry ----


def find_registry_binary() -> str:
    found = shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if os.access("/usr/bin/docker-registry", os.X_OK) else None
    )
    if found is None and may_install():
        apt_install("docker-registry")
        found = shutil.which("docker-registry")
    if found is None:
        raise ServiceError(
            "The container registry is missing: install it (Debian: `apt-get install docker-registry`) and run again."
        )
    return found


def registry_config(root: Path, port: int) -> dict[str, object]:
    return {
        "version": 0.1,
        "log": {"level": "warn"},
        "storage": {"filesystem": {"rootdirectory": str(root / "data")}, "delete": {"enabled": True}},
        "http": {"addr": f"{LOOPBACK}:{port}"},
    }


class Registry(Service):
    """A private Distribution registry on 127.0.0.1 without auth; docker treats localhost:PORT as insecure-allowed."""

    def __init__(self) -> None:
        self.port = 0
        self.workdir: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"localhost:{self.port}"

    @property
    def log_file(self) -> Path:
        assert self.workdir is not None, "Registry.start() has not been called"
        return self.workdir / "registry.log"

    def answers(self) -> bool:
        try:
            with LOCAL_OPENER.open(f"http://{LOOPBACK}:{self.port}/v2/", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def start(self) -> Self:
        if self.process is not None:
            return self
        binary = find_registry_binary()
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="task-api-registry-"))
            atexit.register(self.close)
            self.port = free_port()
        config = self.workdir / "config.yml"
        config.write_text(yaml.safe_dump(registry_config(self.workdir, self.port)))
        with open(self.log_file, "ab") as log:
            self.process = subprocess.Popen(
                [binary, "serve", str(config)], stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
            )
        process = self.process
        wait_until(lambda: self.answers() or process.poll() is not None, START_TIMEOUT)
        if not self.answers():
            self.stop()
            raise ServiceError(
                f"The registry did not answer on {LOOPBACK}:{self.port}: read {self.log_file}, fix the cause and run again."
            )
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def close(self) -> None:
        self.stop()
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


# ---- authenticated package index ----


def ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or DEFAULT_CA)


def make_index_handler(index: PackageIndex) -> type[BaseHTTPRequestHandler]:
    expected = "Basic " + base64.b64encode(f"{index.user}:{index.password}".encode()).decode()

    class IndexHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            # Test output stays quiet; hits and refusals are counted instead.
            return

        def do_GET(self) -> None:
            if not hmac.compare_digest(self.headers.get("Authorization", ""), expected):
                index.count("refused")
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
            status, body, content_type = index.fetch_upstream(path[len("/simple/") :], self.headers.get("Accept"))
            if status == 200:
                index.count("hits")
            self.reply(status, body, content_type)

        def reply(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in (extra or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

    return IndexHandler


class PackageIndex(Service):
    """A PyPI simple-API mirror on 127.0.0.1 that demands HTTP basic auth: the secret that must never land in an image."""

    def __init__(
        self, user: str = "builder", password: str = "index-password", upstream: str = "https://pypi.org/simple/"
    ) -> None:
        self.user = user
        self.password = password
        self.upstream = upstream.rstrip("/") + "/"
        self.hits = 0
        self.refused = 0
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

    def count(self, counter: str) -> None:
        with self.lock:
            setattr(self, counter, getattr(self, counter) + 1)

    def fetch_upstream(self, rest: str, accept: str | None) -> tuple[int, bytes, str]:
        # Forwarding Accept lets pip and uv get the PEP 691 JSON form or HTML, as they ask.
        request = urllib.request.Request(
            self.upstream + rest, headers={"Accept": accept or "text/html", "User-Agent": "task-api-test-index"}
        )
        try:
            with urllib.request.urlopen(request, context=self.context, timeout=60) as response:
                return response.status, response.read(), response.headers.get("Content-Type", "text/html")
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers.get("Content-Type", "text/plain")
        except (urllib.error.URLError, OSError) as exc:
            return 502, f"upstream {self.upstream} unreachable: {exc}\n".encode(), "text/plain"

    def start(self) -> Self:
        if self.server is not None:
            return self
        self.server = ThreadingHTTPServer((LOOPBACK, 0), make_index_handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="package-index", daemon=True)
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
