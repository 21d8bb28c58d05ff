"""The project README's `docker run -p ...` command, run as printed: only the DATABASE_URL
value is replaced, by a stand-in PostgreSQL that the container can reach.

The printed command puts the container on Docker's default bridge, which is not the test's,
and its published port on every interface. The database runs on a bridge network the test
creates; right after the command, the app's container joins that network too (`docker
network connect`), and DATABASE_URL names the database by its address there (the default
bridge resolves no names). The app retries a database that is not there yet, as the README
says. All traffic: the test to the published port on 127.0.0.1, the app to that database.
"""

from __future__ import annotations

import re
import shlex
import time
import uuid
from typing import TYPE_CHECKING

from harness.checks.api import crud_round_trip
from harness.checks.db_standin import start_database
from harness.checks.outcome import CheckFailed, Figures, expect
from harness.lab.container import Container
from harness.machine.net import bridge_network, port_is_free

if TYPE_CHECKING:
    from harness.lab.subject import Subject

PORT_WAIT = 60.0  # another test on this machine may hold the README's port for a while


def readme_run_command(readme: str) -> list[str]:
    """The first `docker run` of the README's "## Run" section, as shell words."""
    section = readme.split("\n## Run\n", 1)
    expect(len(section) == 2, "the README has no '## Run' section")
    block = re.search(r"```bash\n(.*?)```", section[1], re.S)
    expect(block is not None, "the README's Run section has no bash block")
    assert block is not None
    joined = block.group(1).replace("\\\n", " ")
    line = next((ln for ln in joined.splitlines() if ln.strip().startswith("docker run")), None)
    expect(line is not None, f"the Run section has no `docker run` command:\n{block.group(1)}")
    assert line is not None
    return shlex.split(line)


def substitute_database_url(argv: list[str], url: str) -> list[str]:
    """The same words, but the value of `-e DATABASE_URL=...`."""
    found = [i for i, w in enumerate(argv) if w.startswith("DATABASE_URL=")]
    expect(
        len(found) == 1 and argv[found[0] - 1] == "-e",
        f"the README's command must set DATABASE_URL once with -e: {argv}",
    )
    return [*argv[: found[0]], f"DATABASE_URL={url}", *argv[found[0] + 1 :]]


def option(argv: list[str], flag: str) -> str:
    expect(flag in argv, f"the README's command has no {flag}: {shlex.join(argv)}")
    return argv[argv.index(flag) + 1]


def wait_for_free(port: int) -> None:
    deadline = time.monotonic() + PORT_WAIT
    while not port_is_free(port):
        if time.monotonic() > deadline:
            raise CheckFailed(f"port {port}, which the README publishes, stays taken here")
        time.sleep(1)


def readme_run(s: Subject) -> Figures:
    """Health and a CRUD round trip on the port the README's command publishes."""
    argv = readme_run_command((s.project.path / "README.md").read_text())
    expect(argv[:2] == ["docker", "run"], f"not a docker run: {argv}")
    expect(argv[-1] == s.image.tag, f"the README runs {argv[-1]}, not the image {s.image.tag}")
    name = option(argv, "--name")
    host_port = int(option(argv, "-p").split(":")[-2])
    s.remove_containers()  # the row's own containers may hold the answered port
    wait_for_free(host_port)
    password = uuid.uuid4().hex
    with bridge_network(s.engine, f"{s.variant.name}-readme") as network:
        # the database starts while the app does: the app waits for it, as it would for any
        db = start_database(s.engine, network, f"{network}-db", password, wait=False)
        command = substitute_database_url(argv, db.url)
        s.engine.docker("rm", "--force", name, check=False)
        started = time.monotonic()
        try:
            s.engine.docker(*command[1:])
            s.engine.docker("network", "connect", network, name)
            c = Container(s.engine, name, host_port, started)
            first_200 = c.wait_for_health_200(timeout=90)
            crud_round_trip(host_port, "the README's docker run")
            published = s.engine.docker("port", name).stdout.split()
        finally:
            s.engine.docker("rm", "--force", name, check=False)
    return {"readme_run_200_s": round(first_200, 2), "readme_published": " ".join(published)}
