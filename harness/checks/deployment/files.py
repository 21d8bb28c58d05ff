"""What the deployment checks read from a render: where the pieces live, the image tag, the
Dockerfile's health check, and one way to note a problem."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

COMPOSE = "compose.yaml"
KUBERNETES = "deploy/kubernetes"


def project_version(project: Path) -> str:
    version: str = tomllib.loads((project / "pyproject.toml").read_text())["project"]["version"]
    return version


def image_tag(project: Path, answers: dict[str, Any]) -> str:
    return f"{answers['image_ref']}:{project_version(project)}"


def dockerfile_healthcheck(project: Path) -> list[str]:
    """The exec-form command of the Dockerfile's HEALTHCHECK."""
    text = (project / "Dockerfile").read_text().replace("\\\n", " ")
    found = re.search(r"^HEALTHCHECK .*?CMD (\[.*\])\s*$", text, re.MULTILINE)
    if not found:
        raise ValueError("the Dockerfile has no exec-form HEALTHCHECK")
    command: list[str] = json.loads(found.group(1))
    return command


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def check(problems: list[str], condition: bool, message: str) -> None:
    if not condition:
        problems.append(message)
