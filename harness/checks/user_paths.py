"""What users run, run as they run it (issue 22): the README's `docker run -p` command and a
rolling deploy of the Kubernetes manifests behind a real proxy. Two more run inside spec
criteria, so that nothing runs twice: `docker compose up --wait` with the project's live
tests is SC-13 on every row that renders compose.yaml (compose_up.py), and the CI smoke
script, scripts/smoke.sh, is SC-17 on every row with a workflow, the emulated one included.

Unlike RELIABILITY's checks, these run on rows that share another row's runtime too: what they
exercise is each row's own rendered README and compose.yaml (ports, names, tags differ).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.checks.outcome import Figures
from harness.checks.readme_run import readme_run
from harness.checks.rollout import rolling_deploy

if TYPE_CHECKING:
    from harness.lab.subject import Subject

USER_PATHS: dict[str, Callable[[Subject], Figures]] = {
    "readme-run": readme_run,
    "rolling-deploy": rolling_deploy,
}
# the rolling deploy runs on one row per session: the first built host-platform row that
# renders the Kubernetes manifests
ONE_ROW = {"rolling-deploy"}


def why_not_here(s: Subject, check: str, ran_on: str | None) -> str | None:
    """Why check does not run on s (the piece is not rendered, or one row suffices)."""
    answers = s.project.answers
    if check == "rolling-deploy":
        if not answers.get("kubernetes"):
            return f"{s.variant.name} renders no Kubernetes manifests (kubernetes: false)"
        if ran_on is not None:
            return f"the rolling deploy runs on one row per session; it ran on {ran_on}"
    return None
