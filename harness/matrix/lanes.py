"""The matrix's rows split into lanes that can run side by side on one Docker engine.

Rows in different lanes must never meet: two rows that listen on the same host port, or
build the same image reference, run in one lane, one after the other. So do rows that check
each other: an emulated row and its host-platform twin (the multi-platform image joins
their pushes in one registry), and a custom base made from another row's base (its
reliability checks are skipped when that row already passed them: report/same_runtime.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from harness.matrix.bases import SOME_REGISTRY
from harness.matrix.render import Project, render_project
from harness.matrix.variants import Variant

DOCKER_HUB = ("docker.io/library/", "docker.io/")


@dataclass(frozen=True)
class RenderedRow:
    variant: Variant
    project: Project


def rendered_rows(variants: list[Variant], workdir: Path) -> list[RenderedRow]:
    """Each row rendered as its tests render it: its port and image reference come from that."""
    return [
        RenderedRow(v, render_project(v.answers_for(SOME_REGISTRY), workdir / v.name))
        for v in variants
    ]


def image_name(tag: str) -> str:
    """The reference as Docker stores it: docker.io/acme/x and acme/x are one image."""
    for prefix in DOCKER_HUB:
        if tag.startswith(prefix):
            return tag.removeprefix(prefix)
    return tag


def must_share(a: RenderedRow, b: RenderedRow) -> bool:
    provided = {r.variant.provide_base["from"] for r in (a, b) if r.variant.provide_base}
    return (
        a.project.port == b.project.port
        or image_name(a.project.image_tag) == image_name(b.project.image_tag)
        or a.variant.native_twin == b.variant.native_twin
        or bool(provided & {a.project.answers["base_ref"], b.project.answers["base_ref"]})
    )


def split_rows(
    rows: list[RenderedRow], lanes: int, weight: Callable[[RenderedRow], float]
) -> list[list[str]]:
    """Row names per lane, each in the matrix's order: the groups of rows that must share a
    lane, heaviest first, each to the lane with the least weight so far."""
    groups: list[list[RenderedRow]] = []
    for row in rows:
        joined = [g for g in groups if any(must_share(row, other) for other in g)]
        merged = [r for g in joined for r in g] + [row]
        groups = [g for g in groups if g not in joined] + [merged]
    loads = [0.0] * lanes
    names: list[list[str]] = [[] for _ in range(lanes)]
    for group in sorted(groups, key=lambda g: -sum(map(weight, g))):
        lane = loads.index(min(loads))
        loads[lane] += sum(map(weight, group))
        names[lane] += [r.variant.name for r in group]
    order = {r.variant.name: n for n, r in enumerate(rows)}
    return [sorted(lane, key=order.__getitem__) for lane in names if lane]
