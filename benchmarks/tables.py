"""The tables of docs/benchmarks.md: figures, facts, targets and proposals of one variant."""

from __future__ import annotations

from benchmarks.contenders import NAIVE, RENDERED
from benchmarks.figures import FIGURE_BY_KEY, FIGURES, ContenderResult, VariantResult
from benchmarks.peer_recipes import FLOOR
from benchmarks.stats import ratio
from benchmarks.targets import TRIED, best_peer, judge, judge_variant, peers


def cell(c: ContenderResult, key: str) -> str:
    series = c.series.get(key)
    if series is None or series.median is None:
        return "-"
    digits = 0 if key == "rps" else (1 if key.endswith("_mb") or key.endswith("_ms") else 2)
    low, high = f"{series.low:.{digits}f}", f"{series.high:.{digits}f}"
    spread = "" if low == high else f" ({low}-{high})"
    return f"{series.median:.{digits}f}{spread}"


def ratio_cell(c: ContenderResult, naive: ContenderResult, key: str) -> str:
    value = ratio(c.median(key), naive.median(key))
    return "-" if value is None else f"{value:.2f}x"


def compared(result: VariantResult) -> list[ContenderResult]:
    """The images the main tables show: rendered, naive and the peers (not the floor)."""
    return [c for c in result.contenders if c.key in (RENDERED, NAIVE) or c.facts.get("peer")]


def shown_cell(c: ContenderResult, key: str) -> str:
    return "same image" if FIGURE_BY_KEY[key].from_build and c.image_of else cell(c, key)


def best_peer_cell(result: VariantResult, key: str) -> str:
    rendered = result.contender(RENDERED)
    if not FIGURE_BY_KEY[key].from_build:
        same = [c for c in peers(result) if c.facts.get("workers") == rendered.facts.get("workers")]
        if key in ("rps", "p50_ms", "p99_ms", "idle_rss_mb", "idle_pss_mb") and same:
            peer = best_peer(same, key)
        else:
            peer = best_peer(peers(result), key)
    else:
        peer = best_peer(peers(result), key, built=True)
    if peer is None:
        return "-"
    return f"{ratio_cell(rendered, peer, key)} ({peer.key})"


def figures_table(result: VariantResult) -> list[str]:
    shown = compared(result)
    lines = [
        "| Figure | "
        + " | ".join(c.label for c in shown)
        + " | rendered / naive | rendered / best peer |",
        "|---|" + "---:|" * (len(shown) + 2),
    ]
    for f in FIGURES:
        lines.append(
            f"| {f.label} ({f.unit}) | "
            + " | ".join(shown_cell(c, f.key) for c in shown)
            + f" | {ratio_cell(result.contender(RENDERED), result.contender(NAIVE), f.key)}"
            + f" | {best_peer_cell(result, f.key)} |"
        )
    return lines


def limits_table(result: VariantResult) -> list[str]:
    """Each figure's floor (what no recipe can beat on this base) and our distance to it."""
    r = result.contender(RENDERED)
    base_mb, deps_mb = result.base.get("size_mb"), r.median("deps_mb")
    size, start, rps = r.median("image_mb"), r.median("start_s"), r.median("rps")
    imported = r.facts.get("app_import_s")
    floor = next((c for c in result.contenders if c.key == FLOOR), None)
    floor_rps = floor.median("rps") if floor else None
    lines = ["| Figure | Floor | Rendered | Distance |", "|---|---|---|---|"]
    if size is not None and deps_mb is not None and base_mb is not None:
        lines.append(
            f"| Image size | base {base_mb:.1f} MB + installed dependencies {deps_mb:.1f} MB"
            f" = {base_mb + deps_mb:.1f} MB | {size:.1f} MB"
            f" | +{size - base_mb - deps_mb:.1f} MB ({size / (base_mb + deps_mb):.2f}x) |"
        )
    if start is not None and imported:
        lines.append(
            f"| Start to first 200 | `import app.main` in-process in the image: {imported:.2f} s"
            f" | {start:.2f} s | +{start - imported:.2f} s ({start / imported:.1f}x) |"
        )
    if rps is not None and floor_rps:
        p99 = f", p99 {floor.median('p99_ms'):.1f} ms" if floor and floor.median("p99_ms") else ""
        lines.append(
            f"| CRUD throughput | plain ASGI app (benchmarks/floor_app.py), one single-row"
            f" statement per request, same gunicorn settings and {r.facts.get('workers')} workers:"
            f" {floor_rps:.0f} req/s{p99} | {rps:.0f} req/s | {rps / floor_rps:.2f}x the floor |"
        )
    return lines


def facts_table(result: VariantResult) -> list[str]:
    shown = compared(result)
    rows = [
        (
            "Dependency layer reused by the code-only rebuilds"
            " (install step CACHED and its layer's digest unchanged)",
            "deps_layer_reused",
        ),
        ("Dependencies reinstalled by the dependency-change rebuilds", "deps_reinstalled"),
        ("Server processes (workers)", "workers"),
        ("Where the dependencies are installed", "deps_path"),
        ("Bytecode within the installed dependencies (MB)", "deps_bytecode_mb"),
        (
            "Modules compiled again by every fresh container"
            " (imported at start and by CRUD, no valid .pyc in the image)",
            "compiled_at_each_start",
        ),
        ("Errors during the loads (non-2xx, socket errors, timeouts)", "load_errors"),
        ("Loads in which not one request was answered (a stalled server)", "stalled_loads"),
        ("Starts that never answered 200 within 60 s (sample left out)", "failed_starts"),
        ("Loads wrk could not run or report on (sample left out)", "failed_loads"),
    ]
    lines = ["| Fact | " + " | ".join(c.label for c in shown) + " |", "|---|" + "---|" * len(shown)]
    for label, key in rows:
        lines.append(
            f"| {label} | "
            + " | ".join(
                f"{c.facts.get(key, 0 if key.startswith('failed_') else '-')}" for c in shown
            )
            + " |"
        )
    return lines


def targets_table(result: VariantResult) -> list[str]:
    lines = ["| Target | Measured (rendered / best peer) | Met |", "|---|---|---|"]
    verdicts = judge_variant(result)
    for v in verdicts:
        met = "n/a" if v.met is None else ("yes" if v.met else "no")
        lines.append(f"| {v.target} | {v.measured} | {met} |")
    missed = [v for v in verdicts if v.met is False]
    if missed:
        lines += ["", "What was tried for the targets missed:", ""]
        lines += [f"- **{v.short}**: {TRIED[v.short]}" for v in missed]
    return lines


def proposals_table(result: VariantResult) -> list[str]:
    proposals = [c for c in result.contenders if c.proposal]
    if not proposals:
        return []
    naive, rendered = result.contender(NAIVE), result.contender(RENDERED)
    keys = ("image_mb", "start_s", "idle_pss_mb", "rps", "p99_ms")
    lines = [
        "",
        "### Proposed template changes, measured in the same run",
        "",
        "Each proposal is measured beside the two images above (same alternation, same runs). "
        "Figures are medians; the ratio to naive, then to the current rendered image.",
        "",
        "| Proposal | "
        + " | ".join(f.label for f in FIGURES if f.key in keys)
        + " | Targets met |",
        "|---|" + "---|" * (len(keys) + 1),
    ]
    for c in [rendered, *proposals]:
        cells = []
        for f in (f for f in FIGURES if f.key in keys):
            if c.median(f.key) is None or (f.from_build and c.image_of):
                cells.append("same image" if c.image_of else "-")
                continue
            cells.append(
                f"{cell(c, f.key).split(' ')[0]} ({ratio_cell(c, naive, f.key)} naive, "
                f"{ratio_cell(c, rendered, f.key)} rendered)"
            )
        met = [v for v in judge(c, result) if v.met is not None]
        verdict = ", ".join(f"{v.short} {'met' if v.met else 'unmet'}" for v in met)
        what = c.proposal or "current template (for reference)"
        lines.append(f"| **{c.label}**: {what} | " + " | ".join(cells) + f" | {verdict} |")
    return lines
