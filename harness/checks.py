"""One check per success criterion of the rendered spec (SC-01 ... SC-13, and SC-14 ... SC-16
for the optional deployment pieces, which a spec lists only when they were chosen).

Each check takes the Subject (a built variant and the services around it), raises
CheckFailed with what it saw when the criterion does not hold, and returns the figures
it measured for the report. Every check has a way to fail: where a check proves an
absence (no secret, no root) it first proves that it can see a presence.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from harness.container import request
from harness.deployment import PIECE_OF, piece_problems
from harness.net import free_port, registry_has
from harness.secrets import scan_stream

if TYPE_CHECKING:
    from harness.subject import Subject

Figures = dict[str, Any]


class CheckFailed(AssertionError):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def crud_round_trip(port: int, label: str) -> None:
    created = request(port, "POST", "/tasks", {"title": f"{label} round trip"})
    expect(created.status == 201, f"{label}: POST answered {created}")
    tid = created.body["id"]
    for method, path, body, want in (("GET", f"/tasks/{tid}", None, 200),
                                     ("PATCH", f"/tasks/{tid}", {"status": "done"}, 200),
                                     ("DELETE", f"/tasks/{tid}", None, 204)):
        resp = request(port, method, path, body)
        expect(resp.status == want, f"{label}: {method} {path} answered {resp}, expected {want}")


def builds(s: Subject) -> Figures:
    expect(s.image.size_bytes > 0, f"{s.image.tag} has no size after the build")
    return {"build_s": round(s.image.build_seconds, 1)}


def lint(s: Subject) -> Figures:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    out = subprocess.run([hadolint, "Dockerfile"], cwd=s.project.path, capture_output=True, text=True)
    expect(out.returncode == 0, f"hadolint found problems:\n{out.stdout}{out.stderr}")
    return {}


def size(s: Subject) -> Figures:
    budget = int(s.project.answers["image_size_budget_mb"]) * 1_000_000
    mb = s.image.size_bytes / 1_000_000
    expect(s.image.size_bytes <= budget,
           f"{s.image.tag} is {mb:.1f} MB, over its budget of {budget // 1_000_000} MB")
    return {"size_mb": round(mb, 1), "budget_mb": budget // 1_000_000}


def crud(s: Subject) -> Figures:
    c = s.main_container()
    title = f"Test containerized API {uuid.uuid4().hex[:8]}"
    created = c.http("POST", "/tasks", {"title": title})
    expect(created.status == 201, f"POST /tasks answered {created}")
    task = created.body
    expect({"id", "title", "description", "status", "created_at", "updated_at"} <= set(task),
           f"a created task lacks fields: {task}")
    expect(task["status"] == "pending" and task["title"] == title, f"unexpected new task {task}")
    tid = task["id"]
    expect(s.psql(f"SELECT title FROM task WHERE id = {tid}") == title,
           "the created task is not in the PostgreSQL database given by DATABASE_URL")

    got = c.http("GET", f"/tasks/{tid}")
    expect(got.status == 200 and got.body == task, f"GET /tasks/{tid} answered {got}")
    listed = c.http("GET", "/tasks?limit=100&status=pending")
    expect(listed.status == 200 and tid in [t["id"] for t in listed.body],
           f"GET /tasks?status=pending does not list task {tid}: {listed}")
    page = c.http("GET", "/tasks?limit=1&offset=0")
    expect(page.status == 200 and len(page.body) == 1, f"GET /tasks?limit=1 answered {page}")

    patched = c.http("PATCH", f"/tasks/{tid}", {"status": "done", "description": "shipped"})
    expect(patched.status == 200 and patched.body["status"] == "done"
           and patched.body["description"] == "shipped", f"PATCH answered {patched}")
    expect(patched.body["updated_at"] > task["updated_at"], "PATCH did not move updated_at forward")
    done = c.http("GET", "/tasks?status=done&limit=100")
    expect(tid in [t["id"] for t in done.body], f"status=done filter misses task {tid}: {done}")

    for body, why in (({"title": ""}, "blank title"), ({"title": "x", "status": "someday"}, "unknown status"),
                      ({"title": 42}, "wrong type")):
        bad = c.http("POST", "/tasks", body)
        expect(bad.status == 422 and "detail" in bad.body, f"a {why} got {bad}, not a 422 with detail")
    gone = c.http("DELETE", f"/tasks/{tid}")
    expect(gone.status == 204, f"DELETE answered {gone}")
    missing = c.http("GET", f"/tasks/{tid}")
    expect(missing.status == 404 and str(tid) in str(missing.body), f"GET after DELETE answered {missing}")
    expect(s.psql(f"SELECT count(*) FROM task WHERE id = {tid}") == "0", "DELETE left the row in PostgreSQL")
    return {"curl_flow": chapter_curl_flow(c.port)}


def chapter_curl_flow(port: int) -> str:
    """The chapter's own curl commands, verbatim but for the port."""
    if not shutil.which("curl"):
        raise CheckFailed("curl is not installed on this machine: the chapter's commands cannot be run")
    base = f"http://localhost:{port}"
    steps = [
        ["curl", "-sS", "-X", "POST", f"{base}/tasks", "-H", "Content-Type: application/json",
         "-d", '{"title": "Test containerized API"}'],
        ["curl", "-sS", f"{base}/tasks"],
        ["curl", "-sS", f"{base}/health"],
    ]
    for argv in steps:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        expect(out.returncode == 0 and out.stdout.startswith(("{", "[")),
               f"`{' '.join(argv)}` failed: {out.stdout}{out.stderr}")
        expect("Test containerized API" in out.stdout or argv[-1].endswith("/health"),
               f"`{' '.join(argv)}` does not show the created task: {out.stdout[:300]}")
    return "ok"


def health(s: Subject) -> Figures:
    s.remove_containers()  # a fresh container, so the timings start at `docker run`
    c = s.start_container("health")
    first_200 = c.wait_for_health_200()
    body = c.http("GET", "/health").body
    want = {"status": "healthy", "service": s.project.answers["project_slug"]}
    expect(body == want, f"/health answered {body}, expected {want}")
    healthy = c.wait_for_docker_health("healthy")
    c.remove()
    # and it must be able to say no: a database nobody listens on
    down = s.start_container("health-down", database_url=s.unreachable_database_url(),
                             health_start_period="1ms")  # failures count at once
    down.wait_for_health_status(503)
    bad = down.http("GET", "/health")
    expect(bad.status == 503 and bad.body.get("reason"), f"/health with no database answered {bad}")
    down.wait_for_docker_health("unhealthy", timeout=30)
    down.remove()
    return {"first_200_s": round(first_200, 2), "healthy_s": round(healthy, 2)}


def non_root(s: Subject) -> Figures:
    uid = int(s.project.answers["app_uid"])
    user = s.engine.docker("image", "inspect", "--format", "{{.Config.User}}", s.image.tag).stdout.strip()
    expect(user == f"{uid}:0", f"the image's USER is {user!r}, expected the numeric {uid}:0")
    c = s.main_container()
    status = c.exec("python", "-c", "print(open('/proc/1/status').read())")
    uids = next(line.split()[1:] for line in status.splitlines() if line.startswith("Uid:"))
    expect(uids and all(u == str(uid) for u in uids), f"PID 1 runs with UIDs {uids}, expected {uid}")
    return {"uid": uid}


def no_secrets(s: Subject) -> Figures:
    c = s.main_container()  # so its logs can be searched too
    history = s.engine.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", s.image.tag).stdout
    config = s.engine.docker("image", "inspect", s.image.tag).stdout
    logs = c.logs()
    proc = subprocess.Popen(s.engine.argv("save", s.image.tag), stdout=subprocess.PIPE,
                            env=s.engine.environ())
    # the project's own slug is in the app code: proof the scan sees what is there
    wanted = {**s.sentinels, "control": s.project.answers["project_slug"] + '"'}
    found, scanned = scan_stream(proc.stdout, wanted.values())
    proc.wait()
    expect(proc.returncode == 0, "docker save failed")
    expect(wanted["control"] in found, "the layer scan did not see the app's own code: it cannot be trusted")
    leaks = [f"{name} in the image layers" for name, value in s.sentinels.items() if value in found]
    for place, text in (("docker history", history), ("the image config and labels", config),
                        ("the container's logs", logs)):
        leaks += [f"{name} in {place}" for name, value in s.sentinels.items() if value in text]
    expect(not leaks, "secrets leaked: " + "; ".join(leaks))
    return {"scanned_mb": round(scanned / 1e6, 1), "sentinels": len(s.sentinels)}


def port_at_run_time(s: Subject) -> Figures:
    other = free_port(exclude={s.project.port})
    c = s.start_container("port", port=other)
    c.wait_for_health_200()
    resp = request(other, "GET", "/health")
    expect(resp.status == 200, f"with PORT={other} /health answered {resp}")
    c.remove()
    return {"port": other}


def push(s: Subject) -> Figures:
    s.remove_containers()  # a running container would keep the image from being removed
    if s.project.answers["registry"] == "none":
        s.save_archive()
        return {"archive_mb": round(s.archive.stat().st_size / 1e6, 1)}
    s.engine.docker("tag", s.image.tag, s.push_ref)
    s.engine.docker("push", s.push_ref)
    expect(registry_has(s.lab.registry.host, s.push_ref), f"{s.push_ref} is not in the registry after the push")
    return {"pushed": s.push_ref}


def pull_and_run(s: Subject) -> Figures:
    s.remove_containers()
    s.engine.docker("rmi", "--force", s.image.tag, *([s.push_ref] if s.push_ref != s.image.tag else []),
                    check=False)
    gone = s.engine.docker("image", "inspect", s.image.id, check=False).returncode != 0
    expect(gone, f"{s.image.tag} could not be removed before the pull")
    if s.project.answers["registry"] == "none":
        s.engine.docker("load", "-i", str(s.archive))
    else:
        s.engine.docker("pull", s.push_ref)
        s.engine.docker("tag", s.push_ref, s.image.tag)
    now = s.engine.docker("image", "inspect", "--format", "{{.Id}}", s.image.tag).stdout.strip()
    expect(now == s.image.id, f"the image came back as {now}, not {s.image.id}")
    c = s.start_container("pulled")
    c.wait_for_health_200()
    crud_round_trip(c.port, "the pulled image")
    c.remove()
    return {}


def persistence(s: Subject) -> Figures:
    c = s.main_container()
    created = c.http("POST", "/tasks", {"title": "survives restarts"})
    expect(created.status == 201, f"POST answered {created}")
    tid = created.body["id"]
    c.restart()
    c.wait_for_health_200()
    after = c.http("GET", f"/tasks/{tid}")
    expect(after.status == 200 and after.body["title"] == "survives restarts",
           f"after docker restart GET /tasks/{tid} answered {after}")
    s.remove_containers()
    fresh = s.main_container()
    again = fresh.http("GET", f"/tasks/{tid}")
    expect(again.status == 200, f"a new container does not see task {tid}: {again}")
    return {}


def read_only(s: Subject) -> Figures:
    s.remove_containers()
    c = s.start_container("read-only", extra=("--read-only", "--tmpfs", "/tmp"))
    c.wait_for_health_200()
    crud_round_trip(c.port, "with a read-only root")
    c.remove()
    return {}


def project_tests(s: Subject) -> Figures:
    c = s.main_container()
    env = {**os.environ, "TEST_BASE_URL": f"http://127.0.0.1:{c.port}"}
    env.pop("TEST_DATABASE_URL", None)
    out = subprocess.run([str(s.project_python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
                         cwd=s.project.path, env=env, capture_output=True, text=True, timeout=600)
    expect(out.returncode == 0, f"the project's tests failed against the container:\n{out.stdout[-3000:]}")
    summary = out.stdout.strip().splitlines()[-1]
    expect(" passed" in summary, f"the project's tests ran nothing: {summary}")
    return {"project_tests": summary}


def deployment_piece(s: Subject, criterion: str) -> Figures:
    """An optional piece, linted offline and compared with the Dockerfile and the answers
    (harness/deployment.py lists what is compared)."""
    piece = PIECE_OF[criterion]
    problems = piece_problems(piece, s.project.path, s.project.answers)
    expect(not problems, f"{piece.what}: " + "\n".join(problems))
    return {}


def ci_workflow(s: Subject) -> Figures:
    return deployment_piece(s, "SC-14")


def compose_file(s: Subject) -> Figures:
    return deployment_piece(s, "SC-15")


def kubernetes_manifests(s: Subject) -> Figures:
    deployment_piece(s, "SC-16")
    return run_as_deployment(s)


def run_as_deployment(s: Subject) -> Figures:
    """Start the built image the way the rendered Deployment would (its user, read-only
    root, capabilities, limits, env and args), then ask its three probes."""
    manifest = next(d for d in yaml.safe_load_all(
        (s.project.path / "deploy" / "kubernetes" / "deployment.yaml").read_text()) if d)
    pod = manifest["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    sec = {**pod.get("securityContext", {}), **spec.get("securityContext", {})}
    expect(sec.get("runAsNonRoot") is True and sec.get("runAsUser") == int(s.project.answers["app_uid"]),
           f"the Deployment's securityContext does not pin the image's UID: {sec}")
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
    expect(int(env.get("PORT", port)) == port == s.project.port, f"the Deployment's port {port} is not the answered one")
    for e in env.items():
        extra += ["-e", "=".join(e)]
    s.remove_containers()
    c = s.start_container("k8s", extra=tuple(extra), command=tuple(spec.get("args", ())))
    ready = c.wait_for_health_200()
    probes = {name: spec[name] for name in ("startupProbe", "readinessProbe", "livenessProbe") if name in spec}
    for name, probe in probes.items():
        if "httpGet" in probe:
            resp = c.http("GET", probe["httpGet"]["path"])
            expect(resp.status == 200, f"{name} {probe['httpGet']['path']} answered {resp}")
        elif "tcpSocket" in probe:
            with socket.create_connection(("127.0.0.1", port), timeout=5):
                pass
    c.remove()
    return {"k8s_ready_s": round(ready, 2), "probes": len(probes)}


CHECKS: dict[str, Callable[[Subject], Figures]] = {
    "SC-01": builds,
    "SC-02": lint,
    "SC-03": size,
    "SC-04": crud,
    "SC-05": health,
    "SC-06": non_root,
    "SC-07": no_secrets,
    "SC-08": port_at_run_time,
    "SC-09": push,
    "SC-10": pull_and_run,
    "SC-11": persistence,
    "SC-12": read_only,
    "SC-13": project_tests,
    "SC-14": ci_workflow,
    "SC-15": compose_file,
    "SC-16": kubernetes_manifests,
}
# criteria a spec lists only when their piece was chosen; Piece.why_absent says why not
OPTIONAL_CRITERIA = dict(PIECE_OF)
