"""The rendered CI workflow compared with the answers: where it pushes, and the supply-chain
steps around the push (smoke test first, scan, sign by digest, a cache a pull request
cannot poison), each with the least permission it needs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

WORKFLOW = ".github/workflows/ci.yml"
PINNED_USES = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*$")
SCANNERS = ("aquasecurity/trivy-action", "anchore/scan-action")

Step = tuple[str, int, dict[str, Any]]  # job name, index in the job, the step


def action(step: dict[str, Any]) -> str:
    return str(step.get("uses", "")).split("@")[0]


def find(steps: list[Step], test: Callable[[dict[str, Any]], bool]) -> list[Step]:
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


def supply_chain_problems(
    jobs: dict[str, Any], steps: list[Step], answers: dict[str, Any]
) -> list[str]:
    """Smoke test before any push, a gating scan and its SARIF, signing by digest."""
    problems: list[str] = []
    builds = find(steps, lambda s: action(s) == "docker/build-push-action")
    pushes = [b for b in builds if b[2]["with"].get("push") not in (False, None)]
    smokes = find(
        steps,
        lambda s: all(
            w in str(s.get("run")) for w in ("docker run", "/health", "-X POST", "-X DELETE")
        ),
    )
    if not smokes:
        return ["no smoke test: a step must run the image and check /health, POST and DELETE"]
    smoke = smokes[0]
    if "postgres" not in jobs[smoke[0]].get("services", {}):
        problems.append("the smoke test must run against the job's PostgreSQL service")
    local = [
        b
        for b in builds
        if b[0] == smoke[0] and b[1] < smoke[1] and b[2]["with"].get("load") is True
    ]
    if not local or local[0][2]["with"].get("push") is not False:
        problems.append("the smoke test needs an image built and loaded, not pushed, before it")
    problems += [
        f"{job}: the push at step {i} does not wait for the smoke test"
        for job, i, s in pushes
        if not runs_before(jobs, smoke, (job, i, s))
    ]
    scans = find(steps, lambda s: action(s) in SCANNERS)
    gate = [
        s
        for s in scans
        if str(s[2]["with"].get("exit-code")) == "1"
        and s[2]["with"].get("severity") == "CRITICAL"
        and s[2]["with"].get("ignore-unfixed") is True
    ]
    if not gate:
        problems.append(
            "no scan fails on fixable critical findings (CRITICAL, ignore-unfixed, exit-code 1)"
        )
    uploads = find(steps, lambda s: action(s) == "github/codeql-action/upload-sarif")
    if not uploads or not re.search(r"always\(\)|!cancelled\(\)", str(uploads[0][2].get("if"))):
        problems.append("the SARIF report must be uploaded even when the scan fails")
    sarif_jobs = {job for job, _, _ in uploads}
    problems += granted_only_to(jobs, "security-events", sarif_jobs, "the SARIF upload's job")
    signs = find(steps, lambda s: "cosign sign" in str(s.get("run")))
    if answers["registry"] == "none":
        if pushes or signs:
            problems.append("registry none must never push or sign")
    else:
        build_ids = {b[2].get("id") for b in pushes}
        signed_by_digest = [
            s
            for s in signs
            if any(f"steps.{i}.outputs.digest" in json.dumps(s[2]) for i in build_ids)
        ]
        if not signed_by_digest or not all(
            runs_before(jobs, p, signed_by_digest[0]) for p in pushes
        ):
            problems.append(
                "the pushed image must be signed by cosign after the push, by the build's digest"
            )
        if not find(steps, lambda s: action(s) == "sigstore/cosign-installer"):
            problems.append("cosign is not installed by sigstore/cosign-installer")
    sign_jobs = {job for job, _, _ in signs}
    problems += granted_only_to(jobs, "id-token", sign_jobs, "the signing job")
    return problems + cache_problems(jobs, builds) + platform_problems(steps, builds, answers)


def cache_problems(jobs: dict[str, Any], builds: list[Step]) -> list[str]:
    """A pull request writes only a pr- scope; a job that may push never reads one."""
    problems = []
    for job, _, step in builds:
        cache_from, cache_to = (
            str(step["with"].get("cache-from", "")),
            str(step["with"].get("cache-to", "")),
        )
        if (
            "type=gha" in cache_to
            and "pull_request" in cache_to
            and "scope=image-pr-" not in cache_to
        ):
            problems.append(f"{job}: a pull request writes a cache scope that is not its own")
        if "type=gha" in cache_to and "scope=" not in cache_to:
            problems.append(f"{job}: cache-to writes the shared default scope")
        pushing = step["with"].get("push") not in (False, None)
        if pushing and (
            "pr-" in cache_from or "!= 'pull_request'" not in str(jobs[job].get("if", ""))
        ):
            problems.append(
                f"{job}: a pushing build must skip pull requests and never read their cache"
            )
    return problems


def platform_problems(steps: list[Step], builds: list[Step], answers: dict[str, Any]) -> list[str]:
    wanted = answers.get("platforms", "linux/amd64,linux/arm64")
    built = {b[2]["with"].get("platforms") for b in builds}
    problems = [] if wanted in built else [f"no build step builds for {wanted}: {built}"]
    has_qemu = bool(find(steps, lambda s: action(s) == "docker/setup-qemu-action"))
    if has_qemu != ("," in wanted):
        problems.append(f"setup-qemu-action present={has_qemu}, platforms {wanted}")
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


def supply_chain_disagreements(project: Path, answers: dict[str, Any]) -> list[str]:
    """Smoke test before the push, scan, signature by digest, cache scopes, platforms."""
    _, jobs, steps = parse(project)
    return supply_chain_problems(jobs, steps, answers)
