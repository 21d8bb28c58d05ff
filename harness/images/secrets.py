"""Sentinel secrets, and a scan that proves none of them reached an image."""

from __future__ import annotations

import secrets as _random
from collections.abc import Iterable
from pathlib import Path
from typing import IO

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def make_sentinels() -> dict[str, str]:
    """Unique strings standing in for each kind of secret a build or run is given."""
    tag = _random.token_hex(6)
    return {
        "database password": f"dbpw{tag}",
        "CA bundle": f"ca-sentinel-{tag}",
        "index password": f"idxpw{tag}",
        ".env file": f"dotenv-sentinel-{tag}",
    }


def write_ca_bundle(dest: Path, sentinel: str, host_bundle: Path = HOST_CA_BUNDLE) -> Path | None:
    """The host's CA bundle (the proxy's CA included) marked with a sentinel comment.

    Text outside BEGIN/END blocks is ignored by TLS libraries, so the bundle still
    works, and the sentinel shows whether the file's bytes ever reach a layer.
    """
    if not host_bundle.is_file():
        return None
    dest.write_text(f"# {sentinel}\n" + host_bundle.read_text())
    dest.chmod(0o600)
    return dest


def scan_stream(
    stream: IO[bytes], needles: Iterable[str], chunk: int = 1 << 20
) -> tuple[set[str], int]:
    """Which needles occur anywhere in the stream (e.g. `docker save`), and bytes read."""
    wanted = {n: n.encode() for n in needles}
    overlap = max(len(b) for b in wanted.values()) - 1
    found: set[str] = set()
    carry, total = b"", 0
    while data := stream.read(chunk):
        total += len(data)
        window = carry + data
        found.update(n for n, b in wanted.items() if n not in found and b in window)
        carry = window[-overlap:] if overlap else b""
    return found, total
