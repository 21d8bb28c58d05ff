"""A throwaway PostgreSQL cluster on 127.0.0.1 for tests and benchmarks."""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import urllib.parse
from pathlib import Path
from typing import Self

from harness.machine.certificates import KeyPair, issue_server_cert, make_ca
from harness.machine.engine import tail
from harness.machine.needs import apt_install, may_install
from harness.machine.net import free_port
from harness.machine.service import LOOPBACK, START_TIMEOUT, Service, ServiceError


def newest_postgres_bin() -> Path | None:
    on_path = shutil.which("initdb")
    if on_path:
        return Path(os.path.realpath(on_path)).parent
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3])
    )
    return Path(versions[-1]).parent if versions else None


def find_postgres_bin() -> Path:
    """The bin directory of the newest PostgreSQL server (Debian keeps it off PATH)."""
    found = newest_postgres_bin()
    if found is None and may_install():
        apt_install(["postgresql"])
        found = newest_postgres_bin()
    if found is None:
        raise ServiceError(
            "PostgreSQL server binaries are missing: install them"
            " (Debian: `apt-get install postgresql`) and run again."
        )
    return found


def postgres_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        raise ServiceError(
            "There is no `postgres` user to run PostgreSQL as:"
            " install the postgresql package and run again."
        ) from None


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


# TLS-only over TCP, as a managed database is: without TLS, pg_hba.conf has no entry to match
TLS_ONLY_HBA = f"local all all trust\nhostssl all all {LOOPBACK}/32 scram-sha-256\n"


class Postgres(Service):
    """A private PostgreSQL cluster on 127.0.0.1 with one password-protected role and database.

    With tls (a server certificate and key), it serves TCP over TLS only (ssl = on and a
    hostssl-only pg_hba.conf), with SCRAM passwords, so channel binding can be required.
    """

    def __init__(
        self,
        user: str = "app",
        password: str = "app-password",
        database: str = "tasks",
        tls: KeyPair | None = None,
    ) -> None:
        self.user = user
        self.password = password
        self.database = database
        self.tls = tls
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
            self.as_owner(argv),
            check=False,
            input=input,
            capture_output=True,
            text=True,
            timeout=120,
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
                f"CREATE ROLE {quote_ident(self.user)} LOGIN"
                f" PASSWORD {quote_literal(self.password)};"
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
        initdb = [
            str(bindir / "initdb"),
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C",
        ]
        # Trust only on the private socket (superuser psql); TCP logins need the password.
        self.run(
            [*initdb, "--auth-local=trust", "--auth-host=scram-sha-256", "--no-sync"], "initdb"
        )
        # Appended settings survive stop()/start(), so a restart keeps its port and socket.
        settings = (
            f"\nlisten_addresses = '{LOOPBACK}'\nport = {self.port}\n"
            f"unix_socket_directories = '{self.workdir}'\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        )
        if self.tls is not None:
            settings += self.serve_tls_only(self.tls, owner)
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(settings)

    def serve_tls_only(self, tls: KeyPair, owner: pwd.struct_passwd | None) -> str:
        """Put the server's certificate and key in the data directory (PostgreSQL refuses a
        key others can read) and TCP behind TLS; the settings to append."""
        for source, name in ((tls.cert, "server.crt"), (tls.key, "server.key")):
            dest = self.data_dir / name
            shutil.copyfile(source, dest)
            dest.chmod(0o600)
            if owner is not None:
                os.chown(dest, owner.pw_uid, owner.pw_gid)
        (self.data_dir / "pg_hba.conf").write_text(TLS_ONLY_HBA)
        return (
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n"
            "password_encryption = 'scram-sha-256'\n"
        )

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
        proc = subprocess.Popen(
            self.as_owner(self.psql_argv(database)),
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
        )
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


def tls_only_postgres(workdir: Path, password: str) -> tuple[Postgres, Path]:
    """A started TLS-only cluster whose certificate, for 127.0.0.1 and localhost, a CA made
    for this run signed; and that CA's certificate, the one file a client must trust."""
    ca = make_ca(workdir)
    server = issue_server_cert(ca, "server", (LOOPBACK, "localhost"))
    return Postgres(password=password, tls=server).start(), ca.cert
