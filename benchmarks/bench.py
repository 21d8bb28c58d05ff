"""One bench run per variant: build, start and load each image, alternating A/B/A/B."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.build_phases import code_rebuilds, cold_builds, deps_rebuilds
from benchmarks.contenders import NAIVE, RENDERED
from benchmarks.figures import BenchSettings, VariantResult
from benchmarks.run_phases import census, loads, prepare_databases, starts
from benchmarks.session import VariantBench
from harness.machine.engine import Engine
from harness.machine.postgres import Postgres
from harness.matrix.variants import Variant

log = logging.getLogger("harness")


def bench_variant(
    engine: Engine, postgres: Postgres, settings: BenchSettings, variant: Variant, workdir: Path
) -> VariantResult:
    started = time.monotonic()
    bench = VariantBench(engine, postgres, settings, variant, workdir)
    try:
        result = bench.prepare()
        steps: list[tuple[str, Callable[[VariantBench], None]]] = [
            ("cold builds", cold_builds),
            ("code-change rebuilds", code_rebuilds),
            ("dependency-change rebuilds", deps_rebuilds),
            ("databases", prepare_databases),
            ("bytecode census", census),
            ("starts", starts),
            ("loads", loads),
        ]
        for what, step in steps:
            log.info(
                "bench %s: %s (at %.1f min)", variant.name, what, (time.monotonic() - started) / 60
            )
            step(bench)
    finally:
        bench.clean_up()
    result.notes += [
        f"{s.contender.key}: {s.result.facts[key]}"
        for s in bench.contender_runs
        for key in ("failed_start_example", "failed_load_example")
        if key in s.result.facts
    ]
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
