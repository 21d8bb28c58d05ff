"""What the rendered Kubernetes Deployment says a rollout is: replicas, surge and
unavailability, the pod's probes, its preStop delay and grace period, and how to run its
containers. Every number the rolling deploy uses comes from here, read from the manifest."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness.checks.outcome import expect

KUBERNETES = Path("deploy") / "kubernetes"


@dataclass(frozen=True)
class Probe:
    period_s: float
    timeout_s: float
    failures: int
    path: str | None  # httpGet's path; None for a tcpSocket probe


@dataclass(frozen=True)
class Plan:
    replicas: int
    max_surge: int
    max_unavailable: int
    startup: Probe
    readiness: Probe
    pre_stop_s: float
    grace_s: float
    port: int  # containerPort
    env: dict[str, str]  # the literal values (DATABASE_URL comes from a Secret: ours)
    flags: tuple[str, ...]  # docker run flags for the securityContext and limits
    init_args: tuple[tuple[str, ...], ...]  # each init container's args, in order
    args: tuple[str, ...]


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d] if path.exists() else []


def count(value: int | str, of: int, round_up: bool) -> int:
    """maxSurge / maxUnavailable: a number, or a percentage of the replicas (surge rounds
    up, unavailability down, as Kubernetes does)."""
    if isinstance(value, str) and value.endswith("%"):
        share = of * int(value[:-1]) / 100
        return math.ceil(share) if round_up else math.floor(share)
    return int(value)


def probe(spec: dict[str, Any]) -> Probe:
    return Probe(
        float(spec.get("periodSeconds", 10)),
        float(spec.get("timeoutSeconds", 1)),
        int(spec.get("failureThreshold", 3)),
        spec.get("httpGet", {}).get("path"),
    )


def run_flags(pod: dict[str, Any], spec: dict[str, Any]) -> tuple[str, ...]:
    sec = {**pod.get("securityContext", {}), **spec.get("securityContext", {})}
    flags = ["--user", f"{sec['runAsUser']}:{sec.get('runAsGroup', 0)}"] if sec else []
    if sec.get("readOnlyRootFilesystem"):
        flags.append("--read-only")
    flags += [a for m in spec.get("volumeMounts", []) for a in ("--tmpfs", m["mountPath"])]
    if "ALL" in sec.get("capabilities", {}).get("drop", []):
        flags += ["--cap-drop", "ALL"]
    if sec.get("allowPrivilegeEscalation") is False:
        flags += ["--security-opt", "no-new-privileges"]
    limits = spec.get("resources", {}).get("limits", {})
    if "memory" in limits:
        flags += ["--memory", limits["memory"].replace("Mi", "m").replace("Gi", "g")]
    if "cpu" in limits:
        cpu = str(limits["cpu"])
        flags += ["--cpus", str(int(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu))]
    return tuple(flags)


def read_plan(project: Path) -> Plan:
    manifests = project / KUBERNETES
    deployment = next(
        (d for d in documents(manifests / "deployment.yaml") if d.get("kind") == "Deployment"),
        None,
    )
    expect(deployment is not None, f"no Deployment in {manifests / 'deployment.yaml'}")
    assert deployment is not None
    hpa = next(iter(documents(manifests / "hpa.yaml")), {})
    replicas = int(deployment["spec"].get("replicas") or hpa.get("spec", {}).get("minReplicas", 1))
    strategy = deployment["spec"].get("strategy", {})
    expect(strategy.get("type", "RollingUpdate") == "RollingUpdate", f"not rolling: {strategy}")
    rolling = strategy.get("rollingUpdate", {})
    pod = deployment["spec"]["template"]["spec"]
    spec = pod["containers"][0]
    pre_stop = spec.get("lifecycle", {}).get("preStop", {})
    expect("sleep" in pre_stop or not pre_stop, f"a preStop other than sleep: {pre_stop}")
    return Plan(
        replicas=replicas,
        max_surge=count(rolling.get("maxSurge", "25%"), replicas, round_up=True),
        max_unavailable=count(rolling.get("maxUnavailable", "25%"), replicas, round_up=False),
        startup=probe(spec.get("startupProbe", {"periodSeconds": 1, "failureThreshold": 120})),
        readiness=probe(spec["readinessProbe"]),
        pre_stop_s=float(pre_stop.get("sleep", {}).get("seconds", 0)),
        grace_s=float(pod.get("terminationGracePeriodSeconds", 30)),
        port=int(spec["ports"][0]["containerPort"]),
        env={e["name"]: str(e["value"]) for e in spec.get("env", []) if "value" in e},
        flags=run_flags(pod, spec),
        init_args=tuple(tuple(i.get("args", ())) for i in pod.get("initContainers", [])),
        args=tuple(spec.get("args", ())),
    )
