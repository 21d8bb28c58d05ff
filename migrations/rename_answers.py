"""Carry answers over to renamed questions: rewrite a project's .copier-answers.yml.

Copier runs this as the "before" migration of every `copier update` (see `_migrations`
in copier.yml): after the old release has been re-rendered with the old answers, and
before the new release reads them. It runs in Copier's own Python, so: stdlib only.

    python rename_answers.py .copier-answers.yml    (VERSION_PEP440_FROM comes from Copier)
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

TABLE = Path(__file__).with_name("renamed-questions.txt")
# a top-level key of the answers file (Copier writes plain identifiers there)
KEY_LINE = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_]*)(?P<rest>\s*:.*)$", re.DOTALL)

Release = tuple[int, int, int]
Rename = tuple[Release, str, str]
Renamed = tuple[str, list[str]]  # the new answers text, and one line per rename done


def parse_release(text: str) -> Release | None:
    """(X, Y, Z) of 'v0.2.0', '0.2.0' or a PEP 440 form like '0.1.0.post2.dev0+g1a2b3c'."""
    found = re.match(r"v?(\d+)\.(\d+)\.(\d+)", text.strip())
    return (int(found[1]), int(found[2]), int(found[3])) if found else None


def read_renames(table: Path = TABLE) -> list[Rename]:
    rows: list[Rename] = []
    for number, line in enumerate(table.read_text().splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        release = parse_release(fields[0]) if len(fields) == 3 else None
        if release is None:
            sys.exit(f"{table}:{number}: expected '<release> <old name> <new name>', got {line!r}")
        rows.append((release, fields[1], fields[2]))
    # release order, so a question renamed twice (a -> b -> c) ends under its newest name
    return sorted(rows, key=lambda row: row[0])


def rename_answers(text: str, renames: list[Rename], from_release: Release | None) -> Renamed:
    """The answers text with old keys renamed, and one line per rename done."""
    lines = text.splitlines(keepends=True)
    keys = {found["key"]: i for i, line in enumerate(lines) if (found := KEY_LINE.match(line))}
    done: list[str] = []
    for release, old, new in renames:
        # a project made at or after that release already uses the new name (the old may be reused)
        if (from_release is not None and from_release >= release) or old not in keys or new in keys:
            continue
        i = keys.pop(old)
        matched = KEY_LINE.match(lines[i])
        assert matched, f"line {i} was read as a key line"  # keys maps only matching lines
        lines[i] = new + matched["rest"]
        keys[new] = i
        done.append(f"answer {old!r} is now {new!r} (renamed in {'.'.join(map(str, release))})")
    return "".join(lines), done


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    answers = Path(argv[0])
    if not answers.is_file():
        print(f"rename_answers: no {answers} here; nothing to migrate", file=sys.stderr)
        return 0
    from_release = parse_release(os.environ.get("VERSION_PEP440_FROM", ""))
    text, done = rename_answers(answers.read_text(), read_renames(), from_release)
    if done:
        answers.write_text(text)
    for line in done:
        print(f"rename_answers: {line}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
