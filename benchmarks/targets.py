"""The issue's targets, judged on measured medians (reported, never asserted in tests)."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.contenders import NAIVE, RENDERED
from benchmarks.figures import ContenderResult, VariantResult
from benchmarks.stats import ratio

SIZE_TARGET = 0.9
START_TARGET = 1.0
THROUGHPUT_TARGET = 1.5
WALL_TARGET_S = 600.0


@dataclass(frozen=True)
class Verdict:
    short: str
    target: str
    measured: str
    met: bool | None  # None: not measured


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}x"


def judge(
    image: ContenderResult, naive: ContenderResult, wall_seconds: float | None, images: int = 2
) -> list[Verdict]:
    size = ratio(image.median("image_mb"), naive.median("image_mb"))
    start = ratio(image.median("start_s"), naive.median("start_s"))
    rps = ratio(image.median("rps"), naive.median("rps"))
    p99 = ratio(image.median("p99_ms"), naive.median("p99_ms"))
    reused = str(image.facts.get("deps_layer_reused", ""))
    done, _, total = reused.partition("/")
    verdicts = [
        Verdict(
            "size and start",
            f"size <= {SIZE_TARGET}x naive AND start <= {START_TARGET}x naive",
            f"size {fmt(size)}, start {fmt(start)}",
            None
            if size is None or start is None
            else size <= SIZE_TARGET and start <= START_TARGET,
        ),
        Verdict(
            "code-only rebuild",
            "code-only rebuild reuses the dependency layer every time",
            f"{reused or 'n/a'} rebuilds" if reused else "n/a (same image as rendered)",
            None if not reused else done == total and total not in ("", "0"),
        ),
        Verdict(
            "throughput",
            f"CRUD throughput >= {THROUGHPUT_TARGET}x naive at 32 connections, p99 reported",
            f"throughput {fmt(rps)}, p99 {fmt(p99)}",
            None if rps is None else rps >= THROUGHPUT_TARGET,
        ),
    ]
    if wall_seconds is not None:
        target = f"whole bench for the variant under {WALL_TARGET_S / 60:.0f} minutes"
        if images == 2:
            verdicts.append(
                Verdict(
                    "bench time",
                    target,
                    f"{wall_seconds / 60:.1f} min",
                    wall_seconds < WALL_TARGET_S,
                )
            )
        else:  # proposals make the run longer than the bench the target is about
            verdicts.append(
                Verdict(
                    "bench time",
                    target,
                    f"{wall_seconds / 60:.1f} min for {images} images; "
                    "time a run without --proposals",
                    None,
                )
            )
    return verdicts


def judge_variant(result: VariantResult) -> list[Verdict]:
    return judge(
        result.contender(RENDERED),
        result.contender(NAIVE),
        result.wall_seconds,
        len(result.contenders),
    )
