"""The variant matrix: which answers the template is tested with (matrix.yml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "matrix.yml"
REGISTRY_PLACEHOLDER = "{registry}"


@dataclass(frozen=True)
class Variant:
    name: str
    answers: dict[str, Any]
    # a custom base the harness must first publish: {"ref": ..., "from": official ref}
    provide_base: dict[str, str] | None = field(default=None)
    # "linux/arm64": built and run for that platform (under emulation on other machines)
    platform: str | None = field(default=None)

    @property
    def native_twin(self) -> str:
        """The row with the same answers for the host's platform: slim-314-arm64 -> slim-314."""
        return (
            self.name.removesuffix("-" + self.platform.split("/")[1])
            if self.platform
            else self.name
        )

    def answers_for(self, registry_host: str) -> dict[str, Any]:
        """The answers with the local registry's host filled in."""
        return {k: fill_registry(v, registry_host) for k, v in self.answers.items()}


def fill_registry(value: Any, registry_host: str) -> Any:
    return value.replace(REGISTRY_PLACEHOLDER, registry_host) if isinstance(value, str) else value


def question_names(copier_yml: Path = ROOT / "copier.yml") -> set[str]:
    data = yaml.safe_load(copier_yml.read_text())
    return {k for k in data if not k.startswith("_")}


def load_variants(path: Path = MATRIX) -> list[Variant]:
    data = yaml.safe_load(path.read_text())
    defaults = data.get("defaults", {})
    known = question_names()
    variants, seen = [], set()
    for entry in data["variants"]:
        name = entry["name"]
        if name in seen:
            raise ValueError(f"matrix.yml: variant name {name!r} is used twice")
        seen.add(name)
        answers = {**defaults, **entry["answers"]}
        unknown = set(answers) - known
        if unknown:
            raise ValueError(
                f"matrix.yml: variant {name!r} answers unknown questions {sorted(unknown)}"
            )
        variants.append(Variant(name, answers, entry.get("provide_base"), entry.get("platform")))
    return variants
