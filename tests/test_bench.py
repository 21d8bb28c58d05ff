"""One tiny iteration of `tasks.py bench`, so the bench keeps working (figures, not timings),
and the parsing it relies on, checked on fixed text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks.builds import install_step_cached
from benchmarks.contenders import NAIVE, RENDERED
from benchmarks.dockerfiles import cache_targets, startup_bytecode_dockerfile, with_cache_ids
from benchmarks.figures import FIGURES, BenchSettings
from benchmarks.load import parse_wrk
from benchmarks.run import run_bench
from harness.variants import ROOT

WRK_OUTPUT = """Running 2s test @ http://127.0.0.1:8000
  2 threads and 32 connections
  Latency Distribution
     50%   84.16ms
     75%  113.09ms
     90%  154.01ms
     99%    1.26s{one_letter_unit_pad}
  1146 requests in 3.04s, 1.08MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:    377.15
""".format(one_letter_unit_pad=" ")  # wrk pads one-letter units with a space
BUILD_LOG = """#8 [builder 4/4] RUN --mount=type=bind,source=requirements.txt uv pip install -r /tmp/requirements.txt
#8 CACHED

#9 [app 1/2] COPY app/ /app/app/
#9 DONE 0.0s
"""


def test_cache_mounts_get_the_bench_s_own_ids() -> None:
    dockerfile = (ROOT / "template" / "Dockerfile.jinja").read_text()
    rewritten = with_cache_ids(dockerfile, "bench-x-")
    assert cache_targets(dockerfile)
    assert rewritten.count("--mount=type=cache,") == rewritten.count("id=bench-x-") == dockerfile.count("type=cache")


def test_install_step_and_wrk_output_are_read() -> None:
    assert install_step_cached(BUILD_LOG) is True
    assert install_step_cached(BUILD_LOG.replace("#8 CACHED", "#8 DONE 3.1s")) is False
    assert install_step_cached("#9 [app 1/2] COPY app/ /app/app/\n") is None
    result = parse_wrk(WRK_OUTPUT)
    assert (result.rps, result.p50_ms, result.p99_ms, result.errors) == (377.15, 84.2, 1260.0, 9)


def test_proc_memory_fields_are_read() -> None:
    from benchmarks.runs import kib_field

    smaps = "Rss:               61240 kB\nPss:               23817 kB\nPss_Anon:  9000 kB\n"
    assert kib_field(smaps, "Pss:") == 23817 * 1024
    assert kib_field(smaps, "VmRSS:") == 0


def test_startup_bytecode_variant_rewrites_the_rendered_dockerfile(tmp_path: Path) -> None:
    from harness.render import render_project

    project = render_project({}, tmp_path / "project")
    variant = startup_bytecode_dockerfile((project.path / "Dockerfile").read_text())
    assert "--compile-bytecode" not in variant and "COPY --from=app /startup-pyc/ /" in variant


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory):
    out = Path(tmp_path_factory.mktemp("bench"))
    settings = BenchSettings(runs=1, load_seconds=2, warmup_seconds=1, idle_seconds=0.5)
    return run_bench(settings, out_dir=out)


@pytest.mark.container
def test_bench_measures_every_figure_for_both_images(bench_run) -> None:
    assert [r.variant for r in bench_run.results] == ["default"], bench_run.skipped
    result = bench_run.results[0]
    for key in (RENDERED, NAIVE):
        contender = result.contender(key)
        missing = [f.key for f in FIGURES if contender.median(f.key) is None]
        assert not missing, f"{key}: no value for {missing}"
        for fact in ("deps_layer_reused", "deps_reinstalled", "compiled_at_each_start", "load_errors"):
            assert fact in contender.facts, f"{key}: no {fact}"


@pytest.mark.container
def test_bench_writes_report_chart_and_data(bench_run) -> None:
    out = bench_run.report.parent
    text = bench_run.report.read_text()
    for figure in FIGURES:
        row = next((line for line in text.splitlines() if line.startswith(f"| {figure.label} (")), None)
        assert row is not None, f"no row for {figure.label}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert "-" not in cells[1:], f"a missing value in: {row}"
    for words in ("CPUs available", "Docker Engine", "Base image", "rendered / naive", "Targets"):
        assert words in text
    assert (out / "benchmarks.svg").read_text().startswith("<svg")
    data = json.loads((out / "benchmarks.json").read_text())
    assert {c["key"] for c in data["variants"][0]["contenders"]} == {RENDERED, NAIVE}
