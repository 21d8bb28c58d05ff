"""Shared fixtures: the session's services (container tier) and the matrix report."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from harness.report import MatrixReport
from harness.variants import ROOT

REPORT_PATH = ROOT / "reports" / "matrix.json"
_report = MatrixReport()


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger("harness").setLevel(logging.INFO)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Fast checks first: a broken render should fail in seconds, not after the builds."""
    items.sort(key=lambda item: item.get_closest_marker("container") is not None)


@pytest.fixture(scope="session")
def matrix_report() -> MatrixReport:
    return _report


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory):
    from harness.subject import open_lab

    with open_lab(Path(tmp_path_factory.mktemp("lab"))) as the_lab:
        yield the_lab


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    if not _report.rows:
        return
    _report.write(REPORT_PATH)
    terminalreporter.section("template matrix")
    terminalreporter.write_line(_report.table())
    terminalreporter.write_line(f"(written to {os.path.relpath(REPORT_PATH)})")
