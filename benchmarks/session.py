"""One variant's bench while it runs: its contenders, containers, images and clean-up."""

from __future__ import annotations

import datetime as dt
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import builds, runs
from benchmarks.contenders import Contender, main_contenders, proposal_contenders
from benchmarks.dockerfiles import cache_targets
from benchmarks.figures import BenchSettings, ContenderResult, VariantResult
from benchmarks.peer_recipes import floor_contender, peer_contenders
from benchmarks.pip_routes import contenders_for, pip_route
from harness.images.base_images import BaseImage, resolve_base
from harness.machine.engine import Engine
from harness.machine.net import free_port
from harness.machine.postgres import Postgres
from harness.matrix.render import render_project
from harness.matrix.variants import Variant

MB = 1e6
# Custom-registry answers need a host; nothing is pushed, so any well-formed one does.
PLACEHOLDER_REGISTRY = "localhost:5000"


class VariantNotBenchable(Exception):
    """The variant cannot be compared here; the message says why."""


@dataclass
class ContenderRun:
    """What the bench knows about one contender while it runs."""

    contender: Contender
    result: ContenderResult
    context: Path | None = None
    tag: str = ""
    deps_layer: str | None = None
    edits: int = 0
    database: str = ""

    def append(self, relative: str, line: str) -> None:
        """Add one line to a file of this contender's build context (an edit a developer makes)."""
        assert self.context is not None, f"{self.contender.key} has no build context"
        with open(self.context / relative, "a") as handle:
            handle.write(line + "\n")


@dataclass
class VariantBench:
    engine: Engine
    postgres: Postgres
    settings: BenchSettings
    variant: Variant
    workdir: Path
    token: str = field(default_factory=lambda: secrets.token_hex(3))
    contender_runs: list[ContenderRun] = field(default_factory=list)
    image_ids: set[str] = field(default_factory=set)
    containers: set[str] = field(default_factory=set)
    build_args: dict[str, str] = field(default_factory=dict)
    base: BaseImage | None = None
    base_bytes: int = 0
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    mounts_before: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)

    # ---- setup ----

    def prepare(self) -> VariantResult:
        answers = self.variant.answers_for(PLACEHOLDER_REGISTRY)
        project = render_project(answers, self.workdir / "project")
        a = project.answers
        source = (self.variant.provide_base or {}).get("from") or a["base_ref"]
        self.base = resolve_base(self.engine, source)
        if self.base.kind == "skipped" or not self.base.image:
            raise VariantNotBenchable(self.base.reason)
        self.base_bytes = int(
            self.engine.docker("image", "inspect", "--format", "{{.Size}}", self.base.image).stdout
        )
        self.build_args = {
            "BASE_IMAGE": self.base.image,
            "REVISION": "bench",
            "CREATED": self.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        if a["builder_ref"] != a["base_ref"]:
            builder = resolve_base(self.engine, a["builder_ref"])
            if not builder.image:
                raise VariantNotBenchable(builder.reason)
            self.build_args["BUILDER_IMAGE"] = builder.image
        contenders, notes = contenders_for(
            pip_route(self.engine, self.base.image),
            [*main_contenders(project.path), *peer_contenders(), floor_contender()],
        )
        if self.settings.proposals:
            extra, skipped = proposal_contenders(project.path)
            contenders += extra
            notes += [f"proposal not measured: {why}" for why in skipped]
        for contender in contenders:
            entry = ContenderRun(
                contender,
                ContenderResult(
                    contender.key, contender.label, contender.proposal, contender.image_of
                ),
            )
            entry.result.facts.update(workers=contender.workers, peer=contender.peer)
            if contender.builds:
                entry.context = self.workdir / contender.key
                shutil.copytree(project.path, entry.context)
                for relative, source_file in contender.extra_files.items():
                    shutil.copy(source_file, entry.context / relative)
                entry.tag = f"bench-{self.variant.name}-{contender.key}:{self.token}"
                self.targets |= cache_targets(contender.dockerfile or "")
            self.contender_runs.append(entry)
        self.mounts_before = {r["ID"] for r in builds.cache_mounts(self.engine)}
        base = {
            "requested": source,
            "image": self.base.image,
            "kind": self.base.kind,
            "reason": self.base.reason,
            "size_mb": round(self.base_bytes / MB, 1),
        }
        return VariantResult(
            self.variant.name, base, [s.result for s in self.contender_runs], notes
        )

    # ---- containers ----

    def image_for(self, s: ContenderRun) -> str:
        if s.contender.image_of:
            return next(
                o.tag for o in self.contender_runs if o.contender.key == s.contender.image_of
            )
        return s.tag

    def container_name(self, s: ContenderRun) -> str:
        name = f"bench-{self.token}-{self.variant.name}-{s.contender.key}"
        self.containers.add(name)
        return name

    def database_url(self, s: ContenderRun) -> str:
        pg = self.postgres
        return f"postgresql://{pg.user}:{pg.password}@127.0.0.1:{pg.port}/{s.database}"

    @contextmanager
    def running(
        self, s: ContenderRun, started: Callable[[float], None] | None = None
    ) -> Iterator[int]:
        port, name = free_port(), self.container_name(s)
        try:
            seconds = runs.start(
                self.engine, s.contender.run, self.image_for(s), name, port, self.database_url(s)
            )
            if started:
                started(seconds)
            yield port
        finally:
            runs.remove(self.engine, name)

    # ---- cleanup ----

    def clean_up(self) -> None:
        for name in self.containers:
            runs.remove(self.engine, name)
        for s in self.contender_runs:
            if s.database:
                self.postgres.psql(f"DROP DATABASE IF EXISTS {s.database} WITH (FORCE)")
        for image_id in self.image_ids:
            self.engine.docker("rmi", "--force", image_id, check=False)
        builds.prune_own_cache_mounts(
            self.engine, self.mounts_before, self.started_at, self.targets
        )
