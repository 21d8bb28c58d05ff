"""Container tier: every variant of the matrix, built and run for real, checked
against every success criterion of its own rendered spec."""

from __future__ import annotations

import os

import pytest

from harness.checks import CHECKS
from harness.report import MatrixReport
from harness.spec import success_criteria
from harness.subject import Lab, VariantSkipped, prepare_subject
from harness.variants import Variant, load_variants

pytestmark = pytest.mark.container


def chosen_variants() -> list[Variant]:
    """All of matrix.yml, or the names in MATRIX_VARIANTS (tasks.py --variant)."""
    variants = load_variants()
    wanted = [n for n in os.environ.get("MATRIX_VARIANTS", "").split(",") if n]
    unknown = set(wanted) - {v.name for v in variants}
    if unknown:
        raise pytest.UsageError(f"no such variant in matrix.yml: {', '.join(sorted(unknown))}")
    return [v for v in variants if not wanted or v.name in wanted]


VARIANTS = chosen_variants()


@pytest.fixture(scope="module", params=VARIANTS, ids=[v.name for v in VARIANTS])
def subject(request: pytest.FixtureRequest, lab: Lab, matrix_report: MatrixReport):
    variant: Variant = request.param
    row = matrix_report.row(variant.name)
    try:
        built = prepare_subject(lab, variant)
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


@pytest.mark.parametrize("criterion", list(CHECKS))
def test_success_criterion(subject, criterion: str, matrix_report: MatrixReport) -> None:
    assert criterion in success_criteria(subject.project.path), (
        f"{criterion} is checked but missing from the rendered spec")
    try:
        figures = CHECKS[criterion](subject)
    except BaseException:
        matrix_report.record(subject.variant.name, criterion, ok=False)
        subject.remove_containers()  # a failed check must not leave the next one a taken port
        raise
    matrix_report.record(subject.variant.name, criterion, ok=True, figures=figures)
