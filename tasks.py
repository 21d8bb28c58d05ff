#!/usr/bin/env python3
"""task-api-template's one entry point, for people and CI alike.

    python3 tasks.py test                 # everything: fast tier, then every variant in Docker
    python3 tasks.py test --tier fast     # questions, renders, lint, the project's own tests
    python3 tasks.py matrix -v slim-314   # the container tier for some variants, with its table
    python3 tasks.py standins             # make (or find) every base image the matrix needs
    python3 tasks.py update-diff ../my-api # what `copier update` would change there (dry run)
    python3 tasks.py bench                # rendered, naive and peer images: docs/benchmarks.md

On first use it makes .venv with requirements-dev.txt and re-runs itself there.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shlex
import subprocess
import sys
import threading
import time
import venv
from dataclasses import dataclass
from pathlib import Path

if sys.version_info < (3, 11):  # noqa: UP036 (this line exists for older Pythons)
    sys.exit(f"tasks.py needs Python 3.11 or newer; this is {sys.version.split()[0]}")

# standard library only, usable before .venv exists
from harness.machine import needs  # noqa: E402

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
REQUIREMENTS = ROOT / "requirements-dev.txt"


def say(message: str) -> None:
    print(f"[tasks] {message}", flush=True)


def ensure_venv() -> None:
    """Stdlib only: create or refresh .venv, then re-exec this script inside it."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    # the re-executed script reports the wall time from here, venv creation included
    os.environ.setdefault("TASKS_STARTED", str(time.time()))
    stamp = VENV / ".requirements.sha256"
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    python = VENV / "bin" / "python"
    if not python.exists() or not stamp.exists() or stamp.read_text() != digest:
        needs.ensure_venv_support(say)
        say(f"preparing {VENV.name} from {REQUIREMENTS.name}")
        venv.EnvBuilder(with_pip=True, clear=True).create(VENV)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)], check=True
        )
        stamp.write_text(digest)
    os.execv(str(python), [str(python), __file__, *sys.argv[1:]])


if __name__ == "__main__":
    ensure_venv()

import typer  # noqa: E402  (available once ensure_venv has run)

app = typer.Typer(
    add_completion=False, help="Render, build, run and check the template's variants."
)
TIERS = {"fast": "not container", "container": "container", "all": ""}
# The whole run goes in lanes side by side, so both cores stay busy to the end: the matrix
# rows in ROW_LANES lanes of rows that never meet (harness/matrix/lanes.py), and the checks
# lane (the fast tier, the container checks that are no row's, the bench's smoke run). One
# lane of rows left the second core idle for its last 18 min (37 min in all at 707a1c8): a
# row is mostly waits (probes, grace periods, timeouts), one container at a time. The checks
# lane runs at a lower CPU priority: on 2 cores the first half of the run is CPU-bound.
ROWS_LANE = "row"
CHECKS_LANE = "not row"
ROW_LANES = 2
CHECKS_NICE = ["nice", "-n", "10"]
CHECKS_LOG = ROOT / "reports" / "checks-lane.log"
REPORT = ROOT / "reports" / "matrix.json"
NO_TESTS = 5  # pytest's exit code when a selection (say, `-- -k`) leaves a lane empty


def prepare_machine(tier: str) -> None:
    """Install (or name) what the tier needs before any test starts."""
    try:
        needs.ensure(tier, say)
    except needs.MachineError as why:
        say(f"cannot run the {tier} tier here: {why}")
        raise typer.Exit(2) from None


def wall_time() -> str:
    seconds = time.time() - float(os.environ.get("TASKS_STARTED", time.time()))
    return f"{int(seconds // 60)} min {int(seconds % 60)} s"


def pytest_argv(markers: str) -> list[str]:
    args = [sys.executable, "-m", "pytest", "-v", "-rs", "--log-cli-level=INFO"]
    # the slowest steps of the run at its end: where a run's minutes went, without a rerun
    args += ["-p", "no:cacheprovider", "--durations=25", "--durations-min=5"]
    return args + (["-m", markers] if markers else [])


def run_pytest(tier: str, variants: list[str], extra: list[str]) -> int:
    prepare_machine(tier)
    env = {**os.environ, "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}
    if variants:
        env["MATRIX_VARIANTS"] = ",".join(variants)
    if tier == "all":
        code = run_lanes(env, extra, warm=not variants)
    else:
        say(" ".join(pytest_argv(TIERS[tier])[2:]))
        code = subprocess.run(pytest_argv(TIERS[tier]) + extra, cwd=ROOT, env=env).returncode
    say(f"{tier} tier finished with exit code {code} after {wall_time()} in all")
    return code


@dataclass
class Lane:
    title: str
    argv: list[str]
    env: dict[str, str]
    log: Path | None = None  # None: it prints here
    report: Path | None = None  # a rows lane's part of the matrix report
    code: int | None = None


def run_lanes(env: dict[str, str], extra: list[str], warm: bool) -> int:
    """The first rows lane prints here; the others write their logs, and their summaries
    are printed when they end and again after the first rows lane."""
    CHECKS_LOG.parent.mkdir(exist_ok=True)
    lanes = [Lane("checks lane", CHECKS_NICE + pytest_argv(CHECKS_LANE) + extra, env, CHECKS_LOG)]
    for n, names in enumerate(row_lanes(env.get("MATRIX_VARIANTS", "")), start=1):
        report = REPORT.with_name(f"matrix-lane{n}.json")
        lane_env = {**env, "MATRIX_VARIANTS": ",".join(names), "MATRIX_REPORT": str(report)}
        log = None if n == 1 else REPORT.with_name(f"rows-lane{n}.log")
        lanes.append(Lane(f"rows lane {n}", pytest_argv(ROWS_LANE) + extra, lane_env, log, report))
        say(f"rows lane {n}: {', '.join(names)}" + (f" (log: {log})" if log else ""))
    say(f"each rows lane: {shlex.join(pytest_argv(ROWS_LANE)[2:])}")
    say(f"checks lane, side by side: -m {shlex.quote(CHECKS_LANE)} (log: {CHECKS_LOG})")
    warming = warm_base_images() if warm else None
    if warming is not None:
        threading.Thread(target=say_if_failed, args=(warming,), daemon=True).start()
    waiters = [start_lane(lane) for lane in lanes if lane.log]
    front = next(lane for lane in lanes if lane.log is None)
    front.code = subprocess.run(front.argv, cwd=ROOT, env=front.env).returncode
    for waiter in waiters:
        waiter.join()
    for lane in lanes:
        if lane.log:
            report_lane(lane, again=True)
    print_matrix([lane.report for lane in lanes if lane.report])
    if warming is not None and warming.wait() != 0:
        say(f"again: {standins_failure(warming.returncode)}")
    codes = [lane.code for lane in lanes if lane.code not in (None, NO_TESTS)]
    return max(code for code in codes if code is not None) if codes else NO_TESTS


def row_lanes(chosen: str) -> list[list[str]]:
    """The chosen rows (all when none), split into lanes that never meet."""
    import tempfile

    from harness.images.base_images import SKIP_REASONS
    from harness.matrix.lanes import rendered_rows, split_rows
    from harness.matrix.variants import load_variants

    wanted = {name for name in chosen.split(",") if name}
    variants = [v for v in load_variants() if not wanted or v.name in wanted]
    # a row whose base has no stand-in here only renders and skips: it weighs nothing
    with tempfile.TemporaryDirectory(prefix="task-api-lanes-") as workdir:
        rows = rendered_rows(variants, Path(workdir))  # read while the renders are there
        lanes = split_rows(
            rows, ROW_LANES, lambda r: float(r.project.answers["base_ref"] not in SKIP_REASONS)
        )
    return lanes or [sorted(wanted)]  # none known: the rows lane names the unknown ones


def start_lane(lane: Lane) -> threading.Thread:
    """The lane in the background, writing its log; its outcome is said when it ends."""
    assert lane.log is not None
    log = open(lane.log, "w")  # noqa: SIM115 (closed by the waiter when the lane ends)
    proc = subprocess.Popen(lane.argv, cwd=ROOT, env=lane.env, stdout=log, stderr=log)

    def wait() -> None:
        lane.code = proc.wait()
        log.close()
        report_lane(lane)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    return waiter


def report_lane(lane: Lane, again: bool = False) -> None:
    """A background lane's outcome: its short summary (failures, skips and their reasons)."""
    assert lane.log is not None
    lines = lane.log.read_text(errors="replace").splitlines()
    start = next((i for i, line in enumerate(lines) if "short test summary info" in line), -1)
    summary = lines[start:] if start >= 0 else lines[-1:]
    what = f"{lane.title} {'summary' if again else 'finished'}, exit code {lane.code}"
    say(f"{what}, after {wall_time()}:")
    print("\n".join(summary if again else summary[-1:]), flush=True)


def print_matrix(parts: list[Path]) -> None:
    """The rows lanes' reports as one: written to REPORT and printed as one table."""
    from harness.report.matrix_report import MatrixReport

    report = MatrixReport.read(parts)
    if not report.rows:
        return
    report.write(REPORT)
    say(f"the template matrix, every rows lane (written to {os.path.relpath(REPORT)}):")
    print(report.table(), flush=True)


STANDINS_LOG = ROOT / "reports" / "standins.log"


def warm_base_images() -> subprocess.Popen[bytes]:
    """Build every stand-in base from the start, beside the rows that need the first one
    (the arm64 one takes minutes under qemu). The rows wait on the same per-image lock."""
    STANDINS_LOG.parent.mkdir(exist_ok=True)
    say(f"building the stand-in base images in the background meanwhile (log: {STANDINS_LOG})")
    with open(STANDINS_LOG, "wb") as log:
        return subprocess.Popen(
            [sys.executable, __file__, "standins"], cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )


def standins_failure(code: int) -> str:
    """One line: the background build's own last error, and where the rest of it is."""
    lines = [line for line in STANDINS_LOG.read_text(errors="replace").splitlines() if line]
    cause = next((line for line in lines if line.startswith("FAILED ")), lines[-1] if lines else "")
    return (
        f"the background stand-in build failed (exit code {code}): {cause.strip()[:300]}"
        f" - rows on that base fail with it, not rebuilding it (log: {STANDINS_LOG})"
    )


def say_if_failed(warming: subprocess.Popen[bytes]) -> None:
    """Said the moment the background build ends badly, not after the rows."""
    if warming.wait() != 0:
        say(standins_failure(warming.returncode))


@app.command()
def test(
    tier: str = typer.Option("all", help="fast, container or all"),
    variant: list[str] = typer.Option([], "--variant", "-v", help="only these matrix variants"),
    pytest_args: list[str] = typer.Argument(None, help="passed to pytest after --"),
) -> None:
    """Run the tests: the fast tier, the container tier, or both (the default)."""
    if tier not in TIERS:
        raise typer.BadParameter(f"--tier must be one of {', '.join(TIERS)}")
    raise typer.Exit(run_pytest(tier, variant, pytest_args or []))


@app.command()
def matrix(
    variant: list[str] = typer.Option([], "--variant", "-v", help="only these matrix variants"),
) -> None:
    """Build, run and check every variant (or some), ending with the matrix table."""
    raise typer.Exit(run_pytest("container", variant, []))


@app.command()
def standins(
    refs: list[str] = typer.Argument(
        None, help="official references, say python:3.13-slim-trixie (default: the rows' own)"
    ),
) -> None:
    """Find or build every base image the matrix's rows build on, and say which is which."""
    import tempfile

    from harness.checks.db_standin import ensure_postgres_standin
    from harness.images.base_images import resolve_base
    from harness.images.recipes import ARCH
    from harness.images.standin_checks import BaseImageError
    from harness.machine.emulation import arch_of, ensure_emulation, is_emulated
    from harness.machine.engine import EngineError, ensure_engine
    from harness.matrix.bases import matrix_bases

    prepare_machine("container")
    logging.basicConfig(level=logging.INFO, format="[harness] %(message)s")
    engine = ensure_engine()
    say(f"engine: {engine.buildkit}")
    failed: list[str] = []

    def show(ref: str, arch: str = ARCH) -> None:
        try:
            base = resolve_base(engine, ref, arch)
        except BaseImageError as exc:  # one line each; the others are still made
            failed.append(ref)
            first, *rest = str(exc).splitlines() or [type(exc).__name__]
            indented = [f"    {line}" for line in rest]
            print(f"FAILED {ref} {arch}: {first}", *indented, sep="\n", flush=True)
            return
        row = f"{ref + ' ' + arch:38} {base.kind:9} {base.image or '-':48} {base.reason}"
        print(row, flush=True)

    if refs:
        for ref in refs:
            show(ref)
        raise typer.Exit(1 if failed else 0)
    with tempfile.TemporaryDirectory(prefix="standins-") as workdir:
        bases = matrix_bases(Path(workdir))
    # the host's in the rows' order, and compose.yaml's database right after the first row's
    # bases: the first row's SC-13 (`docker compose up`) needs it some 3 min in, and it takes
    # a minute with the debian:trixie-slim stand-in under it; the emulated row builds its own
    # early as well
    host = [b for b in bases if not is_emulated(b.platform)]
    first_row = [b for b in host if b.variant == host[0].variant] if host else []
    for base in first_row:
        show(base.ref)
    try:
        image = ensure_postgres_standin(engine)
        print(f"{'postgres:17-bookworm':38} stand-in  {image}", flush=True)
    except EngineError as exc:
        failed.append("postgres:17-bookworm")
        print(f"FAILED postgres:17-bookworm: {str(exc).splitlines()[0]}", flush=True)
    for base in host[len(first_row) :]:
        show(base.ref)
    for base in bases:
        if is_emulated(base.platform):
            say(f"{base.variant}: {ensure_emulation(base.platform)}")
            show(base.ref, arch_of(base.platform))
    if failed:
        raise typer.Exit(1)


@app.command()
def bench(
    all_variants: bool = typer.Option(
        False, "--all", help="every buildable matrix variant, not just the default"
    ),
    runs: int = typer.Option(
        5, "--runs", min=1, help="repetitions of every figure, alternating the images"
    ),
    load_seconds: float = typer.Option(
        15, "--load-seconds", min=1, help="length of each CRUD load"
    ),
    proposals: bool = typer.Option(
        False, "--proposals", help="also measure the proposed template changes"
    ),
    out: Path = typer.Option(ROOT / "docs", "--out", help="where benchmarks.md and its chart go"),
) -> None:
    """Rendered image against naive and the peer recipes, side by side: docs/benchmarks.md."""
    from benchmarks.figures import BenchSettings
    from benchmarks.run import run_bench

    prepare_machine("container")
    logging.basicConfig(level=logging.INFO, format="[harness] %(message)s")
    done = run_bench(
        BenchSettings(runs=runs, load_seconds=load_seconds, proposals=proposals),
        all_variants=all_variants,
        out_dir=out,
    )
    print(f"[tasks] {done.report} written after {done.wall_seconds / 60:.1f} min", flush=True)


@app.command("update-diff")
def update_diff(
    project_dir: Path = typer.Argument(..., help="a project rendered from this template"),
    vcs_ref: str = typer.Option(
        None, "--vcs-ref", help="template tag or commit (default: the newest release)"
    ),
    diff: bool = typer.Option(True, "--diff/--no-diff", help="print the diff after the summary"),
) -> None:
    """Show what `copier update` would change in a rendered project, without changing it."""
    from harness.matrix.update import UpdateRefused, preview_update

    try:
        preview = preview_update(project_dir, vcs_ref)
    except UpdateRefused as why:
        print(f"[tasks] {why}", file=sys.stderr)
        raise typer.Exit(1) from None
    print(
        f"[tasks] {project_dir}: template {preview.from_version} -> {preview.to_version}",
        flush=True,
    )
    print("\n".join(f"  {line}" for line in preview.changed_files) or "  nothing would change")
    for path in preview.conflicts:
        print(f"  CONFLICT {path}: your change and the template's touch the same lines")
    if diff and preview.diff:
        print(preview.diff, end="")


if __name__ == "__main__":
    app()
