"""Container tier: every variant of the matrix, built and run for real, checked
against every success criterion of its own rendered spec."""

from __future__ import annotations

import pytest

from harness.checks import CHECKS, OPTIONAL_CRITERIA
from harness.report import MatrixReport
from harness.spec import success_criteria

pytestmark = pytest.mark.container


@pytest.mark.parametrize("criterion", list(CHECKS))
def test_success_criterion(subject, criterion: str, matrix_report: MatrixReport) -> None:
    if criterion in OPTIONAL_CRITERIA and criterion not in success_criteria(subject.project.path):
        why = OPTIONAL_CRITERIA[criterion].why_absent(subject.project.answers)
        pytest.skip(f"{criterion} does not apply: {why}")
    assert criterion in success_criteria(subject.project.path), (
        f"{criterion} is checked but missing from the rendered spec"
    )
    matrix_report.run(subject, criterion, CHECKS[criterion])
