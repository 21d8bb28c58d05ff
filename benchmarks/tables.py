"""The tables of docs/benchmarks.md: figures, facts, targets and proposals of one variant."""

from __future__ import annotations

from benchmarks.contenders import NAIVE, RENDERED
from benchmarks.figures import FIGURES, ContenderResult, VariantResult
from benchmarks.stats import ratio
from benchmarks.targets import judge, judge_variant


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


def figures_table(result: VariantResult) -> list[str]:
    shown = [c for c in result.contenders if c.key in (RENDERED, NAIVE)]
    rendered, naive = result.contender(RENDERED), result.contender(NAIVE)
    lines = [
        "| Figure | "
        + " | ".join(f"{c.label}: median (min-max)" for c in shown)
        + " | rendered / naive |",
        "|---|" + "---:|" * (len(shown) + 1),
    ]
    for f in FIGURES:
        lines.append(
            f"| {f.label} ({f.unit}) | "
            + " | ".join(cell(c, f.key) for c in shown)
            + f" | {ratio_cell(rendered, naive, f.key)} |"
        )
    return lines


def facts_table(result: VariantResult) -> list[str]:
    shown = [c for c in result.contenders if c.key in (RENDERED, NAIVE)]
    rows = [
        (
            "Dependency layer reused by the code-only rebuilds"
            " (install step CACHED and its layer's digest unchanged)",
            "deps_layer_reused",
        ),
        ("Dependencies reinstalled by the dependency-change rebuilds", "deps_reinstalled"),
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
    lines = ["| Target | Measured (rendered / naive) | Met |", "|---|---|---|"]
    for v in judge_variant(result):
        met = "n/a" if v.met is None else ("yes" if v.met else "no")
        lines.append(f"| {v.target} | {v.measured} | {met} |")
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
        met = [v for v in judge(c, naive, None) if v.met is not None]
        verdict = ", ".join(f"{v.short} {'met' if v.met else 'unmet'}" for v in met)
        what = c.proposal or "current template (for reference)"
        lines.append(f"| **{c.label}**: {what} | " + " | ".join(cells) + f" | {verdict} |")
    return lines
