"""The bench's entry point for tasks.py and the smoke test: variants in, report out."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench import VariantNotBenchable, bench_variant, default_variant, summary_line
from benchmarks.figures import BenchSettings, VariantResult
from benchmarks.report import BenchOutcome, Machine, write_outputs
from harness.engine import ensure_engine
from harness.postgres import Postgres
from harness.variants import ROOT, Variant, load_variants
from harness.wrk import find_wrk

log = logging.getLogger("harness")
DOCS = ROOT / "docs"


@dataclass(frozen=True)
class BenchRun:
    report: Path
    results: list[VariantResult]
    skipped: dict[str, str]
    wall_seconds: float


def chosen(all_variants: bool) -> list[Variant]:
    return load_variants() if all_variants else [default_variant()]


def run_bench(
    settings: BenchSettings, *, all_variants: bool = False, out_dir: Path = DOCS
) -> BenchRun:
    """Bench the default variant (or every buildable one) and write the report into out_dir."""
    started, load_at_start = time.monotonic(), os.getloadavg()[0]
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    find_wrk()  # fail before any build when the load generator is missing
    engine = ensure_engine()
    log.info("bench: engine %s", engine.buildkit)
    results: list[VariantResult] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="task-api-bench-") as tmp, Postgres() as postgres:
        for variant in chosen(all_variants):
            try:
                result = bench_variant(
                    engine, postgres, settings, variant, Path(tmp) / variant.name
                )
            except VariantNotBenchable as why:
                skipped[variant.name] = str(why)
                log.info("bench %s: skipped: %s", variant.name, why)
                continue
            log.info("bench %s", summary_line(result))
            results.append(result)
    wall = time.monotonic() - started
    machine = Machine.describe(engine, load_at_start)
    report = write_outputs(out_dir, BenchOutcome(results, skipped, machine, settings, date, wall))
    return BenchRun(report, results, skipped, wall)
