"""Render the template into a project directory (Copier), and nothing else."""

from __future__ import annotations

import tomllib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import copier

from harness.matrix.variants import ROOT


@dataclass(frozen=True)
class Project:
    path: Path
    answers: dict[str, Any]  # what was answered plus the template's derived values

    @property
    def version(self) -> str:
        pyproject = tomllib.loads((self.path / "pyproject.toml").read_text())
        version: str = pyproject["project"]["version"]
        return version

    @property
    def image_tag(self) -> str:
        return f"{self.answers['image_ref']}:{self.version}"

    @property
    def port(self) -> int:
        return int(self.answers["port"])


def render_project(
    answers: dict[str, Any], dest: Path, vcs_ref: str | None = "HEAD", template: Path = ROOT
) -> Project:
    """Copy the template with these answers (defaults for the rest) into dest."""
    with warnings.catch_warnings():
        # rendering the working tree of this repo during development is intended
        warnings.simplefilter("ignore", copier.errors.DirtyLocalWarning)
        worker = copier.run_copy(
            str(template),
            dest,
            data=answers,
            defaults=True,
            vcs_ref=vcs_ref,
            unsafe=True,
            quiet=True,
        )
    return Project(Path(dest), dict(worker.answers.combined))
