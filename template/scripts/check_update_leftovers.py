"""Fail while `copier update` has left conflict markers or .rej files in the project.

Run it after an update, before committing (the pre-commit hook runs it for you):

    python3 scripts/check_update_leftovers.py            # the whole project
    python3 scripts/check_update_leftovers.py FILE ...   # markers in these files only
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

# tools' folders: never edited by an update, and slow to read
SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".mypy_cache",
}
START = re.compile(r"^<{7}(?: |$)")
# "=======" alone is also a Markdown underline, so it only counts inside a conflict
MIDDLE = re.compile(r"^(?:={7}|\|{7}(?: .*)?)$")
END = re.compile(r"^>{7}(?: |$)")


def project_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        found += [Path(folder, name) for name in sorted(files)]
    return found


def find_markers(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError:
        return []
    if b"\0" in data[:8192]:  # binary files cannot hold a text merge
        return []
    problems: list[str] = []
    inside = False
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if START.match(line):
            inside = True
        elif END.match(line):
            inside = False
        elif not (inside and MIDDLE.match(line)):
            continue
        problems.append(f"{path}:{number}: conflict marker {line[:7]}")
    return problems


def main(argv: list[str]) -> int:
    everything = project_files(Path())  # relative paths, as people and editors want them
    files = [Path(arg) for arg in argv] or everything
    problems = [problem for path in files for problem in find_markers(path)]
    # a .rej file is never staged, so look for them everywhere whatever files were given
    problems += [f"{path}: rejected change" for path in everything if path.suffix == ".rej"]
    for problem in problems:
        print(problem)
    if problems:
        print(
            "Update leftovers: resolve each conflict (keep the lines you want, delete the "
            "markers), apply and delete each .rej file, then `git add` the files."
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
