"""Issue 13's targets, judged on measured medians as ratios to the best peer recipe on each
figure (reported, never asserted in tests), and the floors each figure cannot go below."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.contenders import RENDERED
from benchmarks.figures import FIGURE_BY_KEY, ContenderResult, VariantResult
from benchmarks.stats import ratio

SIZE_TARGET = 0.9
START_TARGET = 1.0
THROUGHPUT_TARGET = 1.2
P99_TARGET = 1.0
PSS_TARGET = 1.0
COLD_BUILD_TARGET = 1.0
CODE_REBUILD_TARGET = 1.5

# What was tried for a target the template misses, shown under the targets table when it is.
TRIED = {
    "size": "the venv alone reaches the runtime stage, wheels' debug symbols are stripped, and"
    " no package manager cache or build tool is left in a layer.",
    "start": "gunicorn imports the app once, before it forks the workers (preload), and"
    " freezes what it imported (gc.freeze); a compile step for the app's own modules saved"
    " 0-40 ms, within the noise, and was dropped. The floor shows the app's own import is"
    " most of every recipe's start; the rest is gunicorn's arbiter and the fork of each"
    " worker, which a single uvicorn process does not pay.",
    "cold build": "the build tools (binutils for strip, tini) install in a stage that BuildKit"
    " runs beside the dependency install, instead of before it. What is left is what the"
    " peers do not do: an installer venv, stripping the wheels (without it the image grows"
    " by some 20 MB and misses the size target) and tini (PID 1 that never drops an early"
    " SIGTERM).",
    "code rebuild": "the app's code is copied last, in its own layers, with no compile step"
    " after it.",
    "throughput": "every recipe runs the same app code on the same event loop and HTTP parser"
    " (uvloop, httptools), so at equal worker count only the process manager differs."
    " Without the access log line the rendered image served 9% more (proposal `quiet`, an"
    " earlier run), not 20%. The floor shows where the rest goes: FastAPI's validation and"
    " the ORM round trip, which every recipe pays alike.",
    "idle PSS": "workers are forked after the import, so they share its pages.",
}


@dataclass(frozen=True)
class Verdict:
    short: str
    target: str
    measured: str
    met: bool | None  # None: not measured


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}x"


def peers(result: VariantResult) -> list[ContenderResult]:
    return [c for c in result.contenders if c.facts.get("peer")]


def best_peer(
    candidates: list[ContenderResult], key: str, built: bool = False
) -> ContenderResult | None:
    """The peer with the best median on key (built: only peers with their own build)."""
    measured = [c for c in candidates if c.median(key) is not None and not (built and c.image_of)]
    if not measured:
        return None
    higher = FIGURE_BY_KEY[key].higher_is_better
    return (max if higher else min)(measured, key=lambda c: c.median(key) or 0.0)


def against(
    image: ContenderResult, peer: ContenderResult | None, key: str, limit: float
) -> tuple[str, bool | None]:
    """'0.93x fastapi-docs (target <= 1.0x: met by 7%)' and whether the limit is met."""
    if peer is None:
        return "n/a (no peer measured)", None
    value = ratio(image.median(key), peer.median(key))
    if value is None:
        return f"n/a (vs {peer.key})", None
    higher = FIGURE_BY_KEY[key].higher_is_better
    met = value >= limit if higher else value <= limit
    margin = abs(value / limit - 1) * 100
    sign = ">=" if higher else "<="
    how = f"met by {margin:.0f}%" if met else f"missed by {margin:.0f}%"
    return f"{value:.2f}x {peer.key} (target {sign} {limit}x: {how})", met


def judge(image: ContenderResult, result: VariantResult) -> list[Verdict]:
    everyone = peers(result)
    same = [c for c in everyone if c.facts.get("workers") == image.facts.get("workers")]
    verdicts = []
    rows = (
        ("size", "image_mb", SIZE_TARGET, everyone, True, "image size <= {}x the smallest peer"),
        ("start", "start_s", START_TARGET, everyone, False, "start <= {}x the fastest peer"),
        (
            "cold build",
            "cold_build_s",
            COLD_BUILD_TARGET,
            everyone,
            True,
            "cold build <= {}x the fastest peer",
        ),
    )
    for short, key, limit, pool, built, target in rows:
        text, met = against(image, best_peer(pool, key, built), key, limit)
        verdicts.append(Verdict(short, target.format(limit), text, met))
    text, met = against(
        image, best_peer(everyone, "code_rebuild_s", True), "code_rebuild_s", CODE_REBUILD_TARGET
    )
    reused = str(image.facts.get("deps_layer_reused", ""))
    done, _, total = reused.partition("/")
    kept = bool(reused) and done == total and total not in ("", "0")
    verdicts.append(
        Verdict(
            "code rebuild",
            f"code-only rebuild <= {CODE_REBUILD_TARGET}x the fastest peer,"
            " dependency layer reused every time",
            f"{text}; dependency layer reused {reused or 'n/a'}",
            None if met is None or not reused else met and kept,
        )
    )
    peer = best_peer(same, "rps")
    rps_text, rps_met = against(image, peer, "rps", THROUGHPUT_TARGET)
    p99_text, p99_met = against(image, peer, "p99_ms", P99_TARGET)
    verdicts.append(
        Verdict(
            "throughput",
            f"CRUD throughput >= {THROUGHPUT_TARGET}x the best peer at the same worker count"
            f" ({image.facts.get('workers')}), p99 <= {P99_TARGET}x",
            f"throughput {rps_text}; p99 {p99_text}",
            None if rps_met is None or p99_met is None else rps_met and p99_met,
        )
    )
    text, met = against(image, best_peer(same, "idle_pss_mb"), "idle_pss_mb", PSS_TARGET)
    verdicts.append(
        Verdict(
            "idle PSS", f"idle PSS <= {PSS_TARGET}x the peer with the same worker count", text, met
        )
    )
    return verdicts


def judge_variant(result: VariantResult) -> list[Verdict]:
    return judge(result.contender(RENDERED), result)
