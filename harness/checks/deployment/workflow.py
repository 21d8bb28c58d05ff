"""The rendered CI workflow compared with the answers: least privilege, pinned actions,
hashed installs, and where it pushes (harness/checks/deployment/supply.py checks what it pushes),
plus the helpers both modules use to walk a workflow's jobs and steps."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

WORKFLOW = ".github/workflows/ci.yml"
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")

Step = tuple[str, int, dict[str, Any]]  # job name, index in the job, the step


def action(step: dict[str, Any]) -> str:
    return str(step.get("uses", "")).split("@")[0]


def find(steps: list[Step], test: Callable[[dict[str, Any]], object]) -> list[Step]:
    return [s for s in steps if test(s[2])]


def needed_by(jobs: dict[str, Any], name: str) -> set[str]:
    """Every job that must finish before `name` starts, directly or through others."""
    needs = jobs[name].get("needs", [])
    direct = {needs} if isinstance(needs, str) else set(needs)
    return direct.union(*(needed_by(jobs, n) for n in direct)) if direct else set()


def runs_before(jobs: dict[str, Any], first: Step, then: Step) -> bool:
    if first[0] == then[0]:
        return first[1] < then[1]
    return first[0] in needed_by(jobs, then[0])


def pin_problems(text: str, steps: list[Step]) -> list[str]:
    problems = []
    for job, _, step in steps:
        uses = step.get("uses")
        if not uses:
            continue
        line = next(
            line.strip().removeprefix("- ").removeprefix("uses: ")
            for line in text.splitlines()
            if f"uses: {uses}" in line
        )
        if not PINNED_USES.match(line):
            problems.append(f"{job}: `{line}` is not pinned to a SHA with a version comment")
        if (
            action(step) == "actions/checkout"
            and step.get("with", {}).get("persist-credentials") is not False
        ):
            problems.append(f"{job}: checkout must not persist the token")
    return problems


def registry_problems(
    jobs: dict[str, Any], steps: list[Step], answers: dict[str, Any]
) -> list[str]:
    by_action = {action(s): s for _, _, s in steps}
    login, registry = by_action.get("docker/login-action"), answers["registry"]
    pushes = [
        s
        for _, _, s in steps
        if action(s) == "docker/build-push-action" and s["with"].get("push") is True
    ]
    problems = []
    if registry == "none":
        return [] if login is None else ["registry none must build without logging in"]
    meta = by_action.get("docker/metadata-action", {}).get("with", {})
    if meta.get("images") != answers["image_ref"]:
        problems.append(f"metadata-action's image is not {answers['image_ref']}")
    if not pushes or not all(
        p["with"].get("sbom") is True and p["with"].get("provenance") == "mode=max" for p in pushes
    ):
        problems.append("the push must carry an SBOM and max provenance")
    want = {"ghcr.io": "ghcr.io", "docker.io": None, "custom": answers.get("registry_host")}[
        registry
    ]
    if login is None or login["with"].get("registry") != want:
        problems.append(f"no login to the registry, want {want}")
    secret = "GITHUB_TOKEN" if registry == "ghcr.io" else "REGISTRY_PASSWORD"
    if login is None or secret not in str(login["with"].get("password")):
        problems.append(f"login must use {secret}")
    login_jobs = {job for job, _, s in steps if action(s) == "docker/login-action"}
    problems += [
        f"{name}: packages: write belongs to the job that logs in to GHCR only"
        for name, job in jobs.items()
        if ("packages" in job.get("permissions", {}))
        != (registry == "ghcr.io" and name in login_jobs)
    ]
    return problems


def parse(project: Path) -> tuple[str, dict[str, Any], list[Step]]:
    text = (project / WORKFLOW).read_text()
    jobs = yaml.safe_load(text)["jobs"]
    steps = [(name, i, s) for name, job in jobs.items() for i, s in enumerate(job.get("steps", []))]
    return text, jobs, steps


def workflow_disagreements(project: Path, answers: dict[str, Any]) -> list[str]:
    """Least privilege, pinned actions, hashed installs, and pushes where the answers say."""
    text, jobs, steps = parse(project)
    top = yaml.safe_load(text).get("permissions")
    problems = [] if top == {} else ["the workflow must grant no permissions by default"]
    problems += pin_problems(text, steps)
    tests = " ".join(
        str(s.get("run", "")) + json.dumps(s.get("env", {})) for s in jobs["tests"]["steps"]
    )
    locks = "--require-hashes -r requirements.txt -r requirements-dev.txt"
    if not (locks in tests and "TEST_DATABASE_URL" in tests):
        problems.append(
            "the tests job must install the hashed locks and also run against PostgreSQL"
        )
    return problems + registry_problems(jobs, steps, answers)


def granted_only_to(jobs: dict[str, Any], permission: str, owners: set[str], who: str) -> list[str]:
    """Least privilege: the permission is granted on exactly the jobs that need it."""
    return [
        f"{name}: {permission}: write belongs to {who} only"
        for name, job in jobs.items()
        if (permission in job.get("permissions", {})) != (name in owners)
    ]
