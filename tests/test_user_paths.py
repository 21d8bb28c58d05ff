"""Container tier: what users run, as they run it (issue 22): the README's `docker run -p`
and a rolling deploy of the Kubernetes manifests behind haproxy under load (`docker compose
up --wait` is SC-13, the CI smoke script SC-17). Figures go to the matrix report."""

from __future__ import annotations

import pytest

from harness.checks.platforms import emulated_skip
from harness.checks.user_paths import ONE_ROW, USER_PATHS, why_not_here
from harness.report.matrix_report import MatrixReport

pytestmark = pytest.mark.container

_ran_on: dict[str, str] = {}


@pytest.mark.parametrize("check", list(USER_PATHS))
def test_user_path(subject, check: str, matrix_report: MatrixReport) -> None:
    if why := emulated_skip(subject, check):
        pytest.skip(f"{check}: {why}")
    if why := why_not_here(subject, check, _ran_on.get(check)):
        pytest.skip(f"{check}: {why}")
    if check in ONE_ROW:
        _ran_on[check] = subject.variant.name
    matrix_report.run(subject, check, USER_PATHS[check])
