"""The bench's entry point for tasks.py and the smoke test: variants in, report out."""

from __future__ import annotations

import datetime as dt
import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench import bench_variant, default_variant, summary_line
from benchmarks.figures import BenchSettings, VariantResult
from benchmarks.report import BenchOutcome, Machine, write_outputs
from benchmarks.session import PLACEHOLDER_REGISTRY, VariantNotBenchable
from extensions.questions import builder_ref, image_family, pinned_base
from harness.checks.wrk import find_wrk
from harness.machine.emulation import is_emulated
from harness.machine.engine import ensure_engine
from harness.machine.postgres import Postgres
from harness.matrix.variants import ROOT, Variant, load_variants

log = logging.getLogger("harness")
DOCS = ROOT / "docs"


@dataclass(frozen=True)
class BenchRun:
    report: Path
    results: list[VariantResult]
    skipped: dict[str, str]
    wall_seconds: float


def chosen(all_variants: bool) -> tuple[list[Variant], dict[str, str]]:
    """The variants to bench, and why each other matrix variant is not benched."""
    if not all_variants:
        return [default_variant()], {}
    picked: dict[tuple[str, str], Variant] = {}
    skipped: dict[str, str] = {}
    for variant in load_variants():
        answers = variant.answers_for(PLACEHOLDER_REGISTRY)
        base = (variant.provide_base or {}).get("from") or pinned_base(answers["base_image"], "")
        family = answers.get("base_family") or image_family(answers["base_image"])
        builder = builder_ref(base, answers["base_image"], family, answers.get("builder_image", ""))
        key = (base, builder)
        if is_emulated(variant.platform):
            skipped[variant.name] = (
                f"built for {variant.platform}, which runs under qemu here: its figures would"
                " measure the emulator"
            )
        elif key in picked:
            skipped[variant.name] = (
                f"the same base as {picked[key].name}, so the same naive and peer images; its"
                " rendered image differs only in its answers (installer, port, registry),"
                " which the matrix checks: not benched again (each base costs 10-25 min at 5 runs)"
            )
        else:
            picked[key] = variant
    return list(picked.values()), skipped


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
    variants, skipped = chosen(all_variants)
    with tempfile.TemporaryDirectory(prefix="task-api-bench-") as tmp, Postgres() as postgres:
        for variant in variants:
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
