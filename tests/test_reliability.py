"""Container tier: every built variant survives a hardened runtime, a clean stop, a
database outage, hostile input, load and bad configuration (issue-level checks with
figures in the matrix report, beyond the spec's success criteria)."""

from __future__ import annotations

import pytest

from harness.checks.platforms import emulated_skip
from harness.checks.reliability import RELIABILITY
from harness.report.matrix_report import MatrixReport
from harness.report.same_runtime import ran_on_same_runtime

pytestmark = pytest.mark.container


@pytest.mark.parametrize("check", list(RELIABILITY))
def test_reliability(subject, check: str, matrix_report: MatrixReport) -> None:
    if why := emulated_skip(subject, check):
        pytest.skip(f"{check}: {why}")
    if why := ran_on_same_runtime(subject, check, matrix_report):
        pytest.skip(why)
    matrix_report.run(subject, check, RELIABILITY[check])
