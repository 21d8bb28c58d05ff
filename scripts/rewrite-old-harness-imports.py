#!/usr/bin/env python3
"""Rewrite imports of the flat harness/ layout to the layered one (docs/harness-moves.txt).

For merging branches written before the move: after taking their side of a conflicted import
block, run `python3 scripts/rewrite-old-harness-imports.py FILE...`; it prints what it changed;
`ruff check --fix` then sorts the imports. A module new on that branch: add its line to the
moves file first.
Once no branch predates the move, delete this script.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MOVES = Path(__file__).resolve().parent.parent / "docs" / "harness-moves.txt"
# names that left their module for one below it, so that both its users can import them
SYMBOLS = {
    "harness.images.base_images": (
        "harness.images.recipes",
        {"Recipe", "RECIPES", "ARCH", "recipe_hash", "read_recipe", "read_header", "RECIPE_DIR",
         "SHARED_STEPS", "STANDIN_REPO", "load_recipes"},
    ),
    "harness.checks.platforms": (
        "harness.lab.emulated",
        {"EmulatedContainer", "run_args", "patient", "QEMU_PATIENCE", "QEMU_RUN_ARGS"},
    ),
    "harness.checks.deployment.pieces": (
        "harness.checks.deployment.files",
        {"COMPOSE", "KUBERNETES", "project_version", "image_tag", "dockerfile_healthcheck",
         "load_yaml", "check"},
    ),
}  # fmt: skip


def module_map() -> dict[str, str]:
    """harness.X -> harness.layer.Y, from the `old.py -> new.py` lines of the moves file."""
    found: dict[str, str] = {}
    for line in MOVES.read_text().splitlines():
        if match := re.match(r"(harness/\w+)\.py\s+->\s+(harness/[\w/]+)\.py", line):
            found[match[1].replace("/", ".")] = match[2].replace("/", ".")
    return found


def split_moved(module: str, names: str, indent: str) -> str:
    """`from module import names`, with the names that moved below imported from there."""
    target, moved = SYMBOLS.get(module, ("", set()))
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    stay = [n for n in wanted if n.split(" as ")[0] not in moved]
    went = [n for n in wanted if n.split(" as ")[0] in moved]
    lines = [f"{indent}from {module} import {', '.join(stay)}"] if stay else []
    lines += [f"{indent}from {target} import {', '.join(went)}"] if went else []
    return "\n".join(lines)


def rewrite(text: str, moves: dict[str, str]) -> str:
    def one_module(match: re.Match[str]) -> str:
        module = moves.get(match["module"], match["module"])
        return split_moved(module, match["names"], match["indent"])

    def from_package(match: re.Match[str]) -> str:
        out = []
        for name in (n.strip() for n in match["names"].split(",") if n.strip()):
            base, _, alias = name.partition(" as ")
            package, module = moves.get(f"harness.{base}", f"harness.{base}").rsplit(".", 1)
            bound = alias or base
            out.append(f"{match['indent']}from {package} import {module}")
            out[-1] += f" as {bound}" if bound != module else ""
        return "\n".join(out)

    text = re.sub(  # a parenthesised list becomes one line: ruff format splits it again
        r"^(?P<indent>[ \t]*)from (?P<module>harness(?:\.\w+)*) import \((?P<names>[^)]*)\)",
        lambda m: f"{m['indent']}from {m['module']} import {' '.join(m['names'].split())}",
        text,
        flags=re.M,
    )
    text = re.sub(
        r"^(?P<indent>[ \t]*)from (?P<module>harness(?:\.\w+)+) import (?P<names>[^\n(]+)$",
        one_module,
        text,
        flags=re.M,
    )
    return re.sub(
        r"^(?P<indent>[ \t]*)from harness import (?P<names>[\w, ]+)$",
        from_package,
        text,
        flags=re.M,
    )


def main(paths: list[str]) -> int:
    moves = module_map()
    for path in map(Path, paths):
        text = path.read_text()
        new = rewrite(text, moves)
        if new != text:
            path.write_text(new)
            print(f"rewrote the harness imports of {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
