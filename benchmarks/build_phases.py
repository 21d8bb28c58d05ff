"""The build phases of a bench run: cold builds, then rebuilds after a one-line code edit
and after a dependency edit, each contender in turn."""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from benchmarks import builds, runs
from benchmarks.builds import Built
from benchmarks.dockerfiles import with_cache_ids
from harness.images.secrets import HOST_CA_BUNDLE

if TYPE_CHECKING:
    from benchmarks.session import ContenderRun, VariantBench

log = logging.getLogger("harness")
MB = 1e6


def built(bench: VariantBench) -> list[ContenderRun]:
    return [s for s in bench.contender_runs if s.contender.builds]


def build_contender(
    bench: VariantBench, entry: ContenderRun, cache_prefix: str, no_cache: bool = False
) -> Built:
    assert entry.context is not None and entry.contender.dockerfile is not None
    dockerfile = with_cache_ids(entry.contender.dockerfile, cache_prefix)
    done = builds.build(
        bench.engine,
        entry.context,
        dockerfile,
        entry.tag,
        build_args=bench.build_args,
        ca_bundle=HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None,
        no_cache=no_cache,
    )
    bench.image_ids.add(done.image_id)
    return done


def cold_builds(bench: VariantBench) -> None:
    for i in range(bench.settings.runs):
        for s in built(bench):
            since = dt.datetime.now(dt.UTC)
            done = build_contender(
                bench, s, f"bench-{bench.token}-{s.contender.key}-cold{i}", no_cache=True
            )
            # Each cold build had caches of its own; drop them now to keep the disk bounded
            builds.prune_own_cache_mounts(bench.engine, bench.mounts_before, since, bench.targets)
            deps = runs.deps_size(bench.engine, done.tag)
            s.result.add("cold_build_s", done.seconds)
            s.result.add("image_mb", done.size_bytes / MB)
            s.result.add("deps_mb", deps["bytes"] / MB)
            s.result.add("overhead_mb", (done.size_bytes - bench.base_bytes - deps["bytes"]) / MB)
            s.result.facts.update(
                deps_path=deps["path"], deps_bytecode_mb=round(deps["pyc_bytes"] / MB, 1)
            )
            log.info(
                "bench %s: cold build %d of %s: %.1f s, %.1f MB",
                bench.variant.name,
                i + 1,
                s.contender.key,
                done.seconds,
                done.size_bytes / MB,
            )


def warm_prefix(bench: VariantBench, s: ContenderRun) -> str:
    return f"bench-{bench.token}-{s.contender.key}-warm"


def code_rebuilds(bench: VariantBench) -> None:
    for s in built(bench):  # unmeasured: a fresh install fills this contender's warm cache mounts
        s.append("requirements.txt", f"# bench {bench.token}")
        build_contender(bench, s, warm_prefix(bench, s))
        s.deps_layer = builds.layer_holding(bench.engine, s.tag, s.contender.deps_marker)
    reused: dict[str, list[bool]] = {}
    for _ in range(bench.settings.runs):
        for s in built(bench):
            s.edits += 1
            # the token keeps every edit new to BuildKit, whose cache outlives a bench run
            s.append(
                "app/main.py", f'BENCH_EDIT = "{bench.token}-{s.edits}"  # a one-line code change'
            )
            done = build_contender(bench, s, warm_prefix(bench, s))
            layer = builds.layer_holding(bench.engine, s.tag, s.contender.deps_marker)
            kept = (
                bool(builds.install_step_cached(done.log))
                and layer is not None
                and layer == s.deps_layer
            )
            reused.setdefault(s.contender.key, []).append(kept)
            s.result.add("code_rebuild_s", done.seconds)
    for s in built(bench):
        flags = reused.get(s.contender.key, [])
        s.result.facts["deps_layer_reused"] = f"{sum(flags)}/{len(flags)}"
        s.result.facts["deps_layer"] = (s.deps_layer or "not found")[:19]


def deps_rebuilds(bench: VariantBench) -> None:
    reran: dict[str, list[bool]] = {}
    for _ in range(bench.settings.runs):
        for s in built(bench):
            s.edits += 1
            s.append("requirements.txt", f"# dependency change {bench.token}-{s.edits}")
            done = build_contender(bench, s, warm_prefix(bench, s))
            reran.setdefault(s.contender.key, []).append(
                builds.install_step_cached(done.log) is False
            )
            s.result.add("deps_rebuild_s", done.seconds)
    for s in built(bench):
        flags = reran.get(s.contender.key, [])
        s.result.facts["deps_reinstalled"] = f"{sum(flags)}/{len(flags)}"
