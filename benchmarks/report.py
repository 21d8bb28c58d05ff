"""docs/benchmarks.md, its chart and its raw figures, from one bench run."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.chart import chart_svg
from benchmarks.contenders import NAIVE, RENDERED
from benchmarks.figures import FIGURES, BenchSettings, ContenderResult, VariantResult
from benchmarks.stats import ratio
from benchmarks.targets import judge, judge_variant
from harness.engine import Engine
from harness.variants import ROOT

PROPOSALS_DIR = ROOT / "benchmarks" / "proposals"
REPORT_NAME = "benchmarks.md"
CHART_NAME = "benchmarks.svg"
DATA_NAME = "benchmarks.json"


@dataclass(frozen=True)
class Machine:
    cpus: int
    memory_gib: float
    cpu_model: str
    kernel: str
    docker_server: str
    buildkit: str
    load_average: str  # 1-minute load average at the start and the end of the bench


    @classmethod
    def describe(cls, engine: Engine, load_at_start: float) -> Machine:
        meminfo = Path("/proc/meminfo").read_text()
        kib = int(next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemTotal:")))
        cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.splitlines() if line.startswith("model name")),
                     platform.processor() or "unknown")
        server = engine.docker("version", "--format", "{{.Server.Version}}", check=False).stdout.strip()
        return cls(len(os.sched_getaffinity(0)), round(kib / 2**20, 1), model, platform.release(),
                   server or "unknown", engine.buildkit, f"{load_at_start:.1f} / {os.getloadavg()[0]:.1f}")


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
    lines = ["| Figure | " + " | ".join(f"{c.label}: median (min-max)" for c in shown) + " | rendered / naive |",
             "|---|" + "---:|" * (len(shown) + 1)]
    for f in FIGURES:
        lines.append(f"| {f.label} ({f.unit}) | " + " | ".join(cell(c, f.key) for c in shown)
                     + f" | {ratio_cell(rendered, naive, f.key)} |")
    return lines


def facts_table(result: VariantResult) -> list[str]:
    shown = [c for c in result.contenders if c.key in (RENDERED, NAIVE)]
    rows = [
        ("Dependency layer reused by the code-only rebuilds (install step CACHED and its layer's digest unchanged)",
         "deps_layer_reused"),
        ("Dependencies reinstalled by the dependency-change rebuilds", "deps_reinstalled"),
        ("Where the dependencies are installed", "deps_path"),
        ("Bytecode within the installed dependencies (MB)", "deps_bytecode_mb"),
        ("Modules compiled again by every fresh container (imported at start and by CRUD, no valid .pyc in the image)",
         "compiled_at_each_start"),
        ("Errors during the loads (non-2xx, socket errors, timeouts)", "load_errors"),
        ("Loads in which not one request was answered (a stalled server)", "stalled_loads"),
        ("Starts that never answered 200 within 60 s (sample left out)", "failed_starts"),
        ("Loads whose wrk output could not be read (sample left out)", "failed_loads"),
    ]
    lines = ["| Fact | " + " | ".join(c.label for c in shown) + " |", "|---|" + "---|" * len(shown)]
    for label, key in rows:
        lines.append(f"| {label} | " + " | ".join(f"{c.facts.get(key, 0 if key.startswith('failed_') else '-')}"
                                                 for c in shown) + " |")
    return lines


def targets_table(result: VariantResult) -> list[str]:
    lines = ["| Target | Measured (rendered / naive) | Met |", "|---|---|---|"]
    for v in judge_variant(result):
        lines.append(f"| {v.target} | {v.measured} | {'n/a' if v.met is None else ('yes' if v.met else 'no')} |")
    return lines


def proposals_table(result: VariantResult) -> list[str]:
    proposals = [c for c in result.contenders if c.proposal]
    if not proposals:
        return []
    naive, rendered = result.contender(NAIVE), result.contender(RENDERED)
    keys = ("image_mb", "start_s", "idle_pss_mb", "rps", "p99_ms")
    lines = ["", "### Proposed template changes, measured in the same run", "",
             "Each proposal is measured beside the two images above (same alternation, same runs). "
             "Figures are medians; the ratio to naive, then to the current rendered image.", "",
             "| Proposal | " + " | ".join(f.label for f in FIGURES if f.key in keys) + " | Targets met |",
             "|---|" + "---|" * (len(keys) + 1)]
    for c in [rendered, *proposals]:
        cells = []
        for f in (f for f in FIGURES if f.key in keys):
            if c.median(f.key) is None or (f.from_build and c.image_of):
                cells.append("same image" if c.image_of else "-")
                continue
            cells.append(f"{cell(c, f.key).split(' ')[0]} ({ratio_cell(c, naive, f.key)} naive, "
                         f"{ratio_cell(c, rendered, f.key)} rendered)")
        met = [v for v in judge(c, naive, None) if v.met is not None]
        verdict = ", ".join(f"{v.short} {'met' if v.met else 'unmet'}" for v in met)
        what = c.proposal or "current template (for reference)"
        lines.append(f"| **{c.label}**: {what} | " + " | ".join(cells) + f" | {verdict} |")
    return lines


def variant_section(result: VariantResult, chart: str | None) -> list[str]:
    base = result.base
    lines = [f"## Variant `{result.variant}`", "",
             f"Base image: `{base['requested']}` -> `{base['image']}` ({base['kind']}, {base['size_mb']} MB). "
             f"{base['reason']}.", "", *figures_table(result), "", *facts_table(result), "",
             "### Targets (from issue 7)", "", *targets_table(result), *proposals_table(result)]
    if chart:
        lines += ["", f"![rendered and proposals as a ratio to naive]({chart})"]
    lines += ["", *[f"- {note}" for note in result.notes]] if result.notes else []
    lines.append(f"\nBench wall time for this variant: {result.wall_seconds / 60:.1f} min.")
    return lines


METHOD = """\
## How it is measured

- **The two images.** *rendered*: the default answers rendered by Copier, built from the
  project's own Dockerfile (multi-stage venv, BuildKit cache/secret mounts), run with its
  entrypoint. *naive*: [`benchmarks/naive.Dockerfile`]({root}/benchmarks/naive.Dockerfile), one
  stage `FROM` the same base, `pip install -r requirements.txt` (the same pinned, hashed
  file), `COPY . .`, `CMD ["uvicorn", "app.main:app", ...]`; the proxy's CA reaches pip as
  a BuildKit secret, otherwise pip behaves as it does for anyone. Same build context (the
  project's `.dockerignore`), same app code. Each image runs with its default settings
  (the rendered one: one worker per CPU the container may use, forked after the import;
  the naive one: uvicorn's single process); only the address is 127.0.0.1 and the port a
  free one (host networking).
- **Alternation.** Every figure is taken `runs` times, A/B/A/B, so a slow moment of the
  machine hits both images alike. Tables show the median and the min-max spread.
- **Sizes.** Image size from `docker image inspect`; installed dependencies = the bytes of
  the site-packages directory holding FastAPI, read inside the image; overhead over the
  floor = image - base - dependencies (code, venv scripts, caches, anything else).
- **Cold build.** `--no-cache` and cache mounts under a fresh id per build (the rendered
  Dockerfile's mounts get `id=bench-...`; nothing else in it changes), pruned by id
  afterwards; the base image is local. *Code-only rebuild*: one line appended to
  `app/main.py`, warm cache; the dependency layer counts as reused when the install step
  prints `CACHED` **and** the layer holding the dependencies keeps its digest.
  *Dependency change*: a comment line appended to `requirements.txt`, which makes the
  install step run again (checked: not `CACHED`).
- **Start.** Three samples per run (starts are cheap, and the noisiest figure on a shared
  machine). From the `docker run` command to the first 200 of `GET /health` (which needs
  the database and the migrated schema), polled every 10 ms, against a real PostgreSQL 15
  on 127.0.0.1 whose schema is already migrated. *Idle memory*, 2 s after that first
  200: the summed VmRSS of the container's processes, and their summed PSS, which splits
  each page shared by forked workers among them and so counts it once.
- **Bytecode census.** One extra start with `PYTHONPROFILEIMPORTTIME=1` and a CRUD round
  trip lists the modules imported; those whose `.pyc` is absent from the image are
  compiled by every fresh container.
- **CRUD load.** `wrk -t2 -c32` with a Lua script: POST, list, GET by id and PATCH in
  equal parts over 200 seeded tasks, after an unmeasured warm-up; the table is emptied
  before each load. wrk, the app and PostgreSQL share the same CPUs.
"""


def render_markdown(results: list[VariantResult], skipped: dict[str, str], machine: Machine,
                    settings: BenchSettings, date: str, wall_seconds: float, charts: dict[str, str],
                    out_dir: Path) -> str:
    root = os.path.relpath(ROOT, out_dir)
    lines = ["# Benchmarks: the rendered image against the usual single-stage recipe", "",
             f"Generated by `python3 tasks.py bench` (code in [`benchmarks/`]({root}/benchmarks/)); "
             "do not edit by hand. Raw samples: [`benchmarks.json`](benchmarks.json).", ""]
    proposals = PROPOSALS_DIR / REPORT_NAME
    if proposals.exists() and out_dir.resolve() != PROPOSALS_DIR.resolve():
        lines += [f"Ideas for the targets not met, measured beside these two images: [proposals]"
                  f"({os.path.relpath(proposals, out_dir)}) (`python3 tasks.py bench --proposals "
                  "--out benchmarks/proposals`).", ""]
    lines += [
             "## Machine and run", "",
             f"- Date: {date}",
             f"- CPUs available: {machine.cpus} ({machine.cpu_model}); memory {machine.memory_gib} GiB; "
             f"kernel {machine.kernel}",
             f"- Docker Engine {machine.docker_server}; {machine.buildkit}",
             f"- Load average (1 min) at the start / end of the bench: {machine.load_average} "
             f"(anything above 0 is other work sharing the {machine.cpus} CPUs with the bench)",
             f"- Runs per figure: {settings.runs} (starts: {settings.start_runs}); "
             f"load: {settings.connections} connections for "
             f"{settings.load_seconds:g} s after a {settings.warmup_seconds:g} s warm-up",
             f"- Whole bench: {wall_seconds / 60:.1f} min", ""]
    for name, why in skipped.items():
        lines.append(f"- Variant `{name}` not benchmarked: {why}")
    if skipped:
        lines.append("")
    for result in results:
        lines += [*variant_section(result, charts.get(result.variant)), ""]
    lines.append(METHOD.format(root=root))
    return "\n".join(lines)


def write_outputs(out_dir: Path, results: list[VariantResult], skipped: dict[str, str], machine: Machine,
                  settings: BenchSettings, date: str, wall_seconds: float) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    charts: dict[str, str] = {}
    for i, result in enumerate(results):
        name = CHART_NAME if i == 0 else CHART_NAME.replace(".svg", f"-{result.variant}.svg")
        (out_dir / name).write_text(chart_svg(result, f"Variant {result.variant}: ratio to the naive image "
                                                       f"({settings.runs} runs, medians)"))
        charts[result.variant] = name
    data: dict[str, Any] = {"date": date, "machine": machine.__dict__, "settings": settings.as_dict(),
                            "wall_seconds": wall_seconds, "skipped": skipped,
                            "variants": [r.as_dict() for r in results]}
    (out_dir / DATA_NAME).write_text(json.dumps(data, indent=2) + "\n")
    report = out_dir / REPORT_NAME
    report.write_text(render_markdown(results, skipped, machine, settings, date, wall_seconds, charts, out_dir))
    return report


def rewrite_from_data(out_dir: Path) -> Path:
    """Render benchmarks.md and the chart again from benchmarks.json (after a change to this file)."""
    data = json.loads((out_dir / DATA_NAME).read_text())
    results = [VariantResult.from_dict(v) for v in data["variants"]]
    return write_outputs(out_dir, results, data["skipped"], Machine(**data["machine"]),
                         BenchSettings(**data["settings"]), data["date"], data["wall_seconds"])


if __name__ == "__main__":
    print(rewrite_from_data(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")))
