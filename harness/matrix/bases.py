"""The official base images the matrix's rows build on, found by rendering each row as its
tests will: what `tasks.py standins` warms, and nothing more (a stand-in nobody builds on
costs minutes of a core that the first rows are waiting for)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.matrix.render import render_project
from harness.matrix.variants import Variant, fill_registry, load_variants

# Any registry host will do: only the reference's shape matters, never its host.
SOME_REGISTRY = "localhost:5000"


@dataclass(frozen=True)
class RowBase:
    variant: str  # the first row that builds on it
    ref: str  # the official reference, which a stand-in is made for
    platform: str | None  # None: the host's own


def matrix_bases(workdir: Path, variants: list[Variant] | None = None) -> list[RowBase]:
    """Each row's base, then its builder, in the rows' order, each (ref, platform) once. A
    custom base that the harness publishes counts as the official image it is made from."""
    found: dict[tuple[str, str | None], RowBase] = {}
    for variant in load_variants() if variants is None else variants:
        answers = render_project(variant.answers_for(SOME_REGISTRY), workdir / variant.name).answers
        provided = variant.provide_base or {}
        for ref in (answers["base_ref"], answers["builder_ref"]):
            if provided and ref == fill_registry(provided["ref"], SOME_REGISTRY):
                ref = provided["from"]
            found.setdefault((ref, variant.platform), RowBase(variant.name, ref, variant.platform))
    return list(found.values())
