"""Checks of the optional deployment pieces: CI workflow, compose file and Kubernetes
manifests, linted offline, and the Deployment's settings run against the built image."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from harness.checks.deployment.pieces import PIECE_OF, piece_problems
from harness.checks.deployment.supply import SMOKE_SCRIPT, smoke_env
from harness.checks.deployment.updates import lint_updates, updates_disagreements
from harness.checks.outcome import Figures, expect

if TYPE_CHECKING:
    from harness.lab.subject import Subject


def deployment_piece(s: Subject, criterion: str) -> Figures:
    """An optional piece, linted offline and compared with the Dockerfile and the answers
    (harness/checks/deployment/pieces.py lists what is compared)."""
    piece = PIECE_OF[criterion]
    problems = piece_problems(piece, s.project.path, s.project.answers)
    expect(not problems, f"{piece.what}: " + "\n".join(problems))
    return {}


def ci_workflow(s: Subject) -> Figures:
    return deployment_piece(s, "SC-14")


def ci_supply_chain(s: Subject) -> Figures:
    deployment_piece(s, "SC-17")
    return run_ci_smoke_test(s)


def run_ci_smoke_test(s: Subject) -> Figures:
    """The project's scripts/smoke.sh, as the workflow calls it on each platform, on this
    row's image and platform against the row's PostgreSQL (the step's env, its URL ours)."""
    # a local image of another platform would make `docker run` pull, off this machine
    built = s.engine.docker(
        "image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", s.image.tag
    )
    expect(built.stdout.strip() == s.platform, f"{s.image.tag} is {built.stdout}, not {s.platform}")
    # it publishes the answered port on the host network, as on the runner
    s.remove_containers()
    container = f"tat-{s.variant.name}-smoke"
    # no proxy: curl must talk to the container on loopback, never through a proxy
    ours = {k: v for k, v in s.engine.environ().items() if not k.lower().endswith("_proxy")}
    env = {
        **ours,
        **smoke_env(s.project.path),
        "DATABASE_URL": s.database_url,
        "SMOKE_CONTAINER": container,
        # the engine's own client first: the script calls plain `docker`
        "PATH": f"{Path(s.engine.client).parent}:{os.environ['PATH']}",
    }
    started = time.monotonic()
    try:
        out = subprocess.run(
            [str(s.project.path / SMOKE_SCRIPT), s.image.tag, s.platform],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        s.engine.docker("rm", "-f", container, check=False)  # the script's trap, if killed
    expect(
        out.returncode == 0,
        f"{SMOKE_SCRIPT} failed on {s.image.tag} ({s.platform}), exit "
        f"{out.returncode}:\n{(out.stdout + out.stderr)[-2000:]}",
    )
    return {"ci_smoke_s": round(time.monotonic() - started, 1)}


def update_config(s: Subject) -> Figures:
    """renovate.json against Renovate's schema, and aimed at what the project pins."""
    problems = lint_updates(s.project.path) + updates_disagreements(
        s.project.path, s.project.answers
    )
    expect(not problems, "Renovate config: " + "\n".join(problems))
    return {}


def compose_file(s: Subject) -> Figures:
    return deployment_piece(s, "SC-15")


def kubernetes_manifests(s: Subject) -> Figures:
    deployment_piece(s, "SC-16")
    return run_as_deployment(s)


def run_as_deployment(s: Subject) -> Figures:
    """Start the built image the way the rendered Deployment would (its user, read-only
    root, capabilities, limits, env and args), then ask its three probes."""
    manifest = next(
        d
        for d in yaml.safe_load_all(
            (s.project.path / "deploy" / "kubernetes" / "deployment.yaml").read_text()
        )
        if d
    )
    pod = manifest["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    sec = {**pod.get("securityContext", {}), **spec.get("securityContext", {})}
    expect(
        sec.get("runAsNonRoot") is True
        and sec.get("runAsUser") == int(s.project.answers["app_uid"]),
        f"the Deployment's securityContext does not pin the image's UID: {sec}",
    )
    extra = ["--user", f"{sec['runAsUser']}:{sec.get('runAsGroup', 0)}"]
    if sec.get("readOnlyRootFilesystem"):
        extra.append("--read-only")
    extra += [arg for m in spec.get("volumeMounts", []) for arg in ("--tmpfs", m["mountPath"])]
    if "ALL" in sec.get("capabilities", {}).get("drop", []):
        extra += ["--cap-drop", "ALL"]
    if sec.get("allowPrivilegeEscalation") is False:
        extra += ["--security-opt", "no-new-privileges"]
    limits = spec.get("resources", {}).get("limits", {})
    if "memory" in limits:
        extra += ["--memory", limits["memory"].replace("Mi", "m").replace("Gi", "g")]
    port = spec["ports"][0]["containerPort"]
    env = {e["name"]: e["value"] for e in spec.get("env", []) if "value" in e}
    expect(
        int(env.get("PORT", port)) == port == s.project.port,
        f"the Deployment's port {port} is not the answered one",
    )
    for e in env.items():
        extra += ["-e", "=".join(e)]
    s.remove_containers()
    for init in pod.get("initContainers", []):  # e.g. migrate: each must finish with exit 0
        s.engine.docker(
            "run",
            "--rm",
            "--network",
            "host",
            *extra,
            "-e",
            f"DATABASE_URL={s.database_url}",
            s.image.tag,
            *init.get("args", ()),
        )
    c = s.start_container("k8s", extra=tuple(extra), command=tuple(spec.get("args", ())))
    ready = c.wait_for_health_200()
    probes = {
        name: spec[name]
        for name in ("startupProbe", "readinessProbe", "livenessProbe")
        if name in spec
    }
    for name, probe in probes.items():
        if "httpGet" in probe:
            resp = c.http("GET", probe["httpGet"]["path"])
            expect(resp.status == 200, f"{name} {probe['httpGet']['path']} answered {resp}")
        elif "tcpSocket" in probe:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
    c.remove()
    return {"k8s_ready_s": round(ready, 2), "probes": len(probes)}
