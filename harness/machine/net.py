"""Loopback ports, the registry's HTTP API (everything here talks to 127.0.0.1 only), and
the test's own Docker bridge networks.

A bridge network is for what users run (`docker run -p`, `docker compose up`): the test
creates it, starts its own containers on it, and removes both afterwards, also when the
test fails. Traffic goes to 127.0.0.1 (published ports) and to those containers only.
"""

from __future__ import annotations

import contextlib
import socket
import urllib.request
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.machine.engine import Engine

# every network, container and volume this module's callers create starts with it
BRIDGE_PREFIX = "tat-net-"

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


def network_members(engine: Engine, network: str) -> list[str]:
    out = engine.docker(
        "network", "inspect", "--format", "{{range .Containers}}{{.Name}} {{end}}", network,
        check=False,
    )  # fmt: skip
    return out.stdout.split() if out.returncode == 0 else []


@contextlib.contextmanager
def bridge_network(engine: Engine, name: str) -> Iterator[str]:
    """A user-defined bridge network (containers find each other by name on it), removed
    on the way out with every container still attached, whatever happened inside."""
    network = BRIDGE_PREFIX + name
    remove_network(engine, network)  # left by a run that was killed
    engine.docker("network", "create", "--driver", "bridge", network)
    try:
        yield network
    finally:
        remove_network(engine, network)


def remove_network(engine: Engine, network: str) -> None:
    """The network and the containers on it (they were the test's own), if it exists."""
    for member in network_members(engine, network):
        engine.docker("rm", "--force", "--volumes", member, check=False)
    engine.docker("network", "rm", network, check=False)
