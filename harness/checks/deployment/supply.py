"""The rendered CI workflow's supply chain, compared with the answers: the image is built
once, for every platform, into the job's own registry; each platform is smoke-tested and
scanned by digest; the push job builds nothing and pushes and signs those very bytes; and
the spec's and README's `cosign verify` accept only this repository's workflow."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from harness.checks.deployment.workflow import (
    Step,
    action,
    find,
    granted_only_to,
    parse,
    runs_before,
)

SCANNERS = ("aquasecurity/trivy-action", "anchore/scan-action")
ISSUER = "https://token.actions.githubusercontent.com"
DOCS = ("containerization-spec.md", "README.md")
ENV_REF = re.compile(r"\$\{\{\s*env\.(\w+)\s*\}\}")


def arch(platform: str) -> str:
    return platform.split("/")[1]


def step_env(jobs: dict[str, Any], step: Step) -> dict[str, str]:
    return {
        k: str(v) for k, v in {**jobs[step[0]].get("env", {}), **step[2].get("env", {})}.items()
    }


def reads(jobs: dict[str, Any], step: Step, expression: str) -> bool:
    """The step's run reads, through an environment variable, a value that names expression."""
    run = str(step[2].get("run", ""))
    return any(
        expression in value and re.search(rf"\$\{{?{name}\b", run)
        for name, value in step_env(jobs, step).items()
    )


# the project's smoke test: CI calls it per platform, the container tier runs it on each row
SMOKE_SCRIPT = "scripts/smoke.sh"
SMOKE_STEPS = ("docker run", "/health", "-X POST", "-X DELETE")


def is_smoke(step: dict[str, Any]) -> bool:
    return SMOKE_SCRIPT in str(step.get("run"))


def is_gate(step: dict[str, Any]) -> bool:
    w = step.get("with", {})
    return (
        action(step) in SCANNERS
        and str(w.get("exit-code")) == "1"
        and w.get("severity") == "CRITICAL"
        and w.get("ignore-unfixed") is True
    )


def build_problems(jobs: dict[str, Any], build: Step, answers: dict[str, Any]) -> list[str]:
    """One build of every answered platform, into the building job's own registry only."""
    job, w = jobs[build[0]], build[2]["with"]
    wanted = answers.get("platforms", "linux/amd64,linux/arm64")
    problems = [] if w.get("platforms") == wanted else [f"the build is not for {wanted}: {w}"]
    tags = ENV_REF.sub(lambda m: str(job.get("env", {}).get(m[1], "")), str(w.get("tags", "")))
    registry = any(
        str(s.get("image", "")).startswith("registry:") for s in job.get("services", {}).values()
    )
    if w.get("push") is not True or not tags.startswith("localhost:") or not registry:
        problems.append(
            "the build must go to its job's own registry (a registry service, localhost), "
            f"so every test pulls it by digest, never straight to a real registry: {tags}"
        )
    if not all(t.startswith("localhost:") for t in tags.split()):
        problems.append(f"the build also tags a real registry: {tags}")
    return problems


def tested_problems(jobs: dict[str, Any], steps: list[Step], build: Step) -> list[str]:
    """Every platform of the build is smoke-tested and gated by a scan, by its digest."""
    in_job = [s for s in steps if s[0] == build[0] and s[1] > build[1]]
    digest = f"steps.{build[2].get('id')}.outputs.digest"
    namers = [s for s in in_job if s[2].get("id") and reads(jobs, s, digest)]
    if not namers:
        return ["no step names each platform's image from the build's digest"]
    images = f"steps.{namers[0][2]['id']}.outputs."
    smokes = find(in_job, is_smoke)
    if not smokes:
        return ["no smoke test: a step must run the built image and check /health, POST, DELETE"]
    problems = []
    if "postgres" not in jobs[build[0]].get("services", {}):
        problems.append("the smoke test must run against the job's PostgreSQL service")
    gates = find(in_job, is_gate)
    if not gates:
        problems.append(
            "no scan fails on fixable critical findings (CRITICAL, ignore-unfixed, exit-code 1)"
        )
    for platform in build_platforms(build):
        image = images + arch(platform)
        run = str(smokes[0][2].get("run"))
        if not (reads(jobs, smokes[0], image) and platform in run):
            problems.append(f"{platform} is not smoke-tested, by its digest in the build")
        if not any(image in str(g[2]["with"].get("image-ref")) for g in gates):
            problems.append(f"{platform} is not scanned by a gate, by its digest in the build")
    uploads = find(steps, lambda s: action(s) == "github/codeql-action/upload-sarif")
    if not uploads or not all(
        re.search(r"always\(\)|!cancelled\(\)", str(u[2].get("if"))) for u in uploads
    ):
        problems.append("the SARIF report must be uploaded even when the scan fails")
    sarif_jobs = {job for job, _, _ in uploads}
    return problems + granted_only_to(jobs, "security-events", sarif_jobs, "the SARIF upload's job")


def build_platforms(build: Step) -> list[str]:
    return str(build[2]["with"].get("platforms", "")).split(",")


def handover_problems(jobs: dict[str, Any], steps: list[Step], build: Step) -> list[str]:
    """The push job pushes and signs the tested bytes: saved whole after every test, checked
    against the tested digest, copied without re-encoding, signed by that digest."""
    job = build[0]
    digest = f"steps.{build[2].get('id')}.outputs.digest"
    tested = f"needs.{job}.outputs.digest"
    problems = []
    if digest not in str(jobs[job].get("outputs", {}).get("digest")):
        problems.append(f"the {job} job must output the digest it tested ({digest})")
    checks = [s for s in steps if s[0] == job and (is_smoke(s[2]) or is_gate(s[2]))]
    saves = find(
        steps, lambda s: "skopeo copy" in str(s.get("run")) and "oci-archive:" in str(s.get("run"))
    )
    saves = [s for s in saves if s[0] == job]
    uploads = [s for s in steps if s[0] == job and action(s[2]) == "actions/upload-artifact"]
    whole = ("--all", "--preserve-digests")
    if (
        not saves
        or not reads(jobs, saves[0], digest)
        or not all(f in str(saves[0][2]["run"]) for f in whole)
    ):
        return problems + [
            "the tested digest must be saved whole (skopeo copy --all --preserve-digests)"
        ]
    if not uploads or not all(
        runs_before(jobs, c, saves[0]) and saves[0][1] < uploads[0][1] for c in checks
    ):
        problems.append("the image is handed on before every smoke test and scan passed")
        return problems
    name = uploads[0][2].get("with", {}).get("name")
    downloads = find(
        steps,
        lambda s: (
            action(s) == "actions/download-artifact" and s.get("with", {}).get("name") == name
        ),
    )
    if not downloads or not runs_before(jobs, uploads[0], downloads[0]):
        return problems + [f"no job takes the tested image ({name}) after the {job} job"]
    push_job = downloads[0][0]
    later = [s for s in steps if s[0] == push_job and s[1] > downloads[0][1]]
    verify = [s for s in later if "sha256sum" in str(s[2].get("run")) and reads(jobs, s, tested)]
    pushes = [
        s
        for s in later
        if "docker://" in str(s[2].get("run")) and "skopeo copy" in str(s[2].get("run"))
    ]
    signs = [s for s in later if "cosign sign" in str(s[2].get("run"))]
    if not verify:
        problems.append(f"the {push_job} job must check the saved image against {tested}")
    if not pushes or not all(f in str(p[2]["run"]) for p in pushes for f in whole):
        problems.append("the push must copy the saved image whole (--all --preserve-digests)")
    elif verify and not verify[0][1] < pushes[0][1]:
        problems.append("the saved image must be checked before it is pushed")
    signed = [s for s in signs if reads(jobs, s, tested) and pushes and pushes[-1][1] < s[1]]
    if not signed:
        problems.append(f"the signature must name the tested digest ({tested}), after the push")
    if not find(steps, lambda s: action(s) == "sigstore/cosign-installer"):
        problems.append("cosign is not installed by sigstore/cosign-installer")
    if "!= 'pull_request'" not in str(jobs[push_job].get("if", "")):
        problems.append(f"the {push_job} job must skip pull requests")
    others = find(
        steps,
        lambda s: re.search(r"docker (image )?push|imagetools create|crane ", str(s.get("run"))),
    )
    problems += [f"{j}: step {i} pushes something other than the saved image" for j, i, _ in others]
    return problems


def cache_problems(build: Step) -> list[str]:
    """A pull request writes only its own scope, and only a pull request's run reads it."""
    w = build[2]["with"]
    cache_from, cache_to = str(w.get("cache-from", "")), str(w.get("cache-to", ""))
    problems = []
    if "type=gha" in cache_to and "pull_request" in cache_to and "scope=image-pr-" not in cache_to:
        problems.append("a pull request writes a cache scope that is not its own")
    if "type=gha" in cache_to and "scope=" not in cache_to:
        problems.append("cache-to writes the shared default scope")
    gated = "github.event_name == 'pull_request' && format('pr-"
    if any("pr-" in line and gated not in line for line in cache_from.splitlines()):
        problems.append("a main or tag build reads a pull request's cache")
    return problems


def workflow_supply_problems(
    jobs: dict[str, Any], steps: list[Step], answers: dict[str, Any]
) -> list[str]:
    builds = find(steps, lambda s: action(s) == "docker/build-push-action")
    if len(builds) != 1:
        return [f"the image must be built exactly once, every platform in one build: {len(builds)}"]
    build = builds[0]
    problems = build_problems(jobs, build, answers) + tested_problems(jobs, steps, build)
    has_qemu = bool(find(steps, lambda s: action(s) == "docker/setup-qemu-action"))
    if has_qemu != ("," in answers.get("platforms", "linux/amd64,linux/arm64")):
        problems.append(f"setup-qemu-action present={has_qemu}, platforms {answers['platforms']}")
    signs = find(steps, lambda s: "cosign sign" in str(s.get("run")))
    if answers["registry"] == "none":
        uploads = find(steps, lambda s: action(s) == "actions/upload-artifact")
        pushes = find(steps, lambda s: "docker://" in str(s.get("run")))
        if signs or uploads or pushes:
            problems.append("registry none must never hand on, push or sign")
    else:
        problems += handover_problems(jobs, steps, build)
    problems += granted_only_to(jobs, "id-token", {j for j, _, _ in signs}, "the signing job")
    return problems + cache_problems(build)


def smoke_script_problems(project: Path) -> list[str]:
    """The script the workflow calls is in the project and runs the image and the round trip."""
    script = project / SMOKE_SCRIPT
    if not script.is_file():
        return [f"the workflow calls {SMOKE_SCRIPT}, which the project lacks"]
    text = script.read_text()
    return [f"{SMOKE_SCRIPT} never does {w!r}" for w in SMOKE_STEPS if w not in text]


def smoke_env(project: Path) -> dict[str, str]:
    """The environment the workflow gives its smoke step (the job's and the step's own)."""
    _, jobs, steps = parse(project)
    smokes = find(steps, is_smoke)
    if not smokes:
        raise ValueError(f"the workflow never calls {SMOKE_SCRIPT}")
    return step_env(jobs, smokes[0])


def github_repository(source_url: str) -> str | None:
    """owner/name of a https://github.com/owner/name URL, else None."""
    parts = urlsplit(source_url)
    path = parts.path.strip("/").removesuffix(".git").split("/")
    github = parts.hostname in ("github.com", "www.github.com")
    return "/".join(path) if github and len(path) == 2 and all(path) else None


def identity_problems(project: Path, answers: dict[str, Any]) -> list[str]:
    """Each `cosign verify` accepts this repository's ci.yml on main and v* tags, nothing else."""
    repository = github_repository(answers["source_url"])
    signer = repository or "OWNER/REPO"
    workflow = f"https://github.com/{signer}/.github/workflows/ci.yml@refs/"
    foreign = [
        workflow + "pull/1/merge",
        workflow + "heads/feature",
        workflow + "heads/main-x",
        workflow.replace(signer, "attacker/" + signer.split("/")[1]) + "heads/main",
        workflow.replace(signer, signer + "x") + "heads/main",
        workflow.replace("ci.yml", "other.yml") + "heads/main",
    ]
    problems = []
    for doc in DOCS:
        text = (project / doc).read_text()
        identities = re.findall(r"--certificate-identity-regexp '([^']*)'", text)
        if len(identities) != text.count("cosign verify") or (not identities and doc == DOCS[0]):
            problems.append(f"{doc}: every cosign verify must pin --certificate-identity-regexp")
        if text.count(f"--certificate-oidc-issuer {ISSUER}") != text.count("cosign verify"):
            problems.append(f"{doc}: every cosign verify must pin the issuer {ISSUER}")
        for identity in identities:
            pattern = re.compile(identity)
            if not all(pattern.search(workflow + ref) for ref in ("heads/main", "tags/v1.2.3")):
                problems.append(f"{doc}: {identity} rejects {signer}'s ci.yml on main or v1.2.3")
            problems += [f"{doc}: {identity} accepts {i}" for i in foreign if pattern.search(i)]
        if identities and not repository and "not a github.com repository" not in text:
            problems.append(f"{doc}: say that OWNER/REPO must be replaced, source_url is elsewhere")
    return problems


def supply_chain_disagreements(project: Path, answers: dict[str, Any]) -> list[str]:
    """Built once, every platform tested and scanned, those bytes pushed and signed, and a
    signature check that names the signer."""
    _, jobs, steps = parse(project)
    problems = workflow_supply_problems(jobs, steps, answers) + smoke_script_problems(project)
    if answers["registry"] != "none":
        problems += identity_problems(project, answers)
    elif any("cosign verify" in (project / doc).read_text() for doc in DOCS):
        problems.append("registry none signs nothing, yet the docs say how to verify a signature")
    return problems
