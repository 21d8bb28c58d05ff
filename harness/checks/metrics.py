"""SC-20 and SC-21 on one container of two gunicorn workers, read-only root, an arbitrary UID
and JSON logs: /metrics counts every request once across the workers (a SIGKILLed worker's
counts kept, its gauges gone), hostile paths and ids add no series; every request has an id,
echoed, on its one access line.

The scrape is read by a dozen lines here rather than prometheus-client's parser: the harness's
venv does not carry the rendered project's dependencies, and the labels are the app's own."""

from __future__ import annotations

import json
import os
import re
import signal
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.checks.outcome import CheckFailed, Figures, expect
from harness.lab.container import Container, Response, request
from harness.machine.net import free_port

if TYPE_CHECKING:
    from harness.lab.subject import Subject

# Not the image's own UID: platforms like OpenShift pick one, with GID 0
ARBITRARY_UID = 1000321
WORKERS = 2
BEFORE_KILL, AFTER_KILL, DISTINCT_IDS, BOGUS_PATHS = 60, 40, 1000, 200
THREADS = 8
# every route label the app may use: its route templates and the one for no route
ROUTES = {"/health", "/tasks", "/tasks/{task_id}", "/metrics", "unmatched"}
Series = tuple[str, frozenset[tuple[str, str]]]
_SAMPLE = re.compile(r"([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def operable_container(s: Subject) -> Container:
    """The row's container for SC-20 and SC-21, started on first use."""
    c = s.containers.get(f"tat-{s.variant.name}-operable")
    if c and c.state().get("Running"):
        return c
    env = {"WEB_CONCURRENCY": str(WORKERS), "LOG_FORMAT": "json", "METRICS_ENABLED": "true"}
    extra = ["--read-only", "--tmpfs", "/tmp", "--user", f"{ARBITRARY_UID}:0"]
    for key, value in env.items():
        extra += ["-e", f"{key}={value}"]
    c = s.start_container("operable", port=free_port(exclude={s.project.port}), extra=tuple(extra))
    c.wait_for_health_200()
    return c


def scrape(port: int) -> dict[Series, float]:
    resp = request(port, "GET", "/metrics")
    expect(resp.status == 200 and isinstance(resp.body, str), f"/metrics answered {resp}")
    return parse_samples(resp.body)


def parse_samples(text: str) -> dict[Series, float]:
    """Prometheus' text format: each sample by its name and labels."""
    samples: dict[Series, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            match = _SAMPLE.fullmatch(line)
            expect(match is not None, f"/metrics has a line that is not a sample: {line!r}")
            assert match is not None
            labels = frozenset(_LABEL.findall(match[2] or ""))
            samples[(match[1], labels)] = float(match[3])
    return samples


def value(samples: dict[Series, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def send_all(port: int, calls: list[tuple[str, str, dict[str, str]]]) -> list[Response]:
    def one(call: tuple[str, str, dict[str, str]]) -> Response:
        return request(port, call[0], call[1], headers=call[2])

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, calls))


def json_lines(c: Container) -> list[dict[str, Any]]:
    """All the container's log lines (stdout and stderr), each of which must be a JSON object."""
    lines = [line for line in c.logs().splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise CheckFailed(
                f"with LOG_FORMAT=json a log line is not JSON: {line[:300]!r}"
            ) from None
        expect(isinstance(record, dict), f"a log line is JSON but no object: {line[:300]!r}")
        records.append(record)
    return records


def access_lines(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    by_id: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        if record.get("logger") == "app.access":
            by_id.setdefault(str(record.get("request_id")), []).append(record)
    return by_id


def worker_pids(s: Subject, c: Container) -> dict[int, int]:
    """gunicorn's workers in c: their PID in the container's namespace -> on this host."""
    top = s.engine.docker("top", c.name, "-eo", "pid,ppid").stdout.split()[2:]
    rows = [(int(pid), int(ppid)) for pid, ppid in zip(top[::2], top[1::2], strict=True)]
    # tini is the container's PID 1, gunicorn's arbiter its child, the workers the arbiter's
    arbiters = {pid for pid, ppid in rows if ppid == c.state()["Pid"]}
    workers = {}
    for pid, ppid in rows:
        if ppid in arbiters:
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue  # it ended between `docker top` and now
            workers[int(status.split("NSpid:")[1].split("\n")[0].split()[-1])] = pid
    return workers


def access_lines_for(c: Container, ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The access lines by request id, once every one of `ids` has one (a line is written
    just after its answer went out, so the last may come a moment later)."""
    deadline = time.monotonic() + 10
    while True:
        seen = access_lines(json_lines(c))
        if ids <= set(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.2)


def wait_for_workers(s: Subject, c: Container, gone: int, timeout: float = 30.0) -> dict[int, int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        workers = worker_pids(s, c)
        if len(workers) == WORKERS and gone not in workers:
            return workers
        time.sleep(0.2)
    raise CheckFailed(f"gunicorn did not replace worker {gone} within {timeout:.0f} s")


def gets(path: str, prefix: str, count: int) -> list[tuple[str, str, dict[str, str]]]:
    return [("GET", path, {"X-Request-ID": f"{prefix}-{i}"}) for i in range(count)]


def metrics_add_up(s: Subject) -> Figures:
    """SC-20."""
    started = time.monotonic()
    if not s.project.answers.get("metrics", True):
        off = s.main_container().http("GET", "/metrics")
        expect(off.status == 404, f"metrics were switched off, yet /metrics answered {off}")
    c = operable_container(s)
    created = c.http("POST", "/tasks", {"title": "counted"})
    expect(created.status == 201, f"POST /tasks answered {created}")
    task = f"/tasks/{created.body['id']}"
    run = uuid.uuid4().hex[:8]  # request ids of this run only
    before = scrape(c.port)

    first = send_all(c.port, gets(task, f"sc20a-{run}", BEFORE_KILL))
    expect(all(r.status == 200 for r in first), f"GET {task} failed: {first[0]}")
    served = Counter(
        str(lines[0]["pid"])
        for rid, lines in access_lines_for(
            c, {f"sc20a-{run}-{i}" for i in range(BEFORE_KILL)}
        ).items()
        if rid.startswith(f"sc20a-{run}-")
    )
    workers = worker_pids(s, c)
    expect(len(workers) == WORKERS, f"expected {WORKERS} gunicorn workers, saw {workers}")
    victim = int(served.most_common(1)[0][0])
    expect(victim in workers, f"worker {victim} served requests but is not a worker: {workers}")
    # from this host, as the OOM killer would: the image may have no shell or kill to exec
    os.kill(workers[victim], signal.SIGKILL)
    wait_for_workers(s, c, victim)
    c.wait_for_health_200()

    ids = [2_000_000 + i for i in range(DISTINCT_IDS)]
    later = gets(task, f"sc20b-{run}", AFTER_KILL)
    later += [("GET", f"/tasks/{i}", {}) for i in ids]
    later += [("GET", f"/bogus-{uuid.uuid4().hex}/{i}", {}) for i in range(BOGUS_PATHS)]
    answers = send_all(c.port, later)
    statuses = Counter(r.status for r in answers)
    expect(statuses == {200: AFTER_KILL, 404: DISTINCT_IDS + BOGUS_PATHS}, f"answers: {statuses}")
    after = scrape(c.port)
    seen = access_lines_for(c, {f"sc20b-{run}-{i}" for i in range(AFTER_KILL)})
    pids = Counter(
        str(lines[0]["pid"])
        for rid, lines in seen.items()
        if rid.startswith((f"sc20a-{run}-", f"sc20b-{run}-"))
    )
    expect(len(pids) >= WORKERS, f"the requests reached fewer than {WORKERS} workers: {pids}")

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = delta("http_requests_total", method="GET", route="/tasks/{task_id}", status="200")
    want = BEFORE_KILL + AFTER_KILL
    expect(
        ok == want,
        f"{want} answered GET {task} over workers {dict(pids)} (worker {victim} killed after"
        f" {served[str(victim)]}) scrape as {ok:g}",
    )
    for route, count in (("/tasks/{task_id}", DISTINCT_IDS), ("unmatched", BOGUS_PATHS)):
        got = delta("http_requests_total", method="GET", route=route, status="404")
        expect(got == count, f"{count} 404s on {route} scrape as {got:g}")
    timed = delta("http_request_duration_seconds_count", method="GET", route="/tasks/{task_id}")
    expect(timed == want + DISTINCT_IDS, f"the latency histogram counted {timed:g}")
    new = {
        tuple(sorted(labels))
        for name, labels in set(after) - set(before)
        if name == "http_requests_total"
    }
    allowed = {
        (("method", "GET"), ("route", route), ("status", status))
        for route, status in (
            ("/tasks/{task_id}", "200"),  # the N requests themselves
            ("/tasks/{task_id}", "404"),
            ("unmatched", "404"),
            ("/metrics", "200"),
        )
    }
    routes = {
        v for name, labels in after if name.startswith("http_") for k, v in labels if k == "route"
    }
    expect(
        new <= allowed and routes <= ROUTES,
        f"{DISTINCT_IDS} ids and {BOGUS_PATHS} made-up paths added series {sorted(new - allowed)}"
        f" or routes {sorted(routes - ROUTES)}",
    )
    leaked = [k for k in after if any(re.search(r"bogus|/tasks/\d", v) for _, v in k[1])]
    expect(not leaked, f"a raw path reached a label: {leaked[:3]}")
    dead = [k for k in after if ("pid", str(victim)) in k[1]]
    expect(not dead, f"the killed worker's gauges are still scraped: {dead[:3]}")
    pool = value(after, "db_pool_connections_max", pool="data")
    expect(pool == WORKERS * 20, f"pool capacity sums {pool:g}, not {WORKERS} live workers x 20")
    in_flight = value(after, "http_requests_in_flight")
    # the scrape itself, and perhaps Docker's health probe
    expect(1 <= in_flight <= 2, f"in flight during the scrape: {in_flight:g}")
    return {
        "requests_counted": int(ok),
        "workers_served": len(pids),
        "killed_worker_had": served[str(victim)],
        "sc20_s": round(time.monotonic() - started, 1),
    }


def requests_have_ids(s: Subject) -> Figures:
    """SC-21."""
    started = time.monotonic()
    c = operable_container(s)
    valid = [f"sc21-{uuid.uuid4()}" for _ in range(40)]
    invalid = ["x" * 129, "two words", "<script>", "a,b", "z" * 10_000, ""]
    calls = [("GET", "/health" if i % 2 else "/tasks/2147483647", {"X-Request-ID": rid})
             for i, rid in enumerate(valid + invalid)]  # fmt: skip
    calls += [("GET", "/no-such-route", {}) for _ in range(5)]
    answers = send_all(c.port, calls)
    seen = access_lines_for(c, {r.headers.get("x-request-id", "") for r in answers})
    for (_, path, headers), resp in zip(calls, answers, strict=True):
        sent = headers.get("X-Request-ID")
        echoed = resp.headers.get("x-request-id", "")
        if sent in valid:
            expect(echoed == sent, f"X-Request-ID {sent!r} came back as {echoed!r}")
        else:
            expect(
                re.fullmatch(r"[0-9a-f]{32}", echoed) is not None,
                f"for X-Request-ID {str(sent)[:40]!r} the answer's id is {echoed[:60]!r}",
            )
        lines = seen.get(echoed, [])
        expect(len(lines) == 1, f"request {echoed!r} has {len(lines)} access lines: {lines}")
        line = lines[0]
        route = "unmatched" if path == "/no-such-route" else path.replace("2147483647", "{task_id}")
        want = {"method": "GET", "route": route, "status": resp.status}
        got = {k: line.get(k) for k in want}
        expect(got == want, f"request {echoed!r}'s access line says {got}, expected {want}")
        expect(isinstance(line.get("duration_ms"), int | float), f"no duration in {line}")
    logs = c.logs()
    longest = max(len(line) for line in logs.splitlines())
    expect(longest < 4096, f"a log line is {longest} characters long")
    expect(s.lab.postgres.password not in logs, "the database password is in the log")
    return {"ids_checked": len(calls), "sc21_s": round(time.monotonic() - started, 1)}
