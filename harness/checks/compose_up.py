"""`docker compose up --wait` of the rendered compose.yaml, as the README has users run it:
db, then migrate, then app, each as compose.yaml orders them; then the project's own live
test suite against the published port; then `docker compose down -v` leaves nothing.

The app's image is the one the matrix built (compose.yaml's `image:` is the same tag):
`--no-build` uses it rather than build again without the build secrets this machine needs,
and `--pull never` keeps every image local. The database is the labelled stand-in for
compose.yaml's PostgreSQL image (harness/checks/db_standin.py). The project name carries
the test's prefix, so every container, network and volume compose makes is ours to remove.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

import yaml

from harness.checks.api import live_suite, project_tests
from harness.checks.db_standin import ensure_postgres_standin
from harness.checks.outcome import CheckFailed, Figures, expect
from harness.machine.net import free_port

if TYPE_CHECKING:
    from harness.lab.subject import Subject

COMPOSE_FILE = "compose.yaml"
WAIT_TIMEOUT = 180


def compose_version(s: Subject) -> str:
    out = s.engine.docker("compose", "version", "--short", check=False)
    if out.returncode != 0:
        raise CheckFailed(
            "no Compose v2 plugin (`docker compose`): the machine check installs it from"
            f" Debian's docker-compose package; {out.stderr.strip()}"
        )
    return out.stdout.strip()


def env_file(s: Subject, port: int) -> str:
    """The project's .env.example with the two values the README says to set."""
    text = (s.project.path / ".env.example").read_text()
    expect("POSTGRES_PASSWORD=" in text, ".env.example does not name POSTGRES_PASSWORD")
    text = re.sub(r"(?m)^POSTGRES_PASSWORD=.*$", f"POSTGRES_PASSWORD={uuid.uuid4().hex}", text)
    text = re.sub(r"(?m)^PORT=.*$", f"PORT={port}", text)
    path = s.lab.workdir / f"{s.variant.name}.compose.env"
    path.write_text(text)
    return str(path)


def leftovers(s: Subject, project: str) -> list[str]:
    label = f"label=com.docker.compose.project={project}"
    found = []
    for kind, listing in (
        ("container", ("ps", "-a", "-q", "--filter", label)),
        ("network", ("network", "ls", "-q", "--filter", label)),
        ("volume", ("volume", "ls", "-q", "--filter", label)),
    ):
        found += [f"{kind} {i}" for i in s.engine.docker(*listing).stdout.split()]
    return found


def states(s: Subject, compose: list[str]) -> dict[str, dict[str, Any]]:
    """Each service's container state, by service name."""
    ids = s.engine.docker(*compose, "ps", "-a", "-q").stdout.split()
    found = {}
    for cid in ids:
        info = json.loads(s.engine.docker("inspect", "--format", "{{json .}}", cid).stdout)
        found[info["Config"]["Labels"]["com.docker.compose.service"]] = info["State"]
    return found


def compose_up(s: Subject) -> Figures:
    path = s.project.path / COMPOSE_FILE
    spec = yaml.safe_load(path.read_text())
    services = spec["services"]
    version = compose_version(s)
    ensure_postgres_standin(s.engine, services["db"]["image"])
    for name in ("app", "migrate"):
        expect(
            services[name]["image"] == s.image.tag,
            f"compose.yaml's {name} runs {services[name]['image']}, not the built {s.image.tag}",
        )
    project = f"tat-compose-{s.variant.name}"
    port = free_port()
    compose = [
        "compose", "--project-name", project, "--project-directory", str(s.project.path),
        "-f", str(path), "--env-file", env_file(s, port),
    ]  # fmt: skip
    s.remove_containers()
    s.engine.docker(*compose, "down", "-v", "--remove-orphans", check=False)  # a killed run's
    started = time.monotonic()
    try:
        up = s.engine.docker(
            *compose, "up", "--wait", "--wait-timeout", str(WAIT_TIMEOUT), "--no-build",
            "--pull", "never", "--quiet-pull", check=False, timeout=WAIT_TIMEOUT + 60,
        )  # fmt: skip
        up_s = time.monotonic() - started
        state = states(s, compose)
        if up.returncode != 0:
            logs = s.engine.docker(*compose, "logs", "--no-color", check=False).stdout
            raise CheckFailed(
                f"docker compose up --wait failed ({up.stderr.strip()[-800:]}); states "
                f"{ {k: v.get('Status') for k, v in state.items()} }; logs:\n{logs[-2000:]}"
            )
        health = {k: (v.get("Health") or {}).get("Status") for k, v in state.items()}
        expect(
            health.get("db") == "healthy" and health.get("app") == "healthy",
            f"after up --wait: {health}",
        )
        migrate = state["migrate"]
        expect(
            migrate["Status"] == "exited" and migrate["ExitCode"] == 0,
            f"migrate ended {migrate['Status']} with {migrate['ExitCode']}",
        )
        # db before migrate before app: migrate finished before the app started
        order = (state["db"]["StartedAt"], migrate["StartedAt"], migrate["FinishedAt"],
                 state["app"]["StartedAt"])  # fmt: skip
        expect(list(order) == sorted(order), f"not db, then migrate, then app: {order}")
        suite = live_suite(s, port, "compose")
    finally:
        down = s.engine.docker(*compose, "down", "-v", "--remove-orphans", check=False)
    left = leftovers(s, project)
    expect(down.returncode == 0, f"docker compose down -v failed: {down.stderr[-800:]}")
    expect(not left, f"docker compose down -v left {', '.join(left)}")
    return {"compose": version, "compose_up_s": round(up_s, 1), "compose_tests": suite}


def project_tests_where_users_run(s: Subject) -> Figures:
    """SC-13's live run of the project's tests: against the compose stack where the row
    renders compose.yaml (users' `docker compose up`, proven whole by compose_up), else
    against the row's container. One run of the suite per row, not two."""
    if not s.project.answers.get("compose"):
        return project_tests(s)
    figures = compose_up(s)
    return {**figures, "project_tests": figures["compose_tests"]}
