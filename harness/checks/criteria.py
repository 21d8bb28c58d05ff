"""One check per success criterion of the rendered spec (SC-01 ... SC-13, SC-18 ... SC-21, and
SC-14 ... SC-17 for the optional deployment pieces, which a spec lists only when chosen).

Each check takes the Subject (a built variant and the services around it), raises
CheckFailed with what it saw when the criterion does not hold, and returns the figures
it measured for the report. Every check has a way to fail: where a check proves an
absence (no secret, no root) it first proves that it can see a presence.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from harness.checks.api import health, persistence, port_at_run_time, read_only
from harness.checks.compose_up import project_tests_where_users_run
from harness.checks.database_tls import connects_and_serves
from harness.checks.deployment.checks import (
    ci_supply_chain,
    ci_workflow,
    compose_file,
    kubernetes_manifests,
    update_config,
)
from harness.checks.deployment.pieces import PIECE_OF
from harness.checks.hostile_clients import server_limits
from harness.checks.image import builds, lint, no_secrets, non_root, pull_and_run, push, size
from harness.checks.metrics import metrics_add_up, requests_have_ids
from harness.checks.outcome import Figures

if TYPE_CHECKING:
    from harness.lab.subject import Subject


CHECKS: dict[str, Callable[[Subject], Figures]] = {
    "SC-01": builds,
    "SC-02": lint,
    "SC-03": size,
    "SC-04": connects_and_serves,
    "SC-05": health,
    "SC-06": non_root,
    "SC-07": no_secrets,
    "SC-08": port_at_run_time,
    "SC-09": push,
    "SC-10": pull_and_run,
    "SC-11": persistence,
    "SC-12": read_only,
    "SC-13": project_tests_where_users_run,  # through compose.yaml where it is rendered
    "SC-14": ci_workflow,
    "SC-15": compose_file,
    "SC-16": kubernetes_manifests,
    "SC-17": ci_supply_chain,
    "SC-18": update_config,
    "SC-19": server_limits,
    "SC-20": metrics_add_up,
    "SC-21": requests_have_ids,
}
# criteria a spec lists only when their piece was chosen; Piece.why_absent says why not
OPTIONAL_CRITERIA = dict(PIECE_OF)
