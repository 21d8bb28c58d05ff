"""A throwaway certificate authority and the server certificates it signs, made per run.

openssl's own command line, not a Python library: it is on every machine that has the
PostgreSQL server (postgresql -> ssl-cert -> openssl), and `cryptography` is not in the venv.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.machine.engine import tail
from harness.machine.service import ServiceError

# A CA and server certificates as a company's private PKI would make them
CA_EXTENSIONS = (
    "[req]\ndistinguished_name = dn\n[dn]\n[ca]\n"
    "basicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n"
    "subjectKeyIdentifier = hash\n"
)
SERVER_EXTENSIONS = (
    "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n"
    "extendedKeyUsage = serverAuth\nsubjectAltName = {names}\n"
)


@dataclass(frozen=True)
class KeyPair:
    cert: Path
    key: Path


def openssl(*args: str, cwd: Path) -> None:
    result = subprocess.run(
        ["openssl", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise ServiceError(
            f"`openssl {args[0]}` failed making the test certificates: fix the cause below"
            f" and run again.\n{tail(result.stderr)}"
        )


def make_ca(workdir: Path) -> KeyPair:
    """A new CA (P-256, one day): its name carries a random tag, so no two runs share one."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "ca.cnf").write_text(CA_EXTENSIONS)
    openssl(
        "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt",
        "ec_paramgen_curve:prime256v1", "-days", "1", "-config", "ca.cnf", "-extensions", "ca",
        "-subj", f"/O=task-api-template tests/CN=test CA {secrets.token_hex(4)}",
        "-keyout", "ca.key", "-out", "ca.crt",
        cwd=workdir,
    )  # fmt: skip
    (workdir / "ca.crt").chmod(0o644)  # public: a container's non-root user must read it
    return KeyPair(workdir / "ca.crt", workdir / "ca.key")


def issue_server_cert(ca: KeyPair, stem: str, names: tuple[str, ...]) -> KeyPair:
    """A server certificate signed by ca for these names (IP addresses or DNS names)."""
    workdir = ca.cert.parent
    alt = ",".join(f"IP:{n}" if n.replace(".", "").isdigit() else f"DNS:{n}" for n in names)
    (workdir / f"{stem}.ext").write_text(SERVER_EXTENSIONS.format(names=alt))
    openssl(
        "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-subj", f"/CN={names[0]}", "-keyout", f"{stem}.key", "-out", f"{stem}.csr",
        cwd=workdir,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", f"{stem}.csr", "-CA", ca.cert.name, "-CAkey", ca.key.name,
        "-set_serial", str(secrets.randbits(63)), "-days", "1", "-extfile", f"{stem}.ext",
        "-out", f"{stem}.crt",
        cwd=workdir,
    )  # fmt: skip
    return KeyPair(workdir / f"{stem}.crt", workdir / f"{stem}.key")
