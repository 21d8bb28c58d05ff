"""Preview `copier update` on a rendered project: what it would change, in a throwaway clone."""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import copier
import yaml

ANSWERS_FILE = ".copier-answers.yml"


@dataclass(frozen=True)
class UpdatePreview:
    from_version: str  # the template release the project is on now (`_commit` of its answers)
    to_version: str  # the release the update would bring
    changed_files: list[str]  # "M path", "A path", "D path", relative to the project
    conflicts: list[str]  # files left with conflict markers, or with a .rej beside them
    diff: str  # what `git diff` would show after the update


class UpdateRefused(RuntimeError):
    """The project is not in a state `copier update` accepts (not in git, or dirty)."""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout


def read_template_version(project: Path) -> str:
    answers = yaml.safe_load((project / ANSWERS_FILE).read_text()) or {}
    return str(answers.get("_commit", "unknown"))


def find_conflicts(project: Path) -> list[str]:
    """What an update left unresolved: unmerged paths in the index, and .rej files."""
    unmerged = git(project, "diff", "--name-only", "--relative", "--diff-filter=U").split()
    untracked = git(project, "ls-files", "--others", "--", ".").split()
    return sorted(set(unmerged) | {p.removesuffix(".rej") for p in untracked if p.endswith(".rej")})


def preview_update(project_dir: Path, vcs_ref: str | None = None) -> UpdatePreview:
    """Run `copier update` (to the newest release, or vcs_ref) on a clone of the project."""
    project = Path(project_dir).resolve()
    if not (project / ANSWERS_FILE).is_file():
        raise UpdateRefused(f"{project} has no {ANSWERS_FILE}: it was not made with Copier")
    try:
        top = Path(git(project, "rev-parse", "--show-toplevel").strip())
    except subprocess.CalledProcessError as why:
        raise UpdateRefused(f"{project} is not in git; copier update needs a repository") from why
    # the same test as Copier's, so the preview refuses exactly when the update would
    if git(project, "status", "--porcelain", "--", ".").strip():
        advice = "copier update would refuse; commit or stash them"
        raise UpdateRefused(f"{project} has uncommitted changes: {advice}")
    with tempfile.TemporaryDirectory(prefix="update-preview-") as scratch:
        # a clone, so the real repository (index, objects, hooks) is never touched
        git(Path(scratch), "clone", "--quiet", str(top), "repo")
        clone = Path(scratch, "repo", project.relative_to(top))
        copier.run_update(
            clone, vcs_ref=vcs_ref, defaults=True, overwrite=True, unsafe=True, quiet=True
        )
        conflicts = find_conflicts(clone)
        git(clone, "add", "--all", "--", ".")
        changed = git(clone, "diff", "--cached", "--relative", "--name-status", "HEAD", "--", ".")
        return UpdatePreview(
            from_version=read_template_version(project),
            to_version=read_template_version(clone),
            changed_files=[" ".join(line.split("\t")) for line in changed.splitlines()],
            conflicts=conflicts,
            diff=git(clone, "diff", "--cached", "--relative", "HEAD", "--", "."),
        )
