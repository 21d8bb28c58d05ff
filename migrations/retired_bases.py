"""Keep a project on a retired base_image choice building from the very same image.

Copier runs this as a "before" migration of every `copier update` (see `_migrations` in
copier.yml), after rename_answers.py. A choice that left copier.yml would make the update
stop at an answer that is no longer valid; instead the answers file is rewritten so the base
becomes a custom one with the same reference (and, for distroless, the same builder): the
rendered Dockerfile builds from what it built from before. Moving to a newer base stays the
user's choice:  copier update --trust --data base_image=gcr.io/distroless/python3-debian13
It runs in Copier's own Python, so: stdlib only.

    python retired_bases.py .copier-answers.yml
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# retired choice -> the answers that build from the same image (the reference the Dockerfile
# named, with its tag spelled out as custom_base_image requires one)
RETIRED = {
    "gcr.io/distroless/python3-debian12": {
        "custom_base_image": "gcr.io/distroless/python3-debian12:latest",
        "base_family": "distroless",
        "builder_image": "debian:bookworm-slim",
    },
    "python:3.12-alpine": {
        "custom_base_image": "python:3.12-alpine3.22",
        "base_family": "alpine",
    },
}
NEWER = {
    "gcr.io/distroless/python3-debian12": "gcr.io/distroless/python3-debian13",
    "python:3.12-alpine": "python:3.13-alpine",
}
BASE_LINE = re.compile(r"^base_image:[ \t]*(?P<value>.*?)[ \t]*$", re.M)


def plain(value: str) -> str:
    """A YAML scalar as Copier writes it: bare, 'single' or "double" quoted."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def retire_bases(text: str) -> tuple[str, list[str]]:
    """The answers text with a retired base made custom, and one line per change."""
    found = BASE_LINE.search(text)
    if found is None or plain(found["value"]) not in RETIRED:
        return text, []
    old = plain(found["value"])
    present = {m[1] for m in re.finditer(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:", text, re.M)}
    # the answers that a custom base asks for, unless the file already holds some
    added = [f"{key}: {value}" for key, value in RETIRED[old].items() if key not in present]
    lines = "\n".join(["base_image: custom", *added])
    text = text[: found.start()] + lines + text[found.end() :]
    note = (
        f"base_image {old!r} is no longer a choice: kept as a custom base of the same image"
        f" ({RETIRED[old]['custom_base_image']}); to move on, copier update --trust"
        f" --data base_image={NEWER[old]}"
    )
    return text, [note]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    answers = Path(argv[0])
    if not answers.is_file():
        print(f"retired_bases: no {answers} here; nothing to migrate", file=sys.stderr)
        return 0
    text, done = retire_bases(answers.read_text())
    if done:
        answers.write_text(text)
    for line in done:
        print(f"retired_bases: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
