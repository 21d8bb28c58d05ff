"""One bench run per variant: build, start and load each image, alternating A/B/A/B."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import builds, runs
from benchmarks.builds import Built
from benchmarks.contenders import NAIVE, RENDERED, Contender, main_contenders, proposal_contenders
from benchmarks.dockerfiles import cache_targets, with_cache_ids
from benchmarks.figures import BenchSettings, ContenderResult, VariantResult
from harness.base_images import BaseImage, resolve_base
from harness.engine import Engine
from harness.net import free_port
from harness.postgres import Postgres
from harness.render import render_project
from harness.secrets import HOST_CA_BUNDLE
from harness.variants import Variant
from harness.wrk import WrkError, run_crud_mix, seed_tasks

log = logging.getLogger("harness")
MB = 1e6
# Custom-registry answers need a host; nothing is pushed, so any well-formed one does.
PLACEHOLDER_REGISTRY = "localhost:5000"


class VariantNotBenchable(Exception):
    """The variant cannot be compared here; the message says why."""


@dataclass
class Subject:
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
    subjects: list[Subject] = field(default_factory=list)
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
        if not self.has_pip(self.base.image):
            raise VariantNotBenchable(f"the naive recipe needs pip in the base, and {source} has none")
        self.base_bytes = int(self.engine.docker("image", "inspect", "--format", "{{.Size}}", self.base.image).stdout)
        self.build_args = {"BASE_IMAGE": self.base.image, "REVISION": "bench",
                           "CREATED": self.started_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        if a["builder_ref"] != a["base_ref"]:
            builder = resolve_base(self.engine, a["builder_ref"])
            if not builder.image:
                raise VariantNotBenchable(builder.reason)
            self.build_args["BUILDER_IMAGE"] = builder.image
        contenders = main_contenders(project.path)
        notes: list[str] = []
        if self.settings.proposals:
            extra, skipped = proposal_contenders(project.path)
            contenders += extra
            notes += [f"proposal not measured: {why}" for why in skipped]
        for contender in contenders:
            subject = Subject(contender, ContenderResult(contender.key, contender.label, contender.proposal,
                                                         contender.image_of))
            if contender.builds:
                subject.context = self.workdir / contender.key
                shutil.copytree(project.path, subject.context)
                for relative, source_file in contender.extra_files.items():
                    shutil.copy(source_file, subject.context / relative)
                subject.tag = f"bench-{self.variant.name}-{contender.key}:{self.token}"
                self.targets |= cache_targets(contender.dockerfile or "")
            self.subjects.append(subject)
        self.mounts_before = {r["ID"] for r in builds.cache_mounts(self.engine)}
        base = {"requested": source, "image": self.base.image, "kind": self.base.kind, "reason": self.base.reason,
                "size_mb": round(self.base_bytes / MB, 1)}
        return VariantResult(self.variant.name, base, [s.result for s in self.subjects], notes)

    def has_pip(self, image: str) -> bool:
        probe = self.engine.docker("run", "--rm", "--network", "none", "--entrypoint", "python3", image,
                                   "-m", "pip", "--version", check=False, timeout=120)
        return probe.returncode == 0

    # ---- builds ----

    def built(self) -> list[Subject]:
        return [s for s in self.subjects if s.contender.builds]

    def build(self, subject: Subject, cache_prefix: str, no_cache: bool = False) -> Built:
        assert subject.context is not None and subject.contender.dockerfile is not None
        dockerfile = with_cache_ids(subject.contender.dockerfile, cache_prefix)
        done = builds.build(self.engine, subject.context, dockerfile, subject.tag, build_args=self.build_args,
                            ca_bundle=HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None, no_cache=no_cache)
        self.image_ids.add(done.image_id)
        return done

    def cold_builds(self) -> None:
        for i in range(self.settings.runs):
            for s in self.built():
                since = dt.datetime.now(dt.UTC)
                done = self.build(s, f"bench-{self.token}-{s.contender.key}-cold{i}", no_cache=True)
                # Each cold build had caches of its own; drop them now to keep the disk bounded
                builds.prune_own_cache_mounts(self.engine, self.mounts_before, since, self.targets)
                deps = runs.deps_size(self.engine, done.tag)
                s.result.add("cold_build_s", done.seconds)
                s.result.add("image_mb", done.size_bytes / MB)
                s.result.add("deps_mb", int(deps["bytes"]) / MB)
                s.result.add("overhead_mb", (done.size_bytes - self.base_bytes - int(deps["bytes"])) / MB)
                s.result.facts.update(deps_path=deps["path"], deps_bytecode_mb=round(int(deps["pyc_bytes"]) / MB, 1))
                log.info("bench %s: cold build %d of %s: %.1f s, %.1f MB", self.variant.name, i + 1,
                         s.contender.key, done.seconds, done.size_bytes / MB)

    def warm_prefix(self, s: Subject) -> str:
        return f"bench-{self.token}-{s.contender.key}-warm"

    def code_rebuilds(self) -> None:
        for s in self.built():  # unmeasured: a fresh install fills this contender's warm cache mounts
            s.append("requirements.txt", f"# bench {self.token}")
            self.build(s, self.warm_prefix(s))
            s.deps_layer = builds.layer_holding(self.engine, s.tag, s.contender.deps_marker)
        reused: dict[str, list[bool]] = {}
        for _ in range(self.settings.runs):
            for s in self.built():
                s.edits += 1
                # the token keeps every edit new to BuildKit, whose cache outlives a bench run
                s.append("app/main.py", f'BENCH_EDIT = "{self.token}-{s.edits}"  # a one-line code change')
                done = self.build(s, self.warm_prefix(s))
                layer = builds.layer_holding(self.engine, s.tag, s.contender.deps_marker)
                kept = bool(builds.install_step_cached(done.log)) and layer is not None and layer == s.deps_layer
                reused.setdefault(s.contender.key, []).append(kept)
                s.result.add("code_rebuild_s", done.seconds)
        for s in self.built():
            flags = reused.get(s.contender.key, [])
            s.result.facts["deps_layer_reused"] = f"{sum(flags)}/{len(flags)}"
            s.result.facts["deps_layer"] = (s.deps_layer or "not found")[:19]

    def deps_rebuilds(self) -> None:
        reran: dict[str, list[bool]] = {}
        for _ in range(self.settings.runs):
            for s in self.built():
                s.edits += 1
                s.append("requirements.txt", f"# dependency change {self.token}-{s.edits}")
                done = self.build(s, self.warm_prefix(s))
                reran.setdefault(s.contender.key, []).append(builds.install_step_cached(done.log) is False)
                s.result.add("deps_rebuild_s", done.seconds)
        for s in self.built():
            flags = reran.get(s.contender.key, [])
            s.result.facts["deps_reinstalled"] = f"{sum(flags)}/{len(flags)}"

    # ---- containers ----

    def image_for(self, s: Subject) -> str:
        if s.contender.image_of:
            return next(o.tag for o in self.subjects if o.contender.key == s.contender.image_of)
        return s.tag

    def container_name(self, s: Subject) -> str:
        name = f"bench-{self.token}-{self.variant.name}-{s.contender.key}"
        self.containers.add(name)
        return name

    def database_url(self, s: Subject) -> str:
        pg = self.postgres
        return f"postgresql://{pg.user}:{pg.password}@127.0.0.1:{pg.port}/{s.database}"

    @contextmanager
    def running(self, s: Subject, started: Callable[[float], None] | None = None) -> Iterator[int]:
        port, name = free_port(), self.container_name(s)
        try:
            seconds = runs.start(self.engine, s.contender.run, self.image_for(s), name, port, self.database_url(s))
            if started:
                started(seconds)
            yield port
        finally:
            runs.remove(self.engine, name)

    def prepare_databases(self) -> None:
        for s in self.subjects:
            s.database = f"bench_{self.token}_{s.contender.key}".replace("-", "_")
            self.postgres.psql(f"DROP DATABASE IF EXISTS {s.database}")
            self.postgres.psql(f"CREATE DATABASE {s.database} OWNER {self.postgres.user}")
            with self.running(s):
                pass  # unmeasured: applies the migrations and brings the image's files into the page cache

    def census(self) -> None:
        for s in self.subjects:
            missing = runs.uncompiled_at_start(self.engine, s.contender.run, self.image_for(s),
                                               self.container_name(s), free_port(), self.database_url(s))
            s.result.facts["compiled_at_each_start"] = len(missing)
            s.result.facts["compiled_at_each_start_examples"] = missing[:8]

    def failed_start(self, s: Subject, why: runs.StartFailed) -> None:
        """One start that never answered: counted and shown, so one bad moment of a shared
        machine leaves a gap in the samples instead of ending the whole bench."""
        log.warning("bench %s: %s", self.variant.name, why)
        s.result.facts["failed_starts"] = s.result.facts.get("failed_starts", 0) + 1
        s.result.facts.setdefault("failed_start_example", str(why)[:400])

    def starts(self) -> None:
        """settings.start_runs starts of each image; memory is read on the first `runs` of them."""
        for i in range(self.settings.start_runs):
            for s in self.subjects:
                try:
                    with self.running(s, lambda sec, s=s: s.result.add("start_s", sec)):
                        if i < self.settings.runs:
                            self.idle_memory(s)
                except runs.StartFailed as why:
                    self.failed_start(s, why)

    def idle_memory(self, s: Subject) -> None:
        time.sleep(self.settings.idle_seconds)
        runs.still_running(self.engine, self.container_name(s))
        memory = runs.memory_bytes(self.engine, self.container_name(s))
        s.result.add("idle_rss_mb", memory["rss"] / MB)
        if "pss" in memory:
            s.result.add("idle_pss_mb", memory["pss"] / MB)

    def loads(self) -> None:
        errors: dict[str, int] = {}
        stalled: dict[str, int] = {}
        for _ in range(self.settings.runs):
            for s in (s for s in self.subjects if s.contender.loads):
                # every load starts from the same table: empty, then the same seed
                self.postgres.psql("TRUNCATE task RESTART IDENTITY", database=s.database)
                try:
                    with self.running(s) as port:
                        ids = seed_tasks(port)
                        if self.settings.warmup_seconds > 0:
                            run_crud_mix(port, ids, seconds=self.settings.warmup_seconds,
                                         connections=self.settings.connections)
                        result = run_crud_mix(port, ids, seconds=self.settings.load_seconds,
                                              connections=self.settings.connections)
                except runs.StartFailed as why:
                    self.failed_start(s, why)
                    continue
                except WrkError as why:  # one unreadable load is a gap in the samples, said so
                    log.warning("bench %s: load of %s: %s", self.variant.name, s.contender.key, why)
                    s.result.facts["failed_loads"] = s.result.facts.get("failed_loads", 0) + 1
                    s.result.facts.setdefault("failed_load_example", str(why)[:600])
                    continue
                s.result.add("rps", result.rps)
                if result.p50_ms is None or result.p99_ms is None:
                    stalled[s.contender.key] = stalled.get(s.contender.key, 0) + 1
                else:
                    s.result.add("p50_ms", result.p50_ms)
                    s.result.add("p99_ms", result.p99_ms)
                errors[s.contender.key] = errors.get(s.contender.key, 0) + result.errors
                log.info("bench %s: load %s: %.0f req/s, p99 %s ms, %d errors", self.variant.name,
                         s.contender.key, result.rps, result.p99_ms, result.errors)
        for s in (s for s in self.subjects if s.contender.loads):
            s.result.facts["load_errors"] = errors.get(s.contender.key, 0)
            s.result.facts["stalled_loads"] = f"{stalled.get(s.contender.key, 0)}/{self.settings.runs}"

    # ---- cleanup ----

    def clean_up(self) -> None:
        for name in self.containers:
            runs.remove(self.engine, name)
        for s in self.subjects:
            if s.database:
                self.postgres.psql(f"DROP DATABASE IF EXISTS {s.database} WITH (FORCE)")
        for image_id in self.image_ids:
            self.engine.docker("rmi", "--force", image_id, check=False)
        builds.prune_own_cache_mounts(self.engine, self.mounts_before, self.started_at, self.targets)


def bench_variant(engine: Engine, postgres: Postgres, settings: BenchSettings, variant: Variant,
                  workdir: Path) -> VariantResult:
    started = time.monotonic()
    bench = VariantBench(engine, postgres, settings, variant, workdir)
    try:
        result = bench.prepare()
        steps: list[tuple[str, Callable[[], None]]] = [
            ("cold builds", bench.cold_builds), ("code-change rebuilds", bench.code_rebuilds),
            ("dependency-change rebuilds", bench.deps_rebuilds), ("databases", bench.prepare_databases),
            ("bytecode census", bench.census), ("starts", bench.starts), ("loads", bench.loads)]
        for what, step in steps:
            log.info("bench %s: %s (at %.1f min)", variant.name, what, (time.monotonic() - started) / 60)
            step()
    finally:
        bench.clean_up()
    result.notes += [f"{s.contender.key}: {s.result.facts[key]}" for s in bench.subjects
                     for key in ("failed_start_example", "failed_load_example") if key in s.result.facts]
    result.wall_seconds = time.monotonic() - started
    return result


def default_variant() -> Variant:
    return Variant("default", {})


def summary_line(result: VariantResult) -> str:
    r, n = result.contender(RENDERED), result.contender(NAIVE)
    parts: list[str] = []
    for key in ("image_mb", "start_s", "rps", "p99_ms"):
        a, b = r.median(key), n.median(key)
        if a is not None and b is not None and b:
            parts.append(f"{key} {a:.4g}/{b:.4g} = {a / b:.2f}x")
    return f"{result.variant}: " + ", ".join(parts)


def as_jsonable(results: list[VariantResult]) -> list[dict[str, Any]]:
    return [r.as_dict() for r in results]
