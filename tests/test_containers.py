"""Container tier: every variant of the matrix, built and run for real, checked
against every success criterion of its own rendered spec."""

from __future__ import annotations

import pytest

from harness.checks.criteria import CHECKS, OPTIONAL_CRITERIA
from harness.checks.platforms import emulated_skip, multi_platform, twin_ref
from harness.machine.emulation import is_emulated
from harness.machine.net import registry_has
from harness.matrix.spec import success_criteria
from harness.report.matrix_report import MatrixReport

pytestmark = pytest.mark.container


@pytest.mark.parametrize("criterion", list(CHECKS))
def test_success_criterion(subject, criterion: str, matrix_report: MatrixReport) -> None:
    if criterion in OPTIONAL_CRITERIA and criterion not in success_criteria(subject.project.path):
        why = OPTIONAL_CRITERIA[criterion].why_absent(subject.project.answers)
        pytest.skip(f"{criterion} does not apply: {why}")
    assert criterion in success_criteria(subject.project.path), (
        f"{criterion} is checked but missing from the rendered spec"
    )
    if why := emulated_skip(subject, criterion):
        pytest.skip(f"{criterion}: {why}")
    matrix_report.run(subject, criterion, CHECKS[criterion])


def test_multi_platform_image(subject, matrix_report: MatrixReport) -> None:
    """An emulated row and its host-platform twin, pushed as one image, pulled per platform."""
    if not is_emulated(subject.variant.platform):
        pytest.skip(f"{subject.variant.name} builds the host's platform: its -arm64 row does this")
    twin, both = subject.variant.native_twin, f"MATRIX_VARIANTS={subject.variant.native_twin},..."
    if not registry_has(subject.lab.registry.host, twin_ref(subject)):
        pytest.skip(f"the {twin} row pushed nothing in this session: run it first ({both})")
    matrix_report.run(subject, "multi-platform", multi_platform)
