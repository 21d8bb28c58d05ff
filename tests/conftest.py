"""Shared fixtures: the session's services (container tier) and the matrix report."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from harness.machine.emulation import is_emulated
from harness.matrix.variants import ROOT, Variant, load_variants
from harness.report.matrix_report import MatrixReport

# tasks.py gives each rows lane its own, and prints them as one table at the end
REPORT_PATH = Path(os.environ.get("MATRIX_REPORT", ROOT / "reports" / "matrix.json"))
_report = MatrixReport()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("harness").setLevel(logging.INFO)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects: it selects on the row marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fast checks first: a broken render should fail in seconds, not after the builds."""
    for item in items:
        if "subject" in getattr(getattr(item, "callspec", None), "params", {}):
            item.add_marker("row")
    # and the bench's smoke run after the rows: the rows' lab starts the emulated builds early
    items.sort(
        key=lambda item: (
            item.get_closest_marker("container") is not None,
            "bench_run" in getattr(item, "fixturenames", ()),
        )
    )


@pytest.fixture(scope="session")
def matrix_report() -> MatrixReport:
    return _report


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    from harness.lab.subject import open_lab

    with open_lab(Path(tmp_path_factory.mktemp("lab"))) as the_lab:
        wanted = {
            item.callspec.params["subject"].name
            for item in request.session.items
            if "subject" in getattr(getattr(item, "callspec", None), "params", {})
        }
        the_lab.build_early(v for v in VARIANTS if is_emulated(v.platform) and v.name in wanted)
        yield the_lab


def chosen_variants() -> list[Variant]:
    """All of matrix.yml, or the names in MATRIX_VARIANTS (tasks.py --variant)."""
    variants = load_variants()
    wanted = [n for n in os.environ.get("MATRIX_VARIANTS", "").split(",") if n]
    unknown = set(wanted) - {v.name for v in variants}
    if unknown:
        raise pytest.UsageError(f"no such variant in matrix.yml: {', '.join(sorted(unknown))}")
    chosen = [v for v in variants if not wanted or v.name in wanted]
    # emulated rows last: they build early in the background, and their multi-platform
    # check needs their host-platform twin pushed first
    return sorted(chosen, key=lambda v: is_emulated(v.platform))


VARIANTS = chosen_variants()


@pytest.fixture(scope="session", params=VARIANTS, ids=[v.name for v in VARIANTS])
def subject(request: pytest.FixtureRequest, lab, matrix_report: MatrixReport):
    """One built variant at a time, shared by every container-tier module (built once)."""
    from harness.lab.subject import VariantSkipped

    variant: Variant = request.param
    row = matrix_report.row(variant.name)
    try:
        built = lab.subject(variant)
    except VariantSkipped as why:
        row.base = f"skipped: {why}"
        pytest.skip(str(why))
    except Exception:
        row.base, row.failed = "build failed", ["SC-01"]
        raise
    row.base = f"{built.base.kind}: {built.base.image}"
    yield built
    row.first_200_s = built.figures.get("first_200_s", row.first_200_s)
    built.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not _report.rows:
        return
    _report.write(REPORT_PATH)
    terminalreporter.section("template matrix")
    terminalreporter.write_line(_report.table())
    terminalreporter.write_line(f"(written to {os.path.relpath(REPORT_PATH)})")
