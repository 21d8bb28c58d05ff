"""The optional deployment pieces of a rendered project (CI workflow, compose.yaml,
Kubernetes manifests): which files each renders, and the problems found in them, both
by the offline linters and by comparing them with the Dockerfile and the answers."""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from harness import linters
from harness.deployment_workflow import WORKFLOW, supply_chain_disagreements, workflow_disagreements

COMPOSE = "compose.yaml"
KUBERNETES = "deploy/kubernetes"


@dataclass(frozen=True)
class Piece:
    criterion: str  # its success criterion in containerization-spec.md
    question: str
    what: str
    paths: tuple[str, ...]  # what it renders, relative to the project

    def chosen(self, answers: dict[str, Any]) -> bool:
        value = answers.get(self.question)
        return value == "github" if self.question == "ci" else bool(value)

    def why_absent(self, answers: dict[str, Any]) -> str:
        return (f"the variant answered {self.question}={answers.get(self.question)!r}, "
                f"so no {self.what} was rendered")


PIECES = (
    Piece("SC-14", "ci", "CI workflow", (WORKFLOW,)),
    Piece("SC-15", "compose", "compose.yaml", (COMPOSE,)),
    Piece("SC-16", "kubernetes", "Kubernetes manifests", (KUBERNETES,)),
    Piece("SC-17", "ci", "CI smoke test, scan and signature", (WORKFLOW,)),
)
PIECE_OF = {p.criterion: p for p in PIECES}


def project_version(project: Path) -> str:
    return tomllib.loads((project / "pyproject.toml").read_text())["project"]["version"]


def image_tag(project: Path, answers: dict[str, Any]) -> str:
    return f"{answers['image_ref']}:{project_version(project)}"


def dockerfile_healthcheck(project: Path) -> list[str]:
    """The exec-form command of the Dockerfile's HEALTHCHECK."""
    text = (project / "Dockerfile").read_text().replace("\\\n", " ")
    found = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.MULTILINE)
    if not found:
        raise ValueError("the Dockerfile has no exec-form HEALTHCHECK")
    return json.loads(found.group(1))


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def check(problems: list[str], condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)


# ------------------------------------------------------------------------- CI workflow
def lint_workflow(project: Path) -> list[str]:
    path = project / WORKFLOW
    return (linters.json_schema_problems(path, "vendor.github-workflows")
            + linters.actionlint_problems(path) + linters.zizmor_problems(path))


# ------------------------------------------------------------------------- compose.yaml
def lint_compose(project: Path) -> list[str]:
    return linters.json_schema_problems(project / COMPOSE, "vendor.compose-spec")


def compose_disagreements(project: Path, answers: dict[str, Any]) -> list[str]:
    spec = load_yaml(project / COMPOSE)
    app, db = spec["services"]["app"], spec["services"]["db"]
    port, uid = int(answers["port"]), int(answers["app_uid"])
    problems: list[str] = []
    check(problems, app.get("build") == "." and app.get("image") == image_tag(project, answers),
          f"app must build . and be tagged {image_tag(project, answers)}, got {app.get('image')}")
    check(problems, app["healthcheck"]["test"] == ["CMD", *dockerfile_healthcheck(project)],
          f"app healthcheck {app['healthcheck']['test']} is not the image's own probe")
    check(problems, any(str(p).endswith(f":{port}") for p in app.get("ports", [])) and
          str(app["environment"].get("PORT")) == str(port), f"app must listen on and publish {port}")
    check(problems, str(app.get("user")) == f"{uid}:0", f"app user {app.get('user')} is not {uid}:0")
    check(problems, app.get("read_only") is True and "/tmp" in app.get("tmpfs", []), "app must run read-only with a /tmp tmpfs")
    check(problems, app.get("depends_on", {}).get("db", {}).get("condition") == "service_healthy",
          "app must wait for a healthy database")
    migrate = spec["services"].get("migrate", {})
    check(problems, migrate.get("command") == ["migrate"] and app["depends_on"].get("migrate", {}).get("condition")
          == "service_completed_successfully" and str(app["environment"].get("RUN_MIGRATIONS")) == "false",
          "a one-shot migrate service must run first, and the app must not migrate again")
    check(problems, "pg_isready" in db.get("healthcheck", {}).get("test", []), "db needs a pg_isready health check")
    volume = str(db.get("volumes", [""])[0]).split(":")[0]
    check(problems, volume in (spec.get("volumes") or {}), "db data must live in a named volume")
    for name, value in (("app DATABASE_URL", app["environment"]["DATABASE_URL"]),
                        ("db POSTGRES_PASSWORD", db["environment"]["POSTGRES_PASSWORD"])):
        check(problems, "${POSTGRES_PASSWORD" in value, f"{name} must take the password from .env, not spell it out")
    ignored = {p.strip() for p in (project / ".gitignore").read_text().splitlines()}
    check(problems, ".env" in ignored, ".gitignore must keep .env (the compose password) out")
    patterns = [p.strip() for p in (project / ".dockerignore").read_text().splitlines() if not p.startswith("#")]
    check(problems, bool({"*", ".env"} & set(patterns)) and "!.env" not in patterns, ".dockerignore must keep .env out")
    return problems


# ---------------------------------------------------------------- Kubernetes manifests
def kubernetes_files(project: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted((project / KUBERNETES).glob("*.yaml"))}


def lint_kubernetes(project: Path) -> list[str]:
    files = kubernetes_files(project)
    problems = linters.kubernetes_problems([p for n, p in files.items() if n != "kustomization.yaml"])
    kustomization = load_yaml(files["kustomization.yaml"])
    listed = kustomization.get("resources", [])
    check(problems, kustomization.get("kind") == "Kustomization", "kustomization.yaml is not a Kustomization")
    check(problems, all(r in files for r in listed), f"kustomization lists missing files: {set(listed) - set(files)}")
    unlisted = set(files) - set(listed) - {"kustomization.yaml", "secret.example.yaml"}
    check(problems, not unlisted, f"manifests kustomization.yaml does not apply: {sorted(unlisted)}")
    check(problems, "secret.example.yaml" not in listed, "the example Secret must never be applied")
    return problems


def kubernetes_disagreements(project: Path, answers: dict[str, Any]) -> list[str]:
    files = kubernetes_files(project)
    deployment = load_yaml(files["deployment.yaml"])
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    port, uid = int(answers["port"]), int(answers["app_uid"])
    problems: list[str] = []
    check(problems, container["image"] == image_tag(project, answers), f"image {container['image']} is not {image_tag(project, answers)}")
    kustomize_images = [i["name"] for i in load_yaml(files["kustomization.yaml"]).get("images", [])]
    check(problems, kustomize_images == [answers["image_ref"]], f"kustomization images {kustomize_images}")
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    check(problems, ports == {"http": port}, f"container ports {ports}, want http: {port}")
    env = {e["name"]: e for e in container["env"]}
    check(problems, env["PORT"].get("value") == str(port), "PORT env does not match the port")
    inits = [c.get("args") for c in pod.get("initContainers", []) if c["image"] == container["image"]]
    check(problems, inits == [["migrate"]] and env.get("RUN_MIGRATIONS", {}).get("value") == "false",
          "an init container must run `migrate`, and the app container must not migrate again")
    secret_ref = env["DATABASE_URL"].get("valueFrom", {}).get("secretKeyRef", {})
    example = load_yaml(files["secret.example.yaml"])
    check(problems, secret_ref.get("name") == example["metadata"]["name"] and secret_ref.get("key") in example["stringData"],
          "DATABASE_URL must come from the Secret that secret.example.yaml describes")
    ready, live = container["readinessProbe"], container["livenessProbe"]
    check(problems, ready.get("httpGet", {}).get("path") == "/health" and ready["httpGet"]["port"] in ("http", port),
          "readiness must be GET /health on the app port")
    check(problems, (live.get("tcpSocket") or live.get("httpGet", {})).get("port") in ("http", port),
          "liveness must probe the app port")
    pod_sc, sc = pod.get("securityContext", {}), container.get("securityContext", {})
    check(problems, pod_sc.get("runAsNonRoot") is True and pod_sc.get("runAsUser") == uid and pod_sc.get("runAsGroup") == 0,
          f"pod must run as non-root {uid}:0, got {pod_sc}")
    check(problems, pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", "seccomp must be RuntimeDefault")
    check(problems, sc.get("readOnlyRootFilesystem") is True and sc.get("allowPrivilegeEscalation") is False
          and sc.get("capabilities", {}).get("drop") == ["ALL"], f"container securityContext too loose: {sc}")
    check(problems, {"requests", "limits"} <= set(container.get("resources", {})), "resources need requests and limits")
    tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    check(problems, bool(tmp) and "emptyDir" in volumes.get(tmp[0]["name"], {}), "/tmp must be an emptyDir")
    service = load_yaml(files["service.yaml"])
    check(problems, service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"],
          "the Service does not select the Deployment's pods")
    check(problems, [(p["port"], p["targetPort"]) for p in service["spec"]["ports"]] == [(port, "http")],
          f"the Service must expose {port} to the http port")
    has_hpa = "hpa.yaml" in files
    check(problems, has_hpa == bool(answers.get("kubernetes_hpa")), f"hpa.yaml present={has_hpa}, answer {answers.get('kubernetes_hpa')}")
    check(problems, ("replicas" in deployment["spec"]) != has_hpa, "replicas belong in the Deployment only without an HPA")
    if has_hpa:
        target = load_yaml(files["hpa.yaml"])["spec"]["scaleTargetRef"]
        check(problems, (target["kind"], target["name"]) == ("Deployment", deployment["metadata"]["name"]),
              "the HPA does not scale this Deployment")
    return problems


def piece_problems(piece: Piece, project: Path, answers: dict[str, Any]) -> list[str]:
    """Everything wrong with one chosen piece: lint first, then disagreement."""
    lint, agree = {"SC-14": (lint_workflow, workflow_disagreements), "SC-15": (lint_compose, compose_disagreements),
                   "SC-16": (lint_kubernetes, kubernetes_disagreements),
                   # SC-14 lints the same file: SC-17 adds only the supply-chain agreement
                   "SC-17": (lambda _: [], supply_chain_disagreements)}[piece.criterion]
    return lint(project) + agree(project, answers)
