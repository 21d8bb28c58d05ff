"""A rolling deploy of the rendered Deployment, driven against real containers behind a real
proxy: no cluster here, so this module plays the controller and the kubelet, in the order
the manifest gives them, and haproxy plays the Service (harness/checks/rollout_proxy.py).

Each pod: its init containers (migrate) run to exit 0, then the app starts; once the startup
probe and then the readiness probe (GET) pass, it joins the proxy. The startup probe is TCP
in the manifest, but Docker's proxy accepts every connection to a published port, so here it
passes on any HTTP answer: what a TCP connect to the pod itself would prove. A pod that goes is
taken out of rotation, waits its preStop delay, gets SIGTERM with the rest of its grace
period, and must exit 0 within it. New pods are started while old ones stop, never more
than replicas + maxSurge at once, never fewer than replicas - maxUnavailable ready.

The pods run on the test's own bridge network with the stand-in PostgreSQL, each publishing
the manifest's containerPort on a port of 127.0.0.1 for the proxy. Under a bounded wrk load
of mixed reads and writes, each rollout must give 0 failed requests, and the database must
hold every write that was acknowledged: each 201's task, and each 200'd PATCH's description
(each on a task of its own, rollout_mix.lua).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checks.api import crud_round_trip
from harness.checks.db_standin import Database, start_database
from harness.checks.outcome import CheckFailed, Figures, expect
from harness.checks.rollout_plan import Plan, read_plan
from harness.checks.rollout_proxy import Proxy
from harness.checks.wrk import find_wrk, seed_tasks
from harness.lab.container import request
from harness.machine.net import bridge_network, free_port

if TYPE_CHECKING:
    from harness.lab.subject import Subject
    from harness.machine.engine import Engine

ROLLOUT_MIX = Path(__file__).with_name("rollout_mix.lua")
ROLLOUTS = int(os.environ.get("ROLLOUTS", "3"))
# a bounded load: few connections (the rollout is the subject, not the server's ceiling),
# and wrk stops by itself after LOAD_BOUND_S even if a rollout hung
ROLLOUT_CONNECTIONS = int(os.environ.get("ROLLOUT_CONNECTIONS", "8"))
LOAD_BOUND_S = 300
BURST = 3  # replicas that start at once against an empty database


@dataclass
class Pod:
    name: str
    slot: int
    port: int


@dataclass
class Cluster:
    """The pods of one Deployment, their database and the proxy in front."""

    s: Subject
    plan: Plan
    network: str
    db: Database
    proxy: Proxy
    ports: list[int]
    free: list[int] = field(default_factory=list)
    serial: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def engine(self) -> Engine:
        return self.s.engine

    def docker_args(self, database_url: str) -> list[str]:
        env = {**self.plan.env, "DATABASE_URL": database_url}
        return [*self.plan.flags, *(a for k, v in env.items() for a in ("-e", f"{k}={v}"))]

    def start_pod(self, database_url: str | None = None, join: bool = True) -> Pod:
        """Init containers, then the app; back once its readiness probe passed."""
        with self.lock:
            self.serial += 1
            slot = self.free.pop(0)
            name = f"{self.network}-pod{self.serial}"
        url = database_url or self.db.url
        pod = Pod(name, slot, self.ports[slot])
        for args in self.plan.init_args:
            init = self.engine.docker(
                "run", "--rm", "--name", f"{name}-init", "--network", self.network,
                *self.docker_args(url), self.s.image.tag, *args, check=False, timeout=120,
            )  # fmt: skip
            expect(init.returncode == 0, f"{name}: init {args} failed: {init.stderr[-800:]}")
        self.engine.docker(
            "run", "-d", "--name", name, "--network", self.network,
            "-p", f"127.0.0.1:{pod.port}:{self.plan.port}", *self.docker_args(url),
            self.s.image.tag, *self.plan.args,
        )  # fmt: skip
        self.wait_ready(pod)
        if join:
            self.proxy.join(slot)
        return pod

    def wait_ready(self, pod: Pod) -> None:
        """The kubelet's part: the startup probe (TCP) until it passes, then the readiness
        probe at once and every period until it answers 200."""
        startup, ready = self.plan.startup, self.plan.readiness
        for attempt in range(startup.failures):
            try:
                # through docker's published port: an answer, not just the proxy's accept
                if request(pod.port, "GET", "/", timeout=startup.timeout_s).status:
                    break
            except OSError:
                pass
            if attempt == startup.failures - 1:
                raise CheckFailed(f"{pod.name}: the startup probe never passed: {self.logs(pod)}")
            time.sleep(startup.period_s)
        deadline = time.monotonic() + startup.period_s * startup.failures
        while True:
            try:
                answer = request(pod.port, "GET", str(ready.path), timeout=ready.timeout_s)
                if answer.status == 200:
                    return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise CheckFailed(f"{pod.name} never became ready: {self.logs(pod)}")
            time.sleep(ready.period_s)

    def stop_pod(self, pod: Pod) -> float:
        """Out of rotation, the preStop delay, SIGTERM and the rest of the grace period."""
        self.proxy.leave(pod.slot)
        time.sleep(self.plan.pre_stop_s)
        rest = max(1, int(self.plan.grace_s - self.plan.pre_stop_s))
        started = time.monotonic()
        self.engine.docker("stop", "--time", str(rest), pod.name, timeout=rest + 30)
        stop_s = time.monotonic() - started
        code = self.engine.docker("inspect", "--format", "{{.State.ExitCode}}", pod.name).stdout
        self.engine.docker("rm", "--force", pod.name, check=False)
        with self.lock:
            self.free.append(pod.slot)
        expect(
            code.strip() == "0" and stop_s < rest,
            f"{pod.name} exited {code.strip()} after {stop_s:.1f} s of its {rest} s grace",
        )
        return stop_s

    def logs(self, pod: Pod) -> str:
        out = self.engine.docker("logs", pod.name, check=False)
        return (out.stdout + out.stderr)[-1500:]

    def rollout(self, old: list[Pod]) -> list[Pod]:
        """Replace every pod, as the Deployment controller does with maxSurge and
        maxUnavailable; old pods stop in the background while the next new one starts."""
        plan, new, stopping = self.plan, list[Pod](), list[threading.Thread]()
        errors: list[BaseException] = []
        old = list(old)

        def stop(pod: Pod) -> None:
            try:
                self.stop_pod(pod)
            except BaseException as err:  # noqa: BLE001 - handed to the main thread
                errors.append(err)

        while old or len(new) < plan.replicas:
            # never more pods than replicas + maxSurge (stopping ones are not counted,
            # as Kubernetes does not count terminating pods)
            room = min(
                plan.replicas - len(new), plan.replicas + plan.max_surge - len(old) - len(new)
            )
            with ThreadPoolExecutor(max(room, 1)) as pool:
                new += list(pool.map(lambda _: self.start_pod(), range(room)))
            # never fewer ready than replicas - maxUnavailable
            leaving = min(len(old), len(old) + len(new) - (plan.replicas - plan.max_unavailable))
            if room <= 0 and leaving <= 0:
                raise CheckFailed(f"maxSurge and maxUnavailable leave no way forward: {plan}")
            for pod in old[:leaving]:
                stopping.append(threading.Thread(target=stop, args=(pod,)))
                stopping[-1].start()
            old = old[leaving:]
        for thread in stopping:
            thread.join()
        if errors:
            raise errors[0]
        return new


def run_load(port: int, ids: list[int], tag: str) -> subprocess.Popen[str]:
    argv = [find_wrk(), "-t2", f"-c{ROLLOUT_CONNECTIONS}", f"-d{LOAD_BOUND_S}s", "--timeout", "10s"]
    argv += ["-s", str(ROLLOUT_MIX), f"http://127.0.0.1:{port}", "--", ",".join(map(str, ids)), tag]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def stop_load(load: subprocess.Popen[str]) -> dict[str, float]:
    """wrk reports (and runs done()) on SIGINT, as at the end of its duration."""
    load.send_signal(signal.SIGINT)
    out, err = load.communicate(timeout=30)
    try:
        figures: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        raise CheckFailed(f"wrk printed no figures: {out[-800:]} {err[-800:]}") from None
    return figures


def db_count(c: Cluster, sql: str, database: str | None = None) -> int:
    out = c.engine.docker(
        "exec", c.db.container, "psql", "-At", "-U", c.db.user, "-d", database or c.db.name,
        "-c", sql,
    )  # fmt: skip
    return int(out.stdout.strip())


def cluster(s: Subject, plan: Plan, network: str) -> Cluster:
    db = start_database(s.engine, network, f"{network}-db", uuid.uuid4().hex)
    slots = 2 * plan.replicas + plan.max_surge + BURST  # old, new, stopping, the burst
    ports: list[int] = []
    for _ in range(slots):
        ports.append(free_port(set(ports)))
    return Cluster(s, plan, network, db, Proxy(ports, plan.readiness), ports, list(range(slots)))


def rolling_deploy(s: Subject) -> Figures:
    """ROLLOUTS rollouts in a row under load: 0 failed requests, 0 acknowledged writes lost."""
    plan = read_plan(s.project.path)
    s.remove_containers()
    figures: dict[str, list[float]] = {"requests": [], "errors": [], "max_ms": [], "s": []}
    acked = {"created": 0, "patched": 0}
    lost = 0
    with bridge_network(s.engine, f"{s.variant.name}-rollout") as network:
        c = cluster(s, plan, network)
        with c.proxy:
            pods = [c.start_pod() for _ in range(plan.replicas)]
            ids = seed_tasks(c.proxy.port, 50)
            for n in range(ROLLOUTS):
                tag = f"{uuid.uuid4().hex[:8]}-{n}"
                load = run_load(c.proxy.port, ids, tag)
                time.sleep(1)  # the load is running before the first pod changes
                started = time.monotonic()
                try:
                    pods = c.rollout(pods)
                finally:
                    took = time.monotonic() - started
                    time.sleep(1)
                    result = stop_load(load)
                kept = {
                    "created": db_count(
                        c, f"SELECT count(*) FROM task WHERE title LIKE 'rollout {tag} %'"
                    ),
                    "patched": db_count(
                        c, f"SELECT count(*) FROM task WHERE description LIKE 'patched {tag} %'"
                    ),
                }
                missing = {k: max(0, int(result[k]) - kept[k]) for k in kept}
                for k in acked:
                    acked[k] += int(result[k])
                lost += sum(missing.values())
                figures["requests"].append(result["requests"])
                figures["errors"].append(result["error_answers"] + result["socket_errors"])
                figures["max_ms"].append(result["max_ms"])
                figures["s"].append(took)
                expect(
                    figures["errors"][-1] == 0 and not any(missing.values()),
                    f"rollout {n + 1}: {result}; the database kept {kept['created']} of"
                    f" {result['created']} acknowledged creates and {kept['patched']} of"
                    f" {result['patched']} acknowledged PATCHes",
                )
                expect(c.proxy.serving() == sorted(p.slot for p in pods), "pods left unserved")
            burst = replicas_at_once(c)
    return {
        "rollouts": f"{ROLLOUTS} x {plan.replicas} pods, {ROLLOUT_CONNECTIONS} conns",
        "rollout_requests": int(sum(figures["requests"])),
        "rollout_errors": int(sum(figures["errors"])),
        "rollout_slowest_ms": max(figures["max_ms"]),
        "rollout_acked": f"{acked['created']} creates and {acked['patched']} PATCHes",
        "rollout_lost": lost,
        "rollout_s": round(sum(figures["s"]) / len(figures["s"]), 1),
        **burst,
    }


def replicas_at_once(c: Cluster) -> Figures:
    """BURST pods at once against an empty database: each init migrates under the advisory
    lock, one of them applies the migrations, every pod serves."""
    db = f"burst_{uuid.uuid4().hex[:6]}"
    c.engine.docker("exec", c.db.container, "createdb", "-U", c.db.user, db)
    url = c.db.url.rsplit("/", 1)[0] + f"/{db}"
    started = time.monotonic()
    with ThreadPoolExecutor(BURST) as pool:
        pods = list(pool.map(lambda _: c.start_pod(url, join=False), range(BURST)))
    ready_s = time.monotonic() - started
    for pod in pods:
        crud_round_trip(pod.port, f"{pod.name}, one of {BURST} started at once")
    # alembic inserts its version row once, when the first migration runs on an empty
    # database; a second run from empty would insert again (or fail on the tables)
    stats = "SELECT n_tup_ins FROM pg_stat_user_tables WHERE relname = 'alembic_version'"
    deadline = time.monotonic() + 5
    while (inserts := db_count(c, stats, db)) == 0 and time.monotonic() < deadline:
        time.sleep(0.5)  # the statistics reach the view shortly after the transaction ends
    expect(inserts == 1, f"{BURST} pods at once inserted the version row {inserts} times")
    for pod in pods:
        c.engine.docker("rm", "--force", pod.name, check=False)
    return {"burst": f"{BURST} pods, 1 migration, {ready_s:.1f} s to all ready"}
