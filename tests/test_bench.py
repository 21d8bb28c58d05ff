"""One tiny iteration of `tasks.py bench`, so the bench keeps working (figures, not timings),
the build-log reading it relies on, and the wrk load both the bench and the reliability
tier run, against a small local server."""

from __future__ import annotations

import json
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks.builds import install_step_cached
from benchmarks.contenders import NAIVE, RENDERED, main_contenders
from benchmarks.dockerfiles import cache_targets, startup_bytecode_dockerfile, with_cache_ids
from benchmarks.figures import FIGURES, BenchSettings
from benchmarks.peer_recipes import FLOOR
from benchmarks.run import run_bench
from harness.checks.wrk import WrkError, read_figures, run_crud_mix
from harness.machine.net import free_port
from harness.matrix.variants import ROOT

# wrk's own text report comes first; the last line is what crud_mix.lua's done() prints
WRK_STDOUT = """Running 2s test @ http://127.0.0.1:8000
  1146 requests in 3.04s, 1.08MB read
Requests/sec:    377.15
{"requests": 1146, "seconds": 3.040, "p50_ms": 84.163, "p99_ms": 1260.000, "error_answers": 4, \
"socket_errors": {"connect": 0, "read": 2, "write": 0, "timeout": 3}}
"""
BUILD_LOG = """#8 [builder 4/4] RUN uv pip install -r requirements.txt
#8 CACHED

#9 [app 1/2] COPY app/ /app/app/
#9 DONE 0.0s
"""


def test_cache_mounts_get_the_bench_s_own_ids() -> None:
    dockerfile = (ROOT / "template" / "Dockerfile.jinja").read_text()
    rewritten = with_cache_ids(dockerfile, "bench-x-")
    assert cache_targets(dockerfile)
    assert (
        rewritten.count("--mount=type=cache,")
        == rewritten.count("id=bench-x-")
        == dockerfile.count("type=cache")
    )


def test_install_step_is_read_from_the_build_log() -> None:
    assert install_step_cached(BUILD_LOG) is True
    assert install_step_cached(BUILD_LOG.replace("#8 CACHED", "#8 DONE 3.1s")) is False
    assert install_step_cached("#9 [app 1/2] COPY app/ /app/app/\n") is None


def test_wrk_figures_line_is_read() -> None:
    result = read_figures(WRK_STDOUT)
    assert (result.requests, result.p50_ms, result.p99_ms, result.errors) == (1146, 84.2, 1260.0, 9)
    assert round(result.rps, 1) == 377.0
    stalled = read_figures(WRK_STDOUT.replace("84.163", "null").replace("1260.000", "null"))
    assert (stalled.p50_ms, stalled.p99_ms) == (None, None)
    with pytest.raises(WrkError, match="no figures line"):
        read_figures(WRK_STDOUT.rsplit("{", 1)[0])


class TaskStandIn(BaseHTTPRequestHandler):
    """Answers GET with 200 and refuses writes with 422, counting what wrk sent."""

    protocol_version = "HTTP/1.1"
    seen: Counter[str] = Counter()

    def log_message(self, format: str, *args: object) -> None:
        return

    def answer(self, status: int) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        kind = "list" if "?" in self.path else "by id" if self.path != "/tasks" else ""
        TaskStandIn.seen[f"{self.command} {kind}".strip()] += 1
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def do_GET(self) -> None:
        self.answer(200)

    def do_POST(self) -> None:
        self.answer(422)

    def do_PATCH(self) -> None:
        self.answer(422)


@pytest.fixture
def stand_in_port() -> Iterator[int]:
    if not shutil.which("wrk"):
        pytest.skip("wrk is not installed: `apt-get install wrk` runs this test")
    TaskStandIn.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), TaskStandIn)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_crud_mix_sends_the_four_requests_and_counts_refusals(stand_in_port: int) -> None:
    result = run_crud_mix(stand_in_port, [1, 2, 3], seconds=1, connections=4)
    seen = TaskStandIn.seen
    assert set(seen) == {"POST", "GET list", "GET by id", "PATCH by id"}, seen
    assert result.requests > 0 and result.p50_ms is not None and result.p99_ms is not None
    # wrk counts what it finished; the server may have answered a few more as wrk stopped
    assert 0 < result.error_answers <= seen["POST"] + seen["PATCH by id"]
    assert result.socket_errors == 0 and result.rps > 0


def test_crud_mix_says_when_nothing_listens() -> None:
    if not shutil.which("wrk"):
        pytest.skip("wrk is not installed: `apt-get install wrk` runs this test")
    with pytest.raises(WrkError, match="wrk failed"):
        run_crud_mix(free_port(), [1], seconds=1, connections=1)


def test_proc_memory_fields_are_read() -> None:
    from benchmarks.runs import kib_field

    smaps = "Rss:               61240 kB\nPss:               23817 kB\nPss_Anon:  9000 kB\n"
    assert kib_field(smaps, "Pss:") == 23817 * 1024
    assert kib_field(smaps, "VmRSS:") == 0


def test_startup_bytecode_variant_rewrites_the_rendered_dockerfile(tmp_path: Path) -> None:
    from harness.matrix.render import render_project

    project = render_project({}, tmp_path / "project")
    variant = startup_bytecode_dockerfile((project.path / "Dockerfile").read_text())
    assert (
        "--compile-bytecode" not in variant and "COPY --from=startup-pyc /startup-pyc/ /" in variant
    )


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory: pytest.TempPathFactory):
    out = Path(tmp_path_factory.mktemp("bench"))
    # one sample of each figure, on the shortest load wrk reports on: it must work, not measure
    settings = BenchSettings(
        runs=1, load_seconds=1, warmup_seconds=1, idle_seconds=0.5, starts_per_run=1
    )
    return run_bench(settings, out_dir=out)


@pytest.mark.container
@pytest.mark.bench
def test_bench_measures_every_figure_for_every_image(bench_run) -> None:
    assert [r.variant for r in bench_run.results] == ["default"], bench_run.skipped
    result = bench_run.results[0]
    peers = [c.key for c in result.contenders if c.facts.get("peer")]
    assert {"fastapi-docs", "full-stack", "docker-init"} <= set(peers), peers
    for key in (RENDERED, NAIVE, *peers):
        contender = result.contender(key)
        # a settings-only contender runs another's image, so it has no build figures of its own
        missing = [
            f.key
            for f in FIGURES
            if contender.median(f.key) is None and not (f.from_build and contender.image_of)
        ]
        assert not missing, f"{key}: no value for {missing}"
        for fact in (
            "deps_layer_reused",
            "deps_reinstalled",
            "compiled_at_each_start",
            "load_errors",
        ):
            assert contender.image_of or fact in contender.facts, f"{key}: no {fact}"
    floor = result.contender(FLOOR)
    assert floor.median("rps") and floor.facts["load_errors"] == 0, floor.facts
    assert 0 < result.contender(RENDERED).facts["app_import_s"] < 30


@pytest.mark.container
@pytest.mark.bench
def test_bench_writes_report_chart_and_data(bench_run) -> None:
    out = bench_run.report.parent
    text = bench_run.report.read_text()
    for figure in FIGURES:
        row = next(
            (line for line in text.splitlines() if line.startswith(f"| {figure.label} (")), None
        )
        assert row is not None, f"no row for {figure.label}"
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert "-" not in cells[1:], f"a missing value in: {row}"
    for words in (
        "CPUs available",
        "Docker Engine",
        "Base image",
        "rendered / naive",
        "rendered / best peer",
        "Targets",
        "Floors",
        "plain ASGI app",
        "import app.main",
    ):
        assert words in text
    assert (out / "benchmarks.svg").read_text().startswith("<svg")
    data = json.loads((out / "benchmarks.json").read_text())
    keys = {c["key"] for c in data["variants"][0]["contenders"]}
    assert {RENDERED, NAIVE, FLOOR, "fastapi-docs", "full-stack", "docker-init"} <= keys


def test_targets_compare_with_the_best_peer_at_the_same_worker_count() -> None:
    from benchmarks.figures import ContenderResult, VariantResult
    from benchmarks.targets import judge_variant

    def image(key: str, workers: int, image_of: str | None = None, **medians: float):
        c = ContenderResult(key, key, image_of=image_of)
        c.facts.update(workers=workers, peer=key != RENDERED, deps_layer_reused="3/3")
        for figure, value in medians.items():
            c.add(figure, value)
        return c

    built = {"cold_build_s": 10.0, "code_rebuild_s": 1.0}
    result = VariantResult(
        "default",
        {},
        [
            image(
                RENDERED, 2, image_mb=95, start_s=1.0, rps=610, p99_ms=90, idle_pss_mb=99, **built
            ),
            image("one", 1, image_mb=100, start_s=0.9, rps=900, p99_ms=50, idle_pss_mb=50, **built),
            image(
                "four", 4, image_mb=120, start_s=2.0, rps=800, p99_ms=80, idle_pss_mb=300, **built
            ),
            # the four-worker image at two workers: throughput and memory are judged against it
            image("four-2w", 2, "four", start_s=1.5, rps=500, p99_ms=100, idle_pss_mb=100),
        ],
    )
    verdicts = {v.short: v for v in judge_variant(result)}
    assert verdicts["size"].met is False and "one" in verdicts["size"].measured  # 0.95x
    assert verdicts["start"].met is False and "missed by 11%" in verdicts["start"].measured
    assert verdicts["throughput"].met is True and "1.22x four-2w" in verdicts["throughput"].measured
    assert verdicts["idle PSS"].met is True and "four-2w" in verdicts["idle PSS"].measured
    assert verdicts["cold build"].met is True and verdicts["code rebuild"].met is True
    from benchmarks.targets import TRIED

    assert set(verdicts) <= set(TRIED), "a target with no word on what was tried for it"


def test_all_benches_each_base_once_and_says_why_not_the_rest() -> None:
    from benchmarks.run import chosen

    variants, skipped = chosen(all_variants=True)
    names = [v.name for v in variants]
    # the default (3.14) first, distroless on Debian 13 among them; distroless debian12 (a
    # retired choice) is benched through the custom row that builds on it
    benched = {"slim-314", "slim-312-pip", "trixie", "bookworm-pip", "distroless"}
    assert benched | {"custom-distroless"} <= set(names), names
    assert names[0] == "slim-314", names
    assert set(skipped) == {"slim-314-arm64", "custom-debian"}
    assert "qemu" in skipped["slim-314-arm64"]
    assert "same base as slim-314" in skipped["custom-debian"]


def test_pip_less_bases_get_pip_the_way_their_users_do(tmp_path: Path) -> None:
    from benchmarks.peer_recipes import floor_contender, peer_contenders
    from benchmarks.pip_routes import APT_PIP, NO_SHELL, contenders_for
    from harness.matrix.render import render_project

    project = render_project({}, tmp_path / "project")
    everyone = [*main_contenders(project.path), *peer_contenders(), floor_contender()]
    with_apt, notes = contenders_for(APT_PIP, everyone)
    for contender in with_apt:
        text = contender.dockerfile or ""
        if contender.key == RENDERED or not text:
            assert "python3-pip" not in text
            continue
        after_from = text.split("FROM ${BASE_IMAGE}", 1)[1]
        assert "apt-get install -y --no-install-recommends python3 python3-pip" in after_from
        assert "PIP_BREAK_SYSTEM_PACKAGES=1" in after_from, contender.key
    assert notes
    distroless, notes = contenders_for(NO_SHELL, everyone)
    assert [c.key for c in distroless] == [RENDERED, NAIVE, FLOOR]
    assert "distroless-example" in notes[0]
