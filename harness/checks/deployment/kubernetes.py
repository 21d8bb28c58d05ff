"""The rendered Kubernetes manifests: strict schema validation, then agreement with the
Dockerfile and the answers (image, port, UID, probes, Secret, migrate init container, HPA)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.checks import linters
from harness.checks.deployment.files import KUBERNETES, check, image_tag, load_yaml


def kubernetes_files(project: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted((project / KUBERNETES).glob("*.yaml"))}


def lint_kubernetes(project: Path) -> list[str]:
    files = kubernetes_files(project)
    problems = linters.kubernetes_problems(
        [p for n, p in files.items() if n != "kustomization.yaml"]
    )
    kustomization = load_yaml(files["kustomization.yaml"])
    listed = kustomization.get("resources", [])
    check(
        problems,
        kustomization.get("kind") == "Kustomization",
        "kustomization.yaml is not a Kustomization",
    )
    check(
        problems,
        all(r in files for r in listed),
        f"kustomization lists missing files: {set(listed) - set(files)}",
    )
    unlisted = set(files) - set(listed) - {"kustomization.yaml", "secret.example.yaml"}
    check(
        problems, not unlisted, f"manifests kustomization.yaml does not apply: {sorted(unlisted)}"
    )
    check(problems, "secret.example.yaml" not in listed, "the example Secret must never be applied")
    return problems


def kubernetes_disagreements(project: Path, answers: dict[str, Any]) -> list[str]:
    files = kubernetes_files(project)
    deployment = load_yaml(files["deployment.yaml"])
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port, uid = int(answers["port"]), int(answers["app_uid"])
    problems: list[str] = []
    check(
        problems,
        container["image"] == image_tag(project, answers),
        f"image {container['image']} is not {image_tag(project, answers)}",
    )
    kustomize_images = [i["name"] for i in load_yaml(files["kustomization.yaml"]).get("images", [])]
    check(
        problems,
        kustomize_images == [answers["image_ref"]],
        f"kustomization images {kustomize_images}",
    )
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(problems, ports == {"http": port}, f"container ports {ports}, want http: {port}")
    env = {e["name"]: e for e in container["env"]}
    check(problems, env["PORT"].get("value") == str(port), "PORT env does not match the port")
    inits = [
        c.get("args") for c in pod.get("initContainers", []) if c["image"] == container["image"]
    ]
    check(
        problems,
        inits == [["migrate"]] and env.get("RUN_MIGRATIONS", {}).get("value") == "false",
        "an init container must run `migrate`, and the app container must not migrate again",
    )
    secret_ref = env["DATABASE_URL"].get("valueFrom", {}).get("secretKeyRef", {})
    example = load_yaml(files["secret.example.yaml"])
    check(
        problems,
        secret_ref.get("name") == example["metadata"]["name"]
        and secret_ref.get("key") in example["stringData"],
        "DATABASE_URL must come from the Secret that secret.example.yaml describes",
    )
    ready, live = container["readinessProbe"], container["livenessProbe"]
    check(
        problems,
        ready.get("httpGet", {}).get("path") == "/health"
        and ready["httpGet"]["port"] in ("http", port),
        "readiness must be GET /health on the app port",
    )
    check(
        problems,
        (live.get("tcpSocket") or live.get("httpGet", {})).get("port") in ("http", port),
        "liveness must probe the app port",
    )
    pod_sc, sc = pod.get("securityContext", {}), container.get("securityContext", {})
    check(
        problems,
        pod_sc.get("runAsNonRoot") is True
        and pod_sc.get("runAsUser") == uid
        and pod_sc.get("runAsGroup") == 0,
        f"pod must run as non-root {uid}:0, got {pod_sc}",
    )
    check(
        problems,
        pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault",
        "seccomp must be RuntimeDefault",
    )
    check(
        problems,
        sc.get("readOnlyRootFilesystem") is True
        and sc.get("allowPrivilegeEscalation") is False
        and sc.get("capabilities", {}).get("drop") == ["ALL"],
        f"container securityContext too loose: {sc}",
    )
    check(
        problems,
        {"requests", "limits"} <= set(container.get("resources", {})),
        "resources need requests and limits",
    )
    tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    check(
        problems,
        bool(tmp) and "emptyDir" in volumes.get(tmp[0]["name"], {}),
        "/tmp must be an emptyDir",
    )
    service = load_yaml(files["service.yaml"])
    check(
        problems,
        service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"],
        "the Service does not select the Deployment's pods",
    )
    check(
        problems,
        [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(port, "http")],
        f"the Service must expose {port} to the http port",
    )
    has_hpa = "hpa.yaml" in files
    check(
        problems,
        has_hpa == bool(answers.get("kubernetes_hpa")),
        f"hpa.yaml present={has_hpa}, answer {answers.get('kubernetes_hpa')}",
    )
    check(
        problems,
        ("replicas" in deployment["spec"]) != has_hpa,
        "replicas belong in the Deployment only without an HPA",
    )
    if has_hpa:
        target = load_yaml(files["hpa.yaml"])["spec"]["scaleTargetRef"]
        check(
            problems,
            (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"]),
            "the HPA does not scale this Deployment",
        )
    return problems
