"""The recipes of standins/ (one shell script per official image) and what their headers say."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

RECIPE_DIR = Path(__file__).with_name("standins")
SHARED_STEPS = RECIPE_DIR / "common.sh"
STANDIN_REPO = "task-api-standin"
ARCH = "amd64"  # the host's: other architectures' stand-ins carry a suffix


@dataclass(frozen=True)
class Recipe:
    """A script of harness/images/standins/ and what its header says about the image it makes."""

    script: Path
    official: str
    faithful: str
    changes: tuple[str, ...]  # Dockerfile instructions applied by `docker import`
    shell: bool
    python: str | None  # "3.13": the major.minor the image must run
    arch: str = ARCH  # the same recipe makes the other architectures' stand-ins

    @property
    def image(self) -> str:
        suffix = "" if self.arch == ARCH else f"-{self.arch}"  # arm64: ...:3.13-slim-trixie-arm64
        return f"{STANDIN_REPO}/{self.official.removeprefix('gcr.io/').replace('/', '-')}{suffix}"


def read_header(script: Path) -> dict[str, list[str]]:
    """The `# key: value` lines atop a recipe; an indented `#   ` line continues the last one."""
    fields: dict[str, list[str]] = {}
    last: list[str] = []
    for line in script.read_text().splitlines()[1:]:
        if not line.startswith("#"):
            break
        if match := re.fullmatch(r"# ([a-z -]+): (.+)", line):
            last = fields.setdefault(match[1], [])
            last.append(match[2])
        elif line.startswith("#   ") and last:
            last[-1] += " " + line[1:].strip()
    return fields


def read_recipe(script: Path) -> Recipe:
    fields = read_header(script)
    return Recipe(
        script=script,
        official=fields["stand-in for"][0],
        faithful=fields["faithful"][0],
        changes=tuple(fields.get("image", [])),
        shell=fields["shell"][0] == "yes",
        python=fields["python"][0] if "python" in fields else None,
    )


def load_recipes() -> dict[str, Recipe]:
    scripts = sorted(set(RECIPE_DIR.glob("*.sh")) - {SHARED_STEPS})
    return {recipe.official: recipe for recipe in map(read_recipe, scripts)}


RECIPES = load_recipes()


def recipe_hash(recipe: Recipe, arch: str = ARCH) -> str:
    """Changes whenever the recipe, the steps it shares or the architecture change."""
    digest = hashlib.sha256(arch.encode())
    for path in (recipe.script, SHARED_STEPS):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
