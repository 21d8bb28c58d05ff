"""Fast tier: the harness's TLS-only PostgreSQL is what SC-04's TLS check needs it to be.

psql (the server's own libpq) against it: verified TLS with channel binding is let in, plain
text and a certificate for another name are not. Without this, a server that accepted
everything would let the container check's refusals pass for the wrong reason.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.machine.postgres import Postgres, find_postgres_bin, tls_only_postgres
from harness.machine.service import ServiceError

PASSWORD = "tls-tests-password"


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Postgres, Path]]:
    try:
        server, ca = tls_only_postgres(tmp_path_factory.mktemp("tls"), PASSWORD)
    except ServiceError as why:
        pytest.skip(str(why))
    yield server, ca
    server.close()


def psql(server: Postgres, host: str, options: str) -> subprocess.CompletedProcess[str]:
    url = f"postgresql://{server.user}:{PASSWORD}@{host}:{server.port}/{server.database}"
    query = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    return subprocess.run(
        [str(find_postgres_bin() / "psql"), "-X", "-At", f"{url}?{options}", "-c", query],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_verified_tls_with_channel_binding_is_let_in(tls_server: tuple[Postgres, Path]) -> None:
    server, ca = tls_server
    for host in ("localhost", "127.0.0.1"):
        out = psql(server, host, f"sslmode=verify-full&sslrootcert={ca}&channel_binding=require")
        assert (out.returncode, out.stdout.strip()) == (0, "t"), f"{host}: {out.stderr}"


@pytest.mark.parametrize(
    ("options", "host", "refusal"),
    [
        ("sslmode=disable", "127.0.0.1", "no encryption"),
        (
            "sslmode=verify-full&sslrootcert={ca}&hostaddr=127.0.0.1",
            "db.example.invalid",
            'does not match host name "db.example.invalid"',
        ),
        ("sslmode=verify-full&sslrootcert=/nonexistent/ca.crt", "localhost", "root certificate"),
    ],
    ids=["plain text", "another host name", "no CA file"],
)
def test_everything_else_is_refused(
    tls_server: tuple[Postgres, Path], options: str, host: str, refusal: str
) -> None:
    server, ca = tls_server
    out = psql(server, host, options.format(ca=ca))
    assert out.returncode != 0 and refusal in out.stderr, out.stdout + out.stderr
