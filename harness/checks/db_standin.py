"""The PostgreSQL that compose.yaml names (postgres:17-bookworm) cannot be pulled here: a
labelled stand-in built from Debian's packages (harness/images/standins/postgres/) is tagged
with that reference, and a database container of it is started on the test's own network."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass

from harness.images.base_images import locked, resolve_base
from harness.images.recipes import RECIPE_DIR
from harness.machine.engine import Engine, EngineError

log = logging.getLogger("harness")

STANDIN_DIR = RECIPE_DIR / "postgres"
OFFICIAL = "postgres:17-bookworm"
STANDIN_TAG = "task-api-standin/postgres:17-bookworm"
LABEL_FOR = "dev.task-api-template.stand-in-for"
LABEL_RECIPE = "dev.task-api-template.recipe"
STANDIN_BASE = "debian:trixie-slim"  # Debian's postgresql-17 is trixie's (bookworm has 15)


def recipe_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(STANDIN_DIR.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def labels(engine: Engine, image: str) -> dict[str, str]:
    out = engine.docker(
        "image", "inspect", "--format", "{{json .Config.Labels}}", image, check=False
    )
    return (json.loads(out.stdout) or {}) if out.returncode == 0 else {}


def ensure_postgres_standin(engine: Engine, wanted: str = OFFICIAL) -> str:
    """The image compose.yaml's db service names, as the stand-in: built once per recipe
    (the real image, if it is there, is left alone and used)."""
    if wanted != OFFICIAL:
        raise EngineError(
            f"compose.yaml names {wanted}; the only PostgreSQL stand-in is {OFFICIAL}"
        )
    # The same per-image lock as the bases: the background build and a row never both build it
    with locked("postgres-17-bookworm"):
        return build_unless_current(engine, wanted)


def build_unless_current(engine: Engine, wanted: str) -> str:
    digest = recipe_digest()
    present = labels(engine, wanted)
    if present and present.get(LABEL_FOR) != OFFICIAL:
        return wanted  # the official image itself (pulled elsewhere): use it
    if present.get(LABEL_RECIPE) == digest:
        return wanted
    base = resolve_base(engine, STANDIN_BASE).usable
    started = time.monotonic()
    log.info("stand-in %s for %s (recipe %s): building on %s", STANDIN_TAG, wanted, digest, base)
    engine.docker(
        "build", "--network", "host", "--build-arg", f"BASE_IMAGE={base}",
        "--label", f"{LABEL_RECIPE}={digest}", "-t", STANDIN_TAG, str(STANDIN_DIR),
        timeout=900,
    )  # fmt: skip
    # compose.yaml names the official reference: the stand-in answers to it, labelled as such
    engine.docker("tag", STANDIN_TAG, wanted)
    log.info("stand-in %s built in %.0f s", STANDIN_TAG, time.monotonic() - started)
    return wanted


@dataclass(frozen=True)
class Database:
    container: str
    address: str  # its IP address on the test's network
    user: str
    password: str
    name: str

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.address}:5432/{self.name}"


def start_database(
    engine: Engine,
    network: str,
    name: str,
    password: str,
    user: str = "tasks",
    db: str = "tasks",
    wait: bool = True,
) -> Database:
    """A stand-in PostgreSQL on the test's network, ready for connections (pg_isready)
    unless wait is False."""
    image = ensure_postgres_standin(engine)
    engine.docker("rm", "--force", "--volumes", name, check=False)
    engine.docker(
        "run", "-d", "--name", name, "--network", network,
        "-e", f"POSTGRES_USER={user}", "-e", f"POSTGRES_PASSWORD={password}",
        "-e", f"POSTGRES_DB={db}", image,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    probe = ("exec", name, "pg_isready", "-q", "-h", "127.0.0.1", "-U", user, "-d", db)
    while wait and engine.docker(*probe, check=False).returncode != 0:
        if time.monotonic() > deadline:
            logs = engine.docker("logs", name, check=False)
            raise EngineError(f"{name} never became ready: {(logs.stdout + logs.stderr)[-800:]}")
        time.sleep(0.3)
    fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}"
    address = engine.docker("inspect", "--format", fmt, name).stdout.strip()
    return Database(name, address, user, password, db)
