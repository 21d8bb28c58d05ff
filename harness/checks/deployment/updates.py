"""The rendered Renovate config: valid against Renovate's schema, and aimed at what the
project really pins (template answers, hashed locks, base images, action SHAs)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness.checks import linters

RENOVATE = "renovate.json"
LOCKS = ("requirements.txt", "requirements-dev.txt")


def lint_updates(project: Path) -> list[str]:
    return linters.renovate_problems(project / RENOVATE)


def matches(patterns: list[str], path: str) -> bool:
    """Renovate's managerFilePatterns: /regex/ entries, else globs (none used here)."""
    return any(re.search(p.strip("/"), path) for p in patterns if p.startswith("/"))


def updates_disagreements(project: Path, answers: dict[str, Any]) -> list[str]:
    config = json.loads((project / RENOVATE).read_text())
    managers = set(config.get("enabledManagers", []))
    want = {"copier", "pip-compile", "dockerfile"} | (
        {"github-actions"} if answers["ci"] == "github" else set()
    )
    problems = [f"enabledManagers lacks {sorted(want - managers)}"] if want - managers else []
    if config.get("copier", {}).get("ignoreScripts") is not False:
        problems.append(
            "copier updates need ignoreScripts: false, or Renovate runs Copier without --trust"
        )
    if not (project / ".copier-answers.yml").exists():
        problems.append("no .copier-answers.yml for Renovate's copier manager to read")
    patterns = config.get("pip-compile", {}).get("managerFilePatterns", [])
    for lock in LOCKS:
        header = (project / lock).read_text().splitlines()[:3]
        if not matches(patterns, lock) or not any("pip compile" in line for line in header):
            problems.append(
                f"{lock}: pip-compile does not match it, or its header names no compile command"
            )
    if not config.get("lockFileMaintenance", {}).get("enabled"):
        problems.append(
            "requirements.in pins nothing: lockFileMaintenance must propose the new pins"
        )
    for manager in ("dockerfile", "github-actions"):
        if manager in want and config.get(manager, {}).get("pinDigests") is not True:
            problems.append(
                f"{manager}: pinDigests must be true so updates keep the digest or SHA pin"
            )
    moved_tags = [
        rule
        for rule in config.get("packageRules", [])
        if rule.get("enabled") is False
        and rule.get("matchUpdateTypes") == ["digest"]
        and rule.get("matchDepTypes") == ["action"]
    ]
    if ("github-actions" in want) != bool(moved_tags):
        problems.append(
            "github-actions: a digest update of an action (its release tag moved to another "
            "commit) must never be proposed, and only a CI workflow has actions"
        )
    dockerfile = (project / "Dockerfile").read_text()
    for custom in config.get("customManagers", []):
        if not any(re.search(m.replace("(?<", "(?P<"), dockerfile) for m in custom["matchStrings"]):
            problems.append(
                f"custom manager {custom.get('depNameTemplate')} matches nothing in the Dockerfile"
            )
    return problems
