"""SC-04's connection half: the image talks to PostgreSQL over TLS that verifies the server,
on every base, as it must with Neon, RDS or Cloud SQL.

Against the session's TLS-only cluster (ssl = on, a hostssl-only pg_hba.conf, a certificate
for 127.0.0.1 and localhost from a CA made for this run), one container per way in, started
side by side: two must serve, three must be refused with a reason code on /health and one
log line naming the cause, never the password.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checks.api import crud, crud_round_trip
from harness.checks.outcome import CheckFailed, Figures, expect
from harness.lab.container import Container, run_container
from harness.lab.emulated import patient, run_args
from harness.machine.emulation import is_emulated
from harness.machine.net import free_port

if TYPE_CHECKING:
    from harness.lab.subject import Subject
    from harness.machine.postgres import Postgres

# Where the README tells users to mount a private CA's certificate (a file, not a variable)
CA_FILE = "/etc/{slug}/db-ca.crt"
VERIFY_MOUNTED = "sslmode=verify-full&sslrootcert={ca}"
VERIFY_SYSTEM = "sslmode=verify-full&sslrootcert=system"
# hostaddr: libpq connects to 127.0.0.1 but verifies the name asked for, with no DNS lookup
OTHER_HOST = "db.example.invalid"


@dataclass(frozen=True)
class Way:
    """One DATABASE_URL to try: it serves (reason None) or is refused with that reason code."""

    label: str
    query: str
    reason: str | None = None
    cause: str = ""  # a regex the app's log line about the refusal must match
    host: str = "localhost"
    mount_ca: bool = False
    trusting_image: bool = False


WAYS = (
    Way(
        "verify-full, private CA mounted, channel binding required",
        VERIFY_MOUNTED + "&channel_binding=require",
        mount_ca=True,
    ),
    Way("verify-full, CA in the system bundle", VERIFY_SYSTEM, trusting_image=True),
    Way(
        "verify-full, system bundle without the CA",
        VERIFY_SYSTEM,
        "database_tls_failed",
        r"certificate verify failed",
    ),
    Way(
        "verify-full, certificate for another host name",
        VERIFY_MOUNTED + "&hostaddr=127.0.0.1",
        "database_tls_failed",
        rf'does not match host name "{re.escape(OTHER_HOST)}"',
        host=OTHER_HOST,
        mount_ca=True,
    ),
    Way(
        "sslmode=disable against a TLS-only server",
        "sslmode=disable",
        "database_auth_failed",
        r"no pg_hba\.conf entry .*no encryption",
    ),
)


def connects_and_serves(s: Subject) -> Figures:
    """SC-04: every endpoint against PostgreSQL, and the connection over verified TLS."""
    figures = crud(s)
    if is_emulated(s.variant.platform):
        # Under qemu only the ways that must serve: they exercise this platform's own psycopg
        # wheel and its bundled OpenSSL; the refusals are the app's code, as on the twin
        return figures | verified_tls(s, [way for way in WAYS if way.reason is None])
    return figures | verified_tls(s, WAYS)


def verified_tls(s: Subject, ways: Sequence[Way]) -> Figures:
    """These ways in, on a database of the row's own in the session's TLS-only cluster."""
    pg, ca = s.lab.tls_postgres()
    database = "v_" + s.variant.name.replace("-", "_")
    pg.psql(f"DROP DATABASE IF EXISTS {database}")
    pg.psql(f"CREATE DATABASE {database} OWNER {pg.user}")
    started = time.monotonic()
    ca_file = CA_FILE.format(slug=s.project.answers["project_slug"])
    tried: list[tuple[Way, Container]] = []
    trusting = ""
    try:
        # the others boot while the trusting image builds
        for way in (w for w in ways if not w.trusting_image):
            tried.append((way, start(s, pg, way, database, ca_file, ca, s.image.tag)))
        trusting = trusting_image(s, ca)
        for way in (w for w in ways if w.trusting_image):
            tried.append((way, start(s, pg, way, database, ca_file, ca, trusting)))
        tls_version = ""
        for way, c in tried:
            if way.reason is None:
                c.wait_for_health_200()
                crud_round_trip(c.port, way.label)
                tls_version = only_tls_sessions(pg, database, way.label)
            else:
                refused(s, way, c)
    finally:
        for _, c in tried:
            c.remove()
        if trusting:
            s.engine.docker("rmi", "--force", trusting, check=False)
    return {
        "tls": f"{len(ways)}/{len(ways)}",
        "tls_version": tls_version,
        "tls_s": round(time.monotonic() - started, 1),
    }


def start(
    s: Subject, pg: Postgres, way: Way, database: str, ca_file: str, ca: Path, image: str
) -> Container:
    url = f"postgresql://{pg.user}:{pg.password}@{way.host}:{pg.port}/{database}?"
    url += way.query.format(ca=ca_file)
    # one worker each: five containers start at once on a small machine
    extra = ["-e", "WEB_CONCURRENCY=1", *run_args(s.variant.platform)]
    if way.mount_ca:
        extra += ["-v", f"{ca}:{ca_file}:ro"]
    name = f"tat-{s.variant.name}-tls{WAYS.index(way)}"
    c = run_container(
        s.engine,
        image,
        name=name,
        port=free_port(),
        env={"DATABASE_URL": url},
        extra=tuple(extra),
    )
    s.containers[name] = c
    return patient(c, s.variant.platform)


def refused(s: Subject, way: Way, c: Container) -> None:
    """503 with the contract's reason code, and the cause in the log without the password."""
    down = c.wait_for_health_status(503, timeout=30)
    expect(
        isinstance(down.body, dict) and down.body.get("reason") == way.reason,
        f"{way.label}: /health answered {down}, expected reason {way.reason!r}",
    )
    # /health's answer is logged as one line: the code, then the driver's words for the cause
    line = re.compile(f"{way.reason}: .*{way.cause}")
    deadline = time.monotonic() + 10
    while not line.search(logs := c.logs()) and time.monotonic() < deadline:
        time.sleep(0.2)
    expect(
        line.search(logs) is not None,
        f"{way.label}: no log line names {way.reason} and the cause ({way.cause}):\n{logs[-1500:]}",
    )
    expect(
        s.sentinels["database password"] not in logs and "Traceback" not in logs,
        f"{way.label}: the password or a traceback is in the log:\n{logs[-1500:]}",
    )


def only_tls_sessions(pg: Postgres, database: str, label: str) -> str:
    """The TLS version the app's sessions use; none of them may be without TLS."""
    rows = pg.psql(
        "SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)"
        f" WHERE a.datname = '{database}' AND a.usename = '{pg.user}'",
        database="postgres",
    ).splitlines()
    expect(bool(rows), f"{label}: the app holds no session in the database it served from")
    expect(all(row.startswith("t|") for row in rows), f"{label}: sessions without TLS: {rows}")
    return rows[0].split("|")[1]


def trusting_image(s: Subject, ca: Path) -> str:
    """The row's image with the test CA appended to the bundle its SSL_CERT_FILE names, as a
    company's base image carries its own CA. COPY of a prepared bundle, not RUN: distroless
    has no shell."""
    env = s.engine.docker("image", "inspect", "--format", "{{json .Config.Env}}", s.image.tag)
    found = re.search(r'"SSL_CERT_FILE=([^"]+)"', env.stdout)
    if found is None:
        raise CheckFailed(
            "the image sets no SSL_CERT_FILE: psycopg's own OpenSSL then looks for the system"
            " CA bundle in a path of its build, and sslrootcert=system trusts nothing"
        )
    bundle_path = found.group(1)
    work = s.lab.workdir / f"{s.variant.name}-trusting"
    work.mkdir(exist_ok=True)
    box = f"tat-{s.variant.name}-bundle"
    s.engine.docker("rm", "--force", box, check=False)
    s.engine.docker("create", "--name", box, *s.platform_args, s.image.tag)
    try:
        copied = s.engine.docker(
            "cp", "-L", f"{box}:{bundle_path}", str(work / "bundle.crt"), check=False
        )
    finally:
        s.engine.docker("rm", "--force", box, check=False)
    bundle = work / "bundle.crt"
    expect(
        copied.returncode == 0 and "BEGIN CERTIFICATE" in bundle.read_text(errors="replace"),
        f"the image's SSL_CERT_FILE, {bundle_path}, is missing or holds no certificate:"
        f" {copied.stderr.strip()}",
    )
    bundle.write_text(bundle.read_text() + ca.read_text())
    bundle.chmod(0o644)
    (work / "Dockerfile").write_text(f"FROM {s.image.tag}\nCOPY bundle.crt {bundle_path}\n")
    tag = f"tat-{s.variant.name}-trusts-test-ca:latest"
    s.engine.docker("build", "-q", *s.platform_args, "-t", tag, str(work))
    return tag
