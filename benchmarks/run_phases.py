"""The run phases of a bench run: first starts, a bytecode census, repeated starts with
idle memory, and the CRUD load, each contender in turn."""

from __future__ import annotations

import functools
import logging
import time
from typing import TYPE_CHECKING

from benchmarks import runs
from benchmarks.contenders import RENDERED
from harness.checks.wrk import WrkError, run_crud_mix, seed_tasks
from harness.machine.net import free_port

if TYPE_CHECKING:
    from benchmarks.session import ContenderRun, VariantBench

log = logging.getLogger("harness")
MB = 1e6


def prepare_databases(bench: VariantBench) -> None:
    for s in bench.contender_runs:
        if s.contender.database_of:  # a later contender: the one it shares with is ready
            s.database = next(
                o.database
                for o in bench.contender_runs
                if o.contender.key == s.contender.database_of
            )
            continue
        s.database = f"bench_{bench.token}_{s.contender.key}".replace("-", "_")
        bench.postgres.psql(f"DROP DATABASE IF EXISTS {s.database}")
        bench.postgres.psql(f"CREATE DATABASE {s.database} OWNER {bench.postgres.user}")
        # unmeasured: applies the migrations and brings the image's files into the page cache
        with bench.running(s):
            pass


def census(bench: VariantBench) -> None:
    for s in bench.contender_runs:
        missing = runs.uncompiled_at_start(
            bench.engine,
            s.contender.run,
            bench.image_for(s),
            bench.container_name(s),
            free_port(),
            bench.database_url(s),
        )
        s.result.facts["compiled_at_each_start"] = len(missing)
        s.result.facts["compiled_at_each_start_examples"] = missing[:8]
        if s.contender.key == RENDERED:  # the start floor: importing the app, in-process
            seconds = sorted(
                runs.import_seconds(bench.engine, bench.image_for(s))
                for _ in range(bench.settings.runs)
            )
            s.result.facts["app_import_s"] = round(seconds[len(seconds) // 2], 3)


def failed_start(bench: VariantBench, s: ContenderRun, why: runs.StartFailed) -> None:
    """One start that never answered: counted and shown, so one bad moment of a shared
    machine leaves a gap in the samples instead of ending the whole bench."""
    log.warning("bench %s: %s", bench.variant.name, why)
    s.result.facts["failed_starts"] = s.result.facts.get("failed_starts", 0) + 1
    s.result.facts.setdefault("failed_start_example", str(why)[:400])


def starts(bench: VariantBench) -> None:
    """settings.start_runs starts of each image; memory is read on the first `runs` of them."""
    for i in range(bench.settings.start_runs):
        for s in bench.contender_runs:
            try:
                with bench.running(s, functools.partial(s.result.add, "start_s")):
                    if i < bench.settings.runs:
                        idle_memory(bench, s)
            except runs.StartFailed as why:
                failed_start(bench, s, why)


def idle_memory(bench: VariantBench, s: ContenderRun) -> None:
    time.sleep(bench.settings.idle_seconds)
    runs.still_running(bench.engine, bench.container_name(s))
    memory = runs.memory_bytes(bench.engine, bench.container_name(s))
    s.result.add("idle_rss_mb", memory["rss"] / MB)
    if "pss" in memory:
        s.result.add("idle_pss_mb", memory["pss"] / MB)


def loads(bench: VariantBench) -> None:
    errors: dict[str, int] = {}
    stalled: dict[str, int] = {}
    for _ in range(bench.settings.runs):
        for s in (s for s in bench.contender_runs if s.contender.loads):
            # every load starts from the same table: empty, then the same seed
            bench.postgres.psql("TRUNCATE task RESTART IDENTITY", database=s.database)
            try:
                with bench.running(s) as port:
                    ids = seed_tasks(port)
                    if bench.settings.warmup_seconds > 0:
                        run_crud_mix(
                            port,
                            ids,
                            seconds=bench.settings.warmup_seconds,
                            connections=bench.settings.connections,
                        )
                    result = run_crud_mix(
                        port,
                        ids,
                        seconds=bench.settings.load_seconds,
                        connections=bench.settings.connections,
                    )
            except runs.StartFailed as why:
                failed_start(bench, s, why)
                continue
            except WrkError as why:  # one unreadable load is a gap in the samples, said so
                log.warning("bench %s: load of %s: %s", bench.variant.name, s.contender.key, why)
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
            log.info(
                "bench %s: load %s: %.0f req/s, p99 %s ms, %d errors",
                bench.variant.name,
                s.contender.key,
                result.rps,
                result.p99_ms,
                result.errors,
            )
    for s in (s for s in bench.contender_runs if s.contender.loads):
        s.result.facts["load_errors"] = errors.get(s.contender.key, 0)
        s.result.facts["stalled_loads"] = f"{stalled.get(s.contender.key, 0)}/{bench.settings.runs}"
