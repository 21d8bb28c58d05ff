"""Loopback ports and the registry's HTTP API: everything here talks to 127.0.0.1 only."""

from __future__ import annotations

import socket
import urllib.request

# Loopback requests must never go through a proxy from the environment.
LOCAL_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port(exclude: frozenset[int] | set[int] = frozenset()) -> int:
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in exclude:
            return port


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def registry_has(host: str, ref: str) -> bool:
    """Ask the registry's HTTP API whether the manifest of ref is there."""
    repo, tag = ref.removeprefix(host + "/").rsplit(":", 1)
    req = urllib.request.Request(
        f"http://{host.replace('localhost', '127.0.0.1')}/v2/{repo}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    try:
        with LOCAL_OPENER.open(req, timeout=10) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False
