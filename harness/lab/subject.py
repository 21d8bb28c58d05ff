"""A built variant and the services around it: what every check works on."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from harness.images.base_images import BaseImage, resolve_base
from harness.images.build import BuildSecrets, Image, build_image
from harness.images.recipes import ARCH
from harness.images.secrets import make_sentinels, write_ca_bundle
from harness.lab.container import Container, run_container
from harness.lab.emulated import patient, run_args
from harness.machine.emulation import arch_of, ensure_emulation
from harness.machine.engine import Engine, ensure_engine
from harness.machine.net import free_port, port_is_free
from harness.machine.package_index import PackageIndex
from harness.machine.postgres import Postgres, tls_only_postgres
from harness.machine.registry import Registry
from harness.matrix.project_env import project_python
from harness.matrix.render import Project, render_project
from harness.matrix.variants import Variant, fill_registry

log = logging.getLogger("harness")


class VariantSkipped(Exception):
    """The variant cannot be built here; the message says exactly why."""


@dataclass
class Lab:
    """The session's services: one engine, PostgreSQL, registry and package index."""

    engine: Engine
    postgres: Postgres
    registry: Registry
    index: PackageIndex
    ca_bundle: Path | None
    sentinels: dict[str, str]
    workdir: Path
    project_python: Path
    early: dict[str, Future[Subject]] = field(default_factory=dict)
    tls: tuple[Postgres, Path] | None = None

    def tls_postgres(self) -> tuple[Postgres, Path]:
        """A TLS-only PostgreSQL and its CA's certificate, started on first use."""
        if self.tls is None:
            self.tls = tls_only_postgres(self.workdir / "tls", self.postgres.password)
            log.info("TLS-only postgres on 127.0.0.1:%s", self.tls[0].port)
        return self.tls

    def build_early(self, variants: Iterable[Variant]) -> None:
        """Build these rows in a background thread from now on. Under qemu a row takes many
        minutes to build, nearly all of it one emulated core: meanwhile the host-platform
        rows' checks, which leave a core idle most of the time, run on."""
        variants = list(variants)
        if not variants:
            return
        pool = ThreadPoolExecutor(1, thread_name_prefix="early-build")
        for variant in variants:
            log.info("%s: building early, in the background", variant.name)
            self.early[variant.name] = pool.submit(prepare_subject, self, variant)
        pool.shutdown(wait=False)

    def subject(self, variant: Variant) -> Subject:
        """The variant built: by the early build when one was started, else now."""
        early = self.early.pop(variant.name, None)
        return early.result() if early else prepare_subject(self, variant)


@contextlib.contextmanager
def open_lab(workdir: Path) -> Iterator[Lab]:
    workdir.mkdir(parents=True, exist_ok=True)
    engine = ensure_engine()
    log.info("docker engine ready: %s", engine.buildkit)
    sentinels = make_sentinels()
    python = project_python()
    with (
        Postgres(password=sentinels["database password"]) as pg,
        Registry() as registry,
        PackageIndex(user="builder", password=sentinels["index password"]) as index,
    ):
        log.info(
            "postgres on 127.0.0.1:%s, registry %s, package index %s",
            pg.port,
            registry.host,
            index.url.replace(sentinels["index password"], "***"),
        )
        ca = write_ca_bundle(workdir / "ca-bundle.pem", sentinels["CA bundle"])
        lab = Lab(engine, pg, registry, index, ca, sentinels, workdir, python)
        try:
            yield lab
        finally:
            if lab.tls:
                lab.tls[0].close()


@dataclass
class Subject:
    variant: Variant
    lab: Lab
    project: Project
    image: Image
    base: BaseImage
    builder: BaseImage | None
    database: str
    containers: dict[str, Container] = field(default_factory=dict)
    figures: dict[str, object] = field(default_factory=dict)

    @property
    def engine(self) -> Engine:
        return self.lab.engine

    @property
    def sentinels(self) -> dict[str, str]:
        return self.lab.sentinels

    @property
    def project_python(self) -> Path:
        return self.lab.project_python

    @property
    def platform(self) -> str:
        return self.variant.platform or f"linux/{ARCH}"

    @property
    def platform_args(self) -> tuple[str, ...]:
        """For docker build, run and pull: the variant's platform, when it names one."""
        return ("--platform", self.variant.platform) if self.variant.platform else ()

    @property
    def database_url(self) -> str:
        pg = self.lab.postgres
        return f"postgresql://{pg.user}:{pg.password}@127.0.0.1:{pg.port}/{self.database}"

    @property
    def archive(self) -> Path:
        return self.lab.workdir / f"{self.variant.name}.tar"

    @property
    def push_ref(self) -> str:
        """Where the push goes: the image's own reference when it names the local
        registry, else the same repository path on the local registry."""
        a = self.project.answers
        if a["registry"] == "custom" and a["registry_host"] == self.lab.registry.host:
            return self.image.tag
        path = (
            self.image.tag.split("/", 1)[1] if "/" in self.image.tag else f"local/{self.image.tag}"
        )
        return f"{self.lab.registry.host}/{path}"

    def psql(self, sql: str) -> str:
        return self.lab.postgres.psql(sql, database=self.database).strip()

    def unreachable_database_url(self) -> str:
        return f"postgresql://app:nobody@127.0.0.1:{free_port()}/tasks"

    def start_container(
        self,
        role: str,
        *,
        port: int | None = None,
        database_url: str | None = None,
        extra: tuple[str, ...] = (),
        health_start_period: str = "30s",
        command: tuple[str, ...] = (),
    ) -> Container:
        port = port or self.project.port
        if not port_is_free(port):
            raise RuntimeError(
                f"port {port} is taken on this machine: stop what uses it and run again"
            )
        name = f"tat-{self.variant.name}-{role}"
        c = run_container(
            self.engine,
            self.image.tag,
            name=name,
            port=port,
            env={"DATABASE_URL": database_url or self.database_url},
            extra=(*run_args(self.variant.platform), *extra),
            health_start_period=health_start_period,
            command=command,
        )
        c = patient(c, self.variant.platform)
        self.containers[name] = c
        return c

    def main_container(self) -> Container:
        """The long-lived container most checks talk to, started on first use."""
        c = self.containers.get(f"tat-{self.variant.name}-main")
        if c and c.state().get("Running"):
            return c
        c = self.start_container("main")
        self.figures.setdefault("first_200_s", round(c.wait_for_health_200(), 2))
        return c

    def remove_containers(self) -> None:
        for c in self.containers.values():
            c.remove()
        self.containers.clear()

    def save_archive(self) -> None:
        self.engine.docker("save", "-o", str(self.archive), self.image.tag)

    def close(self) -> None:
        self.remove_containers()
        self.archive.unlink(missing_ok=True)


def resolve_or_skip(engine: Engine, ref: str, arch: str = ARCH) -> BaseImage:
    base = resolve_base(engine, ref, arch)
    if base.kind == "skipped":
        raise VariantSkipped(base.reason)
    return base


def provide_custom_base(lab: Lab, variant: Variant) -> BaseImage:
    """Publish the team's base image to the local registry, so the build pulls it."""
    spec = variant.provide_base or {}
    ref = fill_registry(spec["ref"], lab.registry.host)
    source = resolve_or_skip(lab.engine, spec["from"])
    lab.engine.docker("tag", source.usable, ref)
    lab.engine.docker("push", ref)
    lab.engine.docker("rmi", ref)  # the build must pull it from the registry
    return BaseImage(
        requested=ref,
        image=ref,
        kind=source.kind,
        reason=f"{source.kind} of {spec['from']}, served by the local registry as {ref}",
    )


def prepare_subject(lab: Lab, variant: Variant) -> Subject:
    """Render, resolve the bases, build: a Subject ready to be checked."""
    project = render_project(variant.answers_for(lab.registry.host), lab.workdir / variant.name)
    # a developer's .env beside the Dockerfile: it must never reach the image
    (project.path / ".env").write_text(
        f"DATABASE_URL=postgresql://dev:{lab.sentinels['.env file']}@db/dev\n"
    )
    a, arch, tag = project.answers, ARCH, project.image_tag
    if variant.platform:
        log.info("%s: %s", variant.name, ensure_emulation(variant.platform))
        arch = arch_of(variant.platform)
        tag += "" if arch == ARCH else f"-{arch}"  # beside the host platform's image, not over it
    base = (
        provide_custom_base(lab, variant)
        if variant.provide_base
        else resolve_or_skip(lab.engine, a["base_ref"], arch)
    )
    builder = (
        resolve_or_skip(lab.engine, a["builder_ref"], arch)
        if a["builder_ref"] != a["base_ref"]
        else None
    )
    build_args = {
        "BASE_IMAGE": base.usable,
        "REVISION": "matrix",
        "CREATED": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if builder:
        build_args["BUILDER_IMAGE"] = builder.usable
    log.info("%s: building %s on %s (%s)", variant.name, tag, base.image, base.kind)
    hits = lab.index.hits
    image = build_image(
        lab.engine,
        project.path,
        tag,
        build_args=build_args,
        secrets=BuildSecrets(lab.ca_bundle, lab.index.url),
        log_path=lab.workdir / f"{variant.name}.build.log",
        platform=variant.platform,
    )
    log.info(
        "%s: built in %.1f s, %.1f MB, %d index requests",
        variant.name,
        image.build_seconds,
        image.size_bytes / 1e6,
        lab.index.hits - hits,
    )
    database = "v_" + variant.name.replace("-", "_")
    lab.postgres.psql(f"DROP DATABASE IF EXISTS {database}")
    lab.postgres.psql(f"CREATE DATABASE {database} OWNER {lab.postgres.user}")
    return Subject(variant, lab, project, image, base, builder, database)
