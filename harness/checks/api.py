"""Checks of the running app: its API against PostgreSQL, /health, the port, restarts,
a read-only root and the project's own tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from typing import TYPE_CHECKING

from harness.checks.outcome import CheckFailed, Figures, expect
from harness.lab.container import request
from harness.machine.net import free_port

if TYPE_CHECKING:
    from harness.lab.subject import Subject


def crud_round_trip(port: int, label: str) -> None:
    created = request(port, "POST", "/tasks", {"title": f"{label} round trip"})
    expect(created.status == 201, f"{label}: POST answered {created}")
    tid = created.body["id"]
    for method, path, body, want in (
        ("GET", f"/tasks/{tid}", None, 200),
        ("PATCH", f"/tasks/{tid}", {"status": "done"}, 200),
        ("DELETE", f"/tasks/{tid}", None, 204),
    ):
        resp = request(port, method, path, body)
        expect(resp.status == want, f"{label}: {method} {path} answered {resp}, expected {want}")


def crud(s: Subject) -> Figures:
    c = s.main_container()
    title = f"Test containerized API {uuid.uuid4().hex[:8]}"
    created = c.http("POST", "/tasks", {"title": title})
    expect(created.status == 201, f"POST /tasks answered {created}")
    task = created.body
    expect(
        {"id", "title", "description", "status", "created_at", "updated_at"} <= set(task),
        f"a created task lacks fields: {task}",
    )
    expect(task["status"] == "pending" and task["title"] == title, f"unexpected new task {task}")
    tid = task["id"]
    expect(
        s.psql(f"SELECT title FROM task WHERE id = {tid}") == title,
        "the created task is not in the PostgreSQL database given by DATABASE_URL",
    )

    got = c.http("GET", f"/tasks/{tid}")
    expect(got.status == 200 and got.body == task, f"GET /tasks/{tid} answered {got}")
    listed = c.http("GET", "/tasks?limit=100&status=pending")
    expect(
        listed.status == 200 and tid in [t["id"] for t in listed.body],
        f"GET /tasks?status=pending does not list task {tid}: {listed}",
    )
    page = c.http("GET", "/tasks?limit=1&offset=0")
    expect(page.status == 200 and len(page.body) == 1, f"GET /tasks?limit=1 answered {page}")

    patched = c.http("PATCH", f"/tasks/{tid}", {"status": "done", "description": "shipped"})
    expect(
        patched.status == 200
        and patched.body["status"] == "done"
        and patched.body["description"] == "shipped",
        f"PATCH answered {patched}",
    )
    expect(patched.body["updated_at"] > task["updated_at"], "PATCH did not move updated_at forward")
    done = c.http("GET", "/tasks?status=done&limit=100")
    expect(tid in [t["id"] for t in done.body], f"status=done filter misses task {tid}: {done}")

    for body, why in (
        ({"title": ""}, "blank title"),
        ({"title": "x", "status": "someday"}, "unknown status"),
        ({"title": 42}, "wrong type"),
    ):
        bad = c.http("POST", "/tasks", body)
        expect(
            bad.status == 422 and "detail" in bad.body, f"a {why} got {bad}, not a 422 with detail"
        )
    gone = c.http("DELETE", f"/tasks/{tid}")
    expect(gone.status == 204, f"DELETE answered {gone}")
    missing = c.http("GET", f"/tasks/{tid}")
    expect(
        missing.status == 404 and str(tid) in str(missing.body),
        f"GET after DELETE answered {missing}",
    )
    expect(
        s.psql(f"SELECT count(*) FROM task WHERE id = {tid}") == "0",
        "DELETE left the row in PostgreSQL",
    )
    return {"curl_flow": chapter_curl_flow(c.port)}


def chapter_curl_flow(port: int) -> str:
    """The chapter's own curl commands, verbatim but for the port."""
    if not shutil.which("curl"):
        raise CheckFailed(
            "curl is not installed on this machine: the chapter's commands cannot be run"
        )
    base = f"http://localhost:{port}"
    steps = [
        [
            "curl",
            "-sS",
            "-X",
            "POST",
            f"{base}/tasks",
            "-H",
            "Content-Type: application/json",
            "-d",
            '{"title": "Test containerized API"}',
        ],
        ["curl", "-sS", f"{base}/tasks"],
        ["curl", "-sS", f"{base}/health"],
    ]
    for argv in steps:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        expect(
            out.returncode == 0 and out.stdout.startswith(("{", "[")),
            f"`{' '.join(argv)}` failed: {out.stdout}{out.stderr}",
        )
        expect(
            "Test containerized API" in out.stdout or argv[-1].endswith("/health"),
            f"`{' '.join(argv)}` does not show the created task: {out.stdout[:300]}",
        )
    return "ok"


def health(s: Subject) -> Figures:
    s.remove_containers()  # a fresh container, so the timings start at `docker run`
    # started as the main one, which the later checks then reuse: under qemu a start takes 40 s
    c = s.start_container("main")
    first_200 = c.wait_for_health_200()
    body = c.http("GET", "/health").body
    want = {"status": "healthy", "service": s.project.answers["project_slug"]}
    expect(body == want, f"/health answered {body}, expected {want}")
    healthy = c.wait_for_docker_health("healthy")
    # and it must be able to say no: a database nobody listens on
    down = s.start_container(
        "health-down",
        port=free_port(exclude={c.port}),
        database_url=s.unreachable_database_url(),
        health_start_period="1ms",  # failures count at once
    )
    down.wait_for_health_status(503)
    bad = down.http("GET", "/health")
    expect(bad.status == 503 and bad.body.get("reason"), f"/health with no database answered {bad}")
    down.wait_for_docker_health("unhealthy", timeout=30)
    down.remove()
    return {"first_200_s": round(first_200, 2), "healthy_s": round(healthy, 2)}


def port_at_run_time(s: Subject) -> Figures:
    other = free_port(exclude={s.project.port})
    c = s.start_container("port", port=other)
    c.wait_for_health_200()
    resp = request(other, "GET", "/health")
    expect(resp.status == 200, f"with PORT={other} /health answered {resp}")
    c.remove()
    return {"port": other}


def persistence(s: Subject) -> Figures:
    c = s.main_container()
    created = c.http("POST", "/tasks", {"title": "survives restarts"})
    expect(created.status == 201, f"POST answered {created}")
    tid = created.body["id"]
    c.restart()
    c.wait_for_health_200()
    after = c.http("GET", f"/tasks/{tid}")
    expect(
        after.status == 200 and after.body["title"] == "survives restarts",
        f"after docker restart GET /tasks/{tid} answered {after}",
    )
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
    return {"project_tests": live_suite(s, s.main_container().port, "the container")}


def live_suite(s: Subject, port: int, against: str) -> str:
    """The project's own tests against a running service on 127.0.0.1:port, as its README
    says to run them; the summary line."""
    env = {**os.environ, "TEST_BASE_URL": f"http://127.0.0.1:{port}"}
    env.pop("TEST_DATABASE_URL", None)
    out = subprocess.run(
        [str(s.project_python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=s.project.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    expect(
        out.returncode == 0, f"the project's tests failed against {against}:\n{out.stdout[-3000:]}"
    )
    summary = out.stdout.strip().splitlines()[-1]
    expect(" passed" in summary, f"the project's tests ran nothing: {summary}")
    return summary
